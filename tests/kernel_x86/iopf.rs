// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! I/O page faults through the typestates: a fault queue set on a per-device state,
//! faults from the mock's TRIGGER_IOPF read in whole groups, answered by cookie with
//! both response codes, on both nesting paths, and the queue's lifetime against the
//! HWPTs that report to it.

use crate::common::*;
use iommufd::Feature;
use iommufd::arch::{Selftest, selftest::stage1};
use iommufd::mock::MockDevice;
use iommufd::states::{FaultQueue, IoasReady, PageResponse};
use iommufd::uapi::*;
use iommufd::{Device, ErrorKind, HwptId};

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn faults_reach_the_queue_in_groups_and_take_both_responses() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::FaultQueue]) {
        return;
    }
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let dev_id = dev.dev_id().raw();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let queue = FaultQueue::new(&fd).unwrap();
    let mut bound = viommu
        .bind(dev, 0x11)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert!(bound.fault_queue().is_none());
    bound.set_fault_queue(Some(&queue));
    assert_eq!(bound.fault_queue().map(FaultQueue::id), Some(queue.id()));
    let nested = bound
        .install(&stage1(1))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_eq!(
        nested.stage1_fault_queue().map(FaultQueue::id),
        Some(queue.id())
    );

    // Nothing pending: an empty read, whatever the buffer.
    let mut buf = [IommuHwptPgfault::default(); 4];
    assert!(queue.read(&mut buf).unwrap().is_empty());
    assert!(queue.read(&mut []).unwrap().is_empty());

    let perms = [
        PgfaultPerm::READ,
        PgfaultPerm::WRITE,
        PgfaultPerm::READ | PgfaultPerm::EXEC,
    ];
    for (i, perm) in perms.iter().enumerate() {
        let i = i as u32;
        nested
            .device()
            .trigger_iopf(0, 0x10 + i, *perm, 0x4000_0000 + u64::from(i) * 0x1000)
            .unwrap();
    }
    // A fault pending and no room for it: the kernel refuses the read.
    assert_kind(queue.read(&mut []), ErrorKind::InvalidArgument);
    // One slot takes exactly the first group (the mock's groups are one fault,
    // marked last page); the rest stays queued.
    let first = queue.read(&mut buf[..1]).unwrap().to_vec();
    assert_eq!(first.len(), 1);
    let rest = queue.read(&mut buf).unwrap().to_vec();
    assert_eq!(rest.len(), 2);
    let all: Vec<_> = first.iter().chain(&rest).copied().collect();
    for (i, f) in all.iter().enumerate() {
        assert_eq!(f.dev_id, dev_id);
        assert_eq!(f.grpid, 0x10 + i as u32);
        assert_eq!(f.addr, 0x4000_0000 + i as u64 * 0x1000);
        assert_eq!(f.perm, perms[i].bits());
        let flags = PgfaultFlags::from_bits_retain(f.flags);
        assert!(flags.contains(PgfaultFlags::LAST_PAGE));
        assert!(!flags.contains(PgfaultFlags::PASID_VALID));
    }
    let groups: Vec<_> = FaultQueue::groups(&all).collect();
    assert_eq!(groups.len(), 3);
    assert!(all[0].cookie != all[1].cookie && all[1].cookie != all[2].cookie);

    // Both codes are taken; a cookie answered already is not waiting any more.
    let answers = [
        PageResponse::success(&all[0]),
        PageResponse::invalid(&all[1]),
    ];
    assert_eq!(queue.respond(&answers).unwrap(), 2);
    assert_kind(
        queue.respond(&[PageResponse::success(&all[0])]),
        ErrorKind::InvalidArgument,
    );
    // A refused answer after a taken one: the kernel takes the first and stops.
    let mixed = [
        PageResponse::for_cookie(all[2].cookie, true),
        PageResponse::success(&all[1]),
    ];
    assert_eq!(queue.respond(&mixed).unwrap(), 1);

    // The queue is busy while a HWPT reports to it, whoever drops first.
    assert_kind(fd.destroy(queue.id()), ErrorKind::Busy);
    let queue_id = queue.id();
    drop(queue);
    assert_kind(fd.destroy(queue_id), ErrorKind::Busy);
    let hwpt = nested.stage1_hwpt().unwrap();
    let mut bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    assert_kind(fd.destroy(hwpt), ErrorKind::NotFound);
    // The device still holds the queue for its next install.
    assert_eq!(bound.fault_queue().map(FaultQueue::id), Some(queue_id));
    bound.set_fault_queue(None);
    // That was the last handle: the queue went.
    assert_kind(fd.destroy(queue_id), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn a_queue_set_later_serves_the_next_install_on_the_s2_path() {
    if !needs(&[Feature::FaultQueue]) {
        return;
    }
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let queue = FaultQueue::new(&fd).unwrap();
    let attached = s2
        .attach::<Selftest, _>(dev)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    // Installed with no queue: its faults are not delivered to any queue.
    let mut nested = attached
        .install(&stage1(2))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert!(nested.stage1_fault_queue().is_none());
    let _ = nested
        .device()
        .trigger_iopf(0, 1, PgfaultPerm::READ, 0x1000);
    let mut buf = [IommuHwptPgfault::default(); 2];
    assert!(queue.read(&mut buf).unwrap().is_empty());

    // Set now, it takes effect at the reinstall.
    nested.set_fault_queue(Some(&queue));
    assert!(nested.stage1_fault_queue().is_none());
    let nested = nested
        .reinstall(&stage1(3))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_eq!(
        nested.stage1_fault_queue().map(FaultQueue::id),
        Some(queue.id())
    );
    nested
        .device()
        .trigger_iopf(0, 7, PgfaultPerm::WRITE, 0x2000)
        .unwrap();
    let got = queue.read(&mut buf).unwrap();
    assert_eq!((got.len(), got[0].grpid, got[0].addr), (1, 7, 0x2000));
    assert_eq!(queue.respond(&[PageResponse::success(&got[0])]).unwrap(), 1);

    // Cleared, the next HWPT reports to nothing; the current one keeps its queue.
    let mut nested = nested;
    nested.set_fault_queue(None);
    assert!(nested.stage1_fault_queue().is_some());
    let old: HwptId = nested.stage1_hwpt().unwrap();
    let nested = nested
        .reinstall(&stage1(4))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_kind(fd.destroy(old), ErrorKind::NotFound);
    assert!(nested.stage1_fault_queue().is_none());
    // Nothing reports to the queue now: it can go.
    let queue_id = queue.id();
    drop(queue);
    assert_kind(fd.destroy(queue_id), ErrorKind::NotFound);
}
