// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! SMMUv3 command queue entries (SMMUv3 spec, section 4): constructors for the
//! commands Linux forwards from a guest (`IOMMU_HWPT_INVALIDATE` on a vIOMMU) and for
//! the ones that frame a guest batch.
//!
//! Each returns the 16-byte little-endian entry as the kernel takes it. Linux
//! rewrites the VMID and translates StreamIDs through the vDEVICEs, so the guest's
//! values go in unchanged.

use crate::uapi::IommuViommuArmSmmuv3Invalidate;
use zerocopy::little_endian::U64;

/// Command opcodes (bits 7:0 of the first word).
pub mod opcode {
    /// CMD_PREFETCH_CONFIG.
    pub const PREFETCH_CONFIG: u8 = 0x01;
    /// CMD_PREFETCH_ADDR.
    pub const PREFETCH_ADDR: u8 = 0x02;
    /// CMD_CFGI_STE.
    pub const CFGI_STE: u8 = 0x03;
    /// CMD_CFGI_STE_RANGE (CMD_CFGI_ALL is a range of 31).
    pub const CFGI_STE_RANGE: u8 = 0x04;
    /// CMD_CFGI_CD.
    pub const CFGI_CD: u8 = 0x05;
    /// CMD_CFGI_CD_ALL.
    pub const CFGI_CD_ALL: u8 = 0x06;
    /// CMD_TLBI_NH_ALL.
    pub const TLBI_NH_ALL: u8 = 0x10;
    /// CMD_TLBI_NH_ASID.
    pub const TLBI_NH_ASID: u8 = 0x11;
    /// CMD_TLBI_NH_VA.
    pub const TLBI_NH_VA: u8 = 0x12;
    /// CMD_TLBI_NH_VAA.
    pub const TLBI_NH_VAA: u8 = 0x13;
    /// CMD_TLBI_NSNH_ALL.
    pub const TLBI_NSNH_ALL: u8 = 0x30;
    /// CMD_ATC_INV.
    pub const ATC_INV: u8 = 0x40;
    /// CMD_SYNC.
    pub const SYNC: u8 = 0x46;
}

/// A command from its two words.
pub const fn command(word0: u64, word1: u64) -> IommuViommuArmSmmuv3Invalidate {
    IommuViommuArmSmmuv3Invalidate {
        cmd: [U64::new(word0), U64::new(word1)],
    }
}

const fn op(opcode: u8) -> u64 {
    opcode as u64
}

const fn asid(asid: u16) -> u64 {
    (asid as u64) << 48
}

const fn sid(sid: u32) -> u64 {
    (sid as u64) << 32
}

const ADDR_MASK: u64 = !0xfff;

/// Range fields of TLBI_NH_VA and TLBI_NH_VAA (range invalidation, SMMU_IDR3.RIL):
/// `(num + 1) * 2^scale` pages of granule `tg` (1: 4 KiB, 2: 16 KiB, 3: 64 KiB) at
/// table level `ttl` (0: any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlbiRange {
    /// NUM, 5 bits.
    pub num: u8,
    /// SCALE, 5 bits.
    pub scale: u8,
    /// TG, 2 bits.
    pub tg: u8,
    /// TTL, 2 bits.
    pub ttl: u8,
}

const fn range_words(range: TlbiRange) -> (u64, u64) {
    (
        ((range.num as u64 & 0x1f) << 12) | ((range.scale as u64 & 0x1f) << 20),
        ((range.ttl as u64 & 0x3) << 8) | ((range.tg as u64 & 0x3) << 10),
    )
}

/// CMD_TLBI_NH_ALL: every stage-1 entry of the VM.
pub const fn tlbi_nh_all() -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::TLBI_NH_ALL), 0)
}

/// CMD_TLBI_NH_ASID: every entry of one ASID.
pub const fn tlbi_nh_asid(asid_value: u16) -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::TLBI_NH_ASID) | asid(asid_value), 0)
}

/// CMD_TLBI_NH_VA: the entries of `address` (4 KiB aligned) in one ASID; `leaf` for
/// last-level entries only.
pub const fn tlbi_nh_va(
    asid_value: u16,
    address: u64,
    leaf: bool,
) -> IommuViommuArmSmmuv3Invalidate {
    command(
        op(opcode::TLBI_NH_VA) | asid(asid_value),
        (address & ADDR_MASK) | leaf as u64,
    )
}

/// CMD_TLBI_NH_VA over a range (needs range invalidation).
pub const fn tlbi_nh_va_range(
    asid_value: u16,
    address: u64,
    leaf: bool,
    range: TlbiRange,
) -> IommuViommuArmSmmuv3Invalidate {
    let (w0, w1) = range_words(range);
    command(
        op(opcode::TLBI_NH_VA) | asid(asid_value) | w0,
        (address & ADDR_MASK) | leaf as u64 | w1,
    )
}

/// CMD_TLBI_NH_VAA: the entries of `address` in every ASID.
pub const fn tlbi_nh_vaa(address: u64, leaf: bool) -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::TLBI_NH_VAA), (address & ADDR_MASK) | leaf as u64)
}

/// CMD_TLBI_NH_VAA over a range (needs range invalidation).
pub const fn tlbi_nh_vaa_range(
    address: u64,
    leaf: bool,
    range: TlbiRange,
) -> IommuViommuArmSmmuv3Invalidate {
    let (w0, w1) = range_words(range);
    command(
        op(opcode::TLBI_NH_VAA) | w0,
        (address & ADDR_MASK) | leaf as u64 | w1,
    )
}

/// CMD_TLBI_NSNH_ALL: every non-secure non-hypervisor entry (for a guest: its own).
pub const fn tlbi_nsnh_all() -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::TLBI_NSNH_ALL), 0)
}

/// CMD_CFGI_CD: the cached context descriptor `ssid` of guest StreamID `stream`.
pub const fn cfgi_cd(stream: u32, ssid: u32, leaf: bool) -> IommuViommuArmSmmuv3Invalidate {
    command(
        op(opcode::CFGI_CD) | sid(stream) | ((ssid as u64 & 0xf_ffff) << 12),
        leaf as u64,
    )
}

/// CMD_CFGI_CD_ALL: every cached context descriptor of guest StreamID `stream`.
pub const fn cfgi_cd_all(stream: u32) -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::CFGI_CD_ALL) | sid(stream), 0)
}

/// CMD_CFGI_STE: the cached STE of guest StreamID `stream` (the VMM's job, never
/// forwarded: re-read the STE and reinstall).
pub const fn cfgi_ste(stream: u32, leaf: bool) -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::CFGI_STE) | sid(stream), leaf as u64)
}

/// CMD_ATC_INV: the device's ATC for `2^size` pages at `address` (needs ATS).
pub const fn atc_inv(
    stream: u32,
    ssid: Option<u32>,
    address: u64,
    size: u8,
) -> IommuViommuArmSmmuv3Invalidate {
    let ssid_bits = match ssid {
        Some(s) => ((s as u64 & 0xf_ffff) << 12) | (1 << 11),
        None => 0,
    };
    command(
        op(opcode::ATC_INV) | sid(stream) | ssid_bits,
        (address & ADDR_MASK) | (size as u64 & 0x3f),
    )
}

/// CMD_SYNC without interrupt: ends a guest batch (never forwarded).
pub const fn sync() -> IommuViommuArmSmmuv3Invalidate {
    command(op(opcode::SYNC), 0)
}

/// The opcode of a command.
pub fn opcode_of(cmd: &IommuViommuArmSmmuv3Invalidate) -> u8 {
    (cmd.cmd[0].get() & 0xff) as u8
}
