// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Devices bound to an iommufd: what the lifecycle needs of one, and the VFIO cdev
//! implementations a VMM uses: [`VfioDevice`] owns its fd, [`VfioCdev`] drives a
//! device whose fd the VMM (or a crate such as `vfio-ioctls`) keeps. The kernel's
//! mock device (feature `mock`) is in [`crate::mock`].

mod cdev;
mod vfio;

pub use cdev::VfioCdev;
pub use vfio::{VfioDevice, VfioUnbound};

use crate::error::Result;
use crate::ids::{DevId, HwptId, PtId};

/// A device bound to an iommufd.
///
/// Attaching an already attached device replaces its page table in one step, with no
/// window in which DMA is blocked or goes untranslated: that is how the lifecycle
/// switches between bypass, abort and nested HWPTs.
pub trait Device {
    /// The device's id in its iommufd.
    fn dev_id(&self) -> DevId;

    /// Attaches the device to `pt` (replacing its current attachment, if any).
    /// Returns the HWPT attached (the kernel picks or makes one for an IOAS).
    fn attach(&self, pt: PtId) -> Result<HwptId>;

    /// Detaches the device; DMA is blocked afterwards.
    fn detach(&self) -> Result<()>;

    /// Attaches (or replaces) the page table of one PASID.
    fn attach_pasid(&self, pasid: u32, pt: PtId) -> Result<HwptId>;

    /// Detaches one PASID.
    fn detach_pasid(&self, pasid: u32) -> Result<()>;
}
