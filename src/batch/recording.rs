// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`RecordingSink`]: a fake vIOMMU for tests without a kernel, answering as the
//! kernel does.

use super::InvalidationSink;
use crate::arch::Family;
use crate::error::{Error, Result};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A sink that records every call and answers it as told, for a VMM's unit tests
/// (and the crate's) where no kernel is at hand. It allocates (it is no hot path).
///
/// Calls are accepted unless scripted otherwise: [`then_refuse`](Self::then_refuse)
/// and [`then_fail`](Self::then_fail) each queue the answer to one later call, in
/// order, with the [`Error::Invalidation`] the kernel path gives. Share it by
/// reference (`InvalidationBatch::new(&sink)`) to inspect it while the batch lives.
///
/// ```
/// use iommufd::arch::{Smmuv3, smmuv3::command as cmd};
/// use iommufd::batch::{BatchError, InvalidationBatch, RecordingSink};
/// use rustix::io::Errno;
///
/// let sink = RecordingSink::<Smmuv3>::new();
/// sink.then_refuse(1, Errno::IO); // the first call: entry 1 refused, as ARM's EIO
/// let mut batch = InvalidationBatch::<_, 8>::new(&sink);
/// for (i, asid) in (10..13).enumerate() {
///     batch.push(i as u32, cmd::tlbi_nh_asid(asid)).unwrap();
/// }
/// let e = batch.flush().unwrap_err();
/// assert!(matches!(e, BatchError::Refused { guest_index: 1, .. }));
/// // The batch re-sent the entry before the refused one (ARM may not have issued it).
/// let calls = sink.submissions();
/// assert_eq!(calls.len(), 2);
/// assert_eq!(calls[1].entries, [cmd::tlbi_nh_asid(10)]);
/// assert_eq!(sink.accepted(), [cmd::tlbi_nh_asid(10)]);
/// ```
pub struct RecordingSink<F: Family> {
    // A lock rather than a cell so that the fake is `Sync`, like the vIOMMU.
    state: Mutex<State<F>>,
}

struct State<F: Family> {
    script: VecDeque<Answer>,
    submissions: Vec<Submission<F>>,
}

/// A scripted answer to one call.
#[derive(Clone, Copy)]
enum Answer {
    Refuse { entry: u32, errno: Errno },
    Fail(Errno),
}

/// One call a [`RecordingSink`] received, and what it answered.
pub struct Submission<F: Family> {
    /// The entries, as passed.
    pub entries: Vec<F::Invalidation>,
    /// The answer.
    pub result: Result<()>,
}

impl<F: Family> RecordingSink<F> {
    /// A sink that accepts everything.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                script: VecDeque::new(),
                submissions: Vec::new(),
            }),
        }
    }

    /// The next unscripted call refuses its entry `entry` with `errno` (EIO as
    /// SMMUv3's driver; EINVAL or EOPNOTSUPP as VT-d's and the mock's), answering
    /// `refused: Some(entry)`. A call of `entry` entries or fewer has no such entry:
    /// it fails as a whole with `errno` instead.
    pub fn then_refuse(&self, entry: u32, errno: Errno) {
        self.lock()
            .script
            .push_back(Answer::Refuse { entry, errno });
    }

    /// The next unscripted call fails as a whole with `errno` (the vIOMMU is gone,
    /// ENOMEM), answering `refused: None`.
    pub fn then_fail(&self, errno: Errno) {
        self.lock().script.push_back(Answer::Fail(errno));
    }

    /// Every call so far, oldest first.
    pub fn submissions(&self) -> Vec<Submission<F>> {
        self.lock().submissions.clone()
    }

    /// The entries of the calls it accepted, in order: what reached the "hardware".
    pub fn accepted(&self) -> Vec<F::Invalidation> {
        let state = self.lock();
        let accepted = state.submissions.iter().filter(|s| s.result.is_ok());
        accepted.flat_map(|s| s.entries.iter().copied()).collect()
    }

    // A test that panicked while holding the lock left a usable log: keep it.
    fn lock(&self) -> MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<F: Family> InvalidationSink for RecordingSink<F> {
    type Family = F;

    fn submit(&self, entries: &[F::Invalidation]) -> Result<()> {
        let mut state = self.lock();
        let requested = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        let failure = |errno, refused| Error::Invalidation {
            errno,
            refused,
            completed: 0,
            requested,
        };
        let result = match state.script.pop_front() {
            None => Ok(()),
            Some(Answer::Refuse { entry, errno }) if entry < requested => {
                Err(failure(errno, Some(entry)))
            }
            Some(Answer::Refuse { errno, .. } | Answer::Fail(errno)) => Err(failure(errno, None)),
        };
        state.submissions.push(Submission {
            entries: entries.to_vec(),
            result,
        });
        result
    }
}

impl<F: Family> Default for RecordingSink<F> {
    fn default() -> Self {
        Self::new()
    }
}

// By hand: derives would ask `F: Debug` and `F: Clone` of the family marker.
impl<F: Family> core::fmt::Debug for RecordingSink<F>
where
    F::Invalidation: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = self.lock();
        f.debug_struct("RecordingSink")
            .field("family", &F::NAME)
            .field("submissions", &state.submissions)
            .field("scripted", &state.script.len())
            .finish()
    }
}

impl<F: Family> Clone for Submission<F> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            result: self.result,
        }
    }
}

impl<F: Family> PartialEq for Submission<F>
where
    F::Invalidation: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.result == other.result
    }
}

impl<F: Family> core::fmt::Debug for Submission<F>
where
    F::Invalidation: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Submission")
            .field("entries", &self.entries)
            .field("result", &self.result)
            .finish()
    }
}
