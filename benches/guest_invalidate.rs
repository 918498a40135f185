//! In-guest benchmark of IOMMU_HWPT_INVALIDATE on a vIOMMU: the crate's batched
//! `invalidate`, its `InvalidationBatch`, a raw ioctl loop written here with the same
//! batches, and one command per ioctl. ns per command, min and median of 5 runs.
//!
//! x86_64 guest, kernel mock IOMMU:     rig/bench.sh x86
//! arm64 guest, real arm-smmu-v3 driver: rig/bench.sh arm64

#![allow(unsafe_code)] // the raw ioctl loop this bench compares against

#[path = "common.rs"]
mod common;

use common::measure_interleaved;
use iommufd::arch::Family;
use iommufd::payload::InvalidationEntry;
use iommufd::states::VIommuAllocated;
use iommufd::uapi::{IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate};
use rustix::fd::AsFd;
use std::hint::black_box;
use zerocopy::IntoBytes;

const SIZES: [usize; 8] = [1, 8, 63, 64, 126, 256, 1024, 4096];

/// The loop a VMM without this crate writes: fill the struct, ioctl.
fn raw_invalidate<E: InvalidationEntry>(fd: &impl AsFd, viommu: u32, entries: &[E]) {
    let mut arg = IommuHwptInvalidate {
        size: size_of::<IommuHwptInvalidate>() as u32,
        hwpt_id: viommu,
        data_uptr: entries.as_ptr() as u64,
        data_type: E::DATA_TYPE,
        entry_len: size_of::<E>() as u32,
        entry_num: entries.len() as u32,
        __reserved: 0,
    };
    // SAFETY: IOMMU_HWPT_INVALIDATE takes struct iommu_hwpt_invalidate; data_uptr
    // points to `entries`, borrowed for the call, entry_len * entry_num bytes.
    let r = unsafe {
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Updater::<IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate>::new(&mut arg),
        )
    };
    r.expect("raw invalidation failed");
}

fn run<F: Family>(label: &str, viommu: &VIommuAllocated<F>, entry: F::Invalidation) {
    let fd = viommu.iommufd();
    let id = viommu.id().raw();
    println!("{label}: ns per command (min / median of 7 interleaved runs)");
    println!(
        "{:>5} {:>15} {:>15} {:>15} {:>15} {:>9} {:>9}",
        "N", "crate", "batch<4096>", "raw loop", "1 per ioctl", "crate/raw", "1/N gain"
    );
    for n in SIZES {
        let entries = vec![entry; n];
        let mut batch = viommu.batch::<4096>();
        let results = measure_interleaved(
            n,
            7,
            &mut [
                &mut || viommu.invalidate(black_box(&entries)).unwrap(),
                &mut || {
                    for (i, e) in entries.iter().enumerate() {
                        batch.push(i as u32, *e).unwrap();
                    }
                    batch.flush().unwrap();
                },
                &mut || raw_invalidate(fd.as_ref(), id, black_box(&entries)),
                &mut || {
                    for e in &entries {
                        raw_invalidate(fd.as_ref(), id, core::slice::from_ref(black_box(e)));
                    }
                },
            ],
        );
        let (crate_ns, batch_ns, raw_ns, single_ns) =
            (results[0], results[1], results[2], results[3]);
        // Throughput ratio crate/raw = raw time / crate time (1.0 = as fast).
        println!(
            "{n:>5} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>9.3} {:>9.1}",
            crate_ns.0,
            crate_ns.1,
            batch_ns.0,
            batch_ns.1,
            raw_ns.0,
            raw_ns.1,
            single_ns.0,
            single_ns.1,
            raw_ns.1 / crate_ns.1,
            single_ns.1 / crate_ns.1
        );
    }
    let _ = entry.as_bytes();
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use iommufd::arch::Selftest;
    use iommufd::mock::MockDevice;
    use iommufd::states::IoasReady;
    use iommufd::uapi::IommuViommuInvalidateSelftest;
    use std::sync::Arc;
    let Ok(fd) = iommufd::IommuFd::open() else {
        println!("guest_invalidate: needs the kernel tier's guest (rig/bench.sh x86); skipped");
        return;
    };
    let fd = Arc::new(fd);
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let _bound = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    run(
        &format!("x86_64 TCG guest, Linux {}, mock IOMMU", kernel.trim()),
        &viommu,
        IommuViommuInvalidateSelftest {
            flags: 0,
            vdev_id: 0x42,
            cache_id: 1,
        },
    );
}

#[cfg(target_arch = "aarch64")]
fn main() {
    use iommufd::arch::Smmuv3;
    use iommufd::arch::smmuv3::command as cmd;
    use iommufd::states::IoasReady;
    use std::sync::Arc;
    let Ok(fd) = iommufd::IommuFd::open() else {
        println!("guest_invalidate: needs the kernel tier's guest (rig/bench.sh arm64); skipped");
        return;
    };
    let fd = Arc::new(fd);
    let path = std::fs::read_dir("/dev/vfio/devices")
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dev = iommufd::VfioUnbound::open(&path)
        .unwrap()
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let ioas = IoasReady::new(&fd).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let _bound = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    run(
        &format!(
            "arm64 TCG guest, Linux {}, arm-smmu-v3 on QEMU's SMMUv3",
            kernel.trim()
        ),
        &viommu,
        cmd::tlbi_nh_va(3, 0x4000_0000, true),
    );
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn main() {}
