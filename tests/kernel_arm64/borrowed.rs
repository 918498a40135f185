// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A VFIO device whose fd the VMM keeps (as one using `vfio-ioctls` for regions and
//! interrupts does), driven by the lifecycle through [`VfioCdev`] without a
//! duplicate of the fd: DMA through the nested translation, teardown, and the fd
//! still open, still the device, still bound, once the crate's handles are gone.

use crate::guest::*;
use iommufd::arch::smmuv3::command as cmd;
use iommufd::arch::{DefaultStage1, Smmuv3};
use iommufd::states::IoasReady;
use iommufd::{Device, ErrorKind, HwptId, IommuFd, PtId, VfioCdev};
use rustix::fd::AsFd;
use rustix::io::Errno;
use std::sync::Arc;

const GUEST_SID: u64 = 0x42;

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn the_lifecycle_drives_a_device_whose_fd_the_vmm_keeps() {
    // The VMM's device: it opens the cdev and keeps the one fd.
    let device = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&vfio_devices()[0])
        .unwrap();
    let fd = Arc::new(IommuFd::open().expect("/dev/iommu must exist in the arm64 tier"));

    // Phase 1 through a borrow of that fd.
    let ioas = IoasReady::new(&fd).unwrap();
    let ram = GuestRam::new(&ioas);
    let dev = VfioCdev::bind(device.as_fd(), &fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let dev_id = dev.dev_id();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let bound = viommu
        .bind(dev, GUEST_SID)
        .map_err(|e| e.into_parts().1)
        .unwrap();

    // Phase 2: the guest's stage 1, then DMA by the device, driven through the VMM's
    // own fd (its regions), through stage 1 then stage 2.
    let mut s1 = Stage1::new(&ram, 5);
    let (src_iova, dst_iova) = (0x4000_0000u64, 0x4010_0000u64);
    let (src_page, dst_page) = (DATA_IPA, DATA_IPA + 3 * PAGE);
    s1.map(src_iova, src_page);
    s1.map(dst_iova, dst_page);
    let pattern: Vec<u8> = (0..PAGE as usize).map(|i| (i * 7 + 3) as u8).collect();
    for (i, chunk) in pattern.chunks(8).enumerate() {
        ram.write_u64(
            src_page + 8 * i as u64,
            u64::from_le_bytes(chunk.try_into().unwrap()),
        );
    }
    ram.fill(dst_page, PAGE as usize, 0);
    let nested = bound
        .install(&s1.vste())
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let stage1_hwpt = nested.stage1_hwpt().unwrap();
    let edu = Edu::new(&device);
    edu.dma(src_iova, EDU_BUFFER, PAGE);
    edu.dma(EDU_BUFFER, dst_iova, PAGE);
    assert_eq!(ram.bytes(dst_page, PAGE as usize), pattern);
    viommu
        .invalidate(&[cmd::tlbi_nh_va(5, dst_iova, true)])
        .unwrap();
    let bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    assert_eq!(bound.default_stage1(), DefaultStage1::Bypass);

    // Teardown: every crate handle goes; the lifecycle detached the device.
    let ids = [
        stage1_hwpt.raw(),
        bound.vdevice_id().raw(),
        viommu.default_hwpt(DefaultStage1::Bypass).unwrap().raw(),
        viommu.default_hwpt(DefaultStage1::Abort).unwrap().raw(),
        viommu.id().raw(),
        s2.id().raw(),
        ioas.id().raw(),
    ];
    drop(bound);
    drop(viommu);
    drop(s2);
    drop(ram);
    drop(ioas);
    for id in ids {
        assert_eq!(
            fd.destroy(HwptId::from_raw(id)).unwrap_err().kind(),
            ErrorKind::NotFound,
            "object {id} survived the teardown"
        );
    }
    assert_eq!(fd.pending_destroys(), 0);

    // The VMM's fd is still open and still the device: its regions work.
    let edu = Edu::new(&device);
    drop(edu);
    // Still bound to the iommufd: a second bind of the same file is refused, and the
    // device, named by its id, attaches and detaches again.
    let e = VfioCdev::bind(device.as_fd(), &fd).unwrap_err();
    assert_eq!(
        e.error().errno(),
        Some(Errno::INVAL),
        "one binding per file"
    );
    let again = VfioCdev::from_bound(&device, dev_id, &fd);
    let other = fd.alloc_ioas().unwrap();
    let hwpt = again.attach(PtId::Ioas(other)).unwrap();
    assert_eq!(fd.destroy(hwpt).unwrap_err().kind(), ErrorKind::Busy);
    again.detach().unwrap();
    drop(again);
    fd.destroy(other).unwrap();
    drop(fd);
    // Closing is the VMM's.
    drop(device);
}
