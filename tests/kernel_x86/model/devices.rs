// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Mock devices and the per-device states: birth on an IOAS or HWPT, bind,
//! the stage-1 transitions (typed and through the runtime holder), unbind.

use super::ops::OpKind;
use super::seq::{Handle, Live, Seq};
use super::world::{Node, What};
use iommufd::arch::{DefaultStage1, Selftest, selftest::stage1};
use iommufd::mock::MockDevice;
use iommufd::states::{DeviceState, GuestStage1, Typed};
use iommufd::{Device, HwptId, IoasId, PtId};

impl Seq<'_> {
    pub(super) fn new_device(&mut self) -> Result<bool, String> {
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
                targets.push((
                    PtId::Hwpt(HwptId::from_raw(self.world.id(bypass))),
                    None,
                    false,
                ));
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
        self.expect("MockDevice::new", target.is_some(), &r);
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
            return Err(format!(
                "MockDevice::new: attached to HWPT {hwpt}, not the one asked for"
            ));
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
    pub(super) fn is_auto_domain(&self, hwpt: Node, ioas: Node) -> bool {
        let on_ioas = matches!(self.world.what(hwpt), What::Hwpt { parent, .. } if *parent == ioas);
        let owned = (0..self.world.nodes.len())
            .any(|n| matches!(self.world.what(n), What::S2Arc { s2, .. } if *s2 == hwpt));
        on_ioas && !owned
    }

    pub(super) fn bind(&mut self) -> Result<bool, String> {
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
        let (handle, node, result) = match r {
            Ok(bound) => {
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
                (Handle::Bound(bound.into()), binding, Ok(()))
            }
            // The device comes back as it was.
            Err(e) => {
                let (dev, error) = e.into_parts();
                (Handle::Dev(dev), node, Err(error))
            }
        };
        self.outcome(&result);
        self.expect("bind", bypass.is_some() && !taken, &result);
        self.put_back(name, handle, node);
        Ok(true)
    }

    pub(super) fn attach(&mut self, stdev: Node, to: Node) {
        if let What::Stdev { attached, .. } = self.world.what_mut(stdev) {
            *attached = to;
        }
    }

    /// The parts of a binding: device, vDEVICE, stage 1, vIOMMU handle.
    pub(super) fn binding(&self, node: Node) -> (Node, Node, Option<Node>, Node) {
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
    pub(super) fn settle(&mut self, binding: Node, stage1: Option<Node>) {
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
    pub(super) fn same_state(
        &self,
        binding: Node,
        state: &DeviceState<Selftest, MockDevice>,
    ) -> Result<(), String> {
        let (_, vdevice, stage1, _) = self.binding(binding);
        let (vdev, hwpt) = (state.vdevice_id(), state.stage1_hwpt());
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
    pub(super) fn transition(&mut self, op: OpKind) -> Result<bool, String> {
        let applies = |l: &Live| {
            let Handle::Bound(state) = &l.handle else {
                return false;
            };
            let nested = state.stage1_hwpt().is_some();
            match op {
                OpKind::Install => !nested,
                OpKind::Reinstall | OpKind::Uninstall => nested,
                OpKind::SwitchDefault | OpKind::Apply => true,
                _ => false,
            }
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
            0 => GuestStage1::Translate(config),
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
                // A default the device is on already costs nothing.
                GuestStage1::Default(_) if state.stage1() == &target => (true, false),
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
            let mut state = state;
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
            if op == OpKind::Apply {
                // In place: the state is the same value, changed or not.
                let result = state.apply(target);
                return (state, result);
            }
            match (op, state.into_typed()) {
                (OpKind::Install, Typed::Bound(b)) => split(b.install(&config)),
                (OpKind::Reinstall, Typed::Nested(n)) => split(n.reinstall(&config)),
                (OpKind::Uninstall, Typed::Nested(n)) => split(n.uninstall()),
                (OpKind::SwitchDefault, Typed::Bound(b)) => split(b.switch_default(kind)),
                (OpKind::SwitchDefault, Typed::Nested(n)) => split(n.switch_default(kind)),
                (_, typed) => (typed.into(), Ok(())),
            }
        });
        self.outcome(&result);
        self.expect(&what, ok, &result);
        let checked = match result {
            Ok(()) => {
                let stage1 = match (state.stage1(), nested) {
                    (GuestStage1::Translate(_), true) => {
                        let id = state
                            .stage1_hwpt()
                            .expect("a nested state has its HWPT")
                            .raw();
                        let (viommu, _) = self.viommu_parts(arc);
                        Some(self.world.add(
                            Some(id),
                            What::Hwpt {
                                parent: viommu,
                                fault: None,
                            },
                        ))
                    }
                    (GuestStage1::Default(DefaultStage1::Bypass), false) => None,
                    (_, _) => return Err(format!("{what}: ended in {state:?}")),
                };
                self.settle(node, stage1);
                self.same_state(node, &state)
            }
            // A failed transition gives the device back as it was.
            Err(_) => self.same_state(node, &state),
        };
        self.put_back(name, Handle::Bound(state), node);
        checked.map(|()| true)
    }

    pub(super) fn unbind(&mut self) -> Result<bool, String> {
        let Some(i) =
            self.pick(|l| matches!(&l.handle, Handle::Bound(s) if s.stage1_hwpt().is_none()))
        else {
            return Ok(false);
        };
        let Live { name, handle, node } = self.live.swap_remove(i);
        let Handle::Bound(bound) = handle else {
            unreachable!("picked a bound device")
        };
        let (dev, _, _, arc) = self.binding(node);
        self.note(format!("unbind h{name}"));
        let (handle, node, result) = match self.call(|_, _| bound.unbind()) {
            Ok(device) => {
                // The device stays on the stage 2 of the vIOMMU it left.
                let s2 = self.world.object_of(self.world.viommu_arc_s2(arc));
                self.attach(dev, s2);
                (Handle::Dev(device), dev, Ok(()))
            }
            Err(e) => {
                let (bound, error) = e.into_parts();
                (Handle::Bound(bound), node, Err(error))
            }
        };
        self.outcome(&result);
        self.expect("unbind", true, &result);
        let same = match &handle {
            Handle::Bound(state) => self.same_state(node, state),
            _ => Ok(()),
        };
        self.put_back(name, handle, node);
        same?;
        Ok(true)
    }
}
