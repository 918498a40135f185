// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`CommandRules`]: the guest command checks of one virtual SMMU, worked out once
//! from its capabilities, so that a legal invalidation costs a table lookup and two
//! mask tests while the VMM drains the guest's queue.
//!
//! The table is derived from the same functions as [`classify`], never written out
//! by hand: the fast path accepts a command only where `classify` would forward it,
//! and hands everything else (refusals, CMD_SYNC, CFGI_STE, commands whose StreamID
//! needs a vDEVICE) to `classify` itself, so both give the same verdict for every
//! input (a property test holds them to it).

use super::caps::SmmuCaps;
use super::command::command;
use super::guest_command::{GuestCommand, allowed_fields, check_range, classify, f};
use super::{CommandError, command::opcode};
use crate::uapi::IommuViommuArmSmmuv3Invalidate;

/// `reserved_ranges` of an opcode the fast path leaves to [`classify`]: every
/// range combination reserved, so no command of it (not even an all-zero one)
/// passes.
const SLOW: u32 = u32::MAX;

/// The checks of [`classify`] for one virtual SMMU, built once (when the VMM has
/// settled what it presents to the guest) and used for every guest command.
///
/// A VMM keeps one per vIOMMU and passes it to
/// [`InvalidationBatch::push_guest_commands`](crate::batch::InvalidationBatch::push_guest_commands).
/// [`classify`](Self::classify) agrees with the free function
/// [`classify`](super::classify) on every input.
///
/// ```
/// use iommufd::arch::smmuv3::{CommandRules, GuestCommand, SmmuCaps, command as cmd};
/// use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
/// use zerocopy::IntoBytes;
///
/// // QEMU's SMMUv3: 16-bit ASIDs, range invalidation, no ATS, no substreams.
/// let caps = SmmuCaps::decode(
///     &IommuHwInfoArmSmmuv3 {
///         idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
///         aidr: 1,
///         ..Default::default()
///     },
///     HwCapabilities::empty(),
/// );
/// let rules = CommandRules::new(&caps);
/// let tlbi = cmd::tlbi_nh_va(3, 0x4000_0000, true);
/// assert_eq!(
///     rules.classify(tlbi.as_bytes(), |_| false),
///     Ok(GuestCommand::Forward(tlbi))
/// );
/// // ATC_INV needs ATS, which this SMMU lacks: the error names what is missing.
/// let atc = cmd::atc_inv(0x42, None, 0, 0);
/// assert!(rules.classify(atc.as_bytes(), |_| true).is_err());
/// ```
#[derive(Clone)]
pub struct CommandRules {
    caps: SmmuCaps,
    // Indexed by opcode, one array per field so that each lookup is one load: the
    // bits of word 0 and word 1 the opcode may not set (inverted masks: one AND a
    // word), and bit `(TG << 2) | TTL` (plus 16 when NUM or SCALE is set) where the
    // TLBI range fields are reserved on this SMMU (0 for opcodes without them).
    forbidden0: [u64; 256],
    forbidden1: [u64; 256],
    reserved_ranges: [u32; 256],
}

impl core::fmt::Debug for CommandRules {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let fast: Vec<u8> = (0..=255u8)
            .filter(|&op| self.reserved_ranges[op as usize] != SLOW)
            .collect();
        f.debug_struct("CommandRules")
            .field("caps", &self.caps)
            .field("fast_opcodes", &fast)
            .finish()
    }
}

impl CommandRules {
    /// Works out the rules for a virtual SMMU with `caps` (the capabilities the
    /// guest sees, which must fit the physical SMMU's:
    /// [`SmmuCaps::mismatches`]).
    pub fn new(caps: &SmmuCaps) -> Self {
        let mut rules = Self {
            caps: *caps,
            forbidden0: [u64::MAX; 256],
            forbidden1: [u64::MAX; 256],
            reserved_ranges: [SLOW; 256],
        };
        for op in [
            opcode::TLBI_NSNH_ALL,
            opcode::TLBI_NH_ALL,
            opcode::TLBI_NH_ASID,
            opcode::TLBI_NH_VA,
            opcode::TLBI_NH_VAA,
        ] {
            // With every range field zero, allowed_fields answers the opcode's masks
            // (or refuses the opcode on this SMMU, which leaves it to classify).
            let Ok(allowed) = allowed_fields(op, caps, [u64::from(op), 0]) else {
                continue;
            };
            let mut reserved_ranges = 0;
            if allowed[1] & f::TG != 0 {
                for index in 0..32u32 {
                    let w0 = u64::from(op) | if index & 0x10 != 0 { 1 << 12 } else { 0 };
                    let w1 = u64::from(index & 0xf) << 8;
                    if check_range("", caps, [w0, w1]).is_err() {
                        reserved_ranges |= 1 << index;
                    }
                }
            }
            let at = op as usize;
            rules.forbidden0[at] = !allowed[0];
            rules.forbidden1[at] = !allowed[1];
            rules.reserved_ranges[at] = reserved_ranges;
        }
        rules
    }

    /// The capabilities the rules were made for.
    pub fn caps(&self) -> &SmmuCaps {
        &self.caps
    }

    /// The command to forward, when `bytes` is a legal TLBI on this SMMU; `None`
    /// for everything else, which [`classify`](Self::classify) sorts out.
    #[inline(always)]
    pub(crate) fn forwarded_tlbi(&self, bytes: &[u8]) -> Option<IommuViommuArmSmmuv3Invalidate> {
        let raw = bytes.first_chunk::<16>()?;
        let (lo, hi) = raw.split_at(8);
        let w0 = u64::from_le_bytes(lo.try_into().ok()?);
        let w1 = u64::from_le_bytes(hi.try_into().ok()?);
        self.is_legal_tlbi(w0, w1).then(|| command(w0, w1))
    }

    /// Whether the command of words `w0`, `w1` is a legal TLBI on this SMMU:
    /// what [`forwarded_tlbi`](Self::forwarded_tlbi) decides, for a reader that
    /// keeps the command where it is.
    #[inline(always)]
    pub(crate) fn is_legal_tlbi(&self, w0: u64, w1: u64) -> bool {
        let op = (w0 & f::OP) as usize;
        if (w0 & self.forbidden0[op]) | (w1 & self.forbidden1[op]) != 0 {
            return false;
        }
        // Bits 0..16 for commands without range fields set, 16..32 with: pick the
        // half, then test the (TG, TTL) bit.
        let halves = self.reserved_ranges[op];
        let half = if w0 & (f::NUM | f::SCALE) != 0 {
            halves >> 16
        } else {
            halves
        };
        (half >> ((w1 >> 8) & 0xf)) & 1 == 0
    }

    /// Sorts one raw guest command, as [`classify`](super::classify) does with
    /// [`caps`](Self::caps), with legal TLBIs taking the table's short way.
    #[inline]
    pub fn classify(
        &self,
        bytes: &[u8],
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<GuestCommand, CommandError> {
        match self.forwarded_tlbi(bytes) {
            Some(entry) => Ok(GuestCommand::Forward(entry)),
            None => classify(bytes, &self.caps, has_vdevice),
        }
    }
}
