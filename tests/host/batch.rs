// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The SMMUv3 batch's sorting of a guest queue, on a batch whose iommufd is
//! `/dev/null`: queuing, stopping points and guest indices need no kernel, and any
//! flush with entries reaches the "kernel" and fails with ENOTTY, which shows exactly
//! where the batch made its ioctl. (Flushes against real drivers: the kernel tiers.)

use crate::alloc_count::allocations;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{CommandError, CommandRules, SmmuCaps, StreamSpan, command as cmd};
use iommufd::batch::{BatchError, Drain, InvalidationBatch, Step};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate};
use iommufd::{Error, IommuFd, ViommuId};
use proptest::prelude::*;
use rustix::io::Errno;
use zerocopy::IntoBytes;

fn null() -> IommuFd {
    IommuFd::open_path("/dev/null").unwrap()
}

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

fn raw(c: IommuViommuArmSmmuv3Invalidate) -> [u8; 16] {
    c.as_bytes().try_into().unwrap()
}

const VSID: u32 = 0x42;

fn has_vdevice(sid: u32) -> bool {
    sid == VSID
}

/// ENOTTY from /dev/null: the flush made its ioctl.
#[track_caller]
fn reached_the_kernel(e: BatchError, first: u32, n: u32) {
    match e {
        BatchError::Failed {
            first_guest_index,
            count,
            error: Error::Invalidation { errno, refused, .. },
        } => {
            assert_eq!((first_guest_index, count), (first, n));
            assert_eq!((errno, refused), (Errno::NOTTY, None));
        }
        other => panic!("expected the flush's ioctl to fail, got {other:?}"),
    }
}

#[test]
fn a_drain_queues_tlbis_skips_prefetches_and_numbers_them_from_first_index() {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
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
    // Guest indices wrap like the VMM's own counter.
    batch.clear();
    assert!(batch.is_empty());
    batch
        .push_guest_commands(u32::MAX, &queue[..2], &rules, has_vdevice)
        .unwrap();
    assert_eq!(batch.guest_indices(), &[u32::MAX, 0]);
}

#[test]
fn a_drain_stops_after_each_command_the_vmm_handles() {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
    let queue = [
        raw(cmd::sync()),
        raw(cmd::cfgi_ste(VSID, true)),
        raw(cmd::command(0x04 | (0x43 << 32), 31)), // CFGI_ALL
        raw(cmd::tlbi_nh_all()),
    ];
    // An empty batch flushes without an ioctl.
    assert_eq!(
        batch.push_guest_commands(0, &queue, &rules, has_vdevice),
        Ok(Drain::Synced { guest_index: 0 })
    );
    assert_eq!(
        batch.push_guest_commands(1, &queue[1..], &rules, has_vdevice),
        Ok(Drain::ReloadStes {
            guest_index: 1,
            span: StreamSpan::Range {
                first: VSID,
                count: 1
            }
        })
    );
    assert_eq!(
        batch.push_guest_commands(2, &queue[2..], &rules, has_vdevice),
        Ok(Drain::ReloadStes {
            guest_index: 2,
            span: StreamSpan::All
        })
    );
    assert!(
        batch.is_empty(),
        "the commands after a stop wait for the next call"
    );
    assert_eq!(
        batch.push_guest_commands(3, &[], &rules, has_vdevice),
        Ok(Drain::End)
    );
}

#[test]
fn a_drain_flushes_before_a_sync_or_an_illegal_command_and_names_the_guest_index() {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
    // Two TLBIs then CMD_SYNC: the sync's flush is the ioctl.
    let queue = [
        raw(cmd::tlbi_nh_all()),
        raw(cmd::tlbi_nh_asid(1)),
        raw(cmd::sync()),
    ];
    let e = batch
        .push_guest_commands(5, &queue, &rules, has_vdevice)
        .unwrap_err();
    reached_the_kernel(e, 5, 2);
    assert!(batch.is_empty(), "a failed flush drops the batch");
    // An illegal command on an empty batch: refused without an ioctl, named.
    let queue = [raw(cmd::command(0x20, 0)), raw(cmd::tlbi_nh_all())];
    assert_eq!(
        batch.push_guest_commands(7, &queue, &rules, has_vdevice),
        Err(BatchError::Illegal {
            guest_index: 7,
            cause: CommandError::Opcode(0x20)
        })
    );
    // CFGI_CD for a StreamID without a vDEVICE, after a TLBI: the TLBI's flush
    // comes first (and fails here), so the guest learns the earliest failure.
    let queue = [raw(cmd::tlbi_nh_all()), raw(cmd::cfgi_cd(0x43, 0, true))];
    let e = batch
        .push_guest_commands(9, &queue, &rules, has_vdevice)
        .unwrap_err();
    reached_the_kernel(e, 9, 1);
}

#[test]
fn a_full_batch_flushes_before_taking_more() {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 4>::for_viommu_id(&fd, ViommuId::from_raw(1));
    let queue = [raw(cmd::tlbi_nh_all()); 5];
    let e = batch
        .push_guest_commands(0, &queue, &rules, has_vdevice)
        .unwrap_err();
    reached_the_kernel(e, 0, 4);
    // The same through one-by-one pushes.
    for (i, c) in queue[..4].iter().enumerate() {
        assert_eq!(
            batch.push_guest_command(i as u32, c, &rules, has_vdevice),
            Ok(Step::Queued)
        );
    }
    let e = batch
        .push_guest_command(4, &queue[4], &rules, has_vdevice)
        .unwrap_err();
    reached_the_kernel(e, 0, 4);
}

#[test]
fn a_short_command_is_refused_with_its_length() {
    let fd = null();
    let mut batch = InvalidationBatch::<Smmuv3, 4>::for_viommu_id(&fd, ViommuId::from_raw(1));
    assert_eq!(
        batch.push_guest_command(3, &[0x10; 15], &qemu_rules(), has_vdevice),
        Err(BatchError::Illegal {
            guest_index: 3,
            cause: CommandError::Length(15)
        })
    );
}

/// Guest commands of every kind the batch sorts differently.
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

/// What a VMM sees draining `queue`: each stop, then the batch's contents.
type Outcome = (
    Vec<Result<(u32, String), BatchError>>,
    Vec<IommuViommuArmSmmuv3Invalidate>,
    Vec<u32>,
);

fn one_by_one(queue: &[[u8; 16]]) -> Outcome {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
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
    (
        stops,
        batch.entries().to_vec(),
        batch.guest_indices().to_vec(),
    )
}

fn as_slices(queue: &[[u8; 16]]) -> Outcome {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
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
    (
        stops,
        batch.entries().to_vec(),
        batch.guest_indices().to_vec(),
    )
}

proptest! {
    #[test]
    fn draining_a_slice_does_what_pushing_one_by_one_does(
        queue in proptest::collection::vec(guest_command(), 0..40),
    ) {
        prop_assert_eq!(as_slices(&queue), one_by_one(&queue));
    }
}

#[test]
fn sorting_a_guest_queue_allocates_nothing() {
    let fd = null();
    let rules = qemu_rules();
    let mut batch = InvalidationBatch::<Smmuv3, 8>::for_viommu_id(&fd, ViommuId::from_raw(1));
    let tlbis = [raw(cmd::tlbi_nh_va(1, 0x1000, true)); 6];
    let illegal = raw(cmd::command(0x20, 0));
    let sync = raw(cmd::sync());
    let (results, n) = allocations(|| {
        let queued = batch.push_guest_commands(0, &tlbis, &rules, has_vdevice);
        batch.clear();
        let refused = batch.push_guest_command(6, &illegal, &rules, has_vdevice);
        batch
            .push_guest_commands(7, &tlbis[..2], &rules, has_vdevice)
            .unwrap();
        let failed = batch.push_guest_command(9, &sync, &rules, has_vdevice);
        (queued, refused, failed)
    });
    assert_eq!(results.0, Ok(Drain::End));
    assert!(matches!(
        results.1,
        Err(BatchError::Illegal { guest_index: 6, .. })
    ));
    reached_the_kernel(results.2.unwrap_err(), 7, 2);
    assert_eq!(n, 0);
}
