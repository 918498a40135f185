// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What a vSMMU drives below it: the devices behind it by StreamID, and what their
//! STEs make of them. The crate's implementation keeps the lifecycle's
//! [`DeviceState`] per StreamID; a VMM's unit tests put a fake here.

use crate::arch::Family;
use crate::arch::smmuv3::Ste;
use crate::device::Device;
use crate::error::{Error, Result, TransitionError};
use crate::states::{DeviceState, GuestStage1, VDeviceBound};
use std::collections::BTreeMap;

/// The devices behind one vSMMU.
pub trait Backend: Send {
    /// The family whose STEs the guest writes (SMMUv3, or Tegra241 CMDQV).
    type Family: Family<Stage1 = Ste>;

    /// Whether a device answers to guest StreamID `sid` (it has a vDEVICE).
    fn has_device(&self, sid: u32) -> bool;

    /// The lowest StreamID with a device above `after` (from the lowest of all
    /// with `None`): how the vSMMU walks its devices without allocating.
    fn device_after(&self, after: Option<u32>) -> Option<u32>;

    /// Moves device `sid` to what its STE asks. On error nothing changed.
    fn apply(&mut self, sid: u32, stage1: GuestStage1<Self::Family>) -> Result<()>;
}

/// The crate's backend: a [`DeviceState`] per guest StreamID, changed in place.
pub struct Devices<F: Family<Stage1 = Ste>, D: Device> {
    by_sid: BTreeMap<u32, DeviceState<F, D>>,
}

impl<F: Family<Stage1 = Ste>, D: Device + core::fmt::Debug> core::fmt::Debug for Devices<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.by_sid.iter()).finish()
    }
}

impl<F: Family<Stage1 = Ste>, D: Device> Default for Devices<F, D> {
    fn default() -> Self {
        Self {
            by_sid: BTreeMap::new(),
        }
    }
}

impl<F: Family<Stage1 = Ste>, D: Device> Devices<F, D> {
    /// No devices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a device bound with guest StreamID `virt_id`; gives it back if that
    /// StreamID is taken or does not fit 32 bits.
    pub fn insert(&mut self, bound: VDeviceBound<F, D>) -> Result<(), VDeviceBound<F, D>> {
        let Ok(sid) = u32::try_from(bound.virt_id()) else {
            return Err(bound);
        };
        if self.by_sid.contains_key(&sid) {
            return Err(bound);
        }
        self.by_sid.insert(sid, bound.into());
        Ok(())
    }

    /// Takes device `sid` out (hot-unplug); it stays bound until dropped or
    /// [`unbind`](DeviceState::unbind)ed.
    pub fn remove(&mut self, sid: u32) -> Option<DeviceState<F, D>> {
        self.by_sid.remove(&sid)
    }

    /// Device `sid`.
    pub fn get(&self, sid: u32) -> Option<&DeviceState<F, D>> {
        self.by_sid.get(&sid)
    }

    /// Unplugs device `sid`: back on the stage 2 alone, vDEVICE destroyed. On
    /// failure the device stays behind the vSMMU and the error says why.
    pub fn unplug(&mut self, sid: u32) -> Option<Result<D, Error>> {
        let state = self.by_sid.remove(&sid)?;
        Some(state.unbind().map_err(|e: TransitionError<_>| {
            let (state, error) = e.into_parts();
            self.by_sid.insert(sid, state);
            error
        }))
    }
}

impl<F: Family<Stage1 = Ste>, D: Device + Send> Backend for Devices<F, D> {
    type Family = F;

    fn has_device(&self, sid: u32) -> bool {
        self.by_sid.contains_key(&sid)
    }

    fn device_after(&self, after: Option<u32>) -> Option<u32> {
        let from = match after {
            None => 0,
            Some(sid) => sid.checked_add(1)?,
        };
        self.by_sid.range(from..).next().map(|(&sid, _)| sid)
    }

    fn apply(&mut self, sid: u32, stage1: GuestStage1<F>) -> Result<()> {
        match self.by_sid.get_mut(&sid) {
            Some(state) => state.apply(stage1),
            None => Err(Error::Unsupported {
                op: crate::error::Op::Attach,
                reason: "no device has this StreamID",
            }),
        }
    }
}
