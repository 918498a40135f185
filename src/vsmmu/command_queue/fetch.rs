// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Reading commands from the guest's ring: runs of contiguous slots in one read
//! each, into a buffer on the stack.

use super::super::{GuestMemory, GuestMemoryError, Ring};

/// Commands read per guest memory access: 1 KiB of stack, as many commands as
/// Linux's driver batches before it must issue them (`CMDQ_BATCH_ENTRIES`).
pub(super) const RUN: usize = 64;

/// One command queue entry (§4.1: 16 bytes, little-endian).
pub(super) type Entry = [u8; 16];

/// Reads `buf.len()` commands, the first at `index`, none past the ring's last
/// slot (the caller stops a run there). Returns how many were read and, when
/// fewer than asked, why the next one could not be: the run in one access, and
/// only if that fails, one command at a time to find the first that faults.
pub(super) fn fetch<M: GuestMemory + ?Sized>(
    mem: &M,
    ring: &Ring,
    index: u32,
    buf: &mut [Entry],
) -> (usize, Option<GuestMemoryError>) {
    if mem
        .read(ring.address(index), buf.as_flattened_mut())
        .is_ok()
    {
        return (buf.len(), None);
    }
    for (i, entry) in buf.iter_mut().enumerate() {
        let at = ring.address(index.wrapping_add(i as u32));
        if let Err(e) = mem.read(at, entry) {
            return (i, Some(e));
        }
    }
    // The run failed and each of its commands then read: the memory changed
    // between the accesses (a hot-plug). What was read is whole: go on.
    (buf.len(), None)
}
