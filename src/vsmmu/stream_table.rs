// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's Stream table (IHI 0070, §3.3 and the SMMU_STRTAB_BASE /
//! SMMU_STRTAB_BASE_CFG registers of §6.3): finds the Stream Table Entry of a
//! StreamID in guest memory, through a linear table or a 2-level one (§5.1 Level 1
//! Stream Table Descriptors), and parses it with the kernel's vSTE rules (§5.2).
//! A lookup that fails names the event the guest is owed (§7.3).

use super::event_queue::EventRecord;
use super::guest_memory::{GuestMemory, GuestMemoryError};
use crate::arch::smmuv3::{Ste, SteError};

/// SMMU_STRTAB_BASE.ADDR, bits 51:6.
const BASE_ADDR: u64 = ((1 << 52) - 1) & !0x3f;
/// SMMU_STRTAB_BASE.RA, bit 62.
const BASE_RA: u64 = 1 << 62;
/// SMMU_STRTAB_BASE_CFG.LOG2SIZE, bits 5:0.
const CFG_LOG2SIZE: u32 = 0x3f;
/// SMMU_STRTAB_BASE_CFG.SPLIT, bits 10:6.
const CFG_SPLIT_SHIFT: u32 = 6;
/// SMMU_STRTAB_BASE_CFG.FMT, bits 17:16.
const CFG_FMT_SHIFT: u32 = 16;
/// L1STD.Span, bits 4:0 (§5.1).
const L1_SPAN: u64 = 0x1f;
/// L1STD.L2Ptr, bits 51:6 (§5.1).
const L1_L2PTR: u64 = ((1 << 52) - 1) & !0x3f;

/// How the Stream table is laid out (SMMU_STRTAB_BASE_CFG.FMT and SPLIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamTableFormat {
    /// FMT 0b00: STRTAB_BASE points at an array of STEs indexed by StreamID.
    Linear,
    /// FMT 0b01: STRTAB_BASE points at an array of L1STDs indexed by
    /// `StreamID >> split`; each points at an array of STEs indexed by the low
    /// `split` bits.
    TwoLevel {
        /// The effective SPLIT: 6, 8 or 10 (4 KiB, 16 KiB or 64 KiB level-2
        /// tables). The spec reserves the other values and has them behave as 6.
        split: u8,
    },
}

/// The guest's Stream table configuration, decoded from its registers. Cheap to
/// copy: decode it again whenever the guest writes STRTAB_BASE or STRTAB_BASE_CFG.
///
/// ```text
///  linear (FMT 0)                       2-level (FMT 1)
///  STRTAB_BASE ─► STE[sid]              STRTAB_BASE ─► L1STD[sid >> SPLIT] ─Span, L2Ptr─┐
///                                                       L2Ptr ─► STE[sid & (2^SPLIT - 1)] ◄┘
/// ```
///
/// What a lookup checks, in the order the SMMU does:
/// - the StreamID is below 2^min(LOG2SIZE, SIDSIZE), else C_BAD_STREAMID;
/// - (2-level) the L1STD reads, else F_STE_FETCH at its address; its Span is valid
///   (1 to SPLIT + 1), else C_BAD_STREAMID; the StreamID's index in the level-2
///   table is below 2^(Span - 1), else C_BAD_STREAMID;
/// - the 64-byte STE reads, else F_STE_FETCH at its address;
/// - [`Ste::parse`] accepts it (exactly Linux 7.3's vSTE rules), else C_BAD_STE.
///
/// Only words 0 and 1 of the STE reach the kernel, and only they are checked.
/// Words 2 to 7 hold stage-2, VMS and MPAM fields. A vSMMU that advertises stage 1
/// only (SMMU_IDR0.S2P = 0) and none of those features has no use for them: the
/// spec makes them IGNORED or RES0 there, and lets an implementation ignore
/// non-zero reserved fields rather than reject the structure (chapter 5
/// preamble). The stage 2 is the kernel's nest parent, never the guest's. A Linux
/// guest writes word 2 (S2VMID = 0) in its translate STEs, so refusing junk there
/// would gain nothing. The whole 64-byte STE is still fetched, as an SMMU fetches
/// it: an STE that runs off guest RAM is an F_STE_FETCH.
///
/// Word 1 fields a Linux guest sets only when the SMMU advertises them (SHCFG with
/// SMMU_IDR1.ATTR_TYPES_OVR, STRW = EL2 with SMMU_IDR0.HYP and a VHE guest) are bits
/// the kernel refuses: a vSMMU that advertised those features would see its guest's
/// STEs end in C_BAD_STE. The register file must not advertise them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamTable {
    base: u64,
    read_allocate: bool,
    log2size: u8,
    sid_bits: u8,
    format: StreamTableFormat,
}

impl StreamTable {
    /// Bytes of a Stream Table Entry (§5.2).
    pub const STE_SIZE: usize = 64;
    /// Bytes of a Level 1 Stream Table Descriptor (§5.1).
    pub const L1STD_SIZE: usize = 8;

    /// Decodes a SMMU_STRTAB_BASE value, a SMMU_STRTAB_BASE_CFG value and the
    /// SMMU_IDR1.SIDSIZE the vSMMU advertises (clamped to 32, the width of a
    /// StreamID). Never fails: every bit pattern configures some table.
    ///
    /// - FMT 0b10 and 0b11 are reserved; they read as linear. A vSMMU that does not
    ///   advertise 2-level tables (SMMU_IDR0.ST_LEVEL = 0) has FMT RES0: its
    ///   register file passes FMT cleared.
    /// - SPLIT other than 6, 8 or 10 behaves as 6, as the spec defines.
    /// - ADDR is realigned as the spec defines: a linear table to its size
    ///   (`ADDR[LOG2SIZE + 5:0] = 0`), a 2-level one to the size of its level-1
    ///   table and at least 64 bytes (`ADDR[MAX(5, LOG2SIZE - SPLIT + 2):0] = 0`),
    ///   both from the literal LOG2SIZE, not limited by SIDSIZE.
    pub const fn new(strtab_base: u64, strtab_base_cfg: u32, sid_bits: u8) -> Self {
        let log2size = (strtab_base_cfg & CFG_LOG2SIZE) as u8;
        let format = match (strtab_base_cfg >> CFG_FMT_SHIFT) & 0b11 {
            0b01 => StreamTableFormat::TwoLevel {
                split: match (strtab_base_cfg >> CFG_SPLIT_SHIFT) & 0x1f {
                    8 => 8,
                    10 => 10,
                    _ => 6,
                },
            },
            _ => StreamTableFormat::Linear,
        };
        // log2 of the table's size in bytes, which its base is aligned to.
        let align = match format {
            StreamTableFormat::Linear => log2size as u32 + 6,
            StreamTableFormat::TwoLevel { split } => {
                let l1 = (log2size as u32 + 3).saturating_sub(split as u32);
                if l1 > 6 { l1 } else { 6 }
            }
        };
        let low = match 1u64.checked_shl(align) {
            Some(size) => size - 1,
            None => u64::MAX,
        };
        Self {
            base: strtab_base & BASE_ADDR & !low,
            read_allocate: strtab_base & BASE_RA != 0,
            log2size,
            sid_bits: if sid_bits > 32 { 32 } else { sid_bits },
            format,
        }
    }

    /// Guest physical address of the table (STEs when linear, L1STDs when 2-level),
    /// after realignment.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// SMMU_STRTAB_BASE.RA, the read-allocate hint. The model keeps no cache, so it
    /// changes nothing; kept for the register file's readback.
    pub const fn read_allocate(&self) -> bool {
        self.read_allocate
    }

    /// The layout.
    pub const fn format(&self) -> StreamTableFormat {
        self.format
    }

    /// log2 of the number of StreamIDs the table covers: min(LOG2SIZE, SIDSIZE).
    pub const fn effective_log2size(&self) -> u8 {
        if self.log2size < self.sid_bits {
            self.log2size
        } else {
            self.sid_bits
        }
    }

    /// Whether `sid` is in the table's range (below 2^[`effective_log2size`]).
    ///
    /// [`effective_log2size`]: Self::effective_log2size
    pub const fn covers(&self, sid: u32) -> bool {
        (sid as u64) >> self.effective_log2size() == 0
    }

    /// Finds and parses the STE of `sid` in guest memory. Reads at most one L1STD
    /// and one STE, never panics, whatever the registers and memory hold.
    ///
    /// # Errors
    ///
    /// A [`LookupError`] naming the event the guest's event queue is owed
    /// ([`LookupError::event`]).
    pub fn lookup<M>(&self, mem: &M, sid: u32) -> Result<Ste, LookupError>
    where
        M: GuestMemory + ?Sized,
    {
        if !self.covers(sid) {
            return Err(LookupError::BadStreamId {
                sid,
                why: BadStreamId::OutOfRange {
                    log2size: self.effective_log2size(),
                },
            });
        }
        let address = match self.format {
            StreamTableFormat::Linear => self.base + u64::from(sid) * Self::STE_SIZE as u64,
            StreamTableFormat::TwoLevel { split } => self.level2_address(mem, sid, split)?,
        };
        let mut ste = [0u8; Self::STE_SIZE];
        mem.read(address, &mut ste)
            .map_err(|source| LookupError::Fetch {
                sid,
                address,
                source,
            })?;
        Ste::parse(&ste).map_err(|source| LookupError::BadSte { sid, source })
    }

    /// Reads the L1STD covering `sid` and returns its STE's address.
    fn level2_address<M>(&self, mem: &M, sid: u32, split: u8) -> Result<u64, LookupError>
    where
        M: GuestMemory + ?Sized,
    {
        let address = self.base + u64::from(sid >> split) * Self::L1STD_SIZE as u64;
        let mut raw = [0u8; Self::L1STD_SIZE];
        mem.read(address, &mut raw)
            .map_err(|source| LookupError::Fetch {
                sid,
                address,
                source,
            })?;
        let l1std = u64::from_le_bytes(raw);
        let span = (l1std & L1_SPAN) as u8;
        // Span 0 marks an invalid descriptor; the spec bounds the valid range at
        // SPLIT + 1 (a level-2 table the size of the whole split), and the model
        // treats the reserved values above it as invalid too rather than guess.
        if span == 0 || span > split + 1 {
            return Err(LookupError::BadStreamId {
                sid,
                why: BadStreamId::InvalidDescriptor { span },
            });
        }
        let index = sid & ((1u32 << split) - 1);
        // A level-2 table of Span holds 2^(Span - 1) STEs.
        if index >> (span - 1) != 0 {
            return Err(LookupError::BadStreamId {
                sid,
                why: BadStreamId::BeyondSpan { span },
            });
        }
        Ok((l1std & L1_L2PTR) + u64::from(index) * Self::STE_SIZE as u64)
    }
}

/// Why a StreamID has no STE (the guest is owed a C_BAD_STREAMID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadStreamId {
    /// At or above 2^`log2size`, the table's effective size.
    OutOfRange {
        /// min(LOG2SIZE, SIDSIZE).
        log2size: u8,
    },
    /// The L1STD covering it has Span 0 (invalid) or above SPLIT + 1.
    InvalidDescriptor {
        /// The descriptor's Span.
        span: u8,
    },
    /// Its index in the level-2 table is at or above the descriptor's
    /// 2^(Span - 1) entries.
    BeyondSpan {
        /// The descriptor's Span.
        span: u8,
    },
}

/// Why a StreamID's STE could not be used; [`event`](Self::event) is the record
/// the SMMU writes to the guest's event queue for it (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// C_BAD_STREAMID (§7.3.3).
    #[error("StreamID {sid:#x} has no STE: {why:?}")]
    BadStreamId {
        /// The StreamID.
        sid: u32,
        /// Which check it failed.
        why: BadStreamId,
    },
    /// F_STE_FETCH (§7.3.4): reading an L1STD or the STE faulted.
    #[error("StreamID {sid:#x}: fetching its descriptor at {address:#x} faulted")]
    Fetch {
        /// The StreamID.
        sid: u32,
        /// Guest physical address of the descriptor read (L1STD or STE).
        address: u64,
        /// The guest memory fault.
        #[source]
        source: GuestMemoryError,
    },
    /// C_BAD_STE (§7.3.5): an STE the kernel would refuse.
    #[error("StreamID {sid:#x}: its STE is not one the kernel accepts")]
    BadSte {
        /// The StreamID.
        sid: u32,
        /// The field [`Ste::parse`] refused.
        #[source]
        source: SteError,
    },
}

impl LookupError {
    /// The StreamID looked up.
    pub const fn stream_id(&self) -> u32 {
        match *self {
            LookupError::BadStreamId { sid, .. }
            | LookupError::Fetch { sid, .. }
            | LookupError::BadSte { sid, .. } => sid,
        }
    }

    /// The event record to write to the guest's event queue.
    pub const fn event(&self) -> EventRecord {
        match *self {
            LookupError::BadStreamId { sid, .. } => EventRecord::bad_stream_id(sid),
            LookupError::Fetch { sid, address, .. } => EventRecord::ste_fetch(sid, address),
            LookupError::BadSte { sid, .. } => EventRecord::bad_ste(sid),
        }
    }
}
