// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Reading commands from the guest's ring: runs of contiguous slots in one read
//! each, straight into the batch's free slots.

use super::super::{GuestMemory, GuestMemoryError, Ring};

/// One command queue entry (§4.1: 16 bytes, little-endian).
pub(super) type Entry = [u8; 16];

/// The size of an [`Entry`].
const ENTRY: usize = size_of::<Entry>();

/// Reads the commands `buf` has room for (16 bytes each), the first at `index`,
/// none past the ring's last slot (the caller stops a run there). Returns how
/// many were read and, when fewer than there was room for, why the next one
/// could not be: the run in one access, and only if that fails, one command at
/// a time to find the first that faults.
pub(super) fn fetch<M: GuestMemory + ?Sized>(
    mem: &M,
    ring: &Ring,
    index: u32,
    buf: &mut [u8],
) -> (usize, Option<GuestMemoryError>) {
    let whole = buf.len() / ENTRY;
    let Some(buf) = buf.get_mut(..whole * ENTRY) else {
        return (0, None);
    };
    if mem.read(ring.address(index), buf).is_ok() {
        return (whole, None);
    }
    for (i, entry) in buf.chunks_exact_mut(ENTRY).enumerate() {
        let at = ring.address(index.wrapping_add(i as u32));
        if let Err(e) = mem.read(at, entry) {
            return (i, Some(e));
        }
    }
    // The run failed and each of its commands then read: the memory changed
    // between the accesses (a hot-plug). What was read is whole: go on.
    (whole, None)
}
