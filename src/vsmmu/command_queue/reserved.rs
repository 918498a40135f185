// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`ReservedBits`]: RES0 bits in the commands the kernel never sees, which the
//! vSMMU executes itself.

use super::sync;
use crate::arch::smmuv3::CommandError;
use crate::arch::smmuv3::command::opcode;

/// What the vSMMU does with a command it executes itself (CMD_SYNC,
/// CMD_CFGI_STE, CMD_CFGI_STE_RANGE and its Range 31 CMD_CFGI_ALL,
/// CMD_PREFETCH_*) that sets bits its layout reserves (RES0: IHI 0070 §4.1,
/// §4.2, §4.3, §4.7.3; SSec is RES0 on a Non-secure queue, the only one a vSMMU
/// has).
///
/// The kernel never sees these commands, so the vSMMU, not the kernel, is the
/// SMMU whose verdict counts. The forwarded commands already get the kernel's:
/// the drain's classifier refuses every bit Linux 7.3 refuses, which is every
/// RES0 bit of their layouts. Refusing RES0 bits in the vSMMU's own commands
/// too (CERROR_ILL, as a hardware SMMU that checks its commands does) gives one
/// rule for the whole queue, and costs Linux guests nothing: the driver builds
/// each of these commands from its named fields only. CMD_PREFETCH_ADDR's word
/// 1 (its address, size and stride) is not policed: the vSMMU drops the hint.
/// A VMM that must run a guest which sets them anyway (one only ever run on
/// QEMU, which checks SSec alone) picks [`Ignore`](Self::Ignore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReservedBits {
    /// CERROR_ILL at the command, after sending everything before it (the
    /// default: the same rule as the forwarded commands, which the kernel
    /// refuses with any RES0 bit set).
    #[default]
    Illegal,
    /// Execute it as if the bits were 0 (QEMU's, but for SSec, and OpenVMM's).
    Ignore,
}

/// StreamID, word 0 bits 63:32 (CFGI_STE*, PREFETCH_*).
const SID: u64 = 0xffff_ffff << 32;
/// SSV, word 0 bit 11, and SubstreamID, bits 31:12 (PREFETCH_*).
const SSV_SSID: u64 = 0x1f_ffff << 11;
/// SSec, word 0 bit 10: RES0 on the Non-secure queue, the only one a vSMMU
/// has (§4.1.6).
const SSEC: u64 = 1 << 10;
/// CFGI_STE.Leaf, word 1 bit 0.
const LEAF: u64 = 1;
/// CFGI_STE_RANGE.Range, word 1 bits 4:0.
const RANGE: u64 = 0x1f;

/// The bits of each word that `op`'s layout defines, for the opcodes the vSMMU
/// executes itself; `None` for the others (the classifier's business).
fn defined(op: u8) -> Option<[u64; 2]> {
    let op_field = 0xff;
    Some(match op {
        opcode::SYNC => [
            op_field | sync::CS | sync::MSH | sync::MSI_ATTR | sync::MSI_DATA,
            sync::MSI_ADDRESS,
        ],
        opcode::CFGI_STE => [op_field | SID, LEAF],
        opcode::CFGI_STE_RANGE => [op_field | SID, RANGE],
        opcode::PREFETCH_CONFIG => [op_field | SSV_SSID | SID, 0],
        // Word 1 holds the hint's address, size and stride: the vSMMU drops
        // the hint, so it does not police them.
        opcode::PREFETCH_ADDR => [op_field | SSV_SSID | SID, u64::MAX],
        _ => return None,
    })
}

fn name(op: u8) -> &'static str {
    match op {
        opcode::SYNC => "SYNC",
        opcode::CFGI_STE => "CFGI_STE",
        opcode::CFGI_STE_RANGE => "CFGI_STE_RANGE",
        opcode::PREFETCH_CONFIG => "PREFETCH_CONFIG",
        opcode::PREFETCH_ADDR => "PREFETCH_ADDR",
        _ => "command",
    }
}

impl ReservedBits {
    /// Checks a command the vSMMU executes itself (`w`, its two words) against
    /// the policy. Commands it does not execute itself pass: the classifier
    /// already judged them.
    pub(super) fn check(self, w: [u64; 2]) -> Result<(), CommandError> {
        let op = (w[0] & 0xff) as u8;
        let (ReservedBits::Illegal, Some(defined)) = (self, defined(op)) else {
            return Ok(());
        };
        for (word, (bits, defined)) in w.into_iter().zip(defined).enumerate() {
            let bits = bits & !defined;
            if bits != 0 {
                let field = if word == 0 && bits & SSEC != 0 {
                    "SSec (RES0 on a Non-secure queue)"
                } else {
                    "reserved"
                };
                return Err(CommandError::Forbidden {
                    opcode: name(op),
                    field,
                    word: word as u8,
                    bits,
                });
            }
        }
        Ok(())
    }
}
