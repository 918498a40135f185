// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The encoder that inverts [`SmmuCaps::decode`]: capabilities back into the
//! identification registers (IHI 0070 §6.3: SMMU_IDR0..5, SMMU_IIDR, SMMU_AIDR), for
//! a virtual SMMU's register file.

use super::caps::SmmuCaps;
use crate::uapi::{HwInfoArmSmmuv3Flags, IommuHwInfoArmSmmuv3};

// SMMU_IDR0 (IHI 0070 §6.3, SMMU_IDR0).
const IDR0_S2P: u32 = 1 << 0;
const IDR0_S1P: u32 = 1 << 1;
const IDR0_TTF_AARCH64: u32 = 0b10 << 2;
const IDR0_COHACC: u32 = 1 << 4;
const IDR0_HTTU_SHIFT: u32 = 6;
const IDR0_ATS: u32 = 1 << 10;
const IDR0_ASID16: u32 = 1 << 12;
const IDR0_MSI: u32 = 1 << 13;
const IDR0_PRI: u32 = 1 << 16;
const IDR0_VMID16: u32 = 1 << 18;
const IDR0_CD2L: u32 = 1 << 19;
/// SMMU_IDR0.TTENDIAN = 0b10: little-endian translation tables only.
pub(crate) const IDR0_TTENDIAN_LE: u32 = 0b10 << 21;
const IDR0_STALL_MODEL_SHIFT: u32 = 24;
/// SMMU_IDR0.TERM_MODEL: a terminated transaction always aborts (CD.A = 0 is not
/// offered).
pub(crate) const IDR0_TERM_MODEL: u32 = 1 << 26;
/// SMMU_IDR0.ST_LEVEL = 0b01: 2-level stream tables.
pub(crate) const IDR0_ST_LEVEL_2LVL: u32 = 0b01 << 27;

// SMMU_IDR1.
const IDR1_SSIDSIZE_SHIFT: u32 = 6;
/// SMMU_IDR1.EVENTQS, bits 20:16.
pub(crate) const IDR1_EVENTQS_SHIFT: u32 = 16;
/// SMMU_IDR1.CMDQS, bits 25:21.
pub(crate) const IDR1_CMDQS_SHIFT: u32 = 21;
/// The width of SMMU_IDR1.CMDQS and EVENTQS.
pub(crate) const IDR1_QS_MASK: u32 = 0x1f;

// SMMU_IDR3.
const IDR3_FWB: u32 = 1 << 8;
const IDR3_RIL: u32 = 1 << 10;

// SMMU_IDR5.
const IDR5_GRAN4K: u32 = 1 << 4;
const IDR5_GRAN16K: u32 = 1 << 5;
const IDR5_GRAN64K: u32 = 1 << 6;
const IDR5_DS: u32 = 1 << 7;

/// The identification registers of one SMMUv3 as its page 0 holds them
/// (IHI 0070 §6.3: SMMU_IDR0 to SMMU_IDR5 at 0x00..0x14, SMMU_IIDR at 0x18,
/// SMMU_AIDR at 0x1C). [`SmmuCaps::encode`] builds them; [`SmmuCaps::decode`] of
/// [`hw_info`](Self::hw_info) gives the capabilities back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IdRegisters {
    /// SMMU_IDR0 to SMMU_IDR5, `idr[n]` is IDRn.
    pub idr: [u32; 6],
    /// SMMU_IIDR: implementer, revision, variant, product id.
    pub iidr: u32,
    /// SMMU_AIDR: architecture revision (ArchMajorRev 7:4, ArchMinorRev 3:0).
    pub aidr: u32,
}

impl IdRegisters {
    /// The registers in the form `GET_HW_INFO` reports them, with the kernel's
    /// errata `flags` (not a register: empty for a virtual SMMU).
    pub fn hw_info(&self, flags: HwInfoArmSmmuv3Flags) -> IommuHwInfoArmSmmuv3 {
        IommuHwInfoArmSmmuv3 {
            flags: flags.bits(),
            idr: self.idr,
            iidr: self.iidr,
            aidr: self.aidr,
            ..Default::default()
        }
    }
}

impl From<&IommuHwInfoArmSmmuv3> for IdRegisters {
    fn from(info: &IommuHwInfoArmSmmuv3) -> Self {
        Self {
            idr: info.idr,
            iidr: info.iidr,
            aidr: info.aidr,
        }
    }
}

/// SMMU_IDR5.OAS for a width in bits: the largest encoding not above it (32 bits
/// for anything narrower), so an odd width never promises more than it says.
const fn oas_field(bits: u8) -> u32 {
    match bits {
        52.. => 6,
        48.. => 5,
        44.. => 4,
        42.. => 3,
        40.. => 2,
        36.. => 1,
        _ => 0,
    }
}

impl SmmuCaps {
    /// The identification registers that say what `self` says: the inverse of
    /// [`decode`](Self::decode), field for field. For every `caps` that `decode`
    /// returns, `decode(&caps.to_hw_info(), HwCapabilities::empty()) == caps`.
    ///
    /// Only the fields `SmmuCaps` holds are set; every other field reads 0 (no
    /// TTENDIAN, ST_LEVEL, queue sizes, ...): those are the register file's choices
    /// ([`vsmmu::VsmmuConfig::id_registers`](crate::vsmmu::VsmmuConfig::id_registers)
    /// adds them). Values `decode` cannot produce are encoded without promising
    /// more: an ASID or VMID width above 8 is 16 bits, an output width between two
    /// encodings takes the lower one, an architecture major revision below 3 reads
    /// as 3, and the fields are truncated to their widths.
    pub fn encode(&self) -> IdRegisters {
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        let idr0 = flag(self.stages.stage2, IDR0_S2P)
            | flag(self.stages.stage1, IDR0_S1P)
            | flag(self.aarch64_tables, IDR0_TTF_AARCH64)
            | flag(self.coherent, IDR0_COHACC)
            | (u32::from(self.httu) & 0b11) << IDR0_HTTU_SHIFT
            | flag(self.ats, IDR0_ATS)
            | flag(self.asid_bits > 8, IDR0_ASID16)
            | flag(self.msi, IDR0_MSI)
            | flag(self.pri, IDR0_PRI)
            | flag(self.vmid_bits > 8, IDR0_VMID16)
            | flag(self.cd_two_level, IDR0_CD2L)
            | (u32::from(self.stall_model) & 0b11) << IDR0_STALL_MODEL_SHIFT;
        let idr1 = (u32::from(self.sid_bits) & 0x3f)
            | (u32::from(self.ssid_bits) & 0x1f) << IDR1_SSIDSIZE_SHIFT;
        let idr3 = flag(self.s2fwb, IDR3_FWB) | flag(self.range_invalidation, IDR3_RIL);
        let idr5 = oas_field(self.oas_bits)
            | flag(self.granules.g4k, IDR5_GRAN4K)
            | flag(self.granules.g16k, IDR5_GRAN16K)
            | flag(self.granules.g64k, IDR5_GRAN64K)
            | flag(self.ds, IDR5_DS);
        let (major, minor) = self.arch_version;
        let aidr = (u32::from(major.saturating_sub(3)) & 0xf) << 4 | (u32::from(minor) & 0xf);
        IdRegisters {
            idr: [idr0, idr1, 0, idr3, 0, idr5],
            iidr: self.iidr,
            aidr,
        }
    }

    /// [`encode`](Self::encode) in the form `GET_HW_INFO` reports, with the
    /// kernel's errata flag set from
    /// [`repeat_tlbi_cfgi`](Self::repeat_tlbi_cfgi): exactly what
    /// [`decode`](Self::decode) takes.
    pub fn to_hw_info(&self) -> IommuHwInfoArmSmmuv3 {
        let mut flags = HwInfoArmSmmuv3Flags::empty();
        flags.set(
            HwInfoArmSmmuv3Flags::ERRATA_REPEAT_TLBI_CFGI,
            self.repeat_tlbi_cfgi,
        );
        self.encode().hw_info(flags)
    }
}
