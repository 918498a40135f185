// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The SMMUv3 guest-command drain, for both families that speak its commands:
//! its sorting of a guest queue, its stops, and the flushes it makes, through the
//! recording fake; and, on a batch whose iommufd is `/dev/null`, that the id-level
//! sink reaches the kernel (ENOTTY) exactly where the drain flushes, without
//! allocating.

use crate::alloc_count::allocations;
use crate::arm_families::{Arm, for_both};
use iommufd::arch::smmuv3::{
    CommandError, CommandRules, Drain, DrainError, SmmuCaps, Step, StreamSpan, command as cmd,
};
use iommufd::batch::{BatchError, InvalidationBatch, RecordingSink, VIommuIdSink};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate as Cmd};
use iommufd::{Error, IommuFd, VIommuId};
use proptest::prelude::*;
use rustix::io::Errno;
use zerocopy::IntoBytes;

for_both!(
    a_drain_queues_tlbis_skips_prefetches_and_numbers_them_from_first_index,
    a_sync_sends_the_tlbis_before_it_in_one_call,
    a_drain_stops_after_each_command_the_vmm_handles,
    an_illegal_command_is_named_after_the_ones_before_it_are_sent,
    a_full_batch_flushes_during_a_drain,
    a_refusal_at_the_sync_names_the_guest_command,
    the_earliest_failure_is_the_one_the_guest_hears_of,
    a_short_command_is_refused_with_its_length,
);

fn qemu_rules() -> CommandRules {
    CommandRules::new(&SmmuCaps::decode(
        &IommuHwInfoArmSmmuv3 {
            idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
            aidr: 1,
            ..Default::default()
        },
        HwCapabilities::empty(),
    ))
}

fn raw(c: Cmd) -> [u8; 16] {
    c.as_bytes().try_into().unwrap()
}

const VSID: u32 = 0x42;

fn has_vdevice(sid: u32) -> bool {
    sid == VSID
}

fn a_drain_queues_tlbis_skips_prefetches_and_numbers_them_from_first_index<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let tlbis = [
        cmd::tlbi_nh_va(3, 0x4000_0000, true),
        cmd::tlbi_nh_all(),
        cmd::cfgi_cd(VSID, 0, true),
        cmd::tlbi_nh_asid(3),
    ];
    let queue = [
        raw(tlbis[0]),
        raw(tlbis[1]),
        raw(cmd::command(0x01, 0)), // PREFETCH_CONFIG
        raw(tlbis[2]),
        raw(tlbis[3]),
    ];
    let drain = batch
        .push_guest_commands(10, &queue, &rules, has_vdevice)
        .unwrap();
    assert_eq!(drain, Drain::End);
    assert_eq!(batch.entries(), &tlbis);
    assert_eq!(batch.guest_indices(), &[10, 11, 13, 14]);
    assert!(sink.submissions().is_empty(), "no sync, nothing sent yet");
    // Guest indices wrap like the VMM's own counter.
    batch.clear();
    batch
        .push_guest_commands(u32::MAX, &queue[..2], &rules, has_vdevice)
        .unwrap();
    assert_eq!(batch.guest_indices(), &[u32::MAX, 0]);
    // The queue drained: the VMM flushes what waits.
    batch.flush().unwrap();
    assert_eq!(sink.accepted(), tlbis[..2]);
}

fn a_sync_sends_the_tlbis_before_it_in_one_call<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let tlbis = [cmd::tlbi_nh_va(3, 0x4000_0000, true), cmd::tlbi_nh_asid(1)];
    let queue = [
        raw(tlbis[0]),
        raw(tlbis[1]),
        raw(cmd::sync()),
        raw(tlbis[0]),
    ];
    assert_eq!(
        batch.push_guest_commands(5, &queue, &rules, has_vdevice),
        Ok(Drain::Synced { guest_index: 7 })
    );
    assert!(batch.is_empty(), "the command after the sync waits");
    let calls = sink.submissions();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].entries, tlbis);
    // One by one, the same.
    for (i, c) in queue[..2].iter().enumerate() {
        let step = batch.push_guest_command(i as u32, c, &rules, has_vdevice);
        assert_eq!(step, Ok(Step::Queued));
    }
    let step = batch.push_guest_command(2, &queue[2], &rules, has_vdevice);
    assert_eq!(step, Ok(Step::Synced));
    assert_eq!(sink.accepted(), [tlbis, tlbis].concat());
}

fn a_drain_stops_after_each_command_the_vmm_handles<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let queue = [
        raw(cmd::sync()),
        raw(cmd::tlbi_nh_all()),
        raw(cmd::cfgi_ste(VSID, true)),
        raw(cmd::command(0x04 | (0x43 << 32), 31)), // CFGI_ALL
        raw(cmd::tlbi_nh_all()),
    ];
    // A sync on an empty batch sends nothing.
    assert_eq!(
        batch.push_guest_commands(0, &queue, &rules, has_vdevice),
        Ok(Drain::Synced { guest_index: 0 })
    );
    assert!(sink.submissions().is_empty());
    // CFGI_STE: the TLBI before it is sent first, then the VMM reloads the STE.
    assert_eq!(
        batch.push_guest_commands(1, &queue[1..], &rules, has_vdevice),
        Ok(Drain::ReloadStes {
            guest_index: 2,
            span: StreamSpan::Range {
                first: VSID,
                count: 1
            }
        })
    );
    assert_eq!(sink.accepted(), [cmd::tlbi_nh_all()]);
    assert_eq!(
        batch.push_guest_commands(3, &queue[3..], &rules, has_vdevice),
        Ok(Drain::ReloadStes {
            guest_index: 3,
            span: StreamSpan::All
        })
    );
    assert!(
        batch.is_empty(),
        "the commands after a stop wait for the next call"
    );
    assert_eq!(
        batch.push_guest_commands(4, &[], &rules, has_vdevice),
        Ok(Drain::End)
    );
    assert_eq!(sink.submissions().len(), 1);
}

fn an_illegal_command_is_named_after_the_ones_before_it_are_sent<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let queue = [
        raw(cmd::tlbi_nh_all()),
        raw(cmd::command(0x20, 0)),
        raw(cmd::tlbi_nh_all()),
    ];
    assert_eq!(
        batch.push_guest_commands(7, &queue, &rules, has_vdevice),
        Err(DrainError::Illegal {
            guest_index: 8,
            cause: CommandError::Opcode(0x20)
        })
    );
    assert_eq!(sink.accepted(), [cmd::tlbi_nh_all()], "sent, then refused");
    assert!(batch.is_empty());
    // CFGI_CD for a StreamID without a vDEVICE.
    let e = batch
        .push_guest_command(9, &raw(cmd::cfgi_cd(0x43, 0, true)), &rules, has_vdevice)
        .unwrap_err();
    assert!(matches!(e, DrainError::Illegal { guest_index: 9, .. }));
    assert_eq!(e.guest_index(), 9);
}

fn a_full_batch_flushes_during_a_drain<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 4>::new(&sink);
    let mut queue = vec![raw(cmd::tlbi_nh_all()); 9];
    queue.push(raw(cmd::sync()));
    assert_eq!(
        batch.push_guest_commands(0, &queue, &rules, has_vdevice),
        Ok(Drain::Synced { guest_index: 9 })
    );
    let sizes: Vec<usize> = sink.submissions().iter().map(|s| s.entries.len()).collect();
    assert_eq!(sizes, [4, 4, 1]);
}

fn a_refusal_at_the_sync_names_the_guest_command<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    sink.then_refuse(2, Errno::IO);
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let tlbis: Vec<Cmd> = (0..4).map(cmd::tlbi_nh_asid).collect();
    let mut queue: Vec<[u8; 16]> = tlbis.iter().map(|c| raw(*c)).collect();
    queue.push(raw(cmd::sync()));
    let e = batch
        .push_guest_commands(100, &queue, &rules, has_vdevice)
        .unwrap_err();
    assert!(
        matches!(
            e,
            DrainError::Batch(BatchError::Refused {
                guest_index: 102,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(e.guest_index(), 102);
    // The ARM recovery: the two before the refused one went again.
    assert_eq!(sink.accepted(), tlbis[..2]);
}

fn the_earliest_failure_is_the_one_the_guest_hears_of<F: Arm>() {
    // A TLBI, then an illegal command: the TLBI's flush comes first, and fails.
    let sink = RecordingSink::<F>::new();
    sink.then_fail(Errno::NOMEM);
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let queue = [raw(cmd::tlbi_nh_all()), raw(cmd::command(0x20, 0))];
    assert!(matches!(
        batch.push_guest_commands(9, &queue, &rules, has_vdevice),
        Err(DrainError::Batch(BatchError::Failed {
            first_guest_index: 9,
            count: 1,
            ..
        }))
    ));
}

fn a_short_command_is_refused_with_its_length<F: Arm>() {
    let sink = RecordingSink::<F>::new();
    let mut batch = InvalidationBatch::<_, 4>::new(&sink);
    assert_eq!(
        batch.push_guest_command(3, &[0x10; 15], &qemu_rules(), has_vdevice),
        Err(DrainError::Illegal {
            guest_index: 3,
            cause: CommandError::Length(15)
        })
    );
}

/// Guest commands of every kind the drain sorts differently.
fn guest_command() -> impl Strategy<Value = [u8; 16]> {
    prop_oneof![
        6 => (any::<u16>(), any::<u64>()).prop_map(|(asid, va)| raw(cmd::tlbi_nh_va(asid, va, true))),
        2 => Just(raw(cmd::tlbi_nh_all())),
        1 => Just(raw(cmd::cfgi_cd(VSID, 0, true))),
        1 => Just(raw(cmd::cfgi_cd(VSID + 1, 0, true))),
        1 => Just(raw(cmd::command(0x02, 0))),
        1 => Just(raw(cmd::cfgi_ste(VSID, false))),
        1 => Just(raw(cmd::sync())),
        1 => any::<[u8; 16]>(),
    ]
}

/// What a VMM sees draining `queue`: each stop, then what was sent and what waits.
type Outcome = (
    Vec<Result<(u32, String), DrainError>>,
    Vec<Cmd>,
    Vec<Cmd>,
    Vec<u32>,
);

fn one_by_one(queue: &[[u8; 16]]) -> Outcome {
    let sink = RecordingSink::<iommufd::arch::Smmuv3>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let mut stops = Vec::new();
    for (i, c) in queue.iter().enumerate() {
        match batch.push_guest_command(i as u32, c, &rules, has_vdevice) {
            Ok(Step::Queued | Step::Nothing) => {}
            Ok(step) => stops.push(Ok((i as u32, format!("{step:?}")))),
            Err(e) => {
                stops.push(Err(e));
                break;
            }
        }
    }
    let (waiting, indices) = (batch.entries().to_vec(), batch.guest_indices().to_vec());
    batch.clear();
    (stops, sink.accepted(), waiting, indices)
}

fn as_slices(queue: &[[u8; 16]]) -> Outcome {
    let sink = RecordingSink::<iommufd::arch::Smmuv3>::new();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let mut stops = Vec::new();
    let mut next = 0usize;
    loop {
        let at = match batch.push_guest_commands(next as u32, &queue[next..], &rules, has_vdevice) {
            Ok(Drain::End) => break,
            Ok(Drain::Synced { guest_index }) => {
                stops.push(Ok((guest_index, "Synced".to_string())));
                guest_index
            }
            Ok(Drain::ReloadStes { guest_index, span }) => {
                stops.push(Ok((guest_index, format!("ReloadStes({span:?})"))));
                guest_index
            }
            Err(e) => {
                stops.push(Err(e));
                break;
            }
        };
        next = at as usize + 1;
    }
    let (waiting, indices) = (batch.entries().to_vec(), batch.guest_indices().to_vec());
    batch.clear();
    (stops, sink.accepted(), waiting, indices)
}

proptest! {
    #[test]
    fn draining_a_slice_does_what_pushing_one_by_one_does(
        queue in proptest::collection::vec(guest_command(), 0..40),
    ) {
        prop_assert_eq!(as_slices(&queue), one_by_one(&queue));
    }
}

/// ENOTTY from /dev/null: the flush made its ioctl.
#[track_caller]
fn reached_the_kernel(e: DrainError, first: u32, n: u32) {
    match e {
        DrainError::Batch(BatchError::Failed {
            first_guest_index,
            count,
            error: Error::Invalidation { errno, refused, .. },
        }) => {
            assert_eq!((first_guest_index, count), (first, n));
            assert_eq!((errno, refused), (Errno::NOTTY, None));
        }
        other => panic!("expected the flush's ioctl to fail, got {other:?}"),
    }
}

#[test]
fn the_id_level_sink_reaches_the_kernel_where_the_drain_flushes_without_allocating() {
    let fd = IommuFd::open_path("/dev/null").unwrap();
    let rules = qemu_rules();
    let mut batch =
        InvalidationBatch::<VIommuIdSink<iommufd::arch::Tegra241Cmdqv>, 4>::for_viommu_id(
            &fd,
            VIommuId::from_raw(1),
        );
    assert_eq!(batch.sink().viommu(), VIommuId::from_raw(1));
    let tlbis = [raw(cmd::tlbi_nh_va(1, 0x1000, true)); 6];
    let illegal = raw(cmd::command(0x20, 0));
    let sync = raw(cmd::sync());
    let (results, n) = allocations(|| {
        let queued = batch.push_guest_commands(0, &tlbis[..3], &rules, has_vdevice);
        batch.clear();
        let refused = batch.push_guest_command(6, &illegal, &rules, has_vdevice);
        batch
            .push_guest_commands(7, &tlbis[..2], &rules, has_vdevice)
            .unwrap();
        let synced = batch.push_guest_command(9, &sync, &rules, has_vdevice);
        let full = batch.push_guest_commands(10, &tlbis, &rules, has_vdevice);
        batch.clear();
        (queued, refused, synced, full)
    });
    assert_eq!(results.0, Ok(Drain::End));
    assert!(matches!(
        results.1,
        Err(DrainError::Illegal { guest_index: 6, .. })
    ));
    reached_the_kernel(results.2.unwrap_err(), 7, 2);
    reached_the_kernel(results.3.unwrap_err(), 10, 4);
    assert_eq!(n, 0);
}
