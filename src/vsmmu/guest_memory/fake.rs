// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! An in-memory guest memory for tests: the vSMMU's own tests and a VMM's unit
//! tests drive the guest half without a memfd, and make chosen ranges fault to
//! see what the guest would be told (an F_STE_FETCH event, a queue abort).

use super::{GuestMemory, GuestMemoryError, GuestMemoryFault, access_end};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Guest RAM for tests: `len` zeroed bytes at guest physical `base`, in a `Vec`
/// behind a lock, with ranges that can be made to fail reads, writes or both.
/// Counts the accesses made through [`GuestMemory`], so a test can also check that
/// something was *not* read.
///
/// Not for production: every access takes one lock.
///
/// ```
/// use iommufd::vsmmu::{FakeGuestMemory, GuestMemory, GuestMemoryFault};
/// let memory = FakeGuestMemory::new(0x8000_0000, 0x1_0000);
/// memory.write_u64(0x8000_0100, 7)?;
/// // The guest's stream table now sits in memory that cannot be read.
/// memory.fail_reads(0x8000_0100, 64, GuestMemoryFault::Unmapped);
/// assert!(memory.read_u64(0x8000_0100).unwrap_err().is_unmapped());
/// assert_eq!(memory.peek(0x8000_0100, 1)?, [7]); // the bytes are still there
/// assert_eq!((memory.reads(), memory.writes()), (1, 1));
/// # Ok::<(), iommufd::vsmmu::GuestMemoryError>(())
/// ```
pub struct FakeGuestMemory {
    base: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    faults: Vec<FaultRange>,
    reads: u64,
    writes: u64,
}

/// Accesses touching `first ..= last` fail with `fault`.
struct FaultRange {
    first: u64,
    last: u64,
    reads: bool,
    writes: bool,
    fault: GuestMemoryFault,
}

impl FakeGuestMemory {
    /// `len` zeroed bytes of guest RAM at `base`.
    pub fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            state: Mutex::new(State {
                bytes: vec![0; len],
                ..State::default()
            }),
        }
    }

    /// Its guest physical base.
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.state().bytes.len()
    }

    /// Whether it has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes every read and write touching `len` bytes at `gpa` fail with `fault`
    /// (whether or not the range is inside the memory). The bytes stay as they were.
    pub fn fail(&self, gpa: u64, len: u64, fault: GuestMemoryFault) {
        self.add_fault(gpa, len, true, true, fault);
    }

    /// Makes reads touching `len` bytes at `gpa` fail with `fault`; writes succeed.
    pub fn fail_reads(&self, gpa: u64, len: u64, fault: GuestMemoryFault) {
        self.add_fault(gpa, len, true, false, fault);
    }

    /// Makes writes touching `len` bytes at `gpa` fail with `fault` (writing
    /// nothing); reads succeed.
    pub fn fail_writes(&self, gpa: u64, len: u64, fault: GuestMemoryFault) {
        self.add_fault(gpa, len, false, true, fault);
    }

    /// Removes every range [`fail`](Self::fail) and its kin added.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Reads `len` bytes at `gpa` past the fault ranges and without counting: what
    /// a test inspects after the vSMMU ran.
    pub fn peek(&self, gpa: u64, len: usize) -> Result<Vec<u8>, GuestMemoryError> {
        let state = self.state();
        let range = self.index(&state, gpa, len)?;
        Ok(state.bytes.get(range).unwrap_or_default().to_vec())
    }

    /// Writes `data` at `gpa` past the fault ranges and without counting: how a
    /// test lays out the guest's tables and queues.
    pub fn poke(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let mut state = self.state();
        let range = self.index(&state, gpa, data.len())?;
        if let Some(bytes) = state.bytes.get_mut(range) {
            bytes.copy_from_slice(data);
        }
        Ok(())
    }

    /// How many reads went through [`GuestMemory`] (failed ones included).
    pub fn reads(&self) -> u64 {
        self.state().reads
    }

    /// How many writes went through [`GuestMemory`] (failed ones included).
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    fn add_fault(&self, gpa: u64, len: u64, reads: bool, writes: bool, fault: GuestMemoryFault) {
        // An empty range matches nothing; one past u64::MAX stops there.
        if len == 0 {
            return;
        }
        self.state().faults.push(FaultRange {
            first: gpa,
            last: gpa.saturating_add(len - 1),
            reads,
            writes,
            fault,
        });
    }

    /// A test that panicked while holding the lock leaves the bytes usable: nothing
    /// here can be left half updated.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The indices of `len` bytes at `gpa` in the `Vec`, if all of them are there.
    fn index(
        &self,
        state: &State,
        gpa: u64,
        len: usize,
    ) -> Result<std::ops::Range<usize>, GuestMemoryError> {
        let unmapped = GuestMemoryError::unmapped(gpa, len);
        access_end(gpa, len)?;
        let start = gpa
            .checked_sub(self.base)
            .and_then(|start| usize::try_from(start).ok())
            .ok_or(unmapped)?;
        let end = start.checked_add(len).ok_or(unmapped)?;
        if end > state.bytes.len() {
            return Err(unmapped);
        }
        Ok(start..end)
    }

    /// Checks an access through [`GuestMemory`]: counted, then the fault ranges,
    /// then the bounds.
    fn check(
        &self,
        state: &mut State,
        gpa: u64,
        len: usize,
        write: bool,
    ) -> Result<std::ops::Range<usize>, GuestMemoryError> {
        if write {
            state.writes += 1;
        } else {
            state.reads += 1;
        }
        if len == 0 {
            return Ok(0..0);
        }
        let end = access_end(gpa, len)?;
        let last = end - 1;
        let hit = state
            .faults
            .iter()
            .find(|f| (if write { f.writes } else { f.reads }) && f.first <= last && gpa <= f.last);
        if let Some(f) = hit {
            return Err(GuestMemoryError::new(gpa, len, f.fault));
        }
        self.index(state, gpa, len)
    }
}

impl GuestMemory for FakeGuestMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let mut state = self.state();
        let range = self.check(&mut state, gpa, buf.len(), false)?;
        if let Some(bytes) = state.bytes.get(range) {
            buf.copy_from_slice(bytes);
        }
        Ok(())
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let mut state = self.state();
        let range = self.check(&mut state, gpa, data.len(), true)?;
        if let Some(bytes) = state.bytes.get_mut(range) {
            bytes.copy_from_slice(data);
        }
        Ok(())
    }
}

impl std::fmt::Debug for FakeGuestMemory {
    /// The layout and the counters, not the bytes (which may be megabytes).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("FakeGuestMemory")
            .field("base", &self.base)
            .field("len", &state.bytes.len())
            .field("fault_ranges", &state.faults.len())
            .field("reads", &state.reads)
            .field("writes", &state.writes)
            .finish()
    }
}
