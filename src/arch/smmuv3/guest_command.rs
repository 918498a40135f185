// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Sorting the guest's command queue: each raw 16-byte command a VMM reads from guest
//! memory is untrusted. [`classify`] says what to do with it, and refuses exactly
//! what Linux 7.3's `arm_vsmmu_validate_user_cmd` and `arm_vsmmu_convert_user_cmd`
//! refuse (EIO), naming the field, before any ioctl. A VMM draining a queue uses
//! [`CommandRules`](super::CommandRules), the same checks worked out once per
//! vIOMMU.

use super::caps::SmmuCaps;
use super::command::opcode;
use crate::uapi::IommuViommuArmSmmuv3Invalidate;

/// What the VMM does with one guest command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestCommand {
    /// Forward it to the kernel in the current batch (the kernel rewrites VMID and
    /// StreamID).
    Forward(IommuViommuArmSmmuv3Invalidate),
    /// CMD_SYNC: the guest waits for what it queued so far: flush the batch, then
    /// complete the sync.
    Sync,
    /// CFGI_STE, CFGI_STE_RANGE or CFGI_ALL: the VMM's own job: flush the batch, then
    /// re-read these guest STEs and reinstall them.
    ReloadStes(StreamSpan),
    /// A prefetch: nothing to do.
    Nothing,
}

/// The guest StreamIDs a CFGI_STE* command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSpan {
    /// `count` StreamIDs from `first` (a power of two, `first` aligned to it).
    Range {
        /// First StreamID.
        first: u32,
        /// How many.
        count: u64,
    },
    /// Every StreamID (CFGI_ALL).
    All,
}

/// Why a guest command is illegal: the VMM reports CERROR_ILL to the guest at this
/// entry (a real SMMU stops its queue there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Fewer than 16 bytes.
    #[error("a command is 16 bytes, got {0}")]
    Length(usize),
    /// An opcode neither forwarded nor handled by the VMM.
    #[error("opcode {0:#04x} is not a command a guest of this vIOMMU may issue")]
    Opcode(u8),
    /// A bit this opcode may not set: RES0 in its layout (where Secure and
    /// stage-2 fields of other commands sit), or a field of it the kernel refuses.
    #[error("{opcode} sets {field} ({bits:#x} in word {word}), which it may not")]
    Forbidden {
        /// The command's name.
        opcode: &'static str,
        /// The field's name in this opcode's layout (SMMUv3 spec, section 4), or
        /// "reserved" for its RES0 bits.
        field: &'static str,
        /// 0 or 1.
        word: u8,
        /// The offending bits.
        bits: u64,
    },
    /// A field that needs an SMMU capability the vIOMMU lacks.
    #[error("{opcode} sets {field}, which needs {capability}")]
    NeedsCapability {
        /// The command's name.
        opcode: &'static str,
        /// The field's name.
        field: &'static str,
        /// The capability.
        capability: &'static str,
    },
    /// TLBI range fields in a combination the spec reserves.
    #[error("{opcode}: {reason}")]
    Range {
        /// The command's name.
        opcode: &'static str,
        /// What is reserved.
        reason: &'static str,
    },
    /// ATC_INV Size above 52.
    #[error("ATC_INV Size {0} is above 52")]
    AtcSize(u8),
    /// A guest StreamID with no vDEVICE on this vIOMMU.
    #[error("{opcode} names guest StreamID {stream:#x}, which has no vDEVICE")]
    UnknownStream {
        /// The command's name.
        opcode: &'static str,
        /// The StreamID.
        stream: u32,
    },
}

pub(super) mod f {
    pub const OP: u64 = 0xff;
    pub const SSV: u64 = 1 << 11;
    pub const GLOBAL: u64 = 1 << 9;
    pub const SSID: u64 = 0xf_ffff << 12;
    pub const SID: u64 = 0xffff_ffff << 32;
    pub const NUM: u64 = 0x1f << 12;
    pub const SCALE: u64 = 0x3f << 20;
    pub const SCALE_HIGH: u64 = 1 << 25;
    pub const VMID: u64 = 0xffff << 32;
    pub const ASID: u64 = 0xffff << 48;
    pub const LEAF: u64 = 1;
    pub const TTL: u64 = 0b11 << 8;
    pub const TG: u64 = 0b11 << 10;
    pub const ADDR: u64 = !0xfff;
    pub const ATC_SIZE: u64 = 0x3f;
    pub const STE_RANGE: u64 = 0x1f;
}

/// A field of a command: its name in the spec, its word (0 or 1) and its mask.
type Field = (&'static str, u8, u64);

/// The fields of `op`'s layout (SMMUv3 spec, section 4); every other bit of it is
/// RES0. Only the naming of a refused bit reads this, so the per-opcode lists cost
/// the hot path nothing.
fn layout(op: u8) -> &'static [Field] {
    const VMID: Field = ("VMID", 0, f::VMID);
    const ASID: Field = ("ASID", 0, f::ASID);
    const SID: Field = ("SID", 0, f::SID);
    const SSID: Field = ("SSID", 0, f::SSID);
    const NUM: Field = ("NUM", 0, f::NUM);
    const SCALE: Field = ("SCALE", 0, f::SCALE);
    const LEAF: Field = ("Leaf", 1, f::LEAF);
    const TTL: Field = ("TTL", 1, f::TTL);
    const TG: Field = ("TG", 1, f::TG);
    const ADDRESS: Field = ("Address", 1, f::ADDR);
    // TLBI_NH_VAA is TLBI_NH_VA for every ASID: it has no ASID field.
    const TLBI_VA: [Field; 8] = [NUM, SCALE, VMID, ASID, LEAF, TTL, TG, ADDRESS];
    const TLBI_VAA: [Field; 7] = [NUM, SCALE, VMID, LEAF, TTL, TG, ADDRESS];
    match op {
        opcode::TLBI_NH_VA => &TLBI_VA,
        opcode::TLBI_NH_VAA => &TLBI_VAA,
        opcode::TLBI_NH_ASID => &[VMID, ASID],
        opcode::TLBI_NH_ALL => &[VMID],
        opcode::ATC_INV => &[
            ("SSV", 0, f::SSV),
            SSID,
            SID,
            ("Global", 0, f::GLOBAL),
            ("Size", 1, f::ATC_SIZE),
            ADDRESS,
        ],
        opcode::CFGI_CD => &[SSID, SID, LEAF],
        opcode::CFGI_CD_ALL => &[SID],
        // TLBI_NSNH_ALL, and opcodes that never get this far.
        _ => &[],
    }
}

fn name_of(opcode: u8) -> &'static str {
    match opcode {
        opcode::TLBI_NSNH_ALL => "TLBI_NSNH_ALL",
        opcode::TLBI_NH_ALL => "TLBI_NH_ALL",
        opcode::TLBI_NH_ASID => "TLBI_NH_ASID",
        opcode::TLBI_NH_VA => "TLBI_NH_VA",
        opcode::TLBI_NH_VAA => "TLBI_NH_VAA",
        opcode::ATC_INV => "ATC_INV",
        opcode::CFGI_CD => "CFGI_CD",
        opcode::CFGI_CD_ALL => "CFGI_CD_ALL",
        _ => "command",
    }
}

/// The error for `bits` of `word` that `op` may not set, named after `op`'s own
/// field there ("reserved" where its layout has none).
fn forbidden(op: u8, word: u8, bits: u64) -> CommandError {
    let field = layout(op)
        .iter()
        .find(|&&(_, at, mask)| at == word && bits & mask != 0)
        .map_or("reserved", |&(name, _, _)| name);
    CommandError::Forbidden {
        opcode: name_of(op),
        field,
        word,
        bits,
    }
}

/// The range-field rules of a TLBI_NH_VA/VAA on an SMMU with range invalidation.
#[inline(always)]
pub(super) fn check_range(
    name: &'static str,
    caps: &SmmuCaps,
    w: [u64; 2],
) -> Result<(), CommandError> {
    let range = w[0] & (f::NUM | f::SCALE) != 0;
    let ttl = (w[1] & f::TTL) >> 8;
    let tg = (w[1] & f::TG) >> 10;
    let reason = if tg == 0 {
        (range || ttl != 0).then_some("NUM, SCALE and TTL must be 0 when TG is 0")
    } else if tg == 2 && ttl == 1 && !caps.ds {
        Some("TTL 0b01 with a 16 KiB granule needs SMMU_IDR5.DS")
    } else if !range && ttl == 0 {
        Some("NUM 0, SCALE 0 with TTL 0 is reserved")
    } else {
        None
    };
    reason.map_or(Ok(()), |reason| {
        Err(CommandError::Range {
            opcode: name,
            reason,
        })
    })
}

/// Sorts one raw guest command. `has_vdevice` tells whether a guest StreamID has a
/// vDEVICE on this vIOMMU (the kernel refuses SID-carrying commands otherwise).
/// Never panics, whatever the bytes. The work of naming a refused field happens
/// only on refusal. This works the rules out from `caps` on each call: a VMM
/// draining a queue builds [`CommandRules`](super::CommandRules) once and asks it,
/// which answers the same, faster.
pub fn classify(
    bytes: &[u8],
    caps: &SmmuCaps,
    has_vdevice: impl Fn(u32) -> bool,
) -> Result<GuestCommand, CommandError> {
    let (Some(lo), Some(hi)) = (bytes.get(..8), bytes.get(8..16)) else {
        return Err(CommandError::Length(bytes.len()));
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(lo);
    let w0 = u64::from_le_bytes(word);
    word.copy_from_slice(hi);
    let w1 = u64::from_le_bytes(word);
    let w = [w0, w1];
    let op = (w0 & f::OP) as u8;
    match op {
        opcode::SYNC => return Ok(GuestCommand::Sync),
        opcode::PREFETCH_CONFIG | opcode::PREFETCH_ADDR => return Ok(GuestCommand::Nothing),
        opcode::CFGI_STE => {
            let first = (w0 >> 32) as u32;
            return Ok(GuestCommand::ReloadStes(StreamSpan::Range {
                first,
                count: 1,
            }));
        }
        opcode::CFGI_STE_RANGE => {
            let range = (w1 & f::STE_RANGE) as u32;
            if range == 31 {
                return Ok(GuestCommand::ReloadStes(StreamSpan::All));
            }
            let count = 1u64 << (range + 1);
            let first = ((w0 >> 32) & !(count - 1)) as u32;
            return Ok(GuestCommand::ReloadStes(StreamSpan::Range { first, count }));
        }
        _ => {}
    }
    let allowed = allowed_fields(op, caps, w)?;
    if w0 & !allowed[0] != 0 || w1 & !allowed[1] != 0 {
        return Err(explain(op, caps, w, allowed));
    }
    if matches!(op, opcode::ATC_INV | opcode::CFGI_CD | opcode::CFGI_CD_ALL) {
        let stream = (w0 >> 32) as u32;
        if !has_vdevice(stream) {
            return Err(CommandError::UnknownStream {
                opcode: name_of(op),
                stream,
            });
        }
    }
    Ok(GuestCommand::Forward(super::command::command(w0, w1)))
}

/// The bits each forwarded opcode may set on this SMMU, after the checks that do
/// not depend on the bits alone (opcode, ATS, ATC size, TLBI range encodings).
#[inline(always)]
pub(super) fn allowed_fields(
    op: u8,
    caps: &SmmuCaps,
    w: [u64; 2],
) -> Result<[u64; 2], CommandError> {
    let mut allowed = [f::OP, 0u64];
    match op {
        opcode::TLBI_NSNH_ALL => {}
        opcode::TLBI_NH_ALL => allowed[0] |= f::VMID,
        opcode::TLBI_NH_ASID => allowed[0] |= f::VMID | asid_mask(caps),
        opcode::TLBI_NH_VA | opcode::TLBI_NH_VAA => {
            if op == opcode::TLBI_NH_VA {
                allowed[0] |= asid_mask(caps);
            }
            if caps.range_invalidation {
                check_range(name_of(op), caps, w)?;
                allowed[0] |= f::NUM | f::SCALE;
                allowed[1] |= f::TG | f::TTL;
                if !caps.ds {
                    allowed[0] &= !f::SCALE_HIGH;
                }
            }
            allowed[0] |= f::VMID;
            allowed[1] |= f::LEAF | f::ADDR;
        }
        opcode::ATC_INV => {
            if !caps.ats {
                return Err(CommandError::NeedsCapability {
                    opcode: name_of(op),
                    field: "the opcode",
                    capability: "ATS (SMMU_IDR0.ATS, usable for the device)",
                });
            }
            let size = (w[1] & f::ATC_SIZE) as u8;
            if size > 52 {
                return Err(CommandError::AtcSize(size));
            }
            if caps.ssid_bits > 0 {
                allowed[0] |= f::SSV | f::SSID | f::GLOBAL;
            }
            allowed[0] |= f::SID;
            allowed[1] |= f::ATC_SIZE | f::ADDR;
        }
        opcode::CFGI_CD | opcode::CFGI_CD_ALL => {
            if op == opcode::CFGI_CD {
                if caps.ssid_bits > 0 {
                    allowed[0] |= f::SSID;
                }
                allowed[1] |= f::LEAF;
            }
            allowed[0] |= f::SID;
        }
        other => return Err(CommandError::Opcode(other)),
    }
    Ok(allowed)
}

/// Names what is wrong with a command whose bits fall outside `allowed`: a field
/// that needs a capability this SMMU lacks, or one the opcode does not have.
fn explain(op: u8, caps: &SmmuCaps, w: [u64; 2], allowed: [u64; 2]) -> CommandError {
    const ASID16: &str = "16-bit ASIDs (SMMU_IDR0.ASID16)";
    const RIL: &str = "range invalidation (SMMU_IDR3.RIL)";
    const SUBSTREAMS: &str = "substreams (SMMU_IDR1.SSIDSIZE)";
    let tlbi_va = matches!(op, opcode::TLBI_NH_VA | opcode::TLBI_NH_VAA);
    let asid_op = matches!(op, opcode::TLBI_NH_ASID | opcode::TLBI_NH_VA);
    // (word, bits, the field's name, the capability it needs) for fields that exist
    // only with a capability.
    let gated: [(usize, u64, &str, &str); 6] = [
        (
            0,
            if asid_op {
                f::ASID & !asid_mask(caps)
            } else {
                0
            },
            "ASID bits 15:8",
            ASID16,
        ),
        (
            0,
            if tlbi_va && !caps.range_invalidation {
                f::NUM | f::SCALE
            } else {
                0
            },
            "NUM/SCALE",
            RIL,
        ),
        (
            1,
            if tlbi_va && !caps.range_invalidation {
                f::TG | f::TTL
            } else {
                0
            },
            "TG/TTL",
            RIL,
        ),
        (
            0,
            if tlbi_va && caps.range_invalidation && !caps.ds {
                f::SCALE_HIGH
            } else {
                0
            },
            "SCALE above 31",
            "SMMU_IDR5.DS",
        ),
        (
            0,
            if op == opcode::ATC_INV && caps.ssid_bits == 0 {
                f::SSV | f::SSID | f::GLOBAL
            } else {
                0
            },
            "SSV/SSID/Global",
            SUBSTREAMS,
        ),
        (
            0,
            if op == opcode::CFGI_CD && caps.ssid_bits == 0 {
                f::SSID
            } else {
                0
            },
            "SSID",
            SUBSTREAMS,
        ),
    ];
    for word in 0..2 {
        let bits = w[word] & !allowed[word];
        if bits == 0 {
            continue;
        }
        if let Some(&(_, _, field, capability)) = gated
            .iter()
            .find(|(gw, mask, _, _)| *gw == word && bits & mask != 0)
        {
            return CommandError::NeedsCapability {
                opcode: name_of(op),
                field,
                capability,
            };
        }
        return forbidden(op, word as u8, bits);
    }
    CommandError::Opcode(op)
}

#[inline(always)]
fn asid_mask(caps: &SmmuCaps) -> u64 {
    if caps.asid_bits >= 16 {
        f::ASID
    } else {
        0xff << 48
    }
}
