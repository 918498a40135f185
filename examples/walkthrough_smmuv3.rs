// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The headline walkthrough: a guest's SMMUv3 with nested translation on Linux's real
//! arm-smmu-v3 driver (QEMU's emulated SMMUv3 in the arm64 guest), with a real VFIO
//! device doing DMA:
//!
//! ```text
//! rig/walkthrough.sh
//! ```
//!
//! Phase 1 builds the stage 2 and the vIOMMU; Phase 2 installs the guest's STE, DMA
//! goes through stage 1 then stage 2, a stale translation is shown and then
//! invalidated, and an unmapped address faults onto the vEVENTQ. The guest side
//! (page tables, context descriptor, the edu device's registers) comes from the arm64
//! tests' helpers.

#[path = "../tests/kernel_arm64/guest.rs"]
#[allow(dead_code)]
mod guest;

use guest::*;
use iommufd::arch::smmuv3::{CommandRules, Drain, Event, SmmuCaps, command as cmd};
use iommufd::arch::{DefaultStage1, Smmuv3};
use iommufd::states::{self, IoasReady};
use iommufd::{Device, IommuFd};
use std::error::Error;
use std::sync::Arc;
use zerocopy::IntoBytes;

const GUEST_SID: u64 = 0x42;
const ASID: u16 = 7;

macro_rules! step {
    ($n:expr, $($what:tt)*) => {
        println!("[{:2}] {}", $n, format_args!($($what)*))
    };
}

/// The fault records on the vEVENTQ, once its fd is readable.
fn faults(events: &states::VEventQueue<Smmuv3>) -> Result<Vec<Event>, Box<dyn Error>> {
    wait_readable(events);
    let mut buf = [0u8; 4096];
    Ok(events
        .read(&mut buf)?
        .filter_map(|e| match e {
            states::VEventEntry::Record { record, .. } => Some(Event::decode(&record)),
            states::VEventEntry::Lost { .. } => None,
        })
        .collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("Phase 1: VM boot");
    let iommufd = Arc::new(IommuFd::open()?);
    let ioas = IoasReady::new(&iommufd)?;
    let ram = GuestRam::new(&ioas);
    step!(
        1,
        "guest RAM: 4 MiB memfd mapped at guest physical {RAM_IPA:#x} in {}",
        ioas.id()
    );

    let path = vfio_devices().remove(0);
    let dev = iommufd::VfioUnbound::open(&path)?
        .bind(&iommufd)
        .map_err(|e| e.into_parts().1)?;
    step!(2, "{path} bound to the iommufd as {}", dev.dev_id());

    let s2 = ioas.alloc_nest_parent(&dev)?;
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev)?;
    let (idr, hw) = viommu.hw_info(&dev)?;
    step!(
        3,
        "{} on stage 2 {}; physical SMMU IDR0 {:#x} IDR5 {:#x}",
        viommu.id(),
        s2.id(),
        idr.idr[0],
        idr.idr[5]
    );
    // The guest sees the physical SMMU's capabilities here; its command rules are
    // worked out once.
    let rules = CommandRules::new(&SmmuCaps::decode(&idr, hw.capabilities));
    let events = viommu.alloc_vevent_queue(64)?;
    let bound = viommu.bind(dev, GUEST_SID).map_err(|e| e.into_parts().1)?;
    let bypass = viommu
        .default_hwpt(DefaultStage1::Bypass)
        .ok_or("SMMUv3 has a bypass vSTE")?;
    step!(
        4,
        "{} = guest StreamID {GUEST_SID:#x}, attached to the bypass vSTE's {bypass}",
        bound.vdevice_id()
    );

    println!("Phase 2: the guest enables its SMMU");
    let mut s1 = Stage1::new(&ram, ASID);
    let (src, dst) = (0x4000_0000u64, 0x4010_0000u64);
    let (page_a, page_b, page_c) = (DATA_IPA, DATA_IPA + 4 * PAGE, DATA_IPA + 8 * PAGE);
    s1.map(src, page_a);
    s1.map(dst, page_b);
    ram.fill(page_a, PAGE as usize, 0xa5);
    let nested = bound.install(&s1.vste()).map_err(|e| e.into_parts().1)?;
    let hwpt = nested
        .stage1_hwpt()
        .ok_or("a nested state has its own HWPT")?;
    step!(
        5,
        "guest STE (stage-1 translate, CD at {CD_IPA:#x}) -> nested {hwpt}, attached by replace"
    );

    let edu = Edu::new(nested.device());
    edu.dma(src, EDU_BUFFER, PAGE);
    edu.dma(EDU_BUFFER, dst, PAGE);
    let landed = ram.bytes(page_b, PAGE as usize).iter().all(|&b| b == 0xa5);
    if !landed {
        return Err("DMA did not land where stage 1 then stage 2 say".into());
    }
    step!(
        6,
        "edu DMA {src:#x} -> {dst:#x}: 4 KiB landed in guest page {page_b:#x} (stage 1, then stage 2)"
    );

    // The guest points dst at another page without telling the SMMU: the cached
    // translation still wins.
    s1.map(dst, page_c);
    ram.fill(page_b, PAGE as usize, 0);
    ram.fill(page_c, PAGE as usize, 0);
    edu.dma(EDU_BUFFER, dst, PAGE);
    let stale = ram.bytes(page_b, 8) == [0xa5; 8] && ram.bytes(page_c, 8) == [0; 8];
    step!(
        7,
        "guest remapped {dst:#x} to {page_c:#x}, no invalidation yet: DMA went to the old page: {stale}"
    );

    // The guest queues TLBI_NH_VA, a prefetch and CMD_SYNC; the VMM drains its
    // command queue: each raw command checked, the batch sent at the sync, one ioctl.
    let guest_cmdq: Vec<[u8; 16]> = [
        cmd::tlbi_nh_va(ASID, dst, true),
        cmd::command(0x01, 0), // CMD_PREFETCH_CONFIG: nothing to do
        cmd::sync(),
    ]
    .iter()
    .map(|c| c.as_bytes().try_into().unwrap())
    .collect();
    let mut batch = viommu.batch::<63>();
    let drain =
        batch.push_guest_commands(0, &guest_cmdq, &rules, |vsid| u64::from(vsid) == GUEST_SID)?;
    if drain != (Drain::Synced { guest_index: 2 }) {
        return Err(format!("the CMD_SYNC must end the drain: {drain:?}").into());
    }
    drop(batch); // empty: the CMD_SYNC flushed it
    ram.fill(page_b, PAGE as usize, 0);
    edu.dma(EDU_BUFFER, dst, PAGE);
    if ram.bytes(page_c, 8) != [0xa5; 8] {
        return Err("after TLBI_NH_VA the DMA must follow the new mapping".into());
    }
    step!(
        8,
        "guest CMDQ TLBI_NH_VA, PREFETCH, CMD_SYNC -> one IOMMU_HWPT_INVALIDATE: the next DMA lands in {page_c:#x}"
    );

    s1.unmap(dst);
    viommu.invalidate(&[cmd::tlbi_nh_va(ASID, dst, true)])?;
    edu.dma(EDU_BUFFER, dst, 4);
    let fault = faults(&events)?
        .into_iter()
        .next()
        .ok_or("no fault on the vEVENTQ")?;
    step!(
        9,
        "guest unmapped {dst:#x}: the DMA faults, vEVENT {:?} for StreamID {:#x} at {:#x}",
        fault.id,
        fault.stream_id,
        fault.input_address
    );

    let bound = nested
        .switch_default(DefaultStage1::Abort)
        .map_err(|e| e.into_parts().1)?;
    step!(
        10,
        "guest aborts the stream: device on the abort vSTE, nested HWPT destroyed"
    );

    println!("Teardown");
    drop(events);
    drop(edu); // it holds a dup of the device fd, which would keep the device bound
    drop(bound);
    viommu.try_destroy().map_err(|e| e.into_parts().1)?;
    s2.try_destroy().map_err(|e| e.into_parts().1)?;
    drop(ram);
    ioas.try_destroy().map_err(|e| e.into_parts().1)?;
    step!(
        11,
        "vIOMMU, stage 2, IOAS destroyed children first: nothing left in the kernel"
    );
    println!("walkthrough: ok");
    Ok(())
}
