// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`S2DeviceState`]: a device of the stage-2 path (Intel VT-d) whose stage 1 the
//! guest changes at run time, changed in place.

use super::s2_binding::S2Binding;
use super::{S2Attached, S2Nested};
use crate::arch::ParentNesting;
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::HwptId;

/// A device on a stage 2, alone or under its own nested stage 1, changed in place:
/// what [`DeviceState`](super::DeviceState) is for the vIOMMU path. `None` is the
/// stage 2 alone (the guest has translation off for the device, or pass-through),
/// `Some` a guest first-stage table.
///
/// [`apply`](Self::apply) is all or nothing: when the kernel refuses, the device is
/// still where it was and [`stage1`](Self::stage1) still says so.
///
/// ```no_run
/// use iommufd::arch::vtd::{Vtd, VtdCaps, VtdStage1};
/// use iommufd::states::{S2Attached, S2DeviceState};
/// use iommufd::VfioDevice;
/// # fn f(attached: S2Attached<Vtd, VfioDevice>, caps: &VtdCaps, guest_entry: &[u8])
/// #     -> Result<(), Box<dyn std::error::Error>> {
/// let mut device: S2DeviceState<Vtd, VfioDevice> = attached.into();
/// // The guest wrote the device's PASID-table entry for the RID: translate.
/// device.apply(Some(VtdStage1::parse(guest_entry, caps)?))?;
/// // It turned translation off again: stage 2 alone.
/// device.apply(None)?;
/// # Ok(()) }
/// ```
pub struct S2DeviceState<F: ParentNesting, D: Device> {
    binding: S2Binding<F, D>,
    stage1: Option<F::Stage1>,
}

impl<F: ParentNesting, D: Device + core::fmt::Debug> core::fmt::Debug for S2DeviceState<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("S2DeviceState")
            .field("binding", &self.binding)
            .field("stage1", &self.stage1)
            .finish()
    }
}

impl<F: ParentNesting, D: Device> From<S2Attached<F, D>> for S2DeviceState<F, D> {
    fn from(state: S2Attached<F, D>) -> Self {
        Self {
            binding: state.binding,
            stage1: None,
        }
    }
}

impl<F: ParentNesting, D: Device> From<S2Nested<F, D>> for S2DeviceState<F, D> {
    fn from(state: S2Nested<F, D>) -> Self {
        Self {
            binding: state.binding,
            stage1: Some(state.config),
        }
    }
}

impl<F: ParentNesting, D: Device> S2DeviceState<F, D> {
    super::s2_binding::s2_binding_accessors!();
    super::s2_pasid::s2_pasid_methods!();

    /// The guest's stage 1 the device is under, `None` on the stage 2 alone.
    pub fn stage1(&self) -> Option<&F::Stage1> {
        self.stage1.as_ref()
    }

    /// The device's own nested HWPT, when it is on one.
    pub fn stage1_hwpt(&self) -> Option<HwptId> {
        self.binding.stage1.as_ref().map(|h| h.id())
    }

    /// Moves the device to `target`: the stage 2 alone when it is there already
    /// costs nothing; a configuration always makes a new nested HWPT (the guest
    /// changed its entry: the kernel must see it again), attaches the device to it
    /// by replace and destroys the one it left. On failure nothing changed.
    pub fn apply(&mut self, target: Option<F::Stage1>) -> Result<()> {
        match &target {
            None if self.stage1.is_none() => return Ok(()),
            None => drop(self.binding.switch_to_s2()?),
            Some(config) => drop(self.binding.switch_to_config(config)?),
        }
        self.stage1 = target;
        Ok(())
    }

    /// Forwards guest invalidations to the device's nested HWPT, as
    /// [`S2Nested::invalidate`] does; refused (nothing sent) on the stage 2 alone.
    pub fn invalidate(&self, entries: &[F::Invalidation]) -> Result<()> {
        self.binding.invalidate(entries)
    }

    /// Takes the device away from the guest: detaches its PASIDs, attaches it to
    /// the stage 2 alone, destroys its nested HWPTs and gives the device back. On
    /// failure the state comes back in the error.
    pub fn unbind(mut self) -> Result<D, TransitionError<Self>> {
        if let Err(e) = self.binding.detach_all_pasids() {
            return Err(TransitionError::new(self, e));
        }
        if let Err(e) = self.apply(None) {
            return Err(TransitionError::new(self, e));
        }
        Ok(self.binding.into_device())
    }
}
