// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VDeviceBound`]: a device the guest can see, on a shared default stage 1.

use super::binding::Binding;
use super::object::KernelObject;
use super::{Nested, VIommuAllocated, sealed};
use crate::arch::{DefaultStage1, Family};
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::VDeviceId;

/// A device bound to a vIOMMU (its vDEVICE exists) and attached to one of the
/// vIOMMU's default stage-1 HWPTs: bypass (the guest has not enabled translation for
/// it) or abort. Per device: transitions consume it, and a failed one gives it back
/// unchanged, still attached where it was.
///
/// Next state: [`install`](Self::install) a guest stage-1 configuration (for
/// SMMUv3, the guest's STE) to get a [`Nested`].
pub struct VDeviceBound<F: Family, D: Device> {
    pub(super) binding: Binding<F, D>,
    pub(super) at: DefaultStage1,
}

impl<F: Family, D: Device> sealed::Sealed for VDeviceBound<F, D> {}
impl<F: Family, D: Device> super::State for VDeviceBound<F, D> {}

impl<F: Family, D: Device + core::fmt::Debug> core::fmt::Debug for VDeviceBound<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VDeviceBound")
            .field("binding", &self.binding)
            .field("at", &self.at)
            .finish()
    }
}

impl<F: Family, D: Device> VDeviceBound<F, D> {
    pub(super) fn new(
        viommu: VIommuAllocated<F>,
        dev: D,
        vdevice: KernelObject<VDeviceId>,
        virt_id: u64,
    ) -> Self {
        Self {
            binding: Binding::new(dev, vdevice, virt_id, viommu),
            at: F::INITIAL,
        }
    }

    super::binding::binding_accessors!();

    /// Which default the device is attached to.
    pub fn default_stage1(&self) -> DefaultStage1 {
        self.at
    }

    /// Installs the guest's stage-1 configuration: allocates a nested HWPT from it,
    /// then replaces the device's attachment. If the kernel refuses the
    /// configuration (EIO for a vSTE field the parser cannot see, an out-of-range
    /// S1CDMax for this SMMU, say) or the attach, the device is still on its default
    /// and comes back in the error.
    pub fn install(mut self, config: &F::Stage1) -> Result<Nested<F, D>, TransitionError<Self>> {
        match self.binding.switch_to_config(config) {
            Ok(_none) => Ok(Nested {
                binding: self.binding,
                config: config.clone(),
            }),
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// Moves the device to another default (bypass or abort). Fails, leaving it where
    /// it was, when the family has no such default.
    pub fn switch_default(mut self, kind: DefaultStage1) -> Result<Self, TransitionError<Self>> {
        match self.binding.switch_to_default(kind) {
            Ok(_none) => {
                self.at = kind;
                Ok(self)
            }
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// Takes the device away from the guest: attaches it to the stage 2 alone (no
    /// vIOMMU), destroys its vDEVICE and gives the device back.
    pub fn unbind(self) -> Result<D, TransitionError<Self>> {
        super::binding::unbind(self, |s| &s.binding, |s| s.binding)
    }
}
