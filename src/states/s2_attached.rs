// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`S2Attached`]: a device on the stage 2 alone, for families that nest on the
//! parent HWPT (Intel VT-d).

use super::s2_binding::S2Binding;
use super::{S2Allocated, S2Nested, sealed};
use crate::arch::ParentNesting;
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::PtId;
use crate::iommufd::HwInfo;

/// A device attached to a nest-parent HWPT alone: DMA is translated by stage 2 only,
/// as when the guest has translation off for it (VT-d pass-through). Per device:
/// transitions consume it, and a failed one gives it back unchanged.
///
/// Next state: [`install`](Self::install) the guest's first-stage table to get an
/// [`S2Nested`]. Made by [`S2Allocated::attach`].
///
/// ```no_run
/// use iommufd::arch::vtd::{AddressWidth, Vtd, VtdCaps, VtdInvalidation, VtdStage1};
/// use iommufd::states::{IoasReady, S2Attached};
/// use iommufd::uapi::VtdS1Flags;
/// use iommufd::{IommuFd, VfioUnbound};
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let iommufd = Arc::new(IommuFd::open()?);
/// let ioas = IoasReady::new(&iommufd)?;
/// let dev = VfioUnbound::open("/dev/vfio/devices/vfio0")?.bind(&iommufd).map_err(|e| e.into_parts().1)?;
/// let s2 = ioas.alloc_nest_parent(&dev)?;
/// let attached: S2Attached<Vtd, _> = s2.attach(dev).map_err(|e| e.into_parts().1)?;
/// let caps = VtdCaps::decode(&attached.hw_info()?.0);
/// // The guest pointed the device's PASID entry at its first-stage table.
/// let s1 = VtdStage1::new(0x8000_0000, AddressWidth::FourLevel, VtdS1Flags::empty(), &caps)?;
/// let nested = attached.install(&s1).map_err(|e| e.into_parts().1)?;
/// nested.invalidate(&[VtdInvalidation::all()])?; // a guest IOTLB flush
/// # Ok(()) }
/// ```
pub struct S2Attached<F: ParentNesting, D: Device> {
    pub(super) binding: S2Binding<F, D>,
}

impl<F: ParentNesting, D: Device> sealed::Sealed for S2Attached<F, D> {}
impl<F: ParentNesting, D: Device> super::State for S2Attached<F, D> {}

impl<F: ParentNesting, D: Device + core::fmt::Debug> core::fmt::Debug for S2Attached<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("S2Attached")
            .field("binding", &self.binding)
            .finish()
    }
}

impl<F: ParentNesting, D: Device> S2Attached<F, D> {
    pub(super) fn new(s2: &S2Allocated, dev: D) -> Result<Self, TransitionError<D>> {
        if let Err(e) = dev.attach(PtId::Hwpt(s2.id())) {
            return Err(TransitionError::new(dev, e));
        }
        Ok(Self {
            binding: S2Binding::new(dev, s2.clone()),
        })
    }

    super::s2_binding::s2_binding_accessors!();
    super::s2_pasid::s2_pasid_methods!();

    /// Reads the device's IOMMU information in the family's format (for VT-d, decode
    /// it with [`VtdCaps::decode`](crate::arch::vtd::VtdCaps::decode)).
    pub fn hw_info(&self) -> Result<(F::HwInfo, HwInfo)> {
        self.binding
            .s2
            .iommufd()
            .hw_info::<F::HwInfo>(self.device().dev_id())
    }

    /// Installs the guest's stage-1 configuration: allocates a nested HWPT on the
    /// stage 2 from it and replaces the device's attachment. If the kernel refuses
    /// (the intel driver checks the stage 1 when the device attaches), the device
    /// is still on the stage 2 and comes back in the error.
    pub fn install(mut self, config: &F::Stage1) -> Result<S2Nested<F, D>, TransitionError<Self>> {
        match self.binding.switch_to_config(config) {
            Ok(_none) => Ok(S2Nested {
                binding: self.binding,
                config: config.clone(),
            }),
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// Detaches every PASID (destroying their nested HWPTs) and gives the device
    /// back, still attached to the stage 2 (detach it, or attach it elsewhere,
    /// before the stage 2 can go). On failure the state comes back, with the
    /// PASIDs not yet detached.
    pub fn unbind(mut self) -> Result<D, TransitionError<Self>> {
        match self.binding.detach_all_pasids() {
            Ok(()) => Ok(self.binding.into_device()),
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }
}
