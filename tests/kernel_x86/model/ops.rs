// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The operations a sequence draws from: each picks its arguments among what the
//! sequence holds, predicts from the model whether the call must succeed, calls
//! the public API, and updates the model from what actually happened.

#![allow(unsafe_code)] // map_user of the test's buffer, for the pin check

use super::rng::Rng;
use super::seq::{Handle, Live, Seq};
use super::world::{Backing, Node, SLOTS, What};
use crate::common::APERTURE;
use iommufd::arch::{DefaultStage1, Selftest};
use iommufd::states::IoasReady;
use iommufd::{Access, ErrorKind, HwptId, Iova, MapAt};
use rustix::fd::AsFd;

/// Bytes of one mapping (the test buffer's size) and the distance between slots.
pub const MAP_LEN: u64 = 0x2000;
const STRIDE: u64 = 0x10000;

pub fn iova(slot: usize) -> u64 {
    APERTURE + slot as u64 * STRIDE
}

/// The operations, for drawing and for counting which follow which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    AllocIoas,
    Clone,
    MapFile,
    MapUser,
    Unmap,
    AllocS2,
    AllocViommu,
    NewDevice,
    Bind,
    Install,
    Reinstall,
    Uninstall,
    SwitchDefault,
    Apply,
    Unbind,
    VEventQueue,
    HwQueue,
    HwQueueNext,
    Invalidate,
    InvalidateNested,
    BatchFlush,
    FaultQueue,
    RawHwpt,
    TryDestroy,
    Drop,
}

/// Each operation with its weight in the draw: drops and the steps that build
/// the chain come up more often, so sequences get deep and then unwind.
pub const OPS: [(OpKind, usize); 25] = [
    (OpKind::AllocIoas, 1),
    (OpKind::Clone, 1),
    (OpKind::MapFile, 3),
    (OpKind::MapUser, 1),
    (OpKind::Unmap, 1),
    (OpKind::AllocS2, 2),
    (OpKind::AllocViommu, 2),
    (OpKind::NewDevice, 3),
    (OpKind::Bind, 3),
    (OpKind::Install, 2),
    (OpKind::Reinstall, 1),
    (OpKind::Uninstall, 1),
    (OpKind::SwitchDefault, 1),
    (OpKind::Apply, 2),
    (OpKind::Unbind, 1),
    (OpKind::VEventQueue, 1),
    (OpKind::HwQueue, 2),
    (OpKind::HwQueueNext, 2),
    (OpKind::Invalidate, 1),
    (OpKind::InvalidateNested, 1),
    (OpKind::BatchFlush, 1),
    (OpKind::FaultQueue, 1),
    (OpKind::RawHwpt, 2),
    (OpKind::TryDestroy, 2),
    (OpKind::Drop, 4),
];

impl OpKind {
    pub fn pick(rng: &mut Rng) -> Self {
        let total: usize = OPS.iter().map(|(_, w)| w).sum();
        let mut r = rng.below(total);
        for (op, w) in OPS {
            if r < w {
                return op;
            }
            r -= w;
        }
        unreachable!("r < total")
    }

    /// Whether a fault may be injected into it: every call that can report a
    /// failure. Not drops: they cannot report one, and a teardown the kernel
    /// itself fails is no crate behaviour to check.
    pub fn injectable(self) -> bool {
        !matches!(self, OpKind::Clone | OpKind::Drop)
    }
}

impl Seq<'_> {
    /// Runs one operation; `Ok(false)` when nothing held lets it apply.
    pub fn exec(&mut self, op: OpKind) -> Result<bool, String> {
        match op {
            OpKind::AllocIoas => self.alloc_ioas(),
            OpKind::Clone => Ok(self.clone_handle()),
            OpKind::MapFile => self.map(Backing::File),
            OpKind::MapUser => self.map(Backing::User),
            OpKind::Unmap => self.unmap(),
            OpKind::AllocS2 => self.alloc_s2(),
            OpKind::AllocViommu => self.alloc_viommu(),
            OpKind::NewDevice => self.new_device(),
            OpKind::Bind => self.bind(),
            OpKind::Install
            | OpKind::Reinstall
            | OpKind::Uninstall
            | OpKind::SwitchDefault
            | OpKind::Apply => self.transition(op),
            OpKind::Unbind => self.unbind(),
            OpKind::VEventQueue => self.event_queue(),
            OpKind::HwQueue => self.hw_queue(false),
            OpKind::HwQueueNext => self.hw_queue(true),
            OpKind::Invalidate => self.invalidate(false),
            OpKind::BatchFlush => self.invalidate(true),
            OpKind::InvalidateNested => self.invalidate_nested(),
            OpKind::FaultQueue => self.fault_queue(),
            OpKind::RawHwpt => self.raw_hwpt(),
            OpKind::TryDestroy => self.try_destroy(),
            OpKind::Drop => match self.pick(|_| true) {
                Some(i) => self.drop_at(i).map(|_| true),
                None => Ok(false),
            },
        }
    }

    pub(super) fn alloc_ioas(&mut self) -> Result<bool, String> {
        self.note("IoasReady::new".into());
        let r = self.call(|_, fd| IoasReady::new(fd));
        self.outcome(&r);
        self.expect("IoasReady::new", true, &r);
        if let Ok(ioas) = r {
            let obj = self.world.add(
                Some(ioas.id().raw()),
                What::Ioas {
                    maps: [None; SLOTS],
                },
            );
            let arc = self.world.add(None, What::IoasArc { ioas: obj });
            let name = self.hold(Handle::Ioas(ioas), arc);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    pub(super) fn clone_handle(&mut self) -> bool {
        let Some(i) = self.pick(|l| {
            matches!(
                l.handle,
                Handle::Ioas(_) | Handle::S2(_) | Handle::Viommu(_)
            )
        }) else {
            return false;
        };
        let l = &self.live[i];
        let (from, node) = (l.name, l.node);
        let handle = match &l.handle {
            Handle::Ioas(x) => Handle::Ioas(x.clone()),
            Handle::S2(x) => Handle::S2(x.clone()),
            Handle::Viommu(x) => Handle::Viommu(x.clone()),
            _ => unreachable!("picked a shared handle"),
        };
        let name = self.hold(handle, node);
        self.note(format!("clone h{from} -> h{name}"));
        true
    }

    pub(super) fn maps(&self, ioas: Node) -> [Option<Backing>; SLOTS] {
        match self.world.what(ioas) {
            What::Ioas { maps } => *maps,
            w => panic!("model bug: not an IOAS: {w:?}"),
        }
    }

    pub(super) fn set_slot(&mut self, ioas: Node, slot: usize, backing: Option<Backing>) {
        if let What::Ioas { maps } = self.world.what_mut(ioas) {
            maps[slot] = backing;
        }
    }

    /// Whether a live HW queue pins the mapping in `slot`.
    pub(super) fn pinned(&self, ioas: Node, slot: usize) -> bool {
        self.world
            .live(|w| matches!(w, What::HwQueue { pin, .. } if *pin == (ioas, slot)))
            .next()
            .is_some()
    }

    /// A handle that reaches an IOAS, and that IOAS's model object.
    pub(super) fn pick_ioas(&mut self) -> Option<(usize, Node, Node)> {
        let i = self.pick(|l| l.handle.ioas().is_some())?;
        let arc = self.ioas_arc(&self.live[i]).expect("an IOAS handle");
        Some((i, arc, self.world.object_of(arc)))
    }

    pub(super) fn map(&mut self, backing: Backing) -> Result<bool, String> {
        let Some((i, _, ioas)) = self.pick_ioas() else {
            return Ok(false);
        };
        let slot = self.rng.below(SLOTS);
        let free = self.maps(ioas)[slot].is_none();
        let (name, id) = (self.live[i].name, self.world.id(ioas));
        self.note(format!("{backing:?} map, IOAS {id} (h{name}) slot {slot}"));
        let env = self.env;
        let at = MapAt::Fixed(Iova(iova(slot)));
        let rw = Access::READ | Access::WRITE;
        let r = self.call(|live, fd| {
            let ioas = live[i].handle.ioas().expect("picked an IOAS handle");
            match backing {
                Backing::File => {
                    ioas.map_file(env.memfd.as_fd(), slot as u64 * MAP_LEN, MAP_LEN, at, rw)
                }
                // SAFETY: the buffer outlives every iommufd of the test, and is only
                // read through the mock's checks.
                Backing::User => unsafe {
                    fd.map_user(ioas.id(), env.buffer.ptr(), MAP_LEN, at, rw)
                },
            }
        });
        self.outcome(&r);
        self.expect("map", free, &r);
        if let Ok(at) = r {
            if at.0 != iova(slot) {
                return Err(format!("map: mapped at {at}, not at the fixed IOVA"));
            }
            self.set_slot(ioas, slot, Some(backing));
        }
        Ok(true)
    }

    pub(super) fn unmap(&mut self) -> Result<bool, String> {
        let Some((i, _, ioas)) = self.pick_ioas() else {
            return Ok(false);
        };
        let slot = self.rng.below(SLOTS);
        let mapped = self.maps(ioas)[slot].is_some();
        let pinned = self.pinned(ioas, slot);
        let (name, id) = (self.live[i].name, self.world.id(ioas));
        self.note(format!(
            "unmap IOAS {id} (h{name}) slot {slot} (pinned: {pinned})"
        ));
        let r = self.call(|live, _| {
            let ioas = live[i].handle.ioas().expect("picked an IOAS handle");
            ioas.unmap(Iova(iova(slot)), MAP_LEN)
        });
        self.outcome(&r);
        self.expect("unmap", mapped && !pinned, &r);
        match r {
            Ok(n) if n != MAP_LEN => Err(format!("unmap: {n} bytes unmapped, not {MAP_LEN}")),
            Ok(_) => {
                self.set_slot(ioas, slot, None);
                Ok(true)
            }
            Err(_) => Ok(true),
        }
    }

    pub(super) fn alloc_s2(&mut self) -> Result<bool, String> {
        let Some((i, ioas_arc, ioas)) = self.pick_ioas() else {
            return Ok(false);
        };
        let Some(d) = self.pick(|l| l.handle.device().is_some()) else {
            return Ok(false);
        };
        let (name, dev) = (self.live[i].name, self.live[d].name);
        self.note(format!(
            "alloc_nest_parent on h{name} for the device of h{dev}"
        ));
        let r = self.call(|live, _| {
            let ioas = live[i].handle.ioas().expect("an IOAS handle");
            ioas.alloc_nest_parent(live[d].handle.device().expect("a device"))
        });
        self.outcome(&r);
        self.expect("alloc_nest_parent", true, &r);
        if let Ok(s2) = r {
            let obj = self.world.add(
                Some(s2.id().raw()),
                What::Hwpt {
                    parent: ioas,
                    fault: None,
                },
            );
            let arc = self.world.add(
                None,
                What::S2Arc {
                    s2: obj,
                    ioas: ioas_arc,
                },
            );
            let name = self.hold(Handle::S2(s2), arc);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    pub(super) fn alloc_viommu(&mut self) -> Result<bool, String> {
        let Some(i) = self.pick(|l| l.handle.s2().is_some()) else {
            return Ok(false);
        };
        let Some(d) = self.pick(|l| l.handle.device().is_some()) else {
            return Ok(false);
        };
        let s2_arc = self.s2_arc(&self.live[i]).expect("a stage-2 handle");
        let s2 = self.world.object_of(s2_arc);
        let (name, dev) = (self.live[i].name, self.live[d].name);
        self.note(format!("alloc_viommu on h{name} for the device of h{dev}"));
        let r = self.call(|live, _| {
            let s2 = live[i].handle.s2().expect("a stage-2 handle");
            s2.alloc_viommu::<Selftest>(live[d].handle.device().expect("a device"))
        });
        self.outcome(&r);
        self.expect("alloc_viommu", true, &r);
        if let Ok(v) = r {
            let viommu = self.world.add(Some(v.id().raw()), What::Viommu { s2 });
            let Some(bypass) = v.default_hwpt(DefaultStage1::Bypass) else {
                return Err("alloc_viommu: a vIOMMU without its bypass stage 1".into());
            };
            let bypass = self.world.add(
                Some(bypass.raw()),
                What::Hwpt {
                    parent: viommu,
                    fault: None,
                },
            );
            let arc = self.world.add(
                None,
                What::ViommuArc {
                    viommu,
                    bypass: Some(bypass),
                    s2: s2_arc,
                },
            );
            let name = self.hold(Handle::Viommu(v), arc);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    /// The vIOMMU object and bypass HWPT of a vIOMMU handle's shared part.
    pub(super) fn viommu_parts(&self, arc: Node) -> (Node, Option<Node>) {
        match self.world.what(arc) {
            What::ViommuArc { viommu, bypass, .. } => (*viommu, *bypass),
            w => panic!("model bug: not a vIOMMU handle: {w:?}"),
        }
    }

    /// A handle that reaches a vIOMMU, its shared part and its object.
    pub(super) fn pick_viommu(&mut self) -> Option<(usize, Node, Node)> {
        let i = self.pick(|l| l.handle.viommu().is_some())?;
        let arc = self.viommu_arc(&self.live[i]).expect("a vIOMMU handle");
        Some((i, arc, self.viommu_parts(arc).0))
    }

    pub(super) fn try_destroy(&mut self) -> Result<bool, String> {
        let Some(i) = self.pick(|l| {
            matches!(
                l.handle,
                Handle::Ioas(_) | Handle::S2(_) | Handle::Viommu(_)
            )
        }) else {
            return Ok(false);
        };
        let Live { name, handle, node } = self.live.swap_remove(i);
        // It must succeed exactly when nothing else keeps the object alive.
        let object = self.world.object_of(node);
        let ok = !self.world.reach(self.roots())[object];
        self.note(format!(
            "try_destroy h{name} ({})",
            super::check::describe(&self.world, object)
        ));
        /// The handle back on failure, and the result.
        fn split<T>(
            r: Result<(), iommufd::TransitionError<T>>,
            wrap: fn(T) -> Handle,
        ) -> (Option<Handle>, iommufd::Result<()>) {
            match r {
                Ok(()) => (None, Ok(())),
                Err(e) => {
                    let (x, e) = e.into_parts();
                    (Some(wrap(x)), Err(e))
                }
            }
        }
        let (back, r) = self.call(|_, _| match handle {
            Handle::Ioas(x) => split(x.try_destroy(), Handle::Ioas),
            Handle::S2(x) => split(x.try_destroy(), Handle::S2),
            Handle::Viommu(x) => split(x.try_destroy(), Handle::Viommu),
            _ => unreachable!("picked a shared handle"),
        });
        self.outcome(&r);
        self.expect("try_destroy", ok, &r);
        let Some(back) = back else {
            return Ok(true);
        };
        let checked = self.refused_destroy(node, &back, &r);
        self.put_back(name, back, node);
        checked.map(|()| true)
    }

    /// A refused `try_destroy` gives the handle back as it was: same object, and
    /// for a vIOMMU its default stage 1 (possibly remade under a new id).
    pub(super) fn refused_destroy(
        &mut self,
        node: Node,
        back: &Handle,
        r: &iommufd::Result<()>,
    ) -> Result<(), String> {
        if let (Err(e), false) = (r, self.fired) {
            if e.kind() != ErrorKind::Busy {
                self.discrepancy(format!("try_destroy refused with {e}, not as busy"));
            }
        }
        let object = self.world.object_of(node);
        let id = match back {
            Handle::Ioas(x) => x.id().raw(),
            Handle::S2(x) => x.id().raw(),
            Handle::Viommu(x) => x.id().raw(),
            _ => unreachable!("a shared handle"),
        };
        if id != self.world.id(object) {
            return Err(format!(
                "try_destroy gave back object {id}, not {}",
                self.world.id(object)
            ));
        }
        let Handle::Viommu(v) = back else {
            return Ok(());
        };
        let (viommu, bypass) = self.viommu_parts(node);
        let now = v.default_hwpt(DefaultStage1::Bypass).map(HwptId::raw);
        let new = match (bypass, now) {
            (Some(b), Some(id)) if self.world.id(b) == id => return Ok(()),
            (_, Some(id)) => Some(self.world.add(
                Some(id),
                What::Hwpt {
                    parent: viommu,
                    fault: None,
                },
            )),
            (_, None) => None,
        };
        if let What::ViommuArc { bypass, .. } = self.world.what_mut(node) {
            *bypass = new;
        }
        // Documented: the defaults are made again for the device the vIOMMU was
        // allocated for, so one may stay missing only once that device is gone.
        let device_bound = self
            .fd
            .hw_info::<iommufd::uapi::IommuTestHwInfo>(v.dev_id())
            .is_ok();
        if new.is_none() && !self.fired && device_bound {
            self.discrepancy(
                "vIOMMU try_destroy failed and the handle came back without its bypass stage 1 (not all-or-nothing)".into(),
            );
        }
        Ok(())
    }

    /// Drops the live value at `i`. For an object made through the id-level API,
    /// destroys it (closing a fault queue's fd first); `Ok(false)` when the kernel
    /// refused as the model predicted (the value stays held).
    pub fn drop_at(&mut self, i: usize) -> Result<bool, String> {
        let Live { name, handle, node } = self.live.swap_remove(i);
        self.note(format!("drop h{name}"));
        match handle {
            Handle::RawHwpt(id) => {
                let r = self.fd.destroy(id);
                self.outcome(&r);
                self.expect("destroy of a raw HWPT", true, &r);
                // What the raw object held may be a destroy the crate deferred.
                self.fd.retry_pending_destroys();
            }
            Handle::RawFault(queue, id) => {
                drop(queue);
                let free = self
                    .world
                    .live(|w| matches!(w, What::Hwpt { fault: Some(f), .. } if *f == node))
                    .next()
                    .is_none();
                let r = self.fd.destroy(id);
                self.outcome(&r);
                self.expect("destroy of a raw fault queue", free, &r);
                if r.is_err() {
                    self.put_back(name, Handle::RawFault(None, id), node);
                    return Ok(false);
                }
                // What the raw object held may be a destroy the crate deferred.
                self.fd.retry_pending_destroys();
            }
            handle => drop(handle),
        }
        Ok(true)
    }

    /// Appends to the last log line.
    pub(super) fn tag(&mut self, s: String) {
        if let Some(l) = self.log.last_mut() {
            l.push_str(&s);
        }
    }
}
