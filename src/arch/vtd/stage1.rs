// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VtdStage1`]: a guest's first-stage table, checked as Linux 7.3's intel driver
//! checks `struct iommu_hwpt_vtd_s1`.
//!
//! The driver's allocation (`intel_iommu_domain_alloc_nested`) copies the struct
//! and checks nothing in it; the attach (`intel_pasid_setup_nested`) refuses with
//! EINVAL an `addr_width` other than 48 or 57, 57 without CAP.FL5LP, `SRE` without
//! ECAP.SRS and `EAFE` without ECAP.EAFS. Everything else is taken as it is: flag
//! bits above `WPE`, `WPE` without `SRE` and `__reserved` are ignored, and the low
//! 12 bits of `pgtbl_addr` are dropped (the PASID entry's FLPTR field is 4 KiB
//! aligned). The parser refuses exactly the attach's refusals, before any syscall.

use super::VtdCaps;
use crate::arch::Stage1Config;
use crate::uapi::{IommuHwptVtdS1, VtdS1Flags};
use zerocopy::FromBytes;

/// A first-stage table's input width: 4-level (48 bits) or 5-level (57 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressWidth {
    /// 4-level paging, 48-bit input addresses.
    FourLevel,
    /// 5-level paging, 57-bit input addresses (needs CAP.FL5LP).
    FiveLevel,
}

impl AddressWidth {
    /// The width in bits, as `addr_width` carries it.
    pub const fn bits(self) -> u32 {
        match self {
            AddressWidth::FourLevel => 48,
            AddressWidth::FiveLevel => 57,
        }
    }

    /// The width for `bits`, if it is one the driver takes.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            48 => Some(AddressWidth::FourLevel),
            57 => Some(AddressWidth::FiveLevel),
            _ => None,
        }
    }
}

/// Why a guest stage 1 would be refused (the kernel answers EINVAL for each, when
/// the device is attached to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VtdStage1Error {
    /// Fewer bytes than `struct iommu_hwpt_vtd_s1` (24).
    #[error("iommu_hwpt_vtd_s1 is 24 bytes, got {0}")]
    Length(usize),
    /// `addr_width` is neither 48 nor 57.
    #[error("addr_width {0} is neither 48 (4-level) nor 57 (5-level)")]
    AddressWidth(u32),
    /// A 57-bit stage 1 on a unit without CAP.FL5LP.
    #[error("addr_width 57 needs 5-level first-stage paging (CAP.FL5LP), which the IOMMU lacks")]
    FiveLevel,
    /// `IOMMU_VTD_S1_SRE` on a unit without ECAP.SRS.
    #[error("flags set SRE, which needs supervisor requests (ECAP.SRS), which the IOMMU lacks")]
    SupervisorRequests,
    /// `IOMMU_VTD_S1_EAFE` on a unit without ECAP.EAFS.
    #[error(
        "flags set EAFE, which needs the extended access flag (ECAP.EAFS), which the IOMMU lacks"
    )]
    ExtendedAccessFlag,
}

/// A guest first-stage page table for a VT-d nested HWPT, as the kernel takes it.
/// Built with [`new`](Self::new) or parsed from `struct iommu_hwpt_vtd_s1` bytes
/// with [`parse`](Self::parse); both check it against the physical unit's
/// [`VtdCaps`].
///
/// ```
/// use iommufd::arch::vtd::{AddressWidth, VtdCaps, VtdStage1, VtdStage1Error};
/// use iommufd::uapi::{IommuHwInfoVtd, VtdS1Flags};
/// // A unit with scalable-mode nesting, 4-level first stage only, no SRS.
/// let host = VtdCaps::decode(&IommuHwInfoVtd {
///     ecap_reg: (1 << 43) | (1 << 26) | (1 << 47) | (1 << 46),
///     ..Default::default()
/// });
/// let s1 = VtdStage1::new(0x1234_5000, AddressWidth::FourLevel, VtdS1Flags::empty(), &host)?;
/// assert_eq!(s1.pgtbl_addr(), 0x1234_5000);
/// assert_eq!(
///     VtdStage1::new(0, AddressWidth::FiveLevel, VtdS1Flags::empty(), &host),
///     Err(VtdStage1Error::FiveLevel)
/// );
/// # Ok::<(), VtdStage1Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtdStage1 {
    data: IommuHwptVtdS1,
    width: AddressWidth,
}

impl VtdStage1 {
    /// A stage 1 rooted at `pgtbl_addr` (a guest physical address), checked
    /// against `caps`.
    pub fn new(
        pgtbl_addr: u64,
        width: AddressWidth,
        flags: VtdS1Flags,
        caps: &VtdCaps,
    ) -> Result<Self, VtdStage1Error> {
        Self::check(
            IommuHwptVtdS1 {
                flags: flags.bits(),
                pgtbl_addr,
                addr_width: width.bits(),
                __reserved: 0,
            },
            caps,
        )
    }

    /// Parses untrusted `struct iommu_hwpt_vtd_s1` bytes (the first 24; a longer
    /// buffer's tail is not read), refusing exactly what Linux 7.3's attach
    /// refuses. What the driver ignores is kept as given.
    pub fn parse(bytes: &[u8], caps: &VtdCaps) -> Result<Self, VtdStage1Error> {
        let (data, _) = IommuHwptVtdS1::read_from_prefix(bytes)
            .map_err(|_| VtdStage1Error::Length(bytes.len()))?;
        Self::check(data, caps)
    }

    fn check(data: IommuHwptVtdS1, caps: &VtdCaps) -> Result<Self, VtdStage1Error> {
        let width = AddressWidth::from_bits(data.addr_width)
            .ok_or(VtdStage1Error::AddressWidth(data.addr_width))?;
        if width == AddressWidth::FiveLevel && !caps.first_stage_5level {
            return Err(VtdStage1Error::FiveLevel);
        }
        let flags = VtdS1Flags::from_bits_retain(data.flags);
        if flags.contains(VtdS1Flags::SRE) && !caps.supervisor_requests {
            return Err(VtdStage1Error::SupervisorRequests);
        }
        if flags.contains(VtdS1Flags::EAFE) && !caps.extended_access_flag {
            return Err(VtdStage1Error::ExtendedAccessFlag);
        }
        Ok(Self { data, width })
    }

    /// The guest physical address of the table's root.
    pub fn pgtbl_addr(&self) -> u64 {
        self.data.pgtbl_addr
    }

    /// The input width.
    pub fn address_width(&self) -> AddressWidth {
        self.width
    }

    /// The flags, with any bits the driver ignores.
    pub fn flags(&self) -> VtdS1Flags {
        VtdS1Flags::from_bits_retain(self.data.flags)
    }
}

impl Stage1Config for VtdStage1 {
    type Data = IommuHwptVtdS1;

    fn hwpt_data(&self) -> IommuHwptVtdS1 {
        self.data
    }
}
