// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The nested-translation walkthrough, Phase 1 (VM boot) and Phase 2 (run time),
//! against the kernel's mock IOMMU. Runs inside the kernel tier's guest:
//!
//! ```text
//! rig/walkthrough.sh
//! ```
//!
//! The mock device stands in for a VFIO device and the `Selftest` family for ARM
//! SMMUv3: the types and the order of the steps are the ones a VMM writes for real
//! hardware (see the crate docs).

use iommufd::arch::selftest::stage1;
use iommufd::arch::{DefaultStage1, Selftest};
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::states::{DeviceState, GuestStage1, IoasReady, VEventEntry};
use iommufd::uapi::{
    IOMMU_TEST_DEV_CACHE_DEFAULT, IommuViommuInvalidateSelftest, MOCK_APERTURE_START,
};
use iommufd::{Access, IommuFd, Iova, MapAt};
use rustix::fd::AsFd;
use std::error::Error;
use std::sync::Arc;

const GUEST_RAM: u64 = 16 << 20;
const GUEST_SID: u64 = 0x42;

macro_rules! step {
    ($n:expr, $($what:tt)*) => {
        println!("[{:2}] {}", $n, format_args!($($what)*))
    };
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("Phase 1: VM boot");
    let iommufd = Arc::new(IommuFd::open()?);
    step!(1, "opened /dev/iommu");

    let ram = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC)?;
    rustix::fs::ftruncate(&ram, GUEST_RAM)?;
    let ioas = IoasReady::new(&iommufd)?;
    let gpa = Iova(MOCK_APERTURE_START);
    ioas.map_file(
        ram.as_fd(),
        0,
        GUEST_RAM,
        MapAt::Fixed(gpa),
        Access::READ | Access::WRITE,
    )?;
    step!(
        2,
        "IoasReady {}: 16 MiB of guest RAM (memfd) mapped at guest physical {gpa}",
        ioas.id()
    );

    let dev = MockDevice::new(&iommufd, ioas.id())?;
    step!(
        3,
        "device bound to the iommufd as {}",
        iommufd::Device::dev_id(&dev)
    );

    let s2 = ioas.alloc_nest_parent(&dev)?;
    step!(
        4,
        "S2Allocated: nest-parent {} (stage 2: guest physical -> host)",
        s2.id()
    );

    let viommu = s2.alloc_viommu::<Selftest>(&dev)?;
    let (info, _) = viommu.hw_info(&dev)?;
    step!(
        5,
        "VIommuAllocated: {} (physical IOMMU register {:#x})",
        viommu.id(),
        info.test_reg
    );
    let bypass = viommu
        .default_hwpt(DefaultStage1::Bypass)
        .ok_or("no bypass")?;
    step!(
        6,
        "default bypass stage 1 made once for every device: {bypass}"
    );
    let events = viommu.alloc_vevent_queue(16)?;
    step!(7, "{} for faults the guest must see", events.id());

    let bound = viommu.bind(dev, GUEST_SID).map_err(|e| e.into_parts().1)?;
    step!(
        8,
        "VDeviceBound: {} = guest StreamID {GUEST_SID:#x}, on bypass",
        bound.vdevice_id()
    );

    println!("Phase 2: trapped from the guest");
    let nested = bound
        .install(&stage1(0x1111))
        .map_err(|e| e.into_parts().1)?;
    let hwpt = nested.stage1_hwpt().ok_or("no stage 1")?;
    iommufd.check_iotlb(hwpt, 0, 0x1111)?;
    step!(
        9,
        "guest STE write -> Nested: stage-1 {hwpt} attached by replace (mock IOTLB confirms)"
    );

    let batch = [
        IommuViommuInvalidateSelftest {
            flags: 0,
            vdev_id: GUEST_SID as u32,
            cache_id: 0,
        },
        IommuViommuInvalidateSelftest {
            flags: 0,
            vdev_id: GUEST_SID as u32,
            cache_id: 2,
        },
    ];
    viommu.invalidate(&batch)?;
    nested.device().check_cache(0, 0)?;
    nested
        .device()
        .check_cache(1, IOMMU_TEST_DEV_CACHE_DEFAULT)?;
    nested.device().check_cache(2, 0)?;
    step!(
        10,
        "guest CMD_SYNC batch of 2 invalidations -> one IOMMU_HWPT_INVALIDATE (device cache confirms)"
    );

    nested.device().trigger_vevent()?;
    let mut buf = [0u8; 256];
    for event in events.read(&mut buf)? {
        if let VEventEntry::Record { sequence, record } = event {
            step!(
                11,
                "fault event #{sequence} for guest StreamID {:#x}",
                record.virt_id
            );
        }
    }

    let nested = nested
        .reinstall(&stage1(0x2222))
        .map_err(|e| e.into_parts().1)?;
    let new_hwpt = nested.stage1_hwpt().ok_or("no stage 1")?;
    step!(
        12,
        "guest rewrote its STE: {hwpt} -> {new_hwpt}, old one destroyed after the replace"
    );

    let refused = nested.switch_default(DefaultStage1::Abort);
    let nested = match refused {
        Ok(_) => return Err("the mock family has no abort stage 1".into()),
        Err(e) => {
            let (nested, why) = e.into_parts();
            step!(13, "failed transition: {why}; device still on {new_hwpt}");
            nested
        }
    };

    let bound = nested.uninstall().map_err(|e| e.into_parts().1)?;
    step!(
        14,
        "guest disabled translation: back to bypass, stage 1 destroyed"
    );

    // What a VMM stores: the same device as a DeviceState, changed in place.
    let mut device = DeviceState::from(bound);
    device.apply(GuestStage1::Translate(stage1(0x3333)))?;
    let hwpt = device.stage1_hwpt().ok_or("no stage 1")?;
    iommufd.check_iotlb(hwpt, 0, 0x3333)?;
    step!(
        15,
        "DeviceState::apply in place (&mut, unchanged on error): stage-1 {hwpt}"
    );
    let dev = device.unbind().map_err(|e| e.into_parts().1)?;
    step!(
        16,
        "unplugged: device on the stage 2 alone, its vDEVICE and stage 1 destroyed"
    );

    println!("Teardown");
    drop(events);
    drop(dev); // mock device destroyed
    viommu.try_destroy().map_err(|e| e.into_parts().1)?;
    s2.try_destroy().map_err(|e| e.into_parts().1)?;
    ioas.try_destroy().map_err(|e| e.into_parts().1)?;
    step!(
        17,
        "vIOMMU, stage 2 and IOAS destroyed, children first: nothing left in the kernel"
    );
    println!("walkthrough: ok");
    Ok(())
}
