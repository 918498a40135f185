// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`AmdGuestDte`]: a guest Device Table Entry (AMD I/O Virtualization Technology
//! spec, Device Table Entry Format), checked as Linux 7.3's `validate_gdte_nested`
//! checks `struct iommu_hwpt_amd_guest`.
//!
//! The driver refuses, in this order: a non-zero Mode (bits 11:9) or host page
//! table root (bits 51:12) in word 0 (EINVAL: those belong to the host); V and GV
//! set with a GCR3 table root of 0 (EINVAL); a guest paging mode (word 2, bits
//! 55:54) other than 4-level (0) or 5-level (1) (EINVAL); GLX 3 (EINVAL); a 5-level
//! guest where the host runs 4-level guest tables (EOPNOTSUPP). It then takes from
//! the guest only PPR, GIoV, GLX and the GCR3 root of word 0, the GCR3 root and
//! DomainID of word 1 and the paging mode of word 2; every other bit is ignored.

use super::AmdCaps;
use crate::arch::Stage1Config;
use crate::uapi::IommuHwptAmdGuest;
use rustix::io::Errno;
use zerocopy::FromBytes;

const V: u64 = 1 << 0;
const MODE: u64 = 0b111 << 9;
const HOST_TRP: u64 = ((1 << 40) - 1) << 12;
const PPR: u64 = 1 << 52;
const GIOV: u64 = 1 << 54;
const GV: u64 = 1 << 55;
const GLX_SHIFT: u32 = 56;
const GCR3_14_12_SHIFT: u32 = 58;
const GCR3_30_15_SHIFT: u32 = 16;
const GCR3_51_31_SHIFT: u32 = 43;
const GPT_LEVEL_SHIFT: u32 = 54;

/// The guest table's paging levels (word 2, GPT level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestPagingLevels {
    /// 4-level guest tables (0).
    Four,
    /// 5-level guest tables (1); needs the host's 5-level guest paging.
    Five,
}

/// Why the driver would refuse a guest DTE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmdGuestDteError {
    /// Fewer bytes than `struct iommu_hwpt_amd_guest` (32).
    #[error("iommu_hwpt_amd_guest is 32 bytes, got {0}")]
    Length(usize),
    /// Mode or the host page table root set in word 0: host fields.
    #[error("word 0 sets host fields (Mode or the host page table root): {0:#x}")]
    HostFields(u64),
    /// V and GV set with no GCR3 table root.
    #[error("V and GV are set but the GCR3 table root is 0")]
    NoGcr3Table,
    /// A guest paging mode other than 4- or 5-level.
    #[error("guest paging mode {0} is neither 0 (4-level) nor 1 (5-level)")]
    PagingMode(u8),
    /// GLX 3 (reserved).
    #[error("GLX 3 is reserved")]
    Glx,
    /// 5-level guest tables on a host without them (EOPNOTSUPP).
    #[error("5-level guest tables, which the host IOMMU does not run")]
    FiveLevel,
}

impl AmdGuestDteError {
    /// What the kernel answers.
    pub fn errno(&self) -> Errno {
        match self {
            AmdGuestDteError::FiveLevel => Errno::OPNOTSUPP,
            _ => Errno::INVAL,
        }
    }
}

/// A guest DTE the AMD driver accepts for a nested domain.
///
/// ```
/// use iommufd::arch::amd::{AmdCaps, AmdGuestDte, GuestPagingLevels};
/// use iommufd::uapi::IommuHwInfoAmd;
/// let host = AmdCaps::decode(&IommuHwInfoAmd { efr: 1 << 4, efr2: 0 });
/// let dte = AmdGuestDte::translate(0x1234_5000, 7, GuestPagingLevels::Four, &host)?;
/// assert_eq!(dte.gcr3_table(), 0x1234_5000);
/// assert_eq!(dte.domain_id(), 7);
/// assert!(AmdGuestDte::translate(0x1000, 7, GuestPagingLevels::Five, &host).is_err());
/// # Ok::<(), iommufd::arch::amd::AmdGuestDteError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdGuestDte {
    dte: [u64; 4],
}

impl AmdGuestDte {
    /// A valid entry with guest translation: V and GV set, the GCR3 table at
    /// `gcr3_table` (a guest physical address, 4 KiB aligned: the low 12 bits are
    /// dropped), one GCR3 level (GLX 0), guest domain `domain_id`.
    pub fn translate(
        gcr3_table: u64,
        domain_id: u16,
        levels: GuestPagingLevels,
        host: &AmdCaps,
    ) -> Result<Self, AmdGuestDteError> {
        let root = gcr3_table >> 12;
        let w0 = V | GV | ((root & 0b111) << GCR3_14_12_SHIFT);
        let w1 = u64::from(domain_id)
            | (((root >> 3) & 0xffff) << GCR3_30_15_SHIFT)
            | (((root >> 19) & 0x1f_ffff) << GCR3_51_31_SHIFT);
        let level = match levels {
            GuestPagingLevels::Four => 0,
            GuestPagingLevels::Five => 1,
        };
        Self::check([w0, w1, level << GPT_LEVEL_SHIFT, 0], host)
    }

    /// Parses untrusted `struct iommu_hwpt_amd_guest` bytes (the first 32),
    /// refusing exactly what `validate_gdte_nested` refuses; `host` tells whether
    /// 5-level guest tables run.
    pub fn parse(bytes: &[u8], host: &AmdCaps) -> Result<Self, AmdGuestDteError> {
        let (data, _) = IommuHwptAmdGuest::read_from_prefix(bytes)
            .map_err(|_| AmdGuestDteError::Length(bytes.len()))?;
        Self::check(data.dte, host)
    }

    fn check(dte: [u64; 4], host: &AmdCaps) -> Result<Self, AmdGuestDteError> {
        let [w0, _, w2, _] = dte;
        if w0 & (MODE | HOST_TRP) != 0 {
            return Err(AmdGuestDteError::HostFields(w0 & (MODE | HOST_TRP)));
        }
        let this = Self { dte };
        if w0 & V != 0 && w0 & GV != 0 && this.gcr3_table() == 0 {
            return Err(AmdGuestDteError::NoGcr3Table);
        }
        let level = ((w2 >> GPT_LEVEL_SHIFT) & 0b11) as u8;
        if level > 1 {
            return Err(AmdGuestDteError::PagingMode(level));
        }
        if this.glx() == 3 {
            return Err(AmdGuestDteError::Glx);
        }
        if level == 1 && host.guest_levels < 5 {
            return Err(AmdGuestDteError::FiveLevel);
        }
        Ok(this)
    }

    /// The GCR3 table root, a guest physical address.
    pub fn gcr3_table(&self) -> u64 {
        let [w0, w1, ..] = self.dte;
        let lo = (w0 >> GCR3_14_12_SHIFT) & 0b111;
        let mid = (w1 >> GCR3_30_15_SHIFT) & 0xffff;
        let hi = (w1 >> GCR3_51_31_SHIFT) & 0x1f_ffff;
        (lo | (mid << 3) | (hi << 19)) << 12
    }

    /// The guest's DomainID (word 1, bits 15:0): the driver maps each to one host
    /// domain id per vIOMMU, so the guest's IOTLB tags stay apart.
    pub fn domain_id(&self) -> u16 {
        self.dte[1] as u16
    }

    /// GLX: GCR3 table levels minus one.
    pub fn glx(&self) -> u8 {
        ((self.dte[0] >> GLX_SHIFT) & 0b11) as u8
    }

    /// The guest table's paging levels.
    pub fn levels(&self) -> GuestPagingLevels {
        if (self.dte[2] >> GPT_LEVEL_SHIFT) & 0b11 == 1 {
            GuestPagingLevels::Five
        } else {
            GuestPagingLevels::Four
        }
    }

    /// Whether the guest enables peripheral page requests (PPR) for the device.
    pub fn ppr(&self) -> bool {
        self.dte[0] & PPR != 0
    }

    /// Whether guest I/O protection (GIoV) is on.
    pub fn guest_io_protection(&self) -> bool {
        self.dte[0] & GIOV != 0
    }

    /// The four words as given.
    pub fn words(&self) -> [u64; 4] {
        self.dte
    }
}

impl Stage1Config for AmdGuestDte {
    type Data = IommuHwptAmdGuest;

    fn hwpt_data(&self) -> IommuHwptAmdGuest {
        IommuHwptAmdGuest { dte: self.dte }
    }
}
