// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The circular queues of SMMUv3 (IHI 0070, §3.5 and the SMMU_CMDQ_* / SMMU_EVENTQ_*
//! registers of §6.3): a base register naming the ring in guest memory and its
//! size, and PROD/CONS registers holding an index with a wrap bit above it. Shared
//! by the command queue (the guest produces, the vSMMU consumes) and the event
//! queue (the other way round).

/// SMMU_CMDQ_BASE / SMMU_EVENTQ_BASE.ADDR, bits 51:5.
const BASE_ADDR: u64 = ((1 << 52) - 1) & !0x1f;
/// SMMU_*_BASE.LOG2SIZE, bits 4:0.
const BASE_LOG2SIZE: u64 = 0x1f;

/// A queue ring as its base register describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ring {
    base: u64,
    log2size: u8,
    entry_size: u8,
}

impl Ring {
    /// The ring of a SMMU_CMDQ_BASE or SMMU_EVENTQ_BASE value with entries of
    /// `entry_size` bytes (16 for commands, 32 for events). A LOG2SIZE above
    /// `max_log2size` (SMMU_IDR1.CMDQS or EVENTQS) reads as the maximum, as the
    /// spec allows.
    pub const fn from_base(base: u64, max_log2size: u8, entry_size: u8) -> Self {
        let log2size = (base & BASE_LOG2SIZE) as u8;
        let log2size = if log2size > max_log2size {
            max_log2size
        } else {
            log2size
        };
        // The SMMU aligns the base to the queue's size (at least 32 bytes): the
        // low ADDR bits of a misaligned base are ignored.
        let size = (entry_size as u64) << log2size;
        Self {
            base: base & BASE_ADDR & !(size.wrapping_sub(1)),
            log2size,
            entry_size,
        }
    }

    /// Guest physical address of entry 0.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// log2 of the number of entries.
    pub const fn log2size(&self) -> u8 {
        self.log2size
    }

    /// The bits of a PROD or CONS value that count: the index and the wrap bit.
    pub const fn index_mask(&self) -> u32 {
        // In u64: at LOG2SIZE 31 the mask is all 32 bits.
        ((2u64 << self.log2size) - 1) as u32
    }

    /// The slot an index names (the index without its wrap bit).
    pub const fn slot(&self, index: u32) -> u32 {
        index & ((1u32 << self.log2size) - 1)
    }

    /// Guest physical address of the entry at `index`.
    pub const fn address(&self, index: u32) -> u64 {
        self.base + self.slot(index) as u64 * self.entry_size as u64
    }

    /// The index after `index`, toggling the wrap bit past the last slot.
    pub const fn next(&self, index: u32) -> u32 {
        index.wrapping_add(1) & self.index_mask()
    }

    /// Whether a queue with these indices holds nothing: same slot, same wrap.
    pub const fn is_empty(&self, prod: u32, cons: u32) -> bool {
        (prod ^ cons) & self.index_mask() == 0
    }

    /// Whether a queue with these indices is full: same slot, wraps differ.
    pub const fn is_full(&self, prod: u32, cons: u32) -> bool {
        (prod ^ cons) & self.index_mask() == 1u32 << self.log2size
    }

    /// Entries between `cons` and `prod`.
    pub const fn pending(&self, prod: u32, cons: u32) -> u32 {
        prod.wrapping_sub(cons) & self.index_mask()
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn indices_wrap_with_the_wrap_bit() {
        // 4 entries of 16 bytes at 0x1000, RA set (ignored), LOG2SIZE 2.
        let ring = Ring::from_base((1 << 62) | 0x1000 | 2, 19, 16);
        assert_eq!(
            (ring.base(), ring.log2size(), ring.index_mask()),
            (0x1000, 2, 0b111)
        );
        assert!(ring.is_empty(0b000, 0b000));
        assert!(ring.is_full(0b100, 0b000));
        assert!(ring.is_full(0b011, 0b111));
        assert!(!ring.is_full(0b011, 0b011));
        assert_eq!(ring.next(0b011), 0b100);
        assert_eq!(ring.next(0b111), 0b000);
        assert_eq!(ring.address(0b101), 0x1010);
        assert_eq!(ring.pending(0b001, 0b110), 3);
        // A base not aligned to the queue's size is aligned down.
        assert_eq!(Ring::from_base(0x1040 | 4, 19, 16).base(), 0x1000);
        // LOG2SIZE above the maximum reads as the maximum.
        assert_eq!(Ring::from_base(0x1000 | 31, 8, 32).log2size(), 8);
        // LOG2SIZE 31 (the field's maximum): all 32 bits count.
        assert_eq!(Ring::from_base(31, 31, 16).index_mask(), u32::MAX);
        // One entry: the wrap bit alone.
        let one = Ring::from_base(0x2000, 19, 32);
        assert!(one.is_full(1, 0) && one.is_empty(1, 1) && one.next(1) == 0);
    }
}
