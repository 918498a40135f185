// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! VEVENTQ_ALLOC with vEVENT reads, FAULT_QUEUE_ALLOC with I/O page faults.

use crate::common::*;
use iommufd::Feature;
use iommufd::arch::{Selftest, selftest::stage1};
use iommufd::mock::MockDevice;
use iommufd::states::{IoasReady, VEventEntry};
use iommufd::uapi::*;
use iommufd::{Device, ErrorKind, HwptAlloc, PtId};
use zerocopy::FromBytes;

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn veventq_delivers_mock_events_with_the_virtual_id() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    let (fd, ioas, dev) = ioas_with_device();
    let s2 = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let viommu = fd
        .alloc_viommu(dev.dev_id(), s2, &mut IommuViommuSelftest::default())
        .unwrap();
    let vdev = fd.alloc_vdevice(viommu, dev.dev_id(), 0x77).unwrap();
    assert_kind(
        fd.alloc_vevent_queue(viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 0),
        ErrorKind::CrateValidation,
    );
    let q = fd
        .alloc_vevent_queue(viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2)
        .unwrap();
    // One queue per type per vIOMMU.
    assert_kind(
        fd.alloc_vevent_queue(viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2),
        ErrorKind::AlreadyExists,
    );
    let mut buf = [0u8; 64];
    assert_eq!(q.read(&mut buf).unwrap(), 0, "an empty queue reads 0 bytes");

    // The mock reports events only for a device attached to a nested HWPT of the
    // vIOMMU.
    assert_kind(dev.trigger_vevent(), ErrorKind::NotFound);
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let nested = fd
        .alloc_hwpt(&HwptAlloc::nested(dev.dev_id(), viommu, &data))
        .unwrap();
    dev.attach(PtId::Hwpt(nested)).unwrap();
    dev.trigger_vevent().unwrap();
    dev.trigger_vevent().unwrap();
    let record = size_of::<IommufdVeventHeader>() + size_of::<IommuViommuEventSelftest>();
    let n = q.read(&mut buf).unwrap();
    assert_eq!(n, 2 * record);
    let (h0, rest) = IommufdVeventHeader::read_from_prefix(&buf).unwrap();
    let (e0, rest) = IommuViommuEventSelftest::read_from_prefix(rest).unwrap();
    let (h1, rest) = IommufdVeventHeader::read_from_prefix(rest).unwrap();
    let (e1, _) = IommuViommuEventSelftest::read_from_prefix(rest).unwrap();
    assert_eq!((e0.virt_id, e1.virt_id), (0x77, 0x77));
    assert_eq!(h1.sequence, h0.sequence + 1);
    assert_eq!(h0.flags, 0);
    // A buffer smaller than a header is refused.
    dev.trigger_vevent().unwrap();
    assert_kind(q.read(&mut buf[..4]), ErrorKind::InvalidArgument);

    // The queue holds the vIOMMU until its fd is closed and it is destroyed.
    assert_kind(fd.destroy(viommu), ErrorKind::Busy);
    let id = q.id();
    drop(q);
    fd.destroy(id).unwrap();
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.destroy(nested).unwrap();
    fd.destroy(vdev).unwrap();
    fd.destroy(viommu).unwrap();
    fd.destroy(s2).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn fault_queue_receives_iopf_and_takes_responses() {
    if !needs(&[Feature::FaultQueue]) {
        return;
    }
    let (fd, ioas, dev) = ioas_with_device();
    let faults = fd.alloc_fault_queue().unwrap();
    let parent = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let nested = fd
        .alloc_hwpt(&HwptAlloc::nested(dev.dev_id(), parent, &data).fault_queue(faults.id()))
        .unwrap();
    dev.attach(PtId::Hwpt(nested)).unwrap();
    dev.trigger_iopf(0, 0x2, PgfaultPerm::READ | PgfaultPerm::WRITE, 0xdead_b000)
        .unwrap();
    let mut got = [IommuHwptPgfault::default(); 4];
    let n = faults.read(&mut got).unwrap();
    assert_eq!(n, 1);
    assert_eq!(got[0].dev_id, dev.dev_id().raw());
    assert_eq!(got[0].grpid, 0x2);
    assert_eq!(got[0].addr, 0xdead_b000);
    assert_eq!(got[0].perm, (PgfaultPerm::READ | PgfaultPerm::WRITE).bits());
    let resp = IommuHwptPageResponse {
        cookie: got[0].cookie,
        code: IOMMUFD_PAGE_RESP_SUCCESS,
    };
    assert_eq!(faults.respond(&[resp]).unwrap(), 1);
    // The fault queue is referenced by the HWPT that reports to it.
    assert_kind(fd.destroy(faults.id()), ErrorKind::Busy);
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.destroy(nested).unwrap();
    fd.destroy(parent).unwrap();
}

/// `VEventQueue::read` passes the buffer to the kernel unchecked; these are the size
/// rules its docs state, from `iommufd_veventq_fops_read`.
#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn event_queue_read_sizes_follow_the_kernel() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let nested = viommu
        .bind(dev, 0x77)
        .map_err(|e| e.into_parts().1)
        .unwrap()
        .install(&stage1(0x1111))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let header = size_of::<IommufdVeventHeader>();
    let record = header + size_of::<IommuViommuEventSelftest>();
    let mut buf = [0u8; 64];
    let one = |got: &[VEventEntry<IommuViommuEventSelftest>]| match got {
        [VEventEntry::Record { sequence, record }] if record.virt_id == 0x77 => *sequence,
        other => panic!("one record of virt_id 0x77: {other:?}"),
    };

    {
        let q = viommu.alloc_vevent_queue(4).unwrap();
        // Empty: shorter than a header is refused before the queue is looked at; a
        // header's worth reads nothing.
        assert_kind(q.read(&mut buf[..header - 1]), ErrorKind::InvalidArgument);
        assert_kind(q.read(&mut []), ErrorKind::InvalidArgument);
        assert_eq!(q.read(&mut buf[..header]).unwrap().count(), 0);
        // One event waits, the buffer is shorter than it: refused, and it stays.
        nested.device().trigger_vevent().unwrap();
        assert_kind(q.read(&mut buf[..header]), ErrorKind::InvalidArgument);
        assert_kind(q.read(&mut buf[..record - 1]), ErrorKind::InvalidArgument);
        let got: Vec<_> = q.read(&mut buf[..record]).unwrap().collect();
        one(&got);
        assert_eq!(q.read(&mut buf).unwrap().count(), 0);
    }

    // Depth 1, two events: the second is lost, the queue holds the record, then the
    // lost-events marker.
    let q = viommu.alloc_vevent_queue(1).unwrap();
    nested.device().trigger_vevent().unwrap();
    nested.device().trigger_vevent().unwrap();
    // The record comes first and does not fit a header.
    assert_kind(q.read(&mut buf[..header]), ErrorKind::InvalidArgument);
    // Exactly one record's room: the record; the marker waits.
    let got: Vec<_> = q.read(&mut buf[..record]).unwrap().collect();
    let sequence = one(&got);
    // The marker is a header alone: 8 bytes take it.
    let got: Vec<_> = q.read(&mut buf[..header]).unwrap().collect();
    assert!(
        matches!(got[..], [VEventEntry::Lost { sequence: s }] if s == sequence + 1),
        "{got:?}"
    );
    assert_eq!(q.read(&mut buf).unwrap().count(), 0);
}
