// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! HW queues, event queues, invalidations, and the objects a VMM may make
//! through the id-level API beside the typed states (fault queues, nested HWPTs).

use super::ops::iova;
use super::seq::{Handle, Seq};
use super::world::{SLOTS, What};
use iommufd::arch::Stage1Config;
use iommufd::arch::selftest::stage1;
use iommufd::batch::BatchError;
use iommufd::uapi::{
    IommuHwptInvalidateSelftest, IommuViommuInvalidateSelftest, MOCK_DEV_CACHE_ID_MAX,
    MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
};
use iommufd::{Device, ErrorKind, HwptAlloc};

impl Seq<'_> {
    pub(super) fn event_queue(&mut self) -> Result<bool, String> {
        let Some((i, arc, viommu)) = self.pick_viommu() else {
            return Ok(false);
        };
        let depth = 1 + self.rng.below(8) as u32;
        let free = self
            .world
            .live(|w| matches!(w, What::RawVEventQueue { viommu: v } if *v == viommu))
            .next()
            .is_none();
        self.note(format!(
            "alloc_vevent_queue({depth}) on h{}",
            self.live[i].name
        ));
        let r = self.call(|live, _| {
            live[i]
                .handle
                .viommu()
                .expect("a vIOMMU")
                .alloc_vevent_queue(depth)
        });
        self.outcome(&r);
        self.expect("alloc_vevent_queue", free, &r);
        if let Ok(q) = r {
            let obj = self
                .world
                .add(Some(q.id().raw()), What::RawVEventQueue { viommu });
            let node = self.world.add(None, What::Holds(vec![obj, arc]));
            let name = self.hold(Handle::Events(q), node);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    pub(super) fn hw_queue(&mut self, next: bool) -> Result<bool, String> {
        // The queue handle to chain from, or the vIOMMU handle for queue 0.
        let (i, arc, prev) = if next {
            let Some(i) = self.pick(|l| matches!(l.handle, Handle::Queue(_))) else {
                return Ok(false);
            };
            match self.world.what(self.live[i].node) {
                What::QueueArc { queue, viommu, .. } => {
                    (i, *viommu, Some((self.live[i].node, *queue)))
                }
                w => panic!("model bug: not a queue handle: {w:?}"),
            }
        } else {
            let Some((i, arc, _)) = self.pick_viommu() else {
                return Ok(false);
            };
            (i, arc, None)
        };
        let (viommu, _) = self.viommu_parts(arc);
        let index = match prev {
            Some((_, q)) => match self.world.what(q) {
                What::HwQueue { index, .. } => index + 1,
                w => panic!("model bug: not a HW queue: {w:?}"),
            },
            None => 0,
        };
        let ioas = self
            .world
            .object_of(self.world.s2_arc_ioas(self.world.viommu_arc_s2(arc)));
        // Mostly where something is mapped: a queue needs its page in the stage 2.
        let mapped: Vec<usize> = (0..SLOTS)
            .filter(|&s| self.maps(ioas)[s].is_some())
            .collect();
        let slot = if !mapped.is_empty() && !self.rng.one_in(4) {
            mapped[self.rng.below(mapped.len())]
        } else {
            self.rng.below(SLOTS)
        };
        let (offset, length) =
            [(0, 0x1000), (0, 0x800), (0x800, 0x800), (0x1000, 0x800)][self.rng.below(4)];
        let ipa = iova(slot) + offset;
        let taken = self
            .world
            .live(|w| matches!(w, What::HwQueue { viommu: v, index: n, .. } if *v == viommu && *n == index))
            .next()
            .is_some();
        // The mock has two queues per vIOMMU.
        let ok = index < 2 && !taken && self.maps(ioas)[slot].is_some();
        let r = self.call(|live, _| match &live[i].handle {
            Handle::Queue(q) => q.alloc_next(ipa, length),
            h => h.viommu().expect("a vIOMMU").alloc_hw_queue(ipa, length),
        });
        let how = if next { "alloc_next" } else { "alloc_hw_queue" };
        self.note(format!(
            "{how} (index {index}) on h{} at slot {slot} + {offset:#x}, {length:#x} bytes",
            self.live[i].name
        ));
        self.outcome(&r);
        self.expect(how, ok, &r);
        let Ok(q) = r else { return Ok(true) };
        if q.index() != index {
            return Err(format!("{how}: made queue {}, not {index}", q.index()));
        }
        // The kernel makes a hidden access object with the queue: the lowest id
        // free besides the queue's.
        let access_id = self.world.next_free_id(q.id().raw());
        let access = self.world.add(Some(access_id), What::Access { ioas });
        let queue = self.world.add(
            Some(q.id().raw()),
            What::HwQueue {
                viommu,
                index,
                prev: prev.map(|p| p.1),
                access,
                pin: (ioas, slot),
            },
        );
        let node = self.world.add(
            None,
            What::QueueArc {
                queue,
                prev: prev.map(|p| p.0),
                viommu: arc,
            },
        );
        let name = self.hold(Handle::Queue(q), node);
        self.tag(format!(" h{name}"));
        Ok(true)
    }

    /// Invalidations through the vIOMMU, directly or through a batch of two (so a
    /// third entry flushes on push). Entries name bound virtual ids and valid
    /// caches, or now and then an unknown id or cache: the model predicts the first
    /// refused entry. Nothing in the model changes.
    pub(super) fn invalidate(&mut self, batch: bool) -> Result<bool, String> {
        let Some((i, _, viommu)) = self.pick_viommu() else {
            return Ok(false);
        };
        let bound: Vec<u64> = self
            .world
            .live(|w| matches!(w, What::Vdevice { viommu: v, .. } if *v == viommu))
            .map(|n| match self.world.what(n) {
                What::Vdevice { virt_id, .. } => *virt_id,
                _ => unreachable!("a vDEVICE"),
            })
            .collect();
        let mut entries = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let good = !bound.is_empty() && !self.rng.one_in(4);
            let (vdev_id, cache_id) = match (good, self.rng.one_in(2)) {
                (true, _) => (bound[self.rng.below(bound.len())], self.rng.below(4) as u32),
                (false, true) => (0x99, 0),
                (false, false) => (
                    bound.first().copied().unwrap_or(0x99),
                    MOCK_DEV_CACHE_ID_MAX + 1,
                ),
            };
            entries.push(IommuViommuInvalidateSelftest {
                flags: 0,
                vdev_id: vdev_id as u32,
                cache_id,
            });
        }
        let refused = entries.iter().position(|e| {
            e.cache_id > MOCK_DEV_CACHE_ID_MAX || !bound.contains(&u64::from(e.vdev_id))
        });
        let how = if batch { "batch flush" } else { "invalidate" };
        self.note(format!(
            "{how} on h{}: {:?}",
            self.live[i].name,
            entries
                .iter()
                .map(|e| (e.vdev_id, e.cache_id))
                .collect::<Vec<_>>()
        ));
        // What came back: `Ok(None)`, or the refused entry's index if one was named.
        let got: Result<(), (Option<usize>, String)> = self.call(|live, _| {
            let v = live[i].handle.viommu().expect("a vIOMMU");
            if batch {
                let mut b = v.batch::<2>();
                let mut r = Ok(());
                for (k, e) in entries.iter().enumerate() {
                    r = b.push(k as u32, *e);
                    if r.is_err() {
                        break;
                    }
                }
                r.and_then(|()| b.flush()).map_err(|e| match e {
                    BatchError::Refused { guest_index, .. } => {
                        (Some(guest_index as usize), e.to_string())
                    }
                    e => (None, e.to_string()),
                })
            } else {
                v.invalidate(&entries).map_err(|e| {
                    let k = (e.kind() == ErrorKind::InvalidArgument)
                        .then(|| e.refused_entry())
                        .flatten();
                    (k, e.to_string())
                })
            }
        });
        self.refusal(how, refused, got)
    }

    /// Compares an invalidation's outcome with the refusal the model predicts.
    pub(super) fn refusal(
        &mut self,
        how: &str,
        predicted: Option<usize>,
        got: Result<(), (Option<usize>, String)>,
    ) -> Result<bool, String> {
        let shown = match &got {
            Ok(()) => " -> ok".to_string(),
            Err((_, e)) => format!(" -> {e}"),
        };
        self.tag(shown);
        let got_index = got.as_ref().err().map(|(k, _)| *k);
        match (predicted, got_index) {
            _ if self.fired => Ok(true),
            (None, None) => Ok(true),
            (Some(k), Some(Some(g))) if k == g => Ok(true),
            (p, g) => {
                self.discrepancy(format!(
                    "{how}: the model predicts refused entry {p:?}, the crate said {g:?}"
                ));
                Ok(true)
            }
        }
    }

    pub(super) fn invalidate_nested(&mut self) -> Result<bool, String> {
        let Some(i) =
            self.pick(|l| matches!(&l.handle, Handle::Bound(s) if s.stage1_hwpt().is_some()))
        else {
            return Ok(false);
        };
        let entries: Vec<IommuHwptInvalidateSelftest> = (0..1 + self.rng.below(3))
            .map(|_| IommuHwptInvalidateSelftest {
                flags: 0,
                iotlb_id: self.rng.below(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX as usize + 2) as u32,
            })
            .collect();
        let refused = entries
            .iter()
            .position(|e| e.iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX);
        self.note(format!(
            "DeviceState::invalidate on h{}: {:?}",
            self.live[i].name,
            entries.iter().map(|e| e.iotlb_id).collect::<Vec<_>>()
        ));
        let got = self.call(|live, _| {
            let Handle::Bound(state) = &live[i].handle else {
                unreachable!("picked a nested device")
            };
            state.invalidate(&entries).map_err(|e| {
                let k = (e.kind() == ErrorKind::InvalidArgument)
                    .then(|| e.refused_entry())
                    .flatten();
                (k, e.to_string())
            })
        });
        self.refusal("DeviceState::invalidate", refused, got)
    }

    pub(super) fn fault_queue(&mut self) -> Result<bool, String> {
        self.note("IommuFd::alloc_fault_queue".into());
        let r = self.call(|_, fd| fd.alloc_fault_queue());
        self.outcome(&r);
        self.expect("alloc_fault_queue", true, &r);
        if let Ok(q) = r {
            let id = q.id();
            let node = self.world.add(Some(id.raw()), What::FaultQueue);
            let name = self.hold(Handle::RawFault(Some(q), id), node);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    /// A nested HWPT on a vIOMMU made through the id-level API (as a VMM driving
    /// both layers would): it holds the vIOMMU where the crate cannot see it.
    pub(super) fn raw_hwpt(&mut self) -> Result<bool, String> {
        let Some((i, _, viommu)) = self.pick_viommu() else {
            return Ok(false);
        };
        let Some(d) = self.pick(|l| l.handle.device().is_some()) else {
            return Ok(false);
        };
        let fault = if self.rng.one_in(2) {
            self.pick(|l| matches!(l.handle, Handle::RawFault(Some(_), _)))
        } else {
            None
        };
        let fault_node = fault.map(|f| self.live[f].node);
        let config = stage1(0x77).hwpt_data();
        self.note(format!(
            "raw nested HWPT on the vIOMMU of h{} for the device of h{} (fault queue: {:?})",
            self.live[i].name,
            self.live[d].name,
            fault.map(|f| self.live[f].name)
        ));
        let r = self.call(|live, fd| {
            let v = live[i].handle.viommu().expect("a vIOMMU").id();
            let dev = live[d].handle.device().expect("a device");
            let mut req = HwptAlloc::nested(dev.dev_id(), v, &config);
            if let Some(Handle::RawFault(_, q)) = fault.map(|f| &live[f].handle) {
                req = req.fault_queue(*q);
            }
            fd.alloc_hwpt(&req)
        });
        self.outcome(&r);
        self.expect("raw alloc_hwpt", true, &r);
        if let Ok(id) = r {
            let node = self.world.add(
                Some(id.raw()),
                What::Hwpt {
                    parent: viommu,
                    fault: fault_node,
                },
            );
            let name = self.hold(Handle::RawHwpt(id), node);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }
}
