// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's event queue: record layouts, ring writes with wrap, overflow and its
//! acknowledgement, a write fault, the kernel's sequence numbers tracked across
//! reads (gaps, markers, wrap at i32::MAX), forwarding without allocation, and no
//! panic whatever the registers and the vEVENTQ bytes hold.

use crate::alloc_count::allocations;
use crate::vsmmu_ram::Ram;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::EventId;
use iommufd::states::VEventEntries;
use iommufd::uapi::{IommuVeventArmSmmuv3, IommufdVeventHeader, VeventFlags};
use iommufd::vsmmu::{
    EventOutcome, EventQueueAbort, EventRecord, GuestEventQueue, GuestMemoryFault, SequenceTracker,
    VEventItem, VEventPump,
};
use proptest::prelude::*;
use zerocopy::IntoBytes;
use zerocopy::little_endian::U64;

const EVTQ: u64 = 0x8000_0000;
const OVFLG: u32 = GuestEventQueue::PROD_OVFLG;
const OVACK: u32 = GuestEventQueue::CONS_OVACKFLG;

#[test]
fn model_records_follow_the_spec_layout() {
    // Word 0: EVENT_ID 7:0, StreamID 63:32 (§7.3; Linux EVTQ_0_ID, EVTQ_0_SID).
    let r = EventRecord::bad_stream_id(0xdead_beef);
    assert_eq!(r.words(), [0xdead_beef_0000_0002, 0, 0, 0]);
    assert_eq!((r.id(), r.stream_id()), (EventId::BadStreamId, 0xdead_beef));
    let r = EventRecord::bad_ste(7);
    assert_eq!(r.words(), [0x7_0000_0004, 0, 0, 0]);
    assert_eq!(r.id(), EventId::BadSte);
    // F_STE_FETCH: FetchAddr in word 3, bits 51:3 (Linux EVTQ_3_FETCH_ADDR).
    let r = EventRecord::ste_fetch(9, 0xffff_8000_1234_567f);
    // Bits 63:52 and 2:0 of the address are not reported.
    assert_eq!(r.words(), [0x9_0000_0003, 0, 0, 0xf_8000_1234_5678]);
    assert_eq!(
        (r.id(), r.fetch_address()),
        (EventId::SteFetch, 0xf_8000_1234_5678)
    );
    let e = r.decode();
    assert_eq!(
        (e.id, e.stream_id, e.substream_id),
        (EventId::SteFetch, 9, None)
    );
    // Bytes are little-endian words; round trip.
    let bytes = r.to_bytes();
    assert_eq!(&bytes[..8], &0x9_0000_0003u64.to_le_bytes());
    assert_eq!(EventRecord::from_bytes(bytes), r);
    assert_eq!(EventRecord::SIZE, 32);
}

#[test]
fn kernel_records_pass_through_unchanged() {
    let words = [0x42_0000_1810, 1 << 35, 0xdead_0000, 0x1234_5000];
    let vevent = IommuVeventArmSmmuv3 {
        evt: words.map(U64::new),
    };
    let record = EventRecord::from(vevent);
    assert_eq!(record.words(), words);
    assert_eq!(record.to_bytes().as_slice(), vevent.as_bytes());
    assert_eq!(IommuVeventArmSmmuv3::from(record), vevent);
    let e = record.decode();
    assert_eq!(
        (e.id, e.stream_id, e.read),
        (EventId::Translation, 0x42, true)
    );
}

/// A 4-entry queue at EVTQ, in RAM that holds it.
fn queue4() -> (Ram, GuestEventQueue) {
    (
        Ram::new(EVTQ, 0x1000),
        GuestEventQueue::from_base(EVTQ | 2, 19),
    )
}

fn rec(n: u32) -> EventRecord {
    EventRecord::bad_ste(n)
}

#[test]
fn records_fill_the_ring_and_wrap() {
    let (ram, q) = queue4();
    assert_eq!((q.ring().base(), q.ring().log2size()), (EVTQ, 2));
    let mut prod = 0;
    let cons = 0;
    for n in 0..4 {
        let out = q.write(&ram, prod, cons, &rec(n)).unwrap();
        assert!(matches!(out, EventOutcome::Recorded { .. }) && out.interrupt());
        prod = out.prod();
    }
    // Full: index 0, wrap bit set.
    assert_eq!(prod, 0b100);
    for n in 0..4 {
        assert_eq!(ram.get::<32>(EVTQ + 32 * n as u64), rec(n).to_bytes());
    }
    // The guest consumes two; two more go into slots 0 and 1, wrapped.
    let cons = 0b010;
    for n in 4..6 {
        prod = q.write(&ram, prod, cons, &rec(n)).unwrap().prod();
    }
    assert_eq!(prod, 0b110);
    assert_eq!(ram.get::<32>(EVTQ), rec(4).to_bytes());
    assert_eq!(ram.get::<32>(EVTQ + 32), rec(5).to_bytes());
    assert!(q.ring().is_full(prod, cons));
    // A one-entry queue: the wrap bit alone.
    let one = GuestEventQueue::from_base(EVTQ, 19);
    let p = one.write(&ram, 0, 0, &rec(0)).unwrap().prod();
    assert_eq!(p, 1);
    assert!(matches!(
        one.write(&ram, p, 0, &rec(1)),
        Ok(EventOutcome::Dropped { .. })
    ));
    assert_eq!(one.write(&ram, p, 1, &rec(1)).unwrap().prod(), 0);
}

#[test]
fn a_full_queue_signals_overflow_once_until_acknowledged() {
    let (ram, q) = queue4();
    let full = 0b100;
    // First drop toggles OVFLG (OVFLG == OVACKFLG == 0).
    let out = q.write(&ram, full, 0, &rec(9)).unwrap();
    assert_eq!(
        out,
        EventOutcome::Dropped {
            prod: full | OVFLG,
            overflow_signalled: true
        }
    );
    assert!(out.interrupt());
    assert!(GuestEventQueue::overflowed(out.prod(), 0));
    // Still full, not acknowledged: dropped silently.
    let out = q.write(&ram, full | OVFLG, 0, &rec(9)).unwrap();
    assert_eq!(
        out,
        EventOutcome::Dropped {
            prod: full | OVFLG,
            overflow_signalled: false
        }
    );
    assert!(!out.interrupt());
    // Nothing was written over the guest's unread records.
    assert_eq!(ram.get::<32>(EVTQ), [0; 32]);
    // The guest drains everything and acknowledges (OVACKFLG = OVFLG): recording
    // resumes, OVFLG stays as it is.
    let cons = 0b100 | OVACK;
    assert!(!GuestEventQueue::overflowed(full | OVFLG, cons));
    let prod = q.write(&ram, full | OVFLG, cons, &rec(1)).unwrap().prod();
    assert_eq!(prod, 0b101 | OVFLG);
    // The next overflow toggles OVFLG back to 0.
    let mut prod = prod;
    for n in 2..5 {
        prod = q.write(&ram, prod, cons, &rec(n)).unwrap().prod();
    }
    assert_eq!(prod, OVFLG);
    let out = q.write(&ram, prod, cons, &rec(5)).unwrap();
    assert_eq!(
        out,
        EventOutcome::Dropped {
            prod: 0,
            overflow_signalled: true
        }
    );
    // signal_overflow alone (the kernel lost events), same rule.
    assert_eq!(q.signal_overflow(0b001, 0), (0b001 | OVFLG, true));
    assert_eq!(q.signal_overflow(0b001 | OVFLG, 0), (0b001 | OVFLG, false));
    assert_eq!(q.signal_overflow(0b001 | OVFLG, OVACK), (0b001, true));
}

#[test]
fn prod_bits_outside_wr_and_ovflg_are_dropped() {
    let (ram, q) = queue4();
    // Bits 30:3 are not part of a 4-entry queue's PROD.
    let out = q.write(&ram, 0x7fff_fff8 | 0b011, 0, &rec(0)).unwrap();
    assert_eq!(out.prod(), 0b100);
    assert_eq!(ram.get::<32>(EVTQ + 3 * 32), rec(0).to_bytes());
}

#[test]
fn a_write_fault_is_eventq_abt_err_and_prod_does_not_move() {
    let ram = Ram::new(EVTQ, 0x1000).hole(EVTQ + 32..EVTQ + 33);
    let q = GuestEventQueue::from_base(EVTQ | 2, 19);
    let prod = q.write(&ram, 0, 0, &rec(0)).unwrap().prod();
    let err = q.write(&ram, prod, 0, &rec(1)).unwrap_err();
    assert_eq!((err.prod, err.address), (1, EVTQ + 32));
    assert_eq!(err.source.fault, GuestMemoryFault::Unmapped);
    assert_eq!(EventQueueAbort::GERROR_BIT, 1 << 2);
    // A queue outside guest RAM altogether.
    let nowhere = GuestEventQueue::from_base(0x10_0000_0000, 19);
    assert!(nowhere.write(&ram, 0, 0, &rec(0)).is_err());
}

#[test]
fn the_tracker_counts_gaps_and_markers() {
    let mut t = SequenceTracker::new();
    assert_eq!(t.expected(), 0);
    assert_eq!((t.record(0), t.record(1), t.record(2)), (0, 0, 0));
    // 3 and 4 lost.
    assert_eq!(t.record(5), 2);
    // The queue overflowed once: the marker carries the lost event's number.
    assert_eq!(t.lost_marker(6), 1);
    assert_eq!(t.record(7), 0);
    // Three drops in a row re-queue the marker with the last one's number.
    assert_eq!(t.lost_marker(10), 3);
    // Read across two reads: the marker of 11 was read, then 12 dropped too.
    assert_eq!(t.lost_marker(11), 1);
    assert_eq!(t.lost_marker(12), 1);
    assert_eq!(t.record(13), 0);
    assert_eq!((t.records(), t.lost(), t.lost_markers()), (6, 8, 4));
    assert_eq!(t.expected(), 14);
}

#[test]
fn the_tracker_wraps_at_i32_max() {
    let max = i32::MAX as u32;
    let mut t = SequenceTracker::new();
    assert_eq!(t.record(max - 1), max - 1);
    assert_eq!(t.record(max), 0);
    assert_eq!(t.expected(), 0);
    assert_eq!(t.record(0), 0);
    assert_eq!(t.record(2), 1);
    // A gap across the wrap: MAX - 1 then 1 loses MAX and 0.
    let mut t = SequenceTracker::new();
    t.record(max - 1);
    assert_eq!(t.record(1), 2);
    // A marker right at the wrap.
    let mut t = SequenceTracker::new();
    t.record(max - 1);
    assert_eq!(t.lost_marker(max), 1);
    assert_eq!(t.record(0), 0);
    // Bit 31 never comes from the kernel; it is masked, no panic.
    let mut t = SequenceTracker::new();
    assert_eq!(t.record(0x8000_0000), 0);
    assert_eq!(t.lost_marker(u32::MAX), max);
}

/// The bytes of one vEVENTQ read: `(sequence, Some(record))` or `(sequence, None)`
/// for a lost-events marker.
fn read_bytes(entries: &[(u32, Option<EventRecord>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(sequence, record) in entries {
        let flags = match record {
            Some(_) => 0,
            None => VeventFlags::LOST_EVENTS.bits(),
        };
        out.extend_from_slice(IommufdVeventHeader { flags, sequence }.as_bytes());
        if let Some(r) = record {
            out.extend_from_slice(&r.to_bytes());
        }
    }
    out
}

fn kernel_record(vsid: u32, n: u64) -> EventRecord {
    EventRecord::from_words([(u64::from(vsid) << 32) | 0x10, 1 << 35, 0x1000 * n, 0])
}

#[test]
fn tracked_items_carry_the_losses() {
    let bytes = read_bytes(&[
        (0, Some(kernel_record(1, 0))),
        (3, Some(kernel_record(1, 3))),
        (4, None),
    ]);
    let mut t = SequenceTracker::new();
    let items: Vec<_> = t.track(VEventEntries::<Smmuv3>::new(&bytes)).collect();
    assert_eq!(items.len(), 3);
    assert!(matches!(
        items[0],
        VEventItem::Record { lost_before: 0, .. }
    ));
    assert!(matches!(
        items[1],
        VEventItem::Record { lost_before: 2, .. }
    ));
    assert_eq!(items[2], VEventItem::Lost { count: 1 });
    assert_eq!((t.records(), t.lost(), t.expected()), (2, 3, 5));
}

#[test]
fn forwarding_writes_kernel_records_and_signals_their_losses() {
    let (ram, q) = queue4();
    let mut t = SequenceTracker::new();
    // First read: two records in order.
    let bytes = read_bytes(&[
        (0, Some(kernel_record(7, 0))),
        (1, Some(kernel_record(7, 1))),
    ]);
    let f = q.forward(&ram, 0, 0, t.track(VEventEntries::new(&bytes)));
    assert_eq!((f.prod, f.written, f.dropped, f.lost), (2, 2, 0, 0));
    assert!(f.interrupt() && !f.overflow_signalled && f.abort.is_none());
    assert_eq!(ram.get::<32>(EVTQ + 32), kernel_record(7, 1).to_bytes());
    // Second read: sequence 4 after 1 (2 and 3 lost): OVFLG, then the record.
    let bytes = read_bytes(&[(4, Some(kernel_record(7, 4)))]);
    let f = q.forward(&ram, f.prod, 0, t.track(VEventEntries::new(&bytes)));
    assert_eq!((f.prod, f.written, f.lost), (3 | OVFLG, 1, 2));
    assert!(f.overflow_signalled);
    // Third read: a record fills the queue, the next is dropped, then a marker; the
    // overflow is outstanding, so OVFLG does not toggle again.
    let bytes = read_bytes(&[
        (5, Some(kernel_record(7, 5))),
        (6, Some(kernel_record(7, 6))),
        (7, None),
    ]);
    let f = q.forward(&ram, f.prod, 0, t.track(VEventEntries::new(&bytes)));
    assert_eq!(
        (f.prod, f.written, f.dropped, f.lost),
        (0b100 | OVFLG, 1, 1, 1)
    );
    assert!(!f.overflow_signalled && f.interrupt());
    assert_eq!((t.records(), t.lost(), t.lost_markers()), (5, 3, 1));
    // An empty read.
    let f = q.forward(&ram, f.prod, 0, t.track(VEventEntries::new(&[])));
    assert!(f.is_empty() && !f.interrupt());
}

#[test]
fn forwarding_stops_writing_after_a_fault_but_tracks_everything() {
    let ram = Ram::new(EVTQ, 0x1000).hole(EVTQ + 32..EVTQ + 64);
    let q = GuestEventQueue::from_base(EVTQ | 2, 19);
    let mut t = SequenceTracker::new();
    let bytes = read_bytes(&[
        (0, Some(kernel_record(1, 0))),
        (1, Some(kernel_record(1, 1))),
        (2, Some(kernel_record(1, 2))),
        (5, Some(kernel_record(1, 5))),
    ]);
    let f = q.forward(&ram, 0, 0, t.track(VEventEntries::new(&bytes)));
    assert_eq!((f.prod, f.written, f.dropped, f.lost), (1 | OVFLG, 1, 3, 2));
    let abort = f.abort.unwrap();
    assert_eq!((abort.prod, abort.address), (1, EVTQ + 32));
    assert_eq!(t.expected(), 6);
}

#[test]
fn forwarding_allocates_nothing() {
    let (ram, q) = queue4();
    let mut t = SequenceTracker::new();
    let bytes = read_bytes(&[
        (0, Some(kernel_record(1, 0))),
        (2, Some(kernel_record(1, 2))),
        (3, None),
    ]);
    let (f, n) = allocations(|| q.forward(&ram, 0, 0, t.track(VEventEntries::new(&bytes))));
    assert_eq!((f.written, f.lost), (2, 2));
    assert_eq!(n, 0, "forwarding allocated");
    let (_, n) = allocations(|| {
        let _ = q.write(&ram, f.prod, 0, &EventRecord::bad_stream_id(3));
    });
    assert_eq!(n, 0, "a write allocated");
}

#[test]
fn a_pump_buffer_of_entry_bytes_holds_one_event() {
    assert_eq!(VEventPump::ENTRY_BYTES, 40);
}

proptest! {
    #[test]
    fn writes_never_panic_and_keep_prod_clean(
        base in any::<u64>(),
        max_log2size in 0u8..=19,
        prod in any::<u32>(),
        cons in any::<u32>(),
        words in any::<[u64; 4]>(),
    ) {
        let ram = Ram::new(base & 0xf_ffff_ffe0, 0x1000);
        let q = GuestEventQueue::from_base(base, max_log2size);
        let clean = q.ring().index_mask() | OVFLG;
        match q.write(&ram, prod, cons, &EventRecord::from_words(words)) {
            Ok(out) => prop_assert_eq!(out.prod() & !clean, 0),
            Err(abort) => prop_assert_eq!(abort.prod, prod & clean),
        }
    }

    #[test]
    fn forwarding_never_panics_whatever_the_kernel_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        prod in any::<u32>(),
        cons in any::<u32>(),
        log2size in 0u64..4,
    ) {
        let ram = Ram::new(EVTQ, 0x1000);
        let q = GuestEventQueue::from_base(EVTQ | log2size, 19);
        let mut t = SequenceTracker::new();
        let records = t.track(VEventEntries::<Smmuv3>::new(&bytes))
            .filter(|i| matches!(i, VEventItem::Record { .. }))
            .count() as u32;
        let mut t = SequenceTracker::new();
        let f = q.forward(&ram, prod, cons, t.track(VEventEntries::new(&bytes)));
        prop_assert_eq!(f.written + f.dropped, records);
        prop_assert_eq!(f.prod & !(q.ring().index_mask() | OVFLG), 0);
        prop_assert_eq!(f.lost, t.lost());
    }
}
