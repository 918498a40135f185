//! Host micro-benchmarks of the invalidation hot path (`cargo bench`).
//!
//! - classifying one raw guest command (the work of
//!   `InvalidationBatch::push_guest_command` besides a 16-byte store);
//! - storing already classified entries (`push` without a kernel);
//! - one `IOMMU_HWPT_INVALIDATE` for N commands against N calls of one command,
//!   on `/dev/null`, whose ioctl returns ENOTTY at once: a syscall-cost proxy for
//!   what batching saves, not a kernel measurement (the guest benches are that).

#![allow(unsafe_code)] // the bare ioctl the crate is compared with

#[path = "common.rs"]
mod common;

use common::measure;
use iommufd::IommuFd;
use iommufd::arch::smmuv3::{SmmuCaps, classify, command as cmd};
use iommufd::uapi::{IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate};
use std::hint::black_box;
use zerocopy::IntoBytes;

/// A bare IOMMU_HWPT_INVALIDATE as a VMM without the crate issues it.
fn raw_enotty(fd: &IommuFd, entries: &[IommuViommuArmSmmuv3Invalidate]) {
    let mut arg = iommufd::uapi::IommuHwptInvalidate {
        size: 32,
        hwpt_id: 1,
        data_uptr: entries.as_ptr() as u64,
        data_type: iommufd::uapi::IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
        entry_len: 16,
        entry_num: entries.len() as u32,
        __reserved: 0,
    };
    // SAFETY: the struct matches IOMMU_HWPT_INVALIDATE and points to `entries`;
    // /dev/null answers ENOTTY without reading it.
    let r = unsafe {
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Updater::<
                { iommufd::uapi::IOMMU_HWPT_INVALIDATE },
                iommufd::uapi::IommuHwptInvalidate,
            >::new(&mut arg),
        )
    };
    black_box(r.is_err());
}

fn main() {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("host: {machine}");
    let caps = SmmuCaps::decode(&IommuHwInfoArmSmmuv3 {
        idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
        aidr: 1,
        ..Default::default()
    });
    // A guest's typical unmap: per-page TLBI_NH_VA, then CMD_SYNC.
    let guest: Vec<[u8; 16]> = (0..64u64)
        .map(|i| {
            let c = if i == 63 {
                cmd::sync()
            } else {
                cmd::tlbi_nh_va(3, 0x4000_0000 + (i << 12), true)
            };
            c.as_bytes().try_into().unwrap()
        })
        .collect();

    let (min, med) = measure(guest.len(), 5, || {
        for raw in &guest {
            black_box(classify(black_box(raw), &caps, |s| s == 0x42).is_ok());
        }
    });
    println!("classify one guest command           min {min:6.2} ns  median {med:6.2} ns");
    let one: [u8; 16] = cmd::tlbi_nh_all().as_bytes().try_into().unwrap();
    let (min, med) = measure(1, 5, || {
        black_box(classify(black_box(&one), &caps, |s| s == 0x42).is_ok());
    });
    println!("classify TLBI_NH_ALL                 min {min:6.2} ns  median {med:6.2} ns");

    let mut store = [IommuViommuArmSmmuv3Invalidate::default(); 64];
    let entries: Vec<IommuViommuArmSmmuv3Invalidate> =
        (0..64).map(|i| cmd::tlbi_nh_va(3, i << 12, true)).collect();
    let (min, med) = measure(64, 5, || {
        for (slot, e) in store.iter_mut().zip(&entries) {
            *slot = *black_box(e);
        }
        black_box(&store);
    });
    println!("store one classified entry           min {min:6.2} ns  median {med:6.2} ns");

    let null = IommuFd::open_path("/dev/null").unwrap();
    let viommu = iommufd::ViommuId::from_raw(1);

    // The crate's cost around the syscall: its invalidate against a bare ioctl with
    // the same struct, both answered ENOTTY at once by /dev/null.
    let entries = vec![cmd::tlbi_nh_all(); 64];
    let results = common::measure_interleaved(
        1,
        9,
        &mut [
            &mut || {
                black_box(null.invalidate(viommu, black_box(&entries)).is_err());
            },
            &mut || raw_enotty(&null, &entries),
        ],
    );
    println!(
        "invalidate overhead beyond the syscall: crate {:.1} ns, raw ioctl {:.1} ns per call (median): {:+.1} ns",
        results[0].1,
        results[1].1,
        results[0].1 - results[1].1
    );
    println!("syscall-cost proxy (/dev/null, ENOTTY): ns per command");
    println!(
        "{:>6} {:>14} {:>16} {:>8}",
        "N", "one ioctl", "N ioctls of 1", "ratio"
    );
    for n in [1usize, 8, 63, 64, 256, 4096] {
        let entries = vec![cmd::tlbi_nh_all(); n];
        let (_, batched) = measure(n, 5, || {
            black_box(null.invalidate(viommu, black_box(&entries)).is_err());
        });
        let (_, single) = measure(n, 3, || {
            for e in &entries {
                black_box(
                    null.invalidate(viommu, core::slice::from_ref(black_box(e)))
                        .is_err(),
                );
            }
        });
        println!(
            "{n:>6} {batched:>14.1} {single:>16.1} {:>8.1}",
            single / batched
        );
    }
}
