// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! AMD IOMMU Extended Feature Registers (AMD I/O Virtualization Technology spec,
//! MMIO offset 0030h EFR and 01A0h EFR2, as `GET_HW_INFO` returns them) decoded
//! into what nesting depends on, and a compatibility check.

use crate::arch::Mismatch;
use crate::arch::mismatch::Mismatches;
use crate::uapi::IommuHwInfoAmd;

const fn bit(reg: u64, n: u32) -> bool {
    reg & (1 << n) != 0
}

const fn bits(reg: u64, lo: u32, width: u32) -> u64 {
    (reg >> lo) & ((1 << width) - 1)
}

/// What an AMD IOMMU can do, decoded from EFR and EFR2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdCaps {
    /// EFR.GTSup: guest (v2, stage-1) translation, what nesting hands the guest.
    pub guest_translation: bool,
    /// EFR.PPRSup: peripheral page requests (PRI).
    pub ppr: bool,
    /// EFR.GATS: guest translation levels, 4 or 5. The driver takes a 5-level
    /// guest table only when this is 5 and the CPU runs with LA57 too, which the
    /// registers cannot show.
    pub guest_levels: u8,
    /// EFR.HATS: host (v1, stage-2) translation levels, 4 to 6.
    pub host_levels: u8,
    /// EFR.GLXSup: levels of GCR3 tables the guest may use, 1 to 3 (`GLX` + 1).
    pub gcr3_levels: u8,
    /// PASID width in bits (EFR.PASmax + 1).
    pub pasid_bits: u8,
    /// EFR.GIoSup: guest I/O protection (GIoV).
    pub guest_io_protection: bool,
    /// EFR.HDSup: host dirty bits (dirty tracking of the stage 2).
    pub host_dirty: bool,
    /// EFR.HASup: host access bits.
    pub host_access: bool,
    /// EFR.GASup: guest virtual APIC (posted interrupts to the guest).
    pub guest_apic: bool,
    /// EFR.SNPSup: SEV-SNP.
    pub snp: bool,
    /// EFR2.GCR3TRPMode: GCR3 table root pointers as guest physical addresses.
    pub gcr3_trp_mode: bool,
}

impl AmdCaps {
    /// Decodes one `GET_HW_INFO` answer. Never fails.
    pub fn decode(info: &IommuHwInfoAmd) -> Self {
        let (efr, efr2) = (info.efr, info.efr2);
        AmdCaps {
            guest_translation: bit(efr, 4),
            ppr: bit(efr, 1),
            guest_levels: if bits(efr, 12, 2) == 1 { 5 } else { 4 },
            host_levels: bits(efr, 10, 2) as u8 + 4,
            gcr3_levels: bits(efr, 14, 2) as u8 + 1,
            pasid_bits: bits(efr, 32, 5) as u8 + 1,
            guest_io_protection: bit(efr, 48),
            host_dirty: bit(efr, 52),
            host_access: bit(efr, 49),
            guest_apic: bit(efr, 7),
            snp: bit(efr, 63),
            gcr3_trp_mode: bit(efr2, 3),
        }
    }

    /// What a VMM presents to its guest by default: guest translation with the
    /// host's guest widths, GCR3 levels, PASIDs and GIoV; no PPR (the crate does
    /// not forward AMD page requests), no host-table features (the guest gets one
    /// stage), no SNP and no virtual APIC (not the IOMMU's to give).
    pub fn for_guest(host: &AmdCaps) -> AmdCaps {
        AmdCaps {
            ppr: false,
            host_dirty: false,
            host_access: false,
            guest_apic: false,
            snp: false,
            ..*host
        }
    }

    /// Every way `virtual_amd` promises more than `self` (the physical IOMMU) can
    /// give. Empty when it fits.
    pub fn mismatches(&self, virtual_amd: &AmdCaps) -> Vec<Mismatch> {
        let (v, h) = (virtual_amd, self);
        let mut out = Mismatches::default();
        out.flag(true, h.guest_translation, "guest translation (for nesting)");
        out.at_most(v.guest_levels, h.guest_levels, "guest table levels");
        out.at_most(v.gcr3_levels, h.gcr3_levels, "GCR3 table levels");
        out.at_most(v.pasid_bits, h.pasid_bits, "PASID bits");
        out.flag(v.ppr, h.ppr, "PPR");
        out.flag(
            v.guest_io_protection,
            h.guest_io_protection,
            "guest I/O protection",
        );
        out.into_vec()
    }
}
