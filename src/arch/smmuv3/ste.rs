// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's Stream Table Entry (SMMUv3 spec, section 5.2), as a vIOMMU takes it:
//! a typed builder, and a parser for untrusted guest bytes that accepts exactly what
//! Linux 7.3's `arm_smmu_validate_vste` accepts, naming the field it refuses.

use crate::arch::{DefaultStage1, Family, Stage1Config};
use crate::states::GuestStage1;
use crate::uapi::IommuHwptArmSmmuv3;
use zerocopy::FromBytes;
use zerocopy::little_endian::U64;

/// Fields of STE word 0 and word 1 a guest may set for nesting, with their masks.
mod field {
    pub const V: u64 = 1;
    pub const CONFIG: u64 = 0b111 << 1;
    pub const S1FMT: u64 = 0b11 << 4;
    pub const S1_CONTEXT_PTR: u64 = ((1 << 52) - 1) & !((1 << 6) - 1);
    pub const S1_CD_MAX: u64 = 0b1_1111 << 59;
    pub const WORD0_ALLOWED: u64 = V | CONFIG | S1FMT | S1_CONTEXT_PTR | S1_CD_MAX;

    pub const S1DSS: u64 = 0b11;
    pub const S1CIR: u64 = 0b11 << 2;
    pub const S1COR: u64 = 0b11 << 4;
    pub const S1CSH: u64 = 0b11 << 6;
    pub const S1STALLD: u64 = 1 << 27;
    pub const EATS: u64 = 0b11 << 28;
    pub const WORD1_ALLOWED: u64 = S1DSS | S1CIR | S1COR | S1CSH | S1STALLD | EATS;
}

/// STE.Config values a guest may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Config {
    /// 0b000: every transaction aborts.
    Abort,
    /// 0b100: stage 1 bypassed; the vIOMMU's stage 2 still applies.
    Bypass,
    /// 0b101: stage-1 translation through the guest's context descriptors.
    Translate,
}

impl Config {
    const fn bits(self) -> u64 {
        match self {
            Config::Abort => 0b000,
            Config::Bypass => 0b100,
            Config::Translate => 0b101,
        }
    }
}

/// Memory attributes of the guest's context-descriptor fetches (S1CIR, S1COR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cacheability {
    /// 0b00: non-cacheable.
    #[default]
    NonCacheable,
    /// 0b01: write-back, read-allocate.
    WriteBackReadAllocate,
    /// 0b10: write-through.
    WriteThrough,
    /// 0b11: write-back, no read-allocate.
    WriteBack,
}

/// Shareability of the guest's context-descriptor fetches (S1CSH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shareability {
    /// 0b00: non-shareable.
    #[default]
    NonShareable,
    /// 0b10: outer shareable.
    Outer,
    /// 0b11: inner shareable.
    Inner,
    /// 0b01: reserved by the spec; Linux 7.3 accepts it and so does the crate.
    Reserved,
}

/// A guest STE the kernel accepts for a nested HWPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ste {
    words: [u64; 2],
}

/// Why a guest STE would be refused (the kernel answers EIO for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SteError {
    /// Fewer than 16 bytes.
    #[error("a vSTE is 16 bytes, got {0}")]
    Length(usize),
    /// A bit outside the fields a guest may set for nesting (stage-2 and
    /// hypervisor fields, reserved bits).
    #[error("vSTE word {word} sets {field} ({bits:#x}), which a guest may not set")]
    Forbidden {
        /// 0 or 1.
        word: u8,
        /// The spec's name for the field, or "reserved".
        field: &'static str,
        /// The offending bits.
        bits: u64,
    },
    /// Config other than abort, bypass or stage-1 translate.
    #[error(
        "vSTE Config {0:#05b} is not abort (0b000), bypass (0b100) or stage-1 translate (0b101)"
    )]
    Config(u8),
    /// EATS other than 0 (abort) or 1 (full ATS).
    #[error("vSTE EATS {0} is neither 0 (ATS abort) nor 1 (full ATS)")]
    Eats(u8),
    /// A context-descriptor table address S1ContextPtr cannot hold: not 64-byte
    /// aligned, or above bit 51 (the kernel's `STRTAB_STE_0_S1CTXPTR_MASK`).
    #[error("CD table address {0:#x} does not fit S1ContextPtr (bits 51:6)")]
    S1ContextPtr(u64),
}

/// Names the STE field behind forbidden bits of `word`, as the spec lays it out
/// (fields a guest may not set for nesting: stage-2, hypervisor and reserved bits).
fn forbidden_field(word: u8, bits: u64) -> &'static str {
    const WORD0: &[(&str, u64)] = &[("RES0 (bits 58:52)", 0x7f << 52)];
    const WORD1: &[(&str, u64)] = &[
        ("S2HWU", 0xf << 8),
        ("DRE", 1 << 12),
        ("CONT", 0xf << 13),
        ("DCP", 1 << 17),
        ("PPAR", 1 << 18),
        ("MEV", 1 << 19),
        ("S2FWB", 1 << 25),
        ("S1MPAM", 1 << 26),
        ("STRW", 0b11 << 30),
        ("MemAttr", 0xf << 32),
        ("MTCFG", 1 << 36),
        ("ALLOCCFG", 0xf << 37),
        ("SHCFG", 0b11 << 44),
        ("NSCFG", 0b11 << 46),
        ("PRIVCFG", 0b11 << 48),
        ("INSTCFG", 0b11 << 50),
    ];
    let table = if word == 0 { WORD0 } else { WORD1 };
    table
        .iter()
        .find(|(_, mask)| bits & mask != 0)
        .map_or("RES0", |(name, _)| name)
}

impl Ste {
    /// V=1, Config=abort.
    pub const fn abort() -> Self {
        Self {
            words: [field::V | (Config::Abort.bits() << 1), 0],
        }
    }

    /// V=1, Config=bypass.
    pub const fn bypass() -> Self {
        Self {
            words: [field::V | (Config::Bypass.bits() << 1), 0],
        }
    }

    /// A stage-1 translate STE whose context-descriptor table is at guest physical
    /// `cd_table`, other fields zero (S1Fmt linear, S1CDMax 0); refine with the
    /// `with_*` methods. The one builder of translate vSTEs.
    ///
    /// # Errors
    ///
    /// [`SteError::S1ContextPtr`] when `cd_table` is not 64-byte aligned or sets a
    /// bit above 51: truncating it would point the SMMU at another table.
    pub const fn translate(cd_table: u64) -> Result<Self, SteError> {
        if cd_table & !field::S1_CONTEXT_PTR != 0 {
            return Err(SteError::S1ContextPtr(cd_table));
        }
        Ok(Self {
            words: [field::V | (Config::Translate.bits() << 1) | cd_table, 0],
        })
    }

    const fn set(mut self, word: usize, mask: u64, value: u64) -> Self {
        self.words[word] = (self.words[word] & !mask) | ((value << mask.trailing_zeros()) & mask);
        self
    }

    /// S1Fmt: 0 linear, 1 two-level 4 KiB leaf tables, 2 two-level 64 KiB.
    #[must_use]
    pub const fn with_s1fmt(self, s1fmt: u8) -> Self {
        self.set(0, field::S1FMT, s1fmt as u64)
    }

    /// S1CDMax: log2 of the number of context descriptors.
    #[must_use]
    pub const fn with_s1cdmax(self, s1cdmax: u8) -> Self {
        self.set(0, field::S1_CD_MAX, s1cdmax as u64)
    }

    /// S1DSS: what a transaction without SubstreamID does (0 terminate, 1 bypass, 2
    /// use CD 0).
    #[must_use]
    pub const fn with_s1dss(self, s1dss: u8) -> Self {
        self.set(1, field::S1DSS, s1dss as u64)
    }

    /// S1CIR, S1COR, S1CSH: attributes of the context-descriptor fetches.
    #[must_use]
    pub const fn with_cd_attributes(
        self,
        inner: Cacheability,
        outer: Cacheability,
        share: Shareability,
    ) -> Self {
        const fn cache(c: Cacheability) -> u64 {
            match c {
                Cacheability::NonCacheable => 0,
                Cacheability::WriteBackReadAllocate => 1,
                Cacheability::WriteThrough => 2,
                Cacheability::WriteBack => 3,
            }
        }
        let sh = match share {
            Shareability::NonShareable => 0,
            Shareability::Reserved => 1,
            Shareability::Outer => 2,
            Shareability::Inner => 3,
        };
        self.set(1, field::S1CIR, cache(inner))
            .set(1, field::S1COR, cache(outer))
            .set(1, field::S1CSH, sh)
    }

    /// S1STALLD: stalls are disabled for this stream.
    #[must_use]
    pub const fn with_s1stalld(self, stalld: bool) -> Self {
        self.set(1, field::S1STALLD, stalld as u64)
    }

    /// EATS: 1 enables ATS (full ATS) for the device.
    #[must_use]
    pub const fn with_eats(self, full_ats: bool) -> Self {
        self.set(1, field::EATS, full_ats as u64)
    }

    /// Parses the 16 bytes a guest wrote (little-endian), applying Linux 7.3's
    /// rules. A V=0 entry is accepted whatever else it holds (the kernel clears it:
    /// abort). Never panics, whatever the input.
    pub fn parse(bytes: &[u8]) -> Result<Self, SteError> {
        let Ok((raw, _)) = IommuHwptArmSmmuv3::read_from_prefix(bytes) else {
            return Err(SteError::Length(bytes.len()));
        };
        Self::from_words([raw.ste[0].get(), raw.ste[1].get()])
    }

    /// [`parse`](Self::parse) for the two words as values.
    pub fn from_words(words: [u64; 2]) -> Result<Self, SteError> {
        if words[0] & field::V == 0 {
            return Ok(Self { words: [0, 0] });
        }
        for (word, allowed) in [(0u8, field::WORD0_ALLOWED), (1, field::WORD1_ALLOWED)] {
            let bits = words[word as usize] & !allowed;
            if bits != 0 {
                return Err(SteError::Forbidden {
                    word,
                    field: forbidden_field(word, bits),
                    bits,
                });
            }
        }
        let config = ((words[0] & field::CONFIG) >> 1) as u8;
        if !matches!(config, 0b000 | 0b100 | 0b101) {
            return Err(SteError::Config(config));
        }
        let eats = ((words[1] & field::EATS) >> 28) as u8;
        if eats > 1 {
            return Err(SteError::Eats(eats));
        }
        Ok(Self { words })
    }

    /// Whether the entry is valid; an invalid one aborts like [`Config::Abort`].
    pub const fn valid(&self) -> bool {
        self.words[0] & field::V != 0
    }

    /// The Config field (an invalid entry reads as abort).
    pub const fn config(&self) -> Config {
        match (self.words[0] & field::CONFIG) >> 1 {
            0b100 if self.valid() => Config::Bypass,
            0b101 if self.valid() => Config::Translate,
            _ => Config::Abort,
        }
    }

    /// S1ContextPtr: guest physical address of the context-descriptor table.
    pub const fn s1_context_ptr(&self) -> u64 {
        self.words[0] & field::S1_CONTEXT_PTR
    }

    /// The two words.
    pub const fn words(&self) -> [u64; 2] {
        self.words
    }
}

impl Stage1Config for Ste {
    type Data = IommuHwptArmSmmuv3;

    fn hwpt_data(&self) -> IommuHwptArmSmmuv3 {
        IommuHwptArmSmmuv3 {
            ste: self.words.map(U64::new),
        }
    }
}

/// What the guest asks of a device whose STE is `ste`: an invalid or abort STE
/// aborts, a bypass STE bypasses stage 1, a translate STE installs it. Serves every
/// family whose stage 1 is an SMMUv3 STE (SMMUv3, Tegra241 CMDQV).
impl<F: Family<Stage1 = Ste>> From<Ste> for GuestStage1<F> {
    fn from(ste: Ste) -> Self {
        match ste.config() {
            Config::Abort => GuestStage1::Default(DefaultStage1::Abort),
            Config::Bypass => GuestStage1::Default(DefaultStage1::Bypass),
            Config::Translate => GuestStage1::Translate(ste),
        }
    }
}
