// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The SMMUv3 family through the crate's public API, against the real driver.

use crate::guest::*;
use iommufd::arch::smmuv3::{self, Event, EventId, command as cmd};
use iommufd::arch::{DefaultStage1, Smmuv3};
use iommufd::states::{self, IoasReady, S2Options};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
use iommufd::{Device, Error, ErrorKind, IommuFd, PtId, VfioDevice};
use rustix::io::Errno;
use std::sync::Arc;

const GUEST_SID: u64 = 0x42;

struct Guest {
    fd: Arc<IommuFd>,
    ioas: IoasReady,
    ram: GuestRam,
    viommu: states::VIommuAllocated<Smmuv3>,
}

fn phase1() -> (Guest, states::VDeviceBound<Smmuv3, VfioDevice>) {
    let fd = Arc::new(IommuFd::open().expect("/dev/iommu must exist in the arm64 tier"));
    let ioas = IoasReady::new(&fd).unwrap();
    let ram = GuestRam::new(&ioas);
    let dev = open_device(0)
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let bound = viommu
        .bind(dev, GUEST_SID)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    (
        Guest {
            fd,
            ioas,
            ram,
            viommu,
        },
        bound,
    )
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn vfio_cdev_bind_attach_detach_and_real_hw_info() {
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = fd.alloc_ioas().unwrap();
    let dev = open_device(0)
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let (info, generic) = fd.hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id()).unwrap();
    // QEMU 10's SMMUv3: both stages, AArch64 tables, 16-bit ASIDs (IDR0); range
    // invalidation (IDR3.RIL); 44-bit output (IDR5.OAS = 4).
    assert_eq!(info.idr[0] & 0b11, 0b11, "S1P and S2P: {:#x}", info.idr[0]);
    assert_ne!(info.idr[3] & (1 << 10), 0, "RIL: {:#x}", info.idr[3]);
    assert_eq!(info.idr[5] & 0x7, 4, "OAS 44 bits: {:#x}", info.idr[5]);
    assert_eq!(
        generic.data_type,
        iommufd::uapi::IOMMU_HW_INFO_TYPE_ARM_SMMUV3
    );
    // QEMU's SMMUv3 has no ATS (IDR0.ATS clear), so the driver has no ATS feature
    // and iommufd reports that ATS cannot be used for edu; the decoded caps agree.
    assert!(
        generic
            .capabilities
            .contains(HwCapabilities::PCI_ATS_NOT_SUPPORTED),
        "{:?}",
        generic.capabilities
    );
    assert!(!smmuv3::SmmuCaps::decode(&info, generic.capabilities).ats);
    // Attach to the IOAS (the kernel makes a paging HWPT), detach, attach again.
    let hwpt = dev.attach(PtId::Ioas(ioas)).unwrap();
    assert_eq!(fd.destroy(hwpt).unwrap_err().kind(), ErrorKind::Busy);
    dev.detach().unwrap();
    assert_eq!(
        fd.destroy(ioas).map(|_| ()),
        Ok(()),
        "detach released the auto HWPT"
    );
    // No PASID support on edu: PASID attach is refused.
    let ioas = fd.alloc_ioas().unwrap();
    assert!(dev.attach_pasid(1, PtId::Ioas(ioas)).is_err());
    // A second bind of the same device through another open of its cdev fails.
    let again = open_device(0).bind(&fd);
    assert!(again.is_err(), "one device, one binding");
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn phase1_bypass_abort_and_a_rejected_vste() {
    let (g, bound) = phase1();
    let bypass = g.viommu.default_hwpt(DefaultStage1::Bypass).unwrap();
    let abort = g.viommu.default_hwpt(DefaultStage1::Abort).unwrap();
    assert_eq!(g.fd.destroy(bypass).unwrap_err().kind(), ErrorKind::Busy);
    let bound = bound
        .switch_default(DefaultStage1::Abort)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_eq!(g.fd.destroy(abort).unwrap_err().kind(), ErrorKind::Busy);
    let bound = bound
        .switch_default(DefaultStage1::Bypass)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    // Config = 6 (stage 2 only) is not a guest's to ask: the parser refuses it, and
    // so does the driver (EIO) when a VMM sends it at the id level.
    let bad = [1 | (0b110 << 1), 0];
    assert_eq!(
        smmuv3::Ste::from_words(bad).unwrap_err(),
        smmuv3::SteError::Config(0b110)
    );
    assert_eq!(raw_vste_errno(&bound, bad), Some(Errno::IO));
    assert_eq!(bound.default_stage1(), DefaultStage1::Bypass);
    assert_eq!(g.fd.destroy(bypass).unwrap_err().kind(), ErrorKind::Busy);
    // A stage-1 vSTE whose CD table is in guest RAM installs, replaces, uninstalls.
    let s1 = Stage1::new(&g.ram, 1);
    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let first = nested.stage1_hwpt().unwrap();
    let nested = nested
        .reinstall(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_ne!(nested.stage1_hwpt().unwrap(), first);
    assert_eq!(g.fd.destroy(first).unwrap_err().kind(), ErrorKind::NotFound);
    let bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    drop(bound);
    let Guest {
        ioas, viommu, ram, ..
    } = g;
    let s2 = viommu.s2().clone();
    viommu.try_destroy().unwrap();
    s2.try_destroy().unwrap();
    drop(ram);
    ioas.try_destroy().unwrap();
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn dma_goes_through_stage1_then_stage2_and_faults_reach_the_veventq() {
    let (g, bound) = phase1();
    let events = g.viommu.alloc_vevent_queue(64).unwrap();
    let mut s1 = Stage1::new(&g.ram, 7);
    let (src_iova, dst_iova, unmapped_iova) = (0x4000_0000u64, 0x4010_0000u64, 0x4020_0000u64);
    let (src_page, dst_page) = (DATA_IPA, DATA_IPA + 5 * PAGE);
    s1.map(src_iova, src_page);
    s1.map(dst_iova, dst_page);
    let pattern: Vec<u8> = (0..PAGE as usize).map(|i| (i * 13 + 7) as u8).collect();
    for (i, chunk) in pattern.chunks(8).enumerate() {
        g.ram.write_u64(
            src_page + 8 * i as u64,
            u64::from_le_bytes(chunk.try_into().unwrap()),
        );
    }
    g.ram.fill(dst_page, PAGE as usize, 0);

    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let edu = Edu::new(nested.device());
    edu.dma(src_iova, EDU_BUFFER, PAGE);
    edu.dma(EDU_BUFFER, dst_iova, PAGE);
    assert_eq!(
        g.ram.bytes(dst_page, PAGE as usize),
        pattern,
        "the copy must land in the page stage 1 then stage 2 name"
    );
    // Nothing else in guest RAM changed: the page next to it is still zero.
    assert!(
        g.ram
            .bytes(dst_page + PAGE, PAGE as usize)
            .iter()
            .all(|&b| b == 0)
    );

    // A DMA to an address stage 1 does not map: a translation fault for the guest,
    // with its StreamID and the address. QEMU reports each 4-byte access.
    edu.dma(EDU_BUFFER, unmapped_iova, 8);
    wait_readable(&events);
    let mut buf = [0u8; 4096];
    let faults: Vec<Event> = events
        .read(&mut buf)
        .unwrap()
        .filter_map(|e| match e {
            states::VEventEntry::Record { record, .. } => Some(Event::decode(&record)),
            states::VEventEntry::Lost { .. } => None,
        })
        .collect();
    assert!(!faults.is_empty(), "no event on the vEVENTQ");
    let f = faults[0];
    assert_eq!(f.id, EventId::Translation, "{f:?}");
    assert_eq!(
        u64::from(f.stream_id),
        GUEST_SID,
        "the kernel must show the guest's StreamID"
    );
    assert_eq!(f.input_address & !0x7, unmapped_iova);
    assert!(!f.read, "edu wrote to RAM");

    // The guest unmaps the destination and invalidates it: the next DMA faults.
    s1.unmap(dst_iova);
    g.viommu
        .invalidate(&[cmd::tlbi_nh_va(7, dst_iova, true)])
        .unwrap();
    edu.dma(EDU_BUFFER, dst_iova, 4);
    wait_readable(&events);
    let after: Vec<Event> = events
        .read(&mut buf)
        .unwrap()
        .filter_map(|e| match e {
            states::VEventEntry::Record { record, .. } => Some(Event::decode(&record)),
            states::VEventEntry::Lost { .. } => None,
        })
        .collect();
    assert!(
        after
            .iter()
            .any(|f| f.id == EventId::Translation && f.input_address & !0x7 == dst_iova),
        "no fault after unmap + TLBI_NH_VA: {after:?}"
    );
    drop(events);
    drop(nested);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn every_forwarded_command_kind_and_partial_failure() {
    let (g, bound) = phase1();
    let s1 = Stage1::new(&g.ram, 3);
    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let sid = GUEST_SID as u32;
    let range = cmd::TlbiRange {
        num: 3,
        scale: 0,
        tg: 1,
        ttl: 0,
    };
    let all_kinds = [
        cmd::tlbi_nh_all(),
        cmd::tlbi_nh_asid(3),
        cmd::tlbi_nh_va(3, 0x4000_0000, true),
        cmd::tlbi_nh_va_range(3, 0x4000_0000, false, range),
        cmd::tlbi_nh_vaa(0x4000_0000, true),
        cmd::tlbi_nh_vaa_range(0x4000_0000, true, range),
        cmd::tlbi_nsnh_all(),
        cmd::cfgi_cd(sid, 0, true),
        cmd::cfgi_cd_all(sid),
    ];
    g.viommu.invalidate(&all_kinds).unwrap();
    // No ATS on edu behind QEMU's SMMU: ATC_INV is refused.
    let e = g
        .viommu
        .invalidate(&[cmd::atc_inv(sid, None, 0, 0)])
        .unwrap_err();
    assert_eq!(
        e,
        Error::Invalidation {
            errno: Errno::IO,
            refused: Some(0),
            completed: 0,
            requested: 1
        }
    );
    // An illegal command in the middle: the kernel reports the two before it handled.
    let reqs = [
        cmd::tlbi_nh_asid(3),
        cmd::tlbi_nh_all(),
        cmd::command(0x01, 0),
        cmd::tlbi_nh_all(),
    ];
    let e = g.viommu.invalidate(&reqs).unwrap_err();
    assert_eq!(
        e,
        Error::Invalidation {
            errno: Errno::IO,
            refused: Some(2),
            completed: 0,
            requested: 4
        }
    );
    // 200 good commands: several driver blocks of 63, one ioctl.
    let many = vec![cmd::tlbi_nh_va(3, 0x4000_0000, true); 200];
    g.viommu.invalidate(&many).unwrap();
    drop(nested);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn teardown_detaches_a_device_whose_fd_management_still_holds() {
    use rustix::fd::AsFd;
    let (g, bound) = phase1();
    // Management software keeps its own copy of the cdev fd: closing the crate's
    // does not unbind the device.
    let management = bound.device().as_fd().try_clone_to_owned().unwrap();
    let s1 = Stage1::new(&g.ram, 1);
    s1.write_cd(true);
    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let ids = [
        nested.stage1_hwpt().unwrap().raw(),
        nested.vdevice_id().raw(),
        g.viommu.default_hwpt(DefaultStage1::Bypass).unwrap().raw(),
        g.viommu.default_hwpt(DefaultStage1::Abort).unwrap().raw(),
        g.viommu.id().raw(),
        g.viommu.s2().id().raw(),
        g.ioas.id().raw(),
    ];
    let Guest {
        fd,
        ioas,
        ram,
        viommu,
    } = g;
    drop(nested); // without uninstall or unbind
    drop(viommu);
    drop(ram);
    drop(ioas);
    for id in ids {
        assert_eq!(
            fd.destroy(iommufd::HwptId::from_raw(id))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound,
            "object {id} survived the teardown"
        );
    }
    assert_eq!(fd.pending_destroys(), 0);
    drop(management);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn the_vste_builder_builds_exactly_the_context_pointers_the_driver_takes() {
    use smmuv3::{Ste, SteError};
    let (g, bound) = phase1();
    // Bits 51:6, all set: the highest context pointer an S1ContextPtr holds. The
    // driver takes it (the CD is only read when the device does DMA).
    let max = ((1u64 << 52) - 1) & !0x3f;
    let ste = Ste::translate(max).unwrap();
    assert_eq!(ste.s1_context_ptr(), max);
    let nested = bound.install(&ste).map_err(|e| e.into_parts().1).unwrap();
    let bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    // One bit higher is refused by the builder and the parser, and by the driver
    // when a VMM sends it at the id level (the old builder did): EIO.
    for bit in [52, 53, 55] {
        let address = max | (1 << bit);
        assert_eq!(
            Ste::translate(address).unwrap_err(),
            SteError::S1ContextPtr(address)
        );
    }
    let by_hand = [ste.words()[0] | (1 << 53), ste.words()[1]];
    assert!(Ste::from_words(by_hand).is_err());
    assert_eq!(raw_vste_errno(&bound, by_hand), Some(Errno::IO));
    assert_eq!(bound.default_stage1(), DefaultStage1::Bypass);
    drop(g);
}

/// Sends vSTE `words` the crate's parser refuses at the id level (a nested HWPT on
/// `bound`'s vIOMMU for its device) and returns the errno, if the kernel refused.
fn raw_vste_errno<D: Device>(
    bound: &iommufd::states::VDeviceBound<Smmuv3, D>,
    words: [u64; 2],
) -> Option<Errno> {
    let raw = iommufd::uapi::IommuHwptArmSmmuv3 {
        ste: words.map(zerocopy::little_endian::U64::new),
    };
    let request = iommufd::HwptAlloc::nested(bound.device().dev_id(), bound.viommu().id(), &raw);
    match bound.viommu().iommufd().alloc_hwpt(&request) {
        Ok(hwpt) => {
            bound.viommu().iommufd().destroy(hwpt).unwrap();
            None
        }
        Err(e) => e.errno(),
    }
}

#[test]
#[ignore = "needs /dev/iommu and a VFIO device behind arm-smmu-v3: run rig/arm64-tier.sh"]
fn a_dirty_tracked_nest_parent_is_refused_as_unsupported() {
    // Linux 7.3's arm-smmu-v3 takes NEST_PARENT or DIRTY_TRACKING, never both.
    let fd = Arc::new(IommuFd::open().expect("/dev/iommu must exist in the arm64 tier"));
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = open_device(0)
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let e = ioas
        .alloc_nest_parent_with(&dev, S2Options::new().dirty_tracking())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
    assert_eq!(e.errno(), Some(Errno::OPNOTSUPP));
    // Nothing was made: the plain nest parent still comes, without a tracker.
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    assert!(s2.dirty_tracker().is_none());
}

#[test]
#[ignore = "needs /dev/iommu and a VFIO device behind arm-smmu-v3: run rig/arm64-tier.sh"]
fn an_smmuv3_viommu_has_no_window_to_map() {
    let (guest, _bound) = phase1();
    let e = guest.viommu.map_window().unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert_eq!(e.errno(), None, "refused before any mmap");
}
