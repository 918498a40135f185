// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! SMMUv3 identification registers (SMMU_IDR0..5, IIDR, AIDR from `GET_HW_INFO`)
//! decoded into typed capabilities, and a check that a virtual SMMU a VMM wants to
//! present fits the physical one.

use crate::arch::Mismatch;
use crate::arch::mismatch::Mismatches;
use crate::uapi::{HwCapabilities, HwInfoArmSmmuv3Flags, IommuHwInfoArmSmmuv3};

/// Which translation stages an SMMU implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stages {
    /// Stage 1 (S1P).
    pub stage1: bool,
    /// Stage 2 (S2P).
    pub stage2: bool,
}

/// Translation granules (SMMU_IDR5.GRAN4K/16K/64K).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Granules {
    /// 4 KiB.
    pub g4k: bool,
    /// 16 KiB.
    pub g16k: bool,
    /// 64 KiB.
    pub g64k: bool,
}

/// What an SMMUv3 can do, decoded from its ID registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmmuCaps {
    /// Stages implemented.
    pub stages: Stages,
    /// AArch64 translation tables (SMMU_IDR0.TTF includes AArch64).
    pub aarch64_tables: bool,
    /// Coherent access to tables and queues (COHACC).
    pub coherent: bool,
    /// Hardware access/dirty flag updates (HTTU: 0 none, 1 access, 2 access and dirty).
    pub httu: u8,
    /// ATS (Address Translation Services) usable for the device: SMMU_IDR0.ATS set
    /// and `IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED` clear (see [`SmmuCaps::decode`]).
    /// Without it the driver refuses ATC_INV.
    pub ats: bool,
    /// PRI (Page Request Interface).
    pub pri: bool,
    /// Width of ASIDs: 8 or 16.
    pub asid_bits: u8,
    /// Width of VMIDs: 8 or 16.
    pub vmid_bits: u8,
    /// MSIs (SMMU_IDR0.MSI).
    pub msi: bool,
    /// Stall model (0 stall and terminate, 1 terminate only, 2 stall forced).
    pub stall_model: u8,
    /// 2-level context-descriptor tables (CD2L).
    pub cd_two_level: bool,
    /// StreamID width in bits (SIDSIZE).
    pub sid_bits: u8,
    /// SubstreamID width in bits (SSIDSIZE), 0 without substreams.
    pub ssid_bits: u8,
    /// Range invalidation (SMMU_IDR3.RIL).
    pub range_invalidation: bool,
    /// Stage-2 forced write-back (SMMU_IDR3.FWB).
    pub s2fwb: bool,
    /// 52-bit addresses with 4 KiB/16 KiB granules (SMMU_IDR5.DS).
    pub ds: bool,
    /// Output address size in bits (SMMU_IDR5.OAS).
    pub oas_bits: u8,
    /// Granules.
    pub granules: Granules,
    /// Architecture revision from SMMU_AIDR: (major, minor), 3.x.
    pub arch_version: (u8, u8),
    /// SMMU_IIDR: implementer, revision, variant, product id (raw).
    pub iidr: u32,
    /// TLBI and CFGI commands must be issued twice (kernel-reported erratum).
    pub repeat_tlbi_cfgi: bool,
}

const fn bit(reg: u32, n: u32) -> bool {
    reg & (1 << n) != 0
}

const fn bits(reg: u32, lo: u32, width: u32) -> u32 {
    (reg >> lo) & ((1 << width) - 1)
}

impl SmmuCaps {
    /// Decodes the registers and the generic capabilities one `GET_HW_INFO` call
    /// returned ([`VIommuAllocated::hw_info`](crate::states::VIommuAllocated::hw_info)
    /// gives both: pass `info` and `hw.capabilities`). Never fails: reserved
    /// encodings decode to the nearest meaning (an unknown OAS reads as 52 bits).
    ///
    /// ATS needs both: the arm-smmu-v3 driver enables its ATS feature only with
    /// `CONFIG_PCI_ATS` and SMMU_IDR0.ATS, and refuses a guest's ATC_INV without
    /// that feature (EIO); the register alone does not say whether the kernel was
    /// built with PCI ATS or whether the device can use it. iommufd reports
    /// [`HwCapabilities::PCI_ATS_NOT_SUPPORTED`] when ATS cannot be used for the
    /// device (the SMMU lacks the feature, the root complex does not support ATS, or the device
    /// has no ATS capability), so [`ats`](Self::ats) is IDR0.ATS and not that flag.
    /// For registers that did not come from the kernel (a virtual SMMU's), pass
    /// [`HwCapabilities::empty()`].
    pub fn decode(info: &IommuHwInfoArmSmmuv3, capabilities: HwCapabilities) -> Self {
        let [idr0, idr1, _idr2, idr3, _idr4, idr5] = info.idr;
        let oas_bits = match bits(idr5, 0, 3) {
            0 => 32,
            1 => 36,
            2 => 40,
            3 => 42,
            4 => 44,
            5 => 48,
            _ => 52,
        };
        SmmuCaps {
            stages: Stages {
                stage1: bit(idr0, 1),
                stage2: bit(idr0, 0),
            },
            aarch64_tables: bits(idr0, 2, 2) & 0b10 != 0,
            coherent: bit(idr0, 4),
            httu: bits(idr0, 6, 2) as u8,
            ats: bit(idr0, 10) && !capabilities.contains(HwCapabilities::PCI_ATS_NOT_SUPPORTED),
            pri: bit(idr0, 16),
            asid_bits: if bit(idr0, 12) { 16 } else { 8 },
            vmid_bits: if bit(idr0, 18) { 16 } else { 8 },
            msi: bit(idr0, 13),
            stall_model: bits(idr0, 24, 2) as u8,
            cd_two_level: bit(idr0, 19),
            sid_bits: bits(idr1, 0, 6) as u8,
            ssid_bits: bits(idr1, 6, 5) as u8,
            range_invalidation: bit(idr3, 10),
            s2fwb: bit(idr3, 8),
            ds: bit(idr5, 7),
            oas_bits,
            granules: Granules {
                g4k: bit(idr5, 4),
                g16k: bit(idr5, 5),
                g64k: bit(idr5, 6),
            },
            arch_version: (bits(info.aidr, 4, 4) as u8 + 3, bits(info.aidr, 0, 4) as u8),
            iidr: info.iidr,
            repeat_tlbi_cfgi: HwInfoArmSmmuv3Flags::from_bits_retain(info.flags)
                .contains(HwInfoArmSmmuv3Flags::ERRATA_REPEAT_TLBI_CFGI),
        }
    }

    /// The capabilities a guest's virtual SMMU starts from on this (physical) SMMU:
    /// what nesting lets the guest use, before the VMM adjusts it and checks the
    /// result with [`mismatches`](Self::mismatches) (the
    /// [`vsmmu`](crate::vsmmu) register file does both).
    ///
    /// The guest owns stage 1 and the physical SMMU walks the guest's context
    /// descriptors and stage-1 tables, so whatever describes those walks is the
    /// host's: AArch64 tables, coherency (COHACC: a guest told the walker is
    /// coherent skips the cache maintenance a non-coherent walker needs), HTTU,
    /// ASID width, SSID width (the guest's CD tables), 2-level CD tables, range
    /// invalidation (the kernel refuses range fields without it), DS, the output
    /// address size (the guest's stage-1 output is an IPA the host's stage 2
    /// takes), granules, the architecture revision, and ATS when the device can
    /// use it (`self.ats` already folds in `PCI_ATS_NOT_SUPPORTED`).
    ///
    /// What the guest does not get: stage 2 (the VMM owns it), so VMID16 and FWB
    /// are clear; PRI and stalls (terminate model only, `stall_model` 1: the
    /// kernel's nesting forwards no RESUME or PRI response); the host's errata
    /// (`repeat_tlbi_cfgi` false: the kernel repeats the commands it forwards) and
    /// its IIDR (0: a guest driver would apply a physical part's errata
    /// workarounds to a virtual SMMU). Choices that belong to the VMM, with these
    /// defaults: 16 StreamID bits (PCI requester ids; the guest's StreamIDs are
    /// virtual), wired interrupts (`msi` false).
    pub fn for_guest(host: &SmmuCaps) -> SmmuCaps {
        SmmuCaps {
            stages: Stages {
                stage1: host.stages.stage1,
                stage2: false,
            },
            aarch64_tables: host.aarch64_tables,
            coherent: host.coherent,
            httu: host.httu,
            ats: host.ats,
            pri: false,
            asid_bits: host.asid_bits,
            vmid_bits: 8,
            msi: false,
            stall_model: 1,
            cd_two_level: host.cd_two_level,
            sid_bits: 16,
            ssid_bits: host.ssid_bits,
            range_invalidation: host.range_invalidation,
            s2fwb: false,
            ds: host.ds,
            oas_bits: host.oas_bits,
            granules: host.granules,
            arch_version: host.arch_version,
            iidr: 0,
            repeat_tlbi_cfgi: false,
        }
    }

    /// Every way `virtual_smmu` (what the VMM presents to the guest) promises more
    /// than `self` (the physical SMMU) can give. Empty when it fits.
    ///
    /// Coherency: a coherent virtual SMMU needs a coherent physical one (the
    /// guest would skip cache maintenance the physical walker needs). Stall
    /// model: a terminate-only virtual SMMU (1) needs a physical one that does not
    /// force stalls (2); one offering stalls (0) needs a physical one that offers
    /// them; a forced-stall one needs stalls on the host (0 or 2).
    pub fn mismatches(&self, virtual_smmu: &SmmuCaps) -> Vec<Mismatch> {
        let (v, h) = (virtual_smmu, self);
        let mut out = Mismatches::default();
        out.flag(v.stages.stage1, h.stages.stage1, "stage 1");
        out.flag(true, h.stages.stage2, "stage 2 (for nesting)");
        out.flag(v.aarch64_tables, h.aarch64_tables, "AArch64 tables");
        out.at_most(v.asid_bits, h.asid_bits, "ASID bits");
        out.at_most(v.ssid_bits, h.ssid_bits, "SSID bits");
        out.flag(v.ats, h.ats, "ATS");
        out.flag(v.pri, h.pri, "PRI");
        out.at_most(v.httu, h.httu, "HTTU");
        out.flag(
            v.range_invalidation,
            h.range_invalidation,
            "range invalidation",
        );
        out.flag(v.ds, h.ds, "DS (52-bit with 4K/16K)");
        out.at_most(v.oas_bits, h.oas_bits, "output address bits");
        out.flag(v.granules.g4k, h.granules.g4k, "4 KiB granule");
        out.flag(v.granules.g16k, h.granules.g16k, "16 KiB granule");
        out.flag(v.granules.g64k, h.granules.g64k, "64 KiB granule");
        out.flag(v.cd_two_level, h.cd_two_level, "2-level CD tables");
        out.flag(v.coherent, h.coherent, "coherent table walks");
        let stalls_fit = match (v.stall_model, h.stall_model) {
            (1, host) => host != 2,
            (0, host) => host == 0,
            (2, host) => host == 0 || host == 2,
            (virt, host) => virt == host,
        };
        out.need(
            stalls_fit,
            "stall model",
            v.stall_model.into(),
            h.stall_model.into(),
        );
        out.into_vec()
    }
}
