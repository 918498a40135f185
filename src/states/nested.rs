// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`Nested`]: a device translated by the guest's stage 1 on top of stage 2.

use super::binding::Binding;
use super::{VDeviceBound, sealed};
use crate::arch::{DefaultStage1, Family, NestedInvalidation};
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::HwptId;

/// A device attached to its own nested HWPT, made from the guest's stage-1
/// configuration: the physical IOMMU walks the guest's tables, then stage 2.
///
/// Transitions consume it; a failed one gives it back, still attached to the same
/// HWPT. [`reinstall`](Self::reinstall) follows a guest STE change,
/// [`uninstall`](Self::uninstall) a guest disabling translation.
pub struct Nested<F: Family, D: Device> {
    pub(super) binding: Binding<F, D>,
    pub(super) config: F::Stage1,
}

impl<F: Family, D: Device> sealed::Sealed for Nested<F, D> {}
impl<F: Family, D: Device> super::State for Nested<F, D> {}

impl<F: Family, D: Device + core::fmt::Debug> core::fmt::Debug for Nested<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nested")
            .field("binding", &self.binding)
            .field("config", &self.config)
            .finish()
    }
}

impl<F: Family, D: Device> Nested<F, D> {
    super::binding::binding_accessors!();

    /// The guest stage-1 configuration the device's nested HWPT was made from.
    pub fn stage1(&self) -> &F::Stage1 {
        &self.config
    }

    /// The nested HWPT the device is attached to.
    pub fn stage1_hwpt(&self) -> Option<HwptId> {
        self.binding.stage1.as_ref().map(|h| h.id())
    }

    /// The fault queue the current nested HWPT reports I/O page faults to (set
    /// with `set_fault_queue` before it was installed).
    pub fn stage1_fault_queue(&self) -> Option<&super::FaultQueue> {
        self.binding.stage1.as_ref().and_then(|h| h.fault_queue())
    }

    /// Follows a change of the guest's configuration: allocates a nested HWPT from
    /// `config`, replaces the attachment, then destroys the old HWPT.
    pub fn reinstall(mut self, config: &F::Stage1) -> Result<Self, TransitionError<Self>> {
        match self.binding.switch_to_config(config) {
            Ok(old) => {
                drop(old);
                self.config = config.clone();
                Ok(self)
            }
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// The guest disabled translation: back to the family's initial default
    /// (bypass), destroying the nested HWPT.
    pub fn uninstall(self) -> Result<VDeviceBound<F, D>, TransitionError<Self>> {
        self.switch_default(F::INITIAL)
    }

    /// Moves the device to a default (bypass or abort), destroying the nested HWPT.
    pub fn switch_default(
        mut self,
        kind: DefaultStage1,
    ) -> Result<VDeviceBound<F, D>, TransitionError<Self>> {
        match self.binding.switch_to_default(kind) {
            Ok(old) => {
                drop(old);
                Ok(VDeviceBound {
                    binding: self.binding,
                    at: kind,
                })
            }
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }
}

impl<F: Family, D: Device> Nested<F, D> {
    /// Takes the device away from the guest: attaches it to the stage 2 alone (no
    /// vIOMMU), destroys its nested HWPT and vDEVICE and gives the device back.
    pub fn unbind(self) -> Result<D, TransitionError<Self>> {
        super::binding::unbind(self, |s| &s.binding, |s| s.binding)
    }
}

impl<F: NestedInvalidation, D: Device> Nested<F, D> {
    /// Forwards guest invalidation requests to this device's nested HWPT in one
    /// ioctl, without copying or allocating (families whose stage-1 caches are
    /// invalidated per HWPT: see [`NestedInvalidation`]). See
    /// [`IommuFd::invalidate`](crate::IommuFd::invalidate) for what a failure says.
    pub fn invalidate(&self, entries: &[F::HwptInvalidation]) -> Result<()> {
        // A Nested is only ever made with its HWPT: the refusal cannot happen here.
        self.binding.invalidate_stage1(entries)
    }
}
