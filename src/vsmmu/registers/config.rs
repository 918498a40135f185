// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What one vSMMU presents to its guest: the capabilities (from the host's, by
//! [`SmmuCaps::for_guest`], then adjusted by the VMM) and the choices that are
//! the vSMMU's own (queue size maxima, stream table levels, GBPA at reset), the
//! ID registers they make, and the check that refuses what the host or the model
//! cannot back.

use crate::arch::smmuv3::id_registers::{
    IDR0_ST_LEVEL_2LVL, IDR0_TERM_MODEL, IDR0_TTENDIAN_LE, IDR1_CMDQS_SHIFT, IDR1_EVENTQS_SHIFT,
    IDR1_QS_MASK,
};
use crate::arch::smmuv3::{IdRegisters, Mismatch, SmmuCaps};

/// The largest queue the spec lets an SMMU advertise: 2^19 entries
/// (SMMU_IDR1.CMDQS and EVENTQS).
pub const MAX_QUEUE_LOG2SIZE: u8 = 19;

/// What one vSMMU presents to its guest. Build it with
/// [`for_host`](Self::for_host), adjust the public fields, and hand it to
/// [`Registers::new`](super::Registers::new), which checks it.
///
/// # What a Linux guest needs from the ID registers
///
/// Read from `arm_smmu_device_hw_probe` (Linux 7.3,
/// `drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c`); the probe fails (`-ENXIO`)
/// without the first five:
///
/// - IDR0.TTENDIAN mixed or the CPU's endianness (line 5083, "unknown/unsupported
///   TT endianness"): always little-endian here.
/// - IDR0.S1P or S2P (line 5134, "no translation support"):
///   [`Stages::stage1`](crate::arch::smmuv3::Stages::stage1).
/// - IDR0.TTF with AArch64 (line 5140): [`SmmuCaps::aarch64_tables`].
/// - IDR1.TABLES_PRESET, QUEUES_PRESET and REL clear (line 5151, "embedded
///   implementation"): always clear here.
/// - IDR1.CMDQS above 6, one 64-command batch plus a CMD_SYNC (line 5168): the
///   driver allocates `1 << min(CMDQS, its cap)` entries, its cap being 16 to 18
///   (the page size and `CONFIG_CMA_ALIGNMENT`), halving until the allocation
///   succeeds. EVENTQS likewise (a cap of 15 to 17).
/// - IDR1.SIDSIZE and SSIDSIZE (line 5179): with SIDSIZE above 8 and IDR0.ST_LEVEL
///   2-level the driver builds a 2-level stream table (line 5187), otherwise one
///   linear table of `64 << SIDSIZE` bytes (4 MiB for 16 bits).
/// - IDR0.COHACC is only a cross-check: the driver takes coherency from the
///   firmware (DT `dma-coherent`, IORT CCA) and warns on a mismatch (line 5115).
///   Describe the vSMMU to the guest's firmware as [`SmmuCaps::coherent`] says.
/// - IDR0.MSI (line 5097): the driver uses MSIs when the firmware gives it an MSI
///   parent, wired interrupts otherwise ("msi_domain absent", line 4694). With MSI
///   and coherency it polls CMD_SYNC completion in memory (`ARM_SMMU_OPT_MSIPOLL`:
///   CMD_SYNC with CS=IRQ and its MSI address on the command's own slot), which
///   the command queue must then honour; without, it issues CMD_SYNC with CS=SEV
///   and polls CMDQ_CONS.
/// - IDR5.GRAN4K/16K/64K (line 5214) make the page sizes, IDR5.OAS the walker's
///   DMA mask (line 5244: an unknown OAS reads as 48 bits).
/// - IDR0.ATS, PRI, SEV, HYP, HTTU, ASID16, IDR3.RIL/BBML and IDR5.DS/VAX only
///   turn features on. SEV, HYP, BTM (the guest must send its TLB invalidations
///   as commands), VAX and BBML are never advertised here.
///
/// The driver reads IIDR only for errata (`arm_smmu_device_iidr_probe`) and AIDR
/// not at all: IIDR is 0 by default so that no workaround of a physical part is
/// applied to the virtual one.
///
/// # Example
///
/// ```
/// use iommufd::arch::smmuv3::SmmuCaps;
/// use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
/// use iommufd::vsmmu::{Registers, VsmmuConfig};
///
/// # let info = IommuHwInfoArmSmmuv3 { idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74], aidr: 1, ..Default::default() };
/// // `info` and the capabilities come from `VIommuAllocated::hw_info`.
/// let host = SmmuCaps::decode(&info, HwCapabilities::empty());
/// let mut config = VsmmuConfig::for_host(&host);
/// config.caps.sid_bits = 8; // one PCI bus
/// config.cmdq_max_log2size = 12;
/// let registers = Registers::new(&host, config)?;
/// assert_eq!(registers.id_registers().idr[1] & 0x3f, 8);
///
/// // What the host cannot back is refused, naming it.
/// config.caps.ssid_bits = 20;
/// assert!(Registers::new(&host, config).is_err());
/// # Ok::<(), iommufd::vsmmu::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsmmuConfig {
    /// The capabilities the guest sees (SMMU_IDR0/1/3/5, IIDR, AIDR).
    pub caps: SmmuCaps,
    /// SMMU_IDR1.CMDQS: log2 of the largest command queue the guest may program,
    /// up to [`MAX_QUEUE_LOG2SIZE`]. Default 19, as most physical SMMUs; a Linux
    /// guest caps it (see the module docs) and refuses 6 or less.
    pub cmdq_max_log2size: u8,
    /// SMMU_IDR1.EVENTQS: log2 of the largest event queue, up to
    /// [`MAX_QUEUE_LOG2SIZE`]. Default 19.
    pub eventq_max_log2size: u8,
    /// SMMU_IDR0.ST_LEVEL: 2-level stream tables are offered (default), so a
    /// guest with many StreamIDs needs no large linear table.
    pub two_level_stream_table: bool,
    /// SMMU_GBPA.ABORT at reset (IMPLEMENTATION DEFINED): whether DMA aborts
    /// until the guest enables the vSMMU. Default false (bypass), so firmware
    /// and a guest without an SMMU driver can use their devices; true keeps an
    /// assigned device from reaching guest memory before the guest says where.
    pub abort_at_reset: bool,
}

impl VsmmuConfig {
    /// The defaults above around `caps`.
    pub fn new(caps: SmmuCaps) -> Self {
        Self {
            caps,
            cmdq_max_log2size: MAX_QUEUE_LOG2SIZE,
            eventq_max_log2size: MAX_QUEUE_LOG2SIZE,
            two_level_stream_table: true,
            abort_at_reset: false,
        }
    }

    /// The defaults around [`SmmuCaps::for_guest`] of the physical SMMU.
    pub fn for_host(host: &SmmuCaps) -> Self {
        Self::new(SmmuCaps::for_guest(host))
    }

    /// The identification registers the guest reads: [`SmmuCaps::encode`] of
    /// [`caps`](Self::caps), with the vSMMU's own fields: TTENDIAN little-endian,
    /// TERM_MODEL (terminated transactions always abort), ST_LEVEL, CMDQS and
    /// EVENTQS. [`SmmuCaps::decode`] of them gives `caps` back.
    pub fn id_registers(&self) -> IdRegisters {
        let mut id = self.caps.encode();
        id.idr[0] |= IDR0_TTENDIAN_LE | IDR0_TERM_MODEL;
        if self.two_level_stream_table {
            id.idr[0] |= IDR0_ST_LEVEL_2LVL;
        }
        id.idr[1] |= (u32::from(self.cmdq_max_log2size) & IDR1_QS_MASK) << IDR1_CMDQS_SHIFT
            | (u32::from(self.eventq_max_log2size) & IDR1_QS_MASK) << IDR1_EVENTQS_SHIFT;
        id
    }

    /// Whether the vSMMU can present this on `host`: the model's own limits
    /// first ([`ConfigError::Unsupported`]), then everything `host` cannot back
    /// ([`SmmuCaps::mismatches`], [`ConfigError::Host`]).
    pub fn check(&self, host: &SmmuCaps) -> Result<(), ConfigError> {
        let c = &self.caps;
        let unsupported = [
            (!c.stages.stage1, "a vSMMU without stage 1", 0),
            (c.stages.stage2, "stage 2 for the guest", 1),
            (!c.aarch64_tables, "tables other than AArch64", 0),
            (c.pri, "PRI", 1),
            (
                c.stall_model != 1,
                "stalls (stall model)",
                c.stall_model.into(),
            ),
            (c.sid_bits > 32, "StreamID bits", c.sid_bits.into()),
            (c.ssid_bits > 20, "SubstreamID bits", c.ssid_bits.into()),
            (
                self.cmdq_max_log2size > MAX_QUEUE_LOG2SIZE,
                "log2 command queue entries",
                self.cmdq_max_log2size.into(),
            ),
            (
                self.eventq_max_log2size > MAX_QUEUE_LOG2SIZE,
                "log2 event queue entries",
                self.eventq_max_log2size.into(),
            ),
        ];
        if let Some(&(_, what, value)) = unsupported.iter().find(|(bad, ..)| *bad) {
            return Err(ConfigError::Unsupported { what, value });
        }
        let gaps = host.mismatches(c);
        if gaps.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Host(gaps))
        }
    }
}

/// Why a [`VsmmuConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The register model does not emulate this (the spec's limits, or a
    /// feature with no path through the kernel's nesting).
    #[error("the vSMMU does not emulate {what} (asked for {value})")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// The value asked for.
        value: u64,
    },
    /// The physical SMMU cannot back what the guest would be told, every gap
    /// listed ([`SmmuCaps::mismatches`]).
    #[error("the host SMMU cannot back the vSMMU: {}", list(.0))]
    Host(Vec<Mismatch>),
}

fn list(gaps: &[Mismatch]) -> String {
    gaps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
