// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Tables of guest STEs and commands with the verdict Linux 7.3's arm-smmu-v3 driver
//! gives them, derived from its rules (`arm_smmu_validate_vste`,
//! `arm_vsmmu_validate_user_cmd`, `arm_vsmmu_convert_user_cmd`). The host tests check
//! the crate's parsers against them; the arm64 tier sends every entry to the real
//! driver and checks that the crate's verdict matches the kernel's.

#![allow(dead_code)]

/// A vSTE, and whether Linux 7.3 accepts it.
pub struct SteCase {
    pub name: &'static str,
    pub words: [u64; 2],
    pub accepted: bool,
}

const V: u64 = 1;
const fn cfg(c: u64) -> u64 {
    V | (c << 1)
}
const CD: u64 = 0x10_000f_f000;

pub const STES: &[SteCase] = &[
    SteCase {
        name: "abort",
        words: [cfg(0), 0],
        accepted: true,
    },
    SteCase {
        name: "bypass",
        words: [cfg(4), 0],
        accepted: true,
    },
    SteCase {
        name: "s1 translate",
        words: [cfg(5) | CD, 0],
        accepted: true,
    },
    SteCase {
        name: "s1 translate, WBRA inner shareable",
        words: [cfg(5) | CD, 0xd4],
        accepted: true,
    },
    SteCase {
        name: "V=0 with garbage",
        words: [0xffff_ffff_ffff_fffe, u64::MAX],
        accepted: true,
    },
    SteCase {
        name: "V=0 zero",
        words: [0, 0],
        accepted: true,
    },
    SteCase {
        name: "cfg 1 (reserved)",
        words: [cfg(1), 0],
        accepted: false,
    },
    SteCase {
        name: "cfg 2",
        words: [cfg(2), 0],
        accepted: false,
    },
    SteCase {
        name: "cfg 3",
        words: [cfg(3), 0],
        accepted: false,
    },
    SteCase {
        name: "cfg 6 (s2 only)",
        words: [cfg(6), 0],
        accepted: false,
    },
    SteCase {
        name: "cfg 7 (nested)",
        words: [cfg(7), 0],
        accepted: false,
    },
    SteCase {
        name: "S1Fmt 1",
        words: [cfg(5) | CD | (1 << 4), 0],
        accepted: true,
    },
    SteCase {
        name: "S1Fmt 3 (reserved, 7.3 accepts)",
        words: [cfg(5) | CD | (3 << 4), 0],
        accepted: true,
    },
    SteCase {
        name: "S1CDMax 0",
        words: [cfg(5) | CD, 0],
        accepted: true,
    },
    SteCase {
        name: "S1DSS 3 (reserved, 7.3 accepts)",
        words: [cfg(5) | CD, 3],
        accepted: true,
    },
    SteCase {
        name: "S1STALLD",
        words: [cfg(5) | CD, 1 << 27],
        accepted: true,
    },
    SteCase {
        name: "EATS 1",
        words: [cfg(5) | CD, 1 << 28],
        accepted: true,
    },
    SteCase {
        name: "EATS 2 (S1CHK)",
        words: [cfg(5) | CD, 2 << 28],
        accepted: false,
    },
    SteCase {
        name: "EATS 3",
        words: [cfg(5) | CD, 3 << 28],
        accepted: false,
    },
    SteCase {
        name: "EATS 2 on bypass",
        words: [cfg(4), 2 << 28],
        accepted: false,
    },
    SteCase {
        name: "word 0 bit 52",
        words: [cfg(5) | CD | (1 << 52), 0],
        accepted: false,
    },
    SteCase {
        name: "word 0 bit 58",
        words: [cfg(5) | CD | (1 << 58), 0],
        accepted: false,
    },
    SteCase {
        name: "STRW",
        words: [cfg(5) | CD, 1 << 30],
        accepted: false,
    },
    SteCase {
        name: "SHCFG",
        words: [cfg(4), 1 << 44],
        accepted: false,
    },
    SteCase {
        name: "MEV",
        words: [cfg(4), 1 << 19],
        accepted: false,
    },
    SteCase {
        name: "word 1 bit 63",
        words: [cfg(0), 1 << 63],
        accepted: false,
    },
    SteCase {
        name: "word 1 bit 8",
        words: [cfg(0), 1 << 8],
        accepted: false,
    },
];

/// Capabilities a command case depends on.
#[derive(Clone, Copy)]
pub struct CaseCaps {
    pub asid16: bool,
    pub range: bool,
    pub ds: bool,
    pub ats: bool,
    pub ssid: bool,
}

/// QEMU 10's emulated SMMUv3 (the arm64 tier's): 16-bit ASIDs, range invalidation,
/// no DS, no ATS, no substreams.
pub const QEMU_CAPS: CaseCaps = CaseCaps {
    asid16: true,
    range: true,
    ds: false,
    ats: false,
    ssid: false,
};

/// What happens to a guest command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forwarded, accepted by the kernel.
    Forward,
    /// Handled by the VMM (sync, CFGI_STE*, prefetch): never sent.
    Vmm,
    /// Illegal: the kernel answers EIO.
    Illegal,
}

pub struct CmdCase {
    pub name: &'static str,
    pub words: [u64; 2],
    /// The verdict on QEMU's SMMU, and (when different) on an SMMU with every
    /// capability (8-bit ASIDs excepted: 16).
    pub on_qemu: Verdict,
    pub on_full: Verdict,
}

/// The guest StreamID the tables use (it has a vDEVICE in the arm64 tier).
pub const VSID: u64 = 0x42;
const SID: u64 = VSID << 32;
const fn op(o: u64) -> u64 {
    o
}
use Verdict::*;

pub const COMMANDS: &[CmdCase] = &[
    CmdCase {
        name: "TLBI_NH_ALL",
        words: [op(0x10), 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_ALL with VMID",
        words: [op(0x10) | (5 << 32), 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_ALL with ASID",
        words: [op(0x10) | (5 << 48), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_ALL word1",
        words: [op(0x10), 1],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NSNH_ALL",
        words: [op(0x30), 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NSNH_ALL with VMID",
        words: [op(0x30) | (5 << 32), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_ASID",
        words: [op(0x11) | (3 << 48), 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_ASID 16-bit",
        words: [op(0x11) | (0xabcd << 48), 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_ASID RES0 bit 8",
        words: [op(0x11) | (1 << 8), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VA",
        words: [op(0x12) | (3 << 48), 0x4000_0000 | 1],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA high address",
        words: [op(0x12), 0xffff_f000_0000_0000],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA low bits",
        words: [op(0x12), 0x4000_0000 | 0x10],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VA range 4K",
        words: [op(0x12) | (3 << 12), 0x4000_0000 | (1 << 10)],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA TTL only",
        words: [op(0x12), 0x4000_0000 | (1 << 10) | (3 << 8)],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA range without TG",
        words: [op(0x12) | (3 << 12), 0x4000_0000],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VA TTL without TG",
        words: [op(0x12), 0x4000_0000 | (1 << 8)],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VA TG alone (reserved)",
        words: [op(0x12), 0x4000_0000 | (1 << 10)],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VA 16K TTL 1 without DS",
        words: [op(0x12) | (1 << 12), 0x4000_0000 | (2 << 10) | (1 << 8)],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA SCALE 32 needs DS",
        words: [op(0x12) | (32 << 20), 0x4000_0000 | (1 << 10)],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VA SCALE 31",
        words: [op(0x12) | (31 << 20), 0x4000_0000 | (1 << 10)],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VAA",
        words: [op(0x13), 0x4000_0000 | 1],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "TLBI_NH_VAA with ASID",
        words: [op(0x13) | (3 << 48), 0x4000_0000],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_NH_VAA range 64K",
        words: [op(0x13) | (7 << 12) | (2 << 20), 0x4000_0000 | (3 << 10)],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "CFGI_CD",
        words: [op(0x05) | SID, 1],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "CFGI_CD SSID",
        words: [op(0x05) | SID | (1 << 12), 0],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "CFGI_CD SSV",
        words: [op(0x05) | SID | (1 << 11), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "CFGI_CD unknown vSID",
        words: [op(0x05) | (0x99 << 32), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "CFGI_CD_ALL",
        words: [op(0x06) | SID, 0],
        on_qemu: Forward,
        on_full: Forward,
    },
    CmdCase {
        name: "CFGI_CD_ALL leaf",
        words: [op(0x06) | SID, 1],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "ATC_INV",
        words: [op(0x40) | SID, 0x4000_0000],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "ATC_INV size 52",
        words: [op(0x40) | SID, 52],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "ATC_INV size 53",
        words: [op(0x40) | SID, 53],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "ATC_INV SSV",
        words: [op(0x40) | SID | (1 << 11) | (5 << 12), 0],
        on_qemu: Illegal,
        on_full: Forward,
    },
    CmdCase {
        name: "CMD_SYNC",
        words: [op(0x46), 0],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "CFGI_STE",
        words: [op(0x03) | SID, 1],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "CFGI_STE_RANGE",
        words: [op(0x04) | SID, 4],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "CFGI_ALL",
        words: [op(0x04), 31],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "PREFETCH_CONFIG",
        words: [op(0x01) | SID, 0],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "PREFETCH_ADDR",
        words: [op(0x02) | SID, 0x1000],
        on_qemu: Vmm,
        on_full: Vmm,
    },
    CmdCase {
        name: "TLBI_S2_IPA",
        words: [op(0x2a), 0x1000],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_S12_VMALL",
        words: [op(0x28), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "TLBI_EL2_ALL",
        words: [op(0x20), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "PRI_RESP",
        words: [op(0x41), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
    CmdCase {
        name: "opcode 0xff",
        words: [op(0xff), 0],
        on_qemu: Illegal,
        on_full: Illegal,
    },
];

/// The 16 little-endian bytes a guest writes for two words.
pub fn bytes(words: [u64; 2]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&words[0].to_le_bytes());
    b[8..].copy_from_slice(&words[1].to_le_bytes());
    b
}
