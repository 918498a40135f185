// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Invalidation proven by effect: QEMU's SMMUv3 caches translations, so after the
//! guest changes a stage-1 entry, DMA keeps using the old one until an invalidation
//! reaches the SMMU. Each command kind the kernel forwards, sent through the crate's
//! batch, must make the next DMA follow the new mapping; and the ARM partial-failure
//! recovery must leave no stale translation behind.

use crate::alloc_count::allocations;
use crate::guest::*;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{CommandRules, Drain, DrainError, SmmuCaps, Step, command as cmd};
use iommufd::batch::BatchError;
use iommufd::states::{IoasReady, Nested, VIommuAllocated};
use iommufd::uapi::{IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate};
use iommufd::{Device, Error, IommuFd, VfioDevice};
use std::sync::Arc;
use zerocopy::IntoBytes;

const VSID: u64 = 0x42;
const ASID: u16 = 9;
const SRC: u64 = 0x5000_0000;
const PROBE: u64 = 0x6000_0000;
const PATTERN: u8 = 0x5a;

struct Rig {
    ram: GuestRam,
    viommu: VIommuAllocated<Smmuv3>,
    rules: CommandRules,
    _ioas: IoasReady,
    _fd: Arc<IommuFd>,
}

fn page(n: u64) -> u64 {
    DATA_IPA + n * PAGE
}

fn rig() -> (Rig, iommufd::states::VDeviceBound<Smmuv3, VfioDevice>) {
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = IoasReady::new(&fd).unwrap();
    let ram = GuestRam::new(&ioas);
    let dev = open_device(0)
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let (info, hw) = fd.hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let bound = viommu
        .bind(dev, VSID)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    (
        Rig {
            ram,
            viommu,
            rules: CommandRules::new(&SmmuCaps::decode(&info, hw.capabilities)),
            _ioas: ioas,
            _fd: fd,
        },
        bound,
    )
}

/// Installs `s1` and loads edu's buffer with the pattern through stage 1.
fn start(
    rig: &Rig,
    s1: &mut Stage1<'_>,
    bound: iommufd::states::VDeviceBound<Smmuv3, VfioDevice>,
) -> (Nested<Smmuv3, VfioDevice>, Edu) {
    s1.map(SRC, page(0));
    rig.ram.fill(page(0), PAGE as usize, PATTERN);
    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let edu = Edu::new(nested.device());
    edu.dma(SRC, EDU_BUFFER, 64);
    (nested, edu)
}

/// DMAs 8 bytes to `iova` and says which of `pages` received them.
fn lands(rig: &Rig, edu: &Edu, iova: u64, pages: &[u64]) -> Option<u64> {
    for &p in pages {
        rig.ram.fill(p, 64, 0);
    }
    edu.dma(EDU_BUFFER, iova, 8);
    pages
        .iter()
        .copied()
        .find(|&p| rig.ram.bytes(p, 8) == [PATTERN; 8])
}

/// The guest's queue: `commands`, then its CMD_SYNC.
fn guest_queue(commands: &[IommuViommuArmSmmuv3Invalidate]) -> Vec<[u8; 16]> {
    commands
        .iter()
        .chain([&cmd::sync()])
        .map(|c| c.as_bytes().try_into().unwrap())
        .collect()
}

/// Drains the guest's queue through the batch as a slice (the VMM's hot path).
fn guest_batch(rig: &Rig, commands: &[IommuViommuArmSmmuv3Invalidate]) {
    let queue = guest_queue(commands);
    let mut batch = rig.viommu.batch::<63>();
    let drain = batch
        .push_guest_commands(0, &queue, &rig.rules, |s| u64::from(s) == VSID)
        .unwrap();
    let sync = queue.len() as u32 - 1;
    assert_eq!(drain, Drain::Synced { guest_index: sync });
    assert!(batch.is_empty(), "CMD_SYNC flushes");
}

/// Drains the guest's queue through the batch one command at a time.
fn guest_batch_one_by_one(rig: &Rig, commands: &[IommuViommuArmSmmuv3Invalidate]) {
    let mut batch = rig.viommu.batch::<63>();
    for (i, raw) in guest_queue(commands).iter().enumerate() {
        let step = batch
            .push_guest_command(i as u32, raw, &rig.rules, |s| u64::from(s) == VSID)
            .unwrap();
        assert!(matches!(step, Step::Queued | Step::Synced), "{step:?}");
    }
    assert!(batch.is_empty(), "CMD_SYNC flushes");
}

/// Remaps PROBE from page 1 to page 2, shows DMA still using page 1 (the SMMU's
/// cached translation), sends `commands`, shows DMA following page 2.
fn remap_then_invalidate(commands: &[IommuViommuArmSmmuv3Invalidate]) {
    let (rig, bound) = rig();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    let (_nested, edu) = start(&rig, &mut s1, bound);
    assert_eq!(lands(&rig, &edu, PROBE, &[page(1), page(2)]), Some(page(1)));
    s1.map(PROBE, page(2));
    assert_eq!(
        lands(&rig, &edu, PROBE, &[page(1), page(2)]),
        Some(page(1)),
        "QEMU must serve the cached translation"
    );
    guest_batch(&rig, commands);
    assert_eq!(
        lands(&rig, &edu, PROBE, &[page(1), page(2)]),
        Some(page(2)),
        "the invalidation must reach the SMMU"
    );
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nh_va_takes_effect() {
    remap_then_invalidate(&[cmd::tlbi_nh_va(ASID, PROBE, true)]);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nh_va_with_range_fields_takes_effect() {
    let range = cmd::TlbiRange {
        num: 1,
        scale: 0,
        tg: 1,
        ttl: 3,
    };
    remap_then_invalidate(&[cmd::tlbi_nh_va_range(ASID, PROBE, true, range)]);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nh_vaa_takes_effect() {
    remap_then_invalidate(&[cmd::tlbi_nh_vaa(PROBE, true)]);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nh_asid_takes_effect() {
    remap_then_invalidate(&[cmd::tlbi_nh_asid(ASID)]);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nh_all_takes_effect() {
    remap_then_invalidate(&[cmd::tlbi_nh_all()]);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn tlbi_nsnh_all_takes_effect() {
    remap_then_invalidate(&[cmd::tlbi_nsnh_all()]);
}

/// The guest moves the stream to a new ASID in its CD (the page table now maps
/// PROBE to page 2); until the CD is invalidated the SMMU keeps the cached CD, and
/// with it the old ASID's translation.
fn cd_change_then(invalidate: IommuViommuArmSmmuv3Invalidate) {
    let (rig, bound) = rig();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    let (_nested, edu) = start(&rig, &mut s1, bound);
    assert_eq!(lands(&rig, &edu, PROBE, &[page(1), page(2)]), Some(page(1)));
    s1.map(PROBE, page(2));
    s1.asid = ASID + 1;
    s1.write_cd(true);
    assert_eq!(
        lands(&rig, &edu, PROBE, &[page(1), page(2)]),
        Some(page(1)),
        "cached CD and TLB"
    );
    guest_batch_one_by_one(&rig, &[invalidate]);
    assert_eq!(
        lands(&rig, &edu, PROBE, &[page(1), page(2)]),
        Some(page(2)),
        "the new CD (new ASID) must apply"
    );
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn cfgi_cd_takes_effect() {
    cd_change_then(cmd::cfgi_cd(VSID as u32, 0, true));
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn cfgi_cd_all_takes_effect() {
    cd_change_then(cmd::cfgi_cd_all(VSID as u32));
}

/// The scene after 70 TLBI_NH_VA (one per page, command 68 illegal) went to the
/// kernel raw: Linux 7.3 issued the first block of 63, converted 63..67, then failed
/// at 68 without issuing them, so page 65's translation is still stale.
struct PartialFailure {
    rig: Rig,
    _nested: Nested<Smmuv3, VfioDevice>,
    edu: Edu,
    commands: Vec<IommuViommuArmSmmuv3Invalidate>,
    error: Error,
}

const EARLY: u64 = 10; // in the issued block
const LATE: u64 = 65; // converted, never issued

fn iova(i: u64) -> u64 {
    PROBE + i * PAGE
}

fn partial_failure() -> PartialFailure {
    let (rig, bound) = rig();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    for i in 0..70 {
        s1.map(iova(i), page(10 + i));
    }
    let (nested, edu) = start(&rig, &mut s1, bound);
    for i in [EARLY, LATE] {
        assert_eq!(
            lands(&rig, &edu, iova(i), &[page(10 + i)]),
            Some(page(10 + i))
        );
        s1.map(iova(i), page(100 + i));
    }
    let mut commands: Vec<_> = (0..70)
        .map(|i| cmd::tlbi_nh_va(ASID, iova(i), true))
        .collect();
    commands[68] = cmd::command(0x01 | (1 << 8), 0); // PREFETCH_CONFIG with a RES0 bit: never forwarded

    // The raw kernel answer: EIO at 68; the first block took effect, 63..67 did not.
    let error = rig.viommu.invalidate(&commands).unwrap_err();
    assert_eq!(error.refused_entry(), Some(68), "{error:?}");
    assert_eq!(
        lands(
            &rig,
            &edu,
            iova(EARLY),
            &[page(10 + EARLY), page(100 + EARLY)]
        ),
        Some(page(100 + EARLY))
    );
    let pf = PartialFailure {
        rig,
        _nested: nested,
        edu,
        commands,
        error,
    };
    assert!(
        pf.late_is_stale(),
        "Linux 7.3 drops the converted commands of the failing block: resubmitting from 69 would leave this stale"
    );
    pf
}

impl PartialFailure {
    fn late_is_stale(&self) -> bool {
        let pages = [page(10 + LATE), page(100 + LATE)];
        match lands(&self.rig, &self.edu, iova(LATE), &pages) {
            Some(p) => p == pages[0],
            None => panic!("the DMA to page {LATE} landed nowhere"),
        }
    }
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn partial_failure_loses_invalidations_in_the_kernel_and_the_batch_recovers_them() {
    let pf = partial_failure();
    // The batch names guest command 68 and re-sends 0..67: nothing stays stale.
    let mut batch = pf.rig.viommu.batch::<128>();
    for (i, c) in pf.commands.iter().enumerate() {
        batch.push(i as u32, *c).unwrap();
    }
    match batch.flush() {
        Err(BatchError::Refused {
            guest_index: 68, ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!pf.late_is_stale());
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn partial_failure_resubmitted_by_hand_before_the_refused_entry_leaves_nothing_stale() {
    let pf = partial_failure();
    let k = pf.error.refused_entry().unwrap();
    pf.rig.viommu.invalidate(&pf.commands[..k]).unwrap();
    assert!(!pf.late_is_stale());
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn draining_the_guest_queue_allocates_nothing_on_any_path() {
    let (rig, _bound) = rig();
    let has_vdevice = |s: u32| u64::from(s) == VSID;
    // 200 guest commands, a CMD_SYNC after every 50th: four ioctls.
    let queue: Vec<[u8; 16]> = (0..200u64)
        .map(|i| {
            let c = if i % 50 == 49 {
                cmd::sync()
            } else {
                cmd::tlbi_nh_va(ASID, PROBE + (i << 12), true)
            };
            c.as_bytes().try_into().unwrap()
        })
        .collect();
    let illegal: [u8; 16] = cmd::command(0x20, 0).as_bytes().try_into().unwrap();
    let mut batch = rig.viommu.batch::<63>();
    let (syncs, n) = allocations(|| {
        let (mut next, mut syncs) = (0usize, 0);
        while let Drain::Synced { guest_index } = batch
            .push_guest_commands(next as u32, &queue[next..], &rig.rules, has_vdevice)
            .unwrap()
        {
            syncs += 1;
            next = guest_index as usize + 1;
        }
        syncs
    });
    assert_eq!((syncs, n), (4, 0), "success path");

    // The crate refuses an illegal command after flushing the TLBIs before it.
    let (r, n) = allocations(|| {
        batch
            .push_guest_commands(0, &queue[..10], &rig.rules, has_vdevice)
            .unwrap();
        batch.push_guest_command(10, &illegal, &rig.rules, has_vdevice)
    });
    assert!(
        matches!(
            r,
            Err(DrainError::Illegal {
                guest_index: 10,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(n, 0, "refusal path");
    assert!(batch.is_empty());

    // The kernel refuses entry 5 of 8 (pushed unchecked): recovery re-sends 0..4.
    let (r, n) = allocations(|| {
        for i in 0..8u32 {
            let c = if i == 5 {
                cmd::command(0x20, 0)
            } else {
                cmd::tlbi_nh_asid(ASID)
            };
            batch.push(100 + i, c).unwrap();
        }
        batch.flush()
    });
    assert!(
        matches!(
            r,
            Err(BatchError::Refused {
                guest_index: 105,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(n, 0, "kernel refusal and recovery path");
}
