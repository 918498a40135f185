// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The family-neutral batch through the recording fake, for both families that
//! speak SMMUv3's commands: what each flush sends, when, and what the guest hears
//! when the "kernel" refuses an entry or fails the call (the ARM recovery), with
//! no kernel at all. (The same against real drivers: the kernel tiers.)

use crate::alloc_count::allocations;
use crate::arm_families::{Arm, for_both};
use iommufd::arch::smmuv3::command as cmd;
use iommufd::batch::{BatchError, InvalidationBatch, InvalidationSink, RecordingSink};
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate as Cmd;
use iommufd::{Error, Result};
use rustix::io::Errno;
use std::cell::Cell;

// The owned form can move with the VMM's vSMMU to another thread.
static_assertions::assert_impl_all!(
    InvalidationBatch<iommufd::states::VIommuAllocated<iommufd::arch::Smmuv3>, 63>: Send
);

for_both!(
    a_flush_sends_what_waits_in_one_call,
    an_empty_flush_sends_nothing,
    a_full_batch_flushes_before_taking_more,
    a_failed_full_flush_refuses_the_push,
    a_refused_entry_is_named_after_the_ones_before_it_are_sent_again,
    a_refused_first_entry_needs_no_resend,
    a_failed_resend_reports_the_batch_failed,
    a_call_that_fails_as_a_whole_names_no_entry,
    a_refusal_past_the_end_of_the_call_fails_it_as_a_whole,
    a_dropped_batch_flushes_what_waits,
    clear_discards_what_waits,
    an_owned_sink_lives_in_the_batch,
    the_batch_allocates_nothing_on_any_path,
);

/// Guest commands `first..first + n` as TLBI_NH_ASIDs naming their index.
fn tlbis(first: u32, n: u32) -> Vec<Cmd> {
    (first..first + n)
        .map(|i| cmd::tlbi_nh_asid(i as u16))
        .collect()
}

fn push_all<S: InvalidationSink<Family = F>, F: Arm, const N: usize>(
    batch: &mut InvalidationBatch<S, N>,
    first: u32,
    entries: &[Cmd],
) {
    for (i, e) in entries.iter().enumerate() {
        batch.push(first + i as u32, *e).unwrap();
    }
}

/// The kernel's shape of a failed call of `requested` entries.
fn invalidation(errno: Errno, refused: Option<u32>, requested: u32) -> Error {
    Error::Invalidation {
        errno,
        refused,
        completed: 0,
        requested,
    }
}

fn a_flush_sends_what_waits_in_one_call<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let sent = tlbis(40, 5);
    push_all(&mut batch, 40, &sent);
    assert_eq!(batch.entries(), &sent[..]);
    assert_eq!(batch.guest_indices(), &[40, 41, 42, 43, 44]);
    assert!(sink.submissions().is_empty(), "push alone sends nothing");
    batch.flush().unwrap();
    assert!(batch.is_empty());
    let calls = sink.submissions();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].entries, sent);
    assert_eq!(calls[0].result, Ok(()));
    assert_eq!(sink.accepted(), sent);
}

fn an_empty_flush_sends_nothing<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    batch.flush().unwrap();
    push_all(&mut batch, 0, &tlbis(0, 1));
    batch.flush().unwrap();
    batch.flush().unwrap();
    assert_eq!(sink.submissions().len(), 1);
}

fn a_full_batch_flushes_before_taking_more<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let mut batch = InvalidationBatch::<_, 4>::new(&sink);
    let sent = tlbis(0, 9);
    push_all(&mut batch, 0, &sent);
    // Pushes 5 and 9 found the batch full: two calls of 4; the ninth waits.
    let calls = sink.submissions();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].entries, sent[..4]);
    assert_eq!(calls[1].entries, sent[4..8]);
    assert_eq!(batch.guest_indices(), &[8]);
    batch.flush().unwrap();
    assert_eq!(sink.accepted(), sent);
}

fn a_failed_full_flush_refuses_the_push<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_fail(Errno::NOMEM);
    let mut batch = InvalidationBatch::<_, 4>::new(&sink);
    push_all(&mut batch, 10, &tlbis(10, 4));
    // The fifth push flushes the four, which fail: it reports them and queues
    // nothing (the guest replays from its queue).
    let e = batch.push(14, cmd::tlbi_nh_all()).unwrap_err();
    assert_eq!(
        e,
        BatchError::Failed {
            first_guest_index: 10,
            count: 4,
            error: invalidation(Errno::NOMEM, None, 4),
        }
    );
    assert!(batch.is_empty());
}

fn a_refused_entry_is_named_after_the_ones_before_it_are_sent_again<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_refuse(3, Errno::IO);
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let sent = tlbis(20, 5);
    push_all(&mut batch, 20, &sent);
    let e = batch.flush().unwrap_err();
    assert_eq!(
        e,
        BatchError::Refused {
            guest_index: 23,
            error: invalidation(Errno::IO, Some(3), 5),
        }
    );
    assert_eq!(e.guest_index(), 23);
    // ARM may have converted 0..3 without issuing them: they go again, alone; the
    // one after the refused entry waits for the guest.
    let calls = sink.submissions();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].entries, sent);
    assert_eq!(calls[1].entries, sent[..3]);
    assert_eq!(calls[1].result, Ok(()));
    assert_eq!(sink.accepted(), sent[..3]);
    assert!(batch.is_empty());
}

fn a_refused_first_entry_needs_no_resend<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_refuse(0, Errno::IO);
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    push_all(&mut batch, 7, &tlbis(7, 3));
    assert!(matches!(
        batch.flush(),
        Err(BatchError::Refused { guest_index: 7, .. })
    ));
    assert_eq!(sink.submissions().len(), 1);
    assert!(sink.accepted().is_empty());
}

fn a_failed_resend_reports_the_batch_failed<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_refuse(3, Errno::IO);
    sink.then_fail(Errno::NOMEM);
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    push_all(&mut batch, 30, &tlbis(30, 5));
    // Entries 0..3 are not known to have run: no command error, the batch failed.
    assert_eq!(
        batch.flush(),
        Err(BatchError::Failed {
            first_guest_index: 30,
            count: 3,
            error: invalidation(Errno::NOMEM, None, 3),
        })
    );
    assert_eq!(sink.submissions().len(), 2);
    assert!(sink.accepted().is_empty());
    assert!(batch.is_empty());
}

fn a_call_that_fails_as_a_whole_names_no_entry<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_fail(Errno::NOENT);
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    push_all(&mut batch, 5, &tlbis(5, 3));
    let e = batch.flush().unwrap_err();
    assert_eq!(
        e,
        BatchError::Failed {
            first_guest_index: 5,
            count: 3,
            error: invalidation(Errno::NOENT, None, 3),
        }
    );
    assert_eq!(e.error().refused_entry(), None);
    assert_eq!(sink.submissions().len(), 1, "nothing to re-send");
    // The script is spent: the next call is accepted.
    push_all(&mut batch, 5, &tlbis(5, 3));
    batch.flush().unwrap();
}

fn a_refusal_past_the_end_of_the_call_fails_it_as_a_whole<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_refuse(2, Errno::IO);
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    push_all(&mut batch, 0, &tlbis(0, 2));
    assert_eq!(
        batch.flush(),
        Err(BatchError::Failed {
            first_guest_index: 0,
            count: 2,
            error: invalidation(Errno::IO, None, 2),
        })
    );
}

fn a_dropped_batch_flushes_what_waits<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let sent = tlbis(0, 2);
    {
        let mut batch = InvalidationBatch::<_, 8>::new(&sink);
        push_all(&mut batch, 0, &sent);
    }
    assert_eq!(sink.accepted(), sent);
    // An empty batch sends nothing on drop, nor does a refused one complain.
    drop(InvalidationBatch::<_, 8>::new(&sink));
    sink.then_fail(Errno::NOMEM);
    {
        let mut batch = InvalidationBatch::<_, 8>::new(&sink);
        push_all(&mut batch, 0, &sent);
    }
    assert_eq!(sink.submissions().len(), 2);
}

fn clear_discards_what_waits<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    {
        let mut batch = InvalidationBatch::<_, 8>::new(&sink);
        push_all(&mut batch, 0, &tlbis(0, 3));
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.len(), 0);
        push_all(&mut batch, 3, &tlbis(3, 1));
    }
    // Only what came after the clear was sent (by the drop).
    assert_eq!(sink.accepted(), tlbis(3, 1));
}

fn an_owned_sink_lives_in_the_batch<F: Arm>() {
    // What a VMM keeps in its struct (there, a clone of the vIOMMU handle).
    struct Vmm<F: Arm> {
        batch: InvalidationBatch<RecordingSink<F>, 4>,
    }
    let mut vmm = Vmm::<F> {
        batch: InvalidationBatch::new(RecordingSink::new()),
    };
    push_all(&mut vmm.batch, 0, &tlbis(0, 5));
    vmm.batch.flush().unwrap();
    assert_eq!(vmm.batch.sink().accepted(), tlbis(0, 5));
    assert_eq!(vmm.batch.sink().submissions().len(), 2);
}

/// A sink that allocates nothing: refuses entry `refuse` of its first call, then
/// accepts; counts calls.
struct Quiet<F> {
    refuse: Option<u32>,
    calls: Cell<u32>,
    family: core::marker::PhantomData<F>,
}

impl<F: Arm> InvalidationSink for Quiet<F> {
    type Family = F;

    fn submit(&self, entries: &[Cmd]) -> Result<()> {
        self.calls.set(self.calls.get() + 1);
        match self.refuse {
            Some(k) if self.calls.get() == 1 => {
                Err(invalidation(Errno::IO, Some(k), entries.len() as u32))
            }
            _ => Ok(()),
        }
    }
}

fn the_batch_allocates_nothing_on_any_path<F: Arm>() {
    let entries = tlbis(0, 6);
    for refuse in [None, Some(2)] {
        let sink = Quiet::<F> {
            refuse,
            calls: Cell::new(0),
            family: core::marker::PhantomData,
        };
        let (result, n) = allocations(|| {
            let mut batch = InvalidationBatch::<_, 4>::new(&sink);
            // Push 5 flushes (the first call: refused when asked, then re-sent).
            for (i, e) in entries.iter().enumerate() {
                let _ = batch.push(i as u32, *e);
            }
            let flushed = batch.flush();
            push_all(&mut batch, 9, &entries[..1]); // sent by the drop
            flushed
        });
        assert_eq!(n, 0, "refuse {refuse:?}");
        assert_eq!(result, Ok(()));
        assert_eq!(sink.calls.get(), 3 + u32::from(refuse.is_some()));
    }
}
