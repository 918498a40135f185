//! The operations a sequence draws from: each picks its arguments among what the
//! sequence holds, predicts from the model whether the call must succeed, calls
//! the public API, and updates the model from what actually happened.

#![allow(unsafe_code)] // map_user of the test's buffer, for the pin check

use super::adapt;
use super::rng::Rng;
use super::seq::{Handle, Live, Seq};
use super::world::{Backing, Node, SLOTS, What};
use crate::common::APERTURE;
use iommufd::arch::{DefaultStage1, Selftest, selftest::stage1};
use iommufd::batch::BatchError;
use iommufd::mock::MockDevice;
use iommufd::states::{DeviceState, GuestStage1, IoasReady};
use iommufd::uapi::{
    IommuHwptInvalidateSelftest, IommuViommuInvalidateSelftest, MOCK_DEV_CACHE_ID_MAX,
    MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
};
use iommufd::{Access, Device, ErrorKind, HwptAlloc, HwptId, IoasId, Iova, MapAt, PtId};
use rustix::fd::AsFd;

/// Bytes of one mapping (the test buffer's size) and the distance between slots.
pub const MAP_LEN: u64 = 0x2000;
const STRIDE: u64 = 0x10000;

fn iova(slot: usize) -> u64 {
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
    EventQueue,
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
    (OpKind::EventQueue, 1),
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
            OpKind::EventQueue => self.event_queue(),
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

    fn alloc_ioas(&mut self) -> Result<bool, String> {
        self.note("IoasReady::new".into());
        let r = self.call(|_, fd| IoasReady::new(fd));
        self.outcome(&r);
        self.expect("IoasReady::new", true, &r)?;
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

    fn clone_handle(&mut self) -> bool {
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

    fn maps(&self, ioas: Node) -> [Option<Backing>; SLOTS] {
        match self.world.what(ioas) {
            What::Ioas { maps } => *maps,
            w => panic!("model bug: not an IOAS: {w:?}"),
        }
    }

    fn set_slot(&mut self, ioas: Node, slot: usize, backing: Option<Backing>) {
        if let What::Ioas { maps } = self.world.what_mut(ioas) {
            maps[slot] = backing;
        }
    }

    /// Whether a live HW queue pins the mapping in `slot`.
    fn pinned(&self, ioas: Node, slot: usize) -> bool {
        self.world
            .live(|w| matches!(w, What::HwQueue { pin, .. } if *pin == (ioas, slot)))
            .next()
            .is_some()
    }

    /// A handle that reaches an IOAS, and that IOAS's model object.
    fn pick_ioas(&mut self) -> Option<(usize, Node, Node)> {
        let i = self.pick(|l| l.handle.ioas().is_some())?;
        let arc = self.ioas_arc(&self.live[i]).expect("an IOAS handle");
        Some((i, arc, self.world.object_of(arc)))
    }

    fn map(&mut self, backing: Backing) -> Result<bool, String> {
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
                Backing::File => ioas.map_file(env.memfd.as_fd(), slot as u64 * MAP_LEN, MAP_LEN, at, rw),
                // SAFETY: the buffer outlives every iommufd of the test, and is only
                // read through the mock's checks.
                Backing::User => unsafe { fd.map_user(ioas.id(), env.buffer.ptr(), MAP_LEN, at, rw) },
            }
        });
        self.outcome(&r);
        self.expect("map", free, &r)?;
        if let Ok(at) = r {
            if at.0 != iova(slot) {
                return Err(format!("map: mapped at {at}, not at the fixed IOVA"));
            }
            self.set_slot(ioas, slot, Some(backing));
        }
        Ok(true)
    }

    fn unmap(&mut self) -> Result<bool, String> {
        let Some((i, _, ioas)) = self.pick_ioas() else {
            return Ok(false);
        };
        let slot = self.rng.below(SLOTS);
        let mapped = self.maps(ioas)[slot].is_some();
        let pinned = self.pinned(ioas, slot);
        let (name, id) = (self.live[i].name, self.world.id(ioas));
        self.note(format!("unmap IOAS {id} (h{name}) slot {slot} (pinned: {pinned})"));
        let r = self.call(|live, _| {
            let ioas = live[i].handle.ioas().expect("picked an IOAS handle");
            ioas.unmap(Iova(iova(slot)), MAP_LEN)
        });
        self.outcome(&r);
        self.expect("unmap", mapped && !pinned, &r)?;
        match r {
            Ok(n) if n != MAP_LEN => Err(format!("unmap: {n} bytes unmapped, not {MAP_LEN}")),
            Ok(_) => {
                self.set_slot(ioas, slot, None);
                Ok(true)
            }
            Err(_) => Ok(true),
        }
    }

    fn alloc_s2(&mut self) -> Result<bool, String> {
        let Some((i, ioas_arc, ioas)) = self.pick_ioas() else {
            return Ok(false);
        };
        let Some(d) = self.pick(|l| l.handle.device().is_some()) else {
            return Ok(false);
        };
        let (name, dev) = (self.live[i].name, self.live[d].name);
        self.note(format!("alloc_nest_parent on h{name} for the device of h{dev}"));
        let r = self.call(|live, _| {
            let ioas = live[i].handle.ioas().expect("an IOAS handle");
            ioas.alloc_nest_parent(live[d].handle.device().expect("a device"))
        });
        self.outcome(&r);
        self.expect("alloc_nest_parent", true, &r)?;
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

    fn alloc_viommu(&mut self) -> Result<bool, String> {
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
        self.expect("alloc_viommu", true, &r)?;
        if let Ok(v) = r {
            let viommu = self
                .world
                .add(Some(v.id().raw()), What::Viommu { s2 });
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
    fn viommu_parts(&self, arc: Node) -> (Node, Option<Node>) {
        match self.world.what(arc) {
            What::ViommuArc { viommu, bypass, .. } => (*viommu, *bypass),
            w => panic!("model bug: not a vIOMMU handle: {w:?}"),
        }
    }

    fn new_device(&mut self) -> Result<bool, String> {
        // Where a device can be born: an IOAS or a stage 2 a handle names (it
        // attaches); the bypass HWPT of a vIOMMU (refused: no vDEVICE yet); a dead id.
        let mut targets: Vec<(PtId, Option<Node>, bool)> = Vec::new();
        for l in &self.live {
            if let Some(arc) = self.ioas_arc(l) {
                let ioas = self.world.object_of(arc);
                let id = IoasId::from_raw(self.world.id(ioas));
                targets.push((PtId::Ioas(id), Some(ioas), true));
            }
            if let Some(arc) = self.s2_arc(l) {
                let s2 = self.world.object_of(arc);
                let id = HwptId::from_raw(self.world.id(s2));
                targets.push((PtId::Hwpt(id), Some(s2), false));
            }
            if let Some((_, Some(bypass))) = self.viommu_arc(l).map(|a| self.viommu_parts(a)) {
                targets.push((PtId::Hwpt(HwptId::from_raw(self.world.id(bypass))), None, false));
            }
        }
        let live_ids = self.world.live_ids();
        let dead = (1..=self.world.max_id()).find(|id| !live_ids.contains_key(id));
        if let (Some(dead), true) = (dead, targets.is_empty() || self.rng.one_in(6)) {
            targets.push((PtId::Hwpt(HwptId::from_raw(dead)), None, false));
        }
        if targets.is_empty() {
            return Ok(false);
        }
        let (pt, target, is_ioas) = targets[self.rng.below(targets.len())];
        self.note(format!("MockDevice::new on {pt:?}"));
        let r = self.call(|_, fd| MockDevice::new(fd, pt));
        self.outcome(&r);
        self.expect("MockDevice::new", target.is_some(), &r)?;
        let Ok(dev) = r else { return Ok(true) };
        let Some(target) = target else {
            return Err("MockDevice::new: attached where the model says it cannot".into());
        };
        let hwpt = dev.initial_hwpt().raw();
        let attached = if is_ioas {
            // The kernel reuses a live automatic domain of the IOAS, or makes one.
            match live_ids.get(&hwpt) {
                Some(&n) if self.is_auto_domain(n, target) => n,
                Some(&n) => {
                    return Err(format!(
                        "MockDevice::new: attached to HWPT {hwpt}, which is no automatic domain of the IOAS ({:?})",
                        self.world.what(n)
                    ));
                }
                None => self.world.add(
                    Some(hwpt),
                    What::Hwpt {
                        parent: target,
                        fault: None,
                    },
                ),
            }
        } else if hwpt == self.world.id(target) {
            target
        } else {
            return Err(format!("MockDevice::new: attached to HWPT {hwpt}, not the one asked for"));
        };
        let idev = self.world.add(Some(dev.dev_id().raw()), What::Idev);
        let stdev = self
            .world
            .add(Some(dev.stdev_id()), What::Stdev { idev, attached });
        let name = self.hold(Handle::Dev(dev), stdev);
        self.tag(format!(" h{name}"));
        Ok(true)
    }

    /// A paging HWPT of `ioas` that no stage-2 handle owns.
    fn is_auto_domain(&self, hwpt: Node, ioas: Node) -> bool {
        let on_ioas = matches!(self.world.what(hwpt), What::Hwpt { parent, .. } if *parent == ioas);
        let owned = (0..self.world.nodes.len())
            .any(|n| matches!(self.world.what(n), What::S2Arc { s2, .. } if *s2 == hwpt));
        on_ioas && !owned
    }

    fn bind(&mut self) -> Result<bool, String> {
        let Some(d) = self.pick(|l| matches!(l.handle, Handle::Dev(_))) else {
            return Ok(false);
        };
        let Some(v) = self.pick(|l| l.handle.viommu().is_some()) else {
            return Ok(false);
        };
        let arc = self.viommu_arc(&self.live[v]).expect("a vIOMMU handle");
        let (viommu_obj, bypass) = self.viommu_parts(arc);
        let virt_id = self.rng.below(4) as u64;
        let taken = self
            .world
            .live(|w| matches!(w, What::Vdevice { viommu, virt_id: id } if *viommu == viommu_obj && *id == virt_id))
            .next()
            .is_some();
        // A clone for the call only: the handle it comes from outlives it, so it
        // changes no lifetime.
        let viommu = self.live[v].handle.viommu().expect("a vIOMMU").clone();
        let vname = self.live[v].name;
        let Live { name, handle, node } = self.live.swap_remove(d);
        let Handle::Dev(dev) = handle else {
            unreachable!("picked a device")
        };
        self.note(format!("bind h{name} to h{vname} as {virt_id}"));
        let r = self.call(|_, _| viommu.bind(dev, virt_id));
        drop(viommu);
        match r {
            Ok(bound) => {
                self.outcome::<()>(&Ok(()));
                self.expect("bind", bypass.is_some() && !taken, &Ok::<(), iommufd::Error>(()))?;
                let Some(bypass) = bypass else {
                    return Err("bind: bound with no bypass stage 1".into());
                };
                let vdevice = self.world.add(
                    Some(bound.vdevice_id().raw()),
                    What::Vdevice {
                        viommu: viommu_obj,
                        virt_id,
                    },
                );
                self.attach(node, bypass);
                let binding = self.world.add(
                    None,
                    What::Binding {
                        dev: node,
                        vdevice,
                        stage1: None,
                        viommu: arc,
                    },
                );
                self.put_back(name, Handle::Bound(bound.into()), binding);
                Ok(true)
            }
            Err(e) => {
                let (dev, error) = e.into_parts();
                let r: iommufd::Result<()> = Err(error);
                self.outcome(&r);
                self.put_back(name, Handle::Dev(dev), node);
                self.expect("bind", bypass.is_some() && !taken, &r).map(|_| true)
            }
        }
    }

    fn attach(&mut self, stdev: Node, to: Node) {
        if let What::Stdev { attached, .. } = self.world.what_mut(stdev) {
            *attached = to;
        }
    }

    /// The parts of a binding: device, vDEVICE, stage 1, vIOMMU handle.
    fn binding(&self, node: Node) -> (Node, Node, Option<Node>, Node) {
        match self.world.what(node) {
            What::Binding {
                dev,
                vdevice,
                stage1,
                viommu,
            } => (*dev, *vdevice, *stage1, *viommu),
            w => panic!("model bug: not a binding: {w:?}"),
        }
    }

    /// Records that a bound device now sits on `stage1` (its own nested HWPT) or,
    /// with `None`, on the bypass default.
    fn settle(&mut self, binding: Node, stage1: Option<Node>) {
        let (dev, _, _, arc) = self.binding(binding);
        if let What::Binding { stage1: s, .. } = self.world.what_mut(binding) {
            *s = stage1;
        }
        let (_, bypass) = self.viommu_parts(arc);
        if let Some(to) = stage1.or(bypass) {
            self.attach(dev, to);
        }
    }

    /// The handle must be in the state the model has for it.
    fn same_state(&self, binding: Node, state: &DeviceState<Selftest, MockDevice>) -> Result<(), String> {
        let (_, vdevice, stage1, _) = self.binding(binding);
        let (vdev, hwpt) = match state {
            DeviceState::Bound(b) => (b.vdevice_id(), None),
            DeviceState::Nested(n) => (n.vdevice_id(), n.stage1_hwpt()),
        };
        let want = stage1.map(|n| self.world.id(n));
        if vdev.raw() != self.world.id(vdevice) || hwpt.map(HwptId::raw) != want {
            return Err(format!(
                "device state {state:?}: the model has vDEVICE {} on stage 1 {want:?}",
                self.world.id(vdevice)
            ));
        }
        Ok(())
    }

    /// Install, reinstall, uninstall, switch_default (typed), or apply (runtime
    /// holder) on a bound device.
    fn transition(&mut self, op: OpKind) -> Result<bool, String> {
        let applies = |l: &Live| match (&l.handle, op) {
            (Handle::Bound(DeviceState::Bound(_)), OpKind::Install) => true,
            (Handle::Bound(DeviceState::Nested(_)), OpKind::Reinstall | OpKind::Uninstall) => true,
            (Handle::Bound(_), OpKind::SwitchDefault | OpKind::Apply) => true,
            _ => false,
        };
        let Some(i) = self.pick(applies) else {
            return Ok(false);
        };
        let config = stage1(self.rng.below(0x1000) as u32);
        let kind = if self.rng.one_in(2) {
            DefaultStage1::Bypass
        } else {
            DefaultStage1::Abort
        };
        let target = match self.rng.below(3) {
            0 => GuestStage1::Translate(&config),
            _ => GuestStage1::Default(kind),
        };
        let Live { name, handle, node } = self.live.swap_remove(i);
        let Handle::Bound(state) = handle else {
            unreachable!("picked a bound device")
        };
        let (_, _, _, arc) = self.binding(node);
        let has_bypass = self.viommu_parts(arc).1.is_some();
        // What the model predicts: success, and whether the device ends up on its
        // own (new) stage 1.
        let (ok, nested) = match op {
            OpKind::Install | OpKind::Reinstall => (true, true),
            OpKind::Uninstall => (has_bypass, false),
            OpKind::SwitchDefault => (kind == DefaultStage1::Bypass && has_bypass, false),
            _ => match target {
                GuestStage1::Translate(_) => (true, true),
                GuestStage1::Default(k) => (k == DefaultStage1::Bypass && has_bypass, false),
            },
        };
        let what = match op {
            OpKind::SwitchDefault => format!("switch_default({kind:?})"),
            OpKind::Apply => format!("apply({target:?})"),
            _ => format!("{op:?}"),
        };
        self.note(format!("{what} on h{name}"));
        let (state, result) = self.call(|_, _| {
            // Every path ends as a state and the transition's result.
            type State = DeviceState<Selftest, MockDevice>;
            fn split<T: Into<State>, U: Into<State>>(
                r: Result<T, iommufd::TransitionError<U>>,
            ) -> (State, iommufd::Result<()>) {
                match r {
                    Ok(s) => (s.into(), Ok(())),
                    Err(e) => {
                        let (s, e) = e.into_parts();
                        (s.into(), Err(e))
                    }
                }
            }
            match (op, state) {
                (OpKind::Install, DeviceState::Bound(b)) => split(b.install(&config)),
                (OpKind::Reinstall, DeviceState::Nested(n)) => split(n.reinstall(&config)),
                (OpKind::Uninstall, DeviceState::Nested(n)) => split(n.uninstall()),
                (OpKind::SwitchDefault, DeviceState::Bound(b)) => split(b.switch_default(kind)),
                (OpKind::SwitchDefault, DeviceState::Nested(n)) => split(n.switch_default(kind)),
                (_, state) => split(state.apply(target)),
            }
        });
        self.outcome(&result);
        let checked = self.expect(&what, ok, &result).and_then(|()| match result {
            Ok(()) => {
                let stage1 = match (&state, nested) {
                    (DeviceState::Nested(n), true) => {
                        let id = n.stage1_hwpt().expect("a nested state has its HWPT").raw();
                        let (viommu, _) = self.viommu_parts(arc);
                        Some(self.world.add(Some(id), What::Hwpt { parent: viommu, fault: None }))
                    }
                    (DeviceState::Bound(b), false) if b.default_stage1() == DefaultStage1::Bypass => None,
                    (s, _) => return Err(format!("{what}: ended in {s:?}")),
                };
                self.settle(node, stage1);
                self.same_state(node, &state)
            }
            // A failed transition gives the device back as it was.
            Err(_) => self.same_state(node, &state),
        });
        self.put_back(name, Handle::Bound(state), node);
        checked.map(|()| true)
    }

    fn unbind(&mut self) -> Result<bool, String> {
        let Some(i) = self.pick(|l| matches!(l.handle, Handle::Bound(DeviceState::Bound(_)))) else {
            return Ok(false);
        };
        let Live { name, handle, node } = self.live.swap_remove(i);
        let Handle::Bound(DeviceState::Bound(bound)) = handle else {
            unreachable!("picked a bound device")
        };
        let (dev, _, _, arc) = self.binding(node);
        self.note(format!("unbind h{name}"));
        match self.call(|_, _| bound.unbind()) {
            Ok(device) => {
                self.outcome::<()>(&Ok(()));
                // The device stays on the stage 2 of the vIOMMU it left.
                let s2 = self.world.object_of(self.world.viommu_arc_s2(arc));
                self.attach(dev, s2);
                self.put_back(name, Handle::Dev(device), dev);
            }
            Err(e) => {
                let (bound, error) = e.into_parts();
                let r: iommufd::Result<()> = Err(error);
                self.outcome(&r);
                let state = DeviceState::Bound(bound);
                let same = self.same_state(node, &state);
                self.put_back(name, Handle::Bound(state), node);
                self.expect("unbind", true, &r)?;
                same?;
            }
        }
        Ok(true)
    }

    /// A handle that reaches a vIOMMU, its shared part and its object.
    fn pick_viommu(&mut self) -> Option<(usize, Node, Node)> {
        let i = self.pick(|l| l.handle.viommu().is_some())?;
        let arc = self.viommu_arc(&self.live[i]).expect("a vIOMMU handle");
        Some((i, arc, self.viommu_parts(arc).0))
    }

    fn event_queue(&mut self) -> Result<bool, String> {
        let Some((i, arc, viommu)) = self.pick_viommu() else {
            return Ok(false);
        };
        let depth = 1 + self.rng.below(8) as u32;
        let free = self
            .world
            .live(|w| matches!(w, What::Veventq { viommu: v } if *v == viommu))
            .next()
            .is_none();
        self.note(format!("alloc_event_queue({depth}) on h{}", self.live[i].name));
        let r = self.call(|live, _| live[i].handle.viommu().expect("a vIOMMU").alloc_event_queue(depth));
        self.outcome(&r);
        self.expect("alloc_event_queue", free, &r)?;
        if let Ok(q) = r {
            let obj = self.world.add(Some(q.id().raw()), What::Veventq { viommu });
            let node = self.world.add(None, What::Holds(vec![obj, arc]));
            let name = self.hold(Handle::Events(q), node);
            self.tag(format!(" h{name}"));
        }
        Ok(true)
    }

    fn hw_queue(&mut self, next: bool) -> Result<bool, String> {
        // The queue handle to chain from, or the vIOMMU handle for queue 0.
        let (i, arc, prev) = if next {
            let Some(i) = self.pick(|l| matches!(l.handle, Handle::Queue(_))) else {
                return Ok(false);
            };
            match self.world.what(self.live[i].node) {
                What::QueueArc { queue, viommu, .. } => (i, *viommu, Some((self.live[i].node, *queue))),
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
        let ioas = self.world.object_of(self.world.s2_arc_ioas(self.world.viommu_arc_s2(arc)));
        // Mostly where something is mapped: a queue needs its page in the stage 2.
        let mapped: Vec<usize> = (0..SLOTS).filter(|&s| self.maps(ioas)[s].is_some()).collect();
        let slot = if !mapped.is_empty() && !self.rng.one_in(4) {
            mapped[self.rng.below(mapped.len())]
        } else {
            self.rng.below(SLOTS)
        };
        let (offset, length) = [(0, 0x1000), (0, 0x800), (0x800, 0x800), (0x1000, 0x800)][self.rng.below(4)];
        let ipa = iova(slot) + offset;
        let taken = self
            .world
            .live(|w| matches!(w, What::HwQueue { viommu: v, index: n, .. } if *v == viommu && *n == index))
            .next()
            .is_some();
        // The mock has two queues per vIOMMU.
        let ok = index < 2 && !taken && self.maps(ioas)[slot].is_some();
        // Before the chain fix, the next queue needs a vIOMMU handle.
        let v = (0..self.live.len()).find(|&j| self.viommu_arc(&self.live[j]) == Some(arc));
        let r = self.call(|live, _| match next {
            true => {
                let Handle::Queue(q) = &live[i].handle else {
                    unreachable!("picked a queue")
                };
                adapt::next_queue(q, v.and_then(|v| live[v].handle.viommu()), ipa, length)
            }
            false => Some(adapt::first_queue(live[i].handle.viommu().expect("a vIOMMU"), ipa, length)),
        });
        let Some(r) = r else { return Ok(false) };
        let how = if next { "alloc_next" } else { "alloc_hw_queue" };
        self.note(format!("{how} (index {index}) on h{} at slot {slot} + {offset:#x}, {length:#x} bytes", self.live[i].name));
        self.outcome(&r);
        self.expect(how, ok, &r)?;
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
    fn invalidate(&mut self, batch: bool) -> Result<bool, String> {
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
                (false, false) => (bound.first().copied().unwrap_or(0x99), MOCK_DEV_CACHE_ID_MAX + 1),
            };
            entries.push(IommuViommuInvalidateSelftest {
                flags: 0,
                vdev_id: vdev_id as u32,
                cache_id,
            });
        }
        let refused = entries
            .iter()
            .position(|e| e.cache_id > MOCK_DEV_CACHE_ID_MAX || !bound.contains(&u64::from(e.vdev_id)));
        let how = if batch { "batch flush" } else { "invalidate" };
        self.note(format!("{how} on h{}: {:?}", self.live[i].name, entries.iter().map(|e| (e.vdev_id, e.cache_id)).collect::<Vec<_>>()));
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
                    BatchError::Refused { guest_index, .. } => (Some(guest_index as usize), e.to_string()),
                    e => (None, e.to_string()),
                })
            } else {
                v.invalidate(&entries).map_err(|e| {
                    let k = (e.kind() == ErrorKind::InvalidArgument).then(|| e.refused_entry()).flatten();
                    (k, e.to_string())
                })
            }
        });
        self.refusal(how, refused, got)
    }

    /// Compares an invalidation's outcome with the refusal the model predicts.
    fn refusal(
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
                self.discrepancy(format!("{how}: the model predicts refused entry {p:?}, the crate said {g:?}"));
                Ok(true)
            }
        }
    }

    fn invalidate_nested(&mut self) -> Result<bool, String> {
        let Some(i) = self.pick(|l| matches!(l.handle, Handle::Bound(DeviceState::Nested(_)))) else {
            return Ok(false);
        };
        let entries: Vec<IommuHwptInvalidateSelftest> = (0..1 + self.rng.below(3))
            .map(|_| IommuHwptInvalidateSelftest {
                flags: 0,
                iotlb_id: self.rng.below(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX as usize + 2) as u32,
            })
            .collect();
        let refused = entries.iter().position(|e| e.iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX);
        self.note(format!("Nested::invalidate on h{}: {:?}", self.live[i].name, entries.iter().map(|e| e.iotlb_id).collect::<Vec<_>>()));
        let got = self.call(|live, _| {
            let Handle::Bound(DeviceState::Nested(n)) = &live[i].handle else {
                unreachable!("picked a nested device")
            };
            n.invalidate(&entries).map_err(|e| {
                let k = (e.kind() == ErrorKind::InvalidArgument).then(|| e.refused_entry()).flatten();
                (k, e.to_string())
            })
        });
        self.refusal("Nested::invalidate", refused, got)
    }

    fn fault_queue(&mut self) -> Result<bool, String> {
        self.note("IommuFd::alloc_fault_queue".into());
        let r = self.call(|_, fd| fd.alloc_fault_queue());
        self.outcome(&r);
        self.expect("alloc_fault_queue", true, &r)?;
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
    fn raw_hwpt(&mut self) -> Result<bool, String> {
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
        let config = stage1(0x77);
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
        self.expect("raw alloc_hwpt", true, &r)?;
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

    fn try_destroy(&mut self) -> Result<bool, String> {
        let Some(i) = self.pick(|l| matches!(l.handle, Handle::Ioas(_) | Handle::S2(_) | Handle::Viommu(_))) else {
            return Ok(false);
        };
        let Live { name, handle, node } = self.live.swap_remove(i);
        // It must succeed exactly when nothing else keeps the object alive.
        let object = self.world.object_of(node);
        let ok = !self.world.reach(self.live.iter().map(|l| l.node))[object];
        self.note(format!("try_destroy h{name} ({})", super::check::describe(&self.world, object)));
        let (back, r) = match handle {
            Handle::Ioas(x) => match self.call(|_, _| x.try_destroy()) {
                Ok(()) => (None, Ok(())),
                Err(e) => {
                    let (x, e) = e.into_parts();
                    (Some(Handle::Ioas(x)), Err(e))
                }
            },
            Handle::S2(x) => match self.call(|_, _| x.try_destroy()) {
                Ok(()) => (None, Ok(())),
                Err(e) => {
                    let (x, e) = e.into_parts();
                    (Some(Handle::S2(x)), Err(e))
                }
            },
            Handle::Viommu(x) => match self.call(|_, _| x.try_destroy()) {
                Ok(()) => (None, Ok(())),
                Err(e) => {
                    let (x, e) = e.into_parts();
                    (Some(Handle::Viommu(x)), Err(e))
                }
            },
            _ => unreachable!("picked a shared handle"),
        };
        self.outcome(&r);
        let Some(back) = back else {
            return self.expect("try_destroy", ok, &r).map(|()| true);
        };
        let checked = self.refused_destroy(node, &back, &r);
        self.put_back(name, back, node);
        self.expect("try_destroy", ok, &r)?;
        checked.map(|()| true)
    }

    /// A refused `try_destroy` gives the handle back as it was: same object, and
    /// for a vIOMMU its default stage 1 (possibly remade under a new id).
    fn refused_destroy(&mut self, node: Node, back: &Handle, r: &iommufd::Result<()>) -> Result<(), String> {
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
            return Err(format!("try_destroy gave back object {id}, not {}", self.world.id(object)));
        }
        let Handle::Viommu(v) = back else { return Ok(()) };
        let (viommu, bypass) = self.viommu_parts(node);
        let now = v.default_hwpt(DefaultStage1::Bypass).map(HwptId::raw);
        let new = match (bypass, now) {
            (Some(b), Some(id)) if self.world.id(b) == id => return Ok(()),
            (_, Some(id)) => Some(self.world.add(Some(id), What::Hwpt { parent: viommu, fault: None })),
            (_, None) => None,
        };
        if let What::ViommuArc { bypass, .. } = self.world.what_mut(node) {
            *bypass = new;
        }
        if new.is_none() && !self.fired {
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
                self.expect("destroy of a raw HWPT", true, &r)?;
                adapt::released_outside(&self.fd);
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
                self.expect("destroy of a raw fault queue", free, &r)?;
                if r.is_err() {
                    self.put_back(name, Handle::RawFault(None, id), node);
                    return Ok(false);
                }
                adapt::released_outside(&self.fd);
            }
            handle => drop(handle),
        }
        Ok(true)
    }

    /// Appends to the last log line.
    fn tag(&mut self, s: String) {
        if let Some(l) = self.log.last_mut() {
            l.push_str(&s);
        }
    }
}
