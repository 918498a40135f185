// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Intel VT-d capability registers (VT-d spec 11.4.2 Capability Register, 11.4.3
//! Extended Capability Register, as `GET_HW_INFO` returns them) decoded into what
//! nesting depends on, and a check that a virtual VT-d a VMM wants to present fits
//! the physical one.

use crate::arch::Mismatch;
use crate::arch::mismatch::Mismatches;
use crate::uapi::{HwInfoVtdFlags, IommuHwInfoVtd};

const fn bit(reg: u64, n: u32) -> bool {
    reg & (1 << n) != 0
}

const fn bits(reg: u64, lo: u32, width: u32) -> u64 {
    (reg >> lo) & ((1 << width) - 1)
}

/// What a VT-d remapping unit can do for nesting, decoded from CAP_REG and
/// ECAP_REG. The fields a guest's stage 1 depends on, plus the rest a VMM
/// presenting a virtual VT-d copies into the guest's registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtdCaps {
    /// ECAP.SMTS: scalable mode (the PASID-table mode nesting runs in).
    pub scalable_mode: bool,
    /// ECAP.NEST: nested translation. Linux 7.3 allocates nested HWPTs only with
    /// scalable mode and this bit (else EOPNOTSUPP).
    pub nesting: bool,
    /// ECAP.FLTS: first-stage (guest, stage-1) translation.
    pub first_stage: bool,
    /// ECAP.SLTS: second-stage translation (the nest parent).
    pub second_stage: bool,
    /// CAP.FL5LP: 5-level first-stage tables (57-bit input); without it the
    /// driver refuses a 57-bit stage 1 at attach (EINVAL).
    pub first_stage_5level: bool,
    /// CAP.FL1GP: 1 GiB pages in first-stage tables.
    pub first_stage_1g: bool,
    /// CAP.MGAW: maximum guest address width in bits (what stage 2 translates).
    pub guest_address_bits: u8,
    /// CAP.SAGAW: supported second-stage table levels (bit 1: 3-level, bit 2:
    /// 4-level, bit 3: 5-level).
    pub second_stage_levels: u8,
    /// ECAP.PASID: PASIDs (process address space ids); nested HWPTs attached per
    /// PASID need it.
    pub pasid: bool,
    /// PASID width in bits (ECAP.PSS + 1), 0 without PASIDs.
    pub pasid_bits: u8,
    /// ECAP.SRS: supervisor requests; without it the driver refuses a stage 1 with
    /// `IOMMU_VTD_S1_SRE` at attach (EINVAL).
    pub supervisor_requests: bool,
    /// ECAP.EAFS: extended access flag; without it the driver refuses a stage 1
    /// with `IOMMU_VTD_S1_EAFE` at attach (EINVAL).
    pub extended_access_flag: bool,
    /// ECAP.PRS: page requests (PRI, the I/O page faults a fault queue carries).
    pub page_requests: bool,
    /// ECAP.DT: device TLBs (ATS).
    pub device_tlb: bool,
    /// ECAP.SLADS: second-stage accessed/dirty bits (dirty tracking of the nest
    /// parent).
    pub second_stage_dirty: bool,
    /// ECAP.C: coherent table walks.
    pub coherent: bool,
    /// CAP.CM: caching mode (a virtual VT-d sets it so the guest invalidates
    /// not-present entries too).
    pub caching_mode: bool,
    /// CAP.PSI: page-selective invalidation.
    pub page_selective_invalidation: bool,
    /// Erratum 772415 (SPR17): read-only mappings must not be made on a nest
    /// parent (`IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17`; Linux 7.3 sets it on every
    /// VT-d it reports). Map the nest parent's IOAS read-write.
    pub errata_772415: bool,
}

impl VtdCaps {
    /// Decodes one `GET_HW_INFO` answer. Never fails: every bit pattern decodes.
    pub fn decode(info: &IommuHwInfoVtd) -> Self {
        let (cap, ecap) = (info.cap_reg, info.ecap_reg);
        let pasid = bit(ecap, 40);
        VtdCaps {
            scalable_mode: bit(ecap, 43),
            nesting: bit(ecap, 26),
            first_stage: bit(ecap, 47),
            second_stage: bit(ecap, 46),
            first_stage_5level: bit(cap, 60),
            first_stage_1g: bit(cap, 56),
            guest_address_bits: bits(cap, 16, 6) as u8 + 1,
            second_stage_levels: bits(cap, 8, 5) as u8,
            pasid,
            pasid_bits: if pasid {
                bits(ecap, 35, 5) as u8 + 1
            } else {
                0
            },
            supervisor_requests: bit(ecap, 31),
            extended_access_flag: bit(ecap, 34),
            page_requests: bit(ecap, 29),
            device_tlb: bit(ecap, 2),
            second_stage_dirty: bit(ecap, 45),
            coherent: bit(ecap, 0),
            caching_mode: bit(cap, 7),
            page_selective_invalidation: bit(cap, 39),
            errata_772415: HwInfoVtdFlags::from_bits_retain(info.flags)
                .contains(HwInfoVtdFlags::ERRATA_772415_SPR17),
        }
    }

    /// Whether Linux 7.3 nests on this unit: scalable mode and ECAP.NEST. (The
    /// kernel also needs `intel_iommu=sm_on`, which the registers cannot show.)
    pub fn can_nest(&self) -> bool {
        self.scalable_mode && self.nesting
    }

    /// What a VMM presents to its guest by default: first-stage translation with
    /// the host's widths, 1 GiB pages, PASIDs, supervisor requests and access
    /// flags; caching mode on (the guest must invalidate what it adds, or stage 1
    /// changes would not reach the VMM); no second stage, nesting or dirty bits of
    /// its own (the guest gets one stage); no page requests (the crate does not
    /// forward PRI through VT-d yet) and no erratum (the host's is the VMM's
    /// concern: it maps the IOAS read-write).
    pub fn for_guest(host: &VtdCaps) -> VtdCaps {
        VtdCaps {
            scalable_mode: true,
            nesting: false,
            first_stage: host.first_stage,
            second_stage: false,
            second_stage_levels: 0,
            second_stage_dirty: false,
            page_requests: false,
            caching_mode: true,
            errata_772415: false,
            ..*host
        }
    }

    /// Every way `virtual_vtd` (what the VMM presents) promises more than `self`
    /// (the physical unit) can give. Empty when it fits. The host must nest; the
    /// guest's first-stage features, widths and PASIDs need the host's.
    pub fn mismatches(&self, virtual_vtd: &VtdCaps) -> Vec<Mismatch> {
        let (v, h) = (virtual_vtd, self);
        let mut out = Mismatches::default();
        out.flag(true, h.can_nest(), "scalable-mode nesting");
        out.flag(v.first_stage, h.first_stage, "first-stage translation");
        out.flag(
            v.first_stage_5level,
            h.first_stage_5level,
            "5-level first stage",
        );
        out.flag(
            v.first_stage_1g,
            h.first_stage_1g,
            "1 GiB first-stage pages",
        );
        out.at_most(
            v.guest_address_bits,
            h.guest_address_bits,
            "guest address bits",
        );
        out.flag(v.pasid, h.pasid, "PASID");
        out.at_most(v.pasid_bits, h.pasid_bits, "PASID bits");
        out.flag(
            v.supervisor_requests,
            h.supervisor_requests,
            "supervisor requests",
        );
        out.flag(
            v.extended_access_flag,
            h.extended_access_flag,
            "extended access flag",
        );
        out.flag(v.page_requests, h.page_requests, "page requests");
        out.flag(v.device_tlb, h.device_tlb, "device TLBs (ATS)");
        out.flag(v.coherent, h.coherent, "coherent table walks");
        out.into_vec()
    }
}
