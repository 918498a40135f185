// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! In-guest benchmark of IOMMU_HWPT_INVALIDATE on a vIOMMU: the crate's batched
//! `invalidate`, its `InvalidationBatch`, a raw ioctl loop written here with the same
//! batches, and one command per ioctl: ns per command, min and median of interleaved
//! rounds. The throughput ratios come from calls alternated one by one (ABBA): the
//! crate's invalidate against the raw loop, the batch (push each, flush) against
//! copying each into an array and one raw ioctl. On ARM, also a whole guest queue
//! drained with its checks against an unchecked raw loop.
//!
//! x86_64 guest, kernel mock IOMMU:     rig/bench.sh x86
//! arm64 guest, real arm-smmu-v3 driver: rig/bench.sh arm64

#[path = "common.rs"]
mod common;

#[path = "../tests/shared/alloc_count.rs"]
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
mod alloc_count;

use common::{alternating, interleaved_samples, min_median, paired_ratio};
use iommufd::arch::Family;
use iommufd::payload::InvalidationEntry;
use iommufd::states::VIommuAllocated;
use rustix::fd::AsFd;
use std::hint::black_box;
use zerocopy::IntoBytes;

const SIZES: [usize; 8] = [1, 8, 63, 64, 126, 256, 1024, 4096];

/// The raw loop's call: [`common::raw_invalidate`], which must succeed here.
fn raw_invalidate<E: InvalidationEntry>(fd: &impl AsFd, viommu: u32, entries: &[E]) {
    common::raw_invalidate(fd, viommu, entries).expect("raw invalidation failed");
}

/// Rounds per measurement: every variant runs once per round, in turn, so a ratio
/// is taken within a round (the TCG guest's noise drifts between rounds).
const ROUNDS: usize = 15;

fn run<F: Family>(label: &str, viommu: &VIommuAllocated<F>, entry: F::Invalidation) {
    let fd = viommu.iommufd();
    let id = viommu.id().raw();
    println!(
        "{label}: ns per command (min / median of {ROUNDS} interleaved rounds); throughput ratios: median over calls alternated one by one with the raw loop (ABBA)"
    );
    println!(
        "{:>5} {:>15} {:>15} {:>15} {:>15} {:>9} {:>9} {:>9}",
        "N",
        "crate",
        "batch<4096>",
        "raw loop",
        "1 per ioctl",
        "crate/raw",
        "batch/fill",
        "1/N gain"
    );
    for n in SIZES {
        let entries = vec![entry; n];
        // 80 KiB: on the heap. (On the stack, the x86 TCG guest flushed it at half
        // speed from 1024 entries on; the arm64 guest did not: an emulation effect
        // this bench does not chase.)
        let mut batch = Box::new(viommu.batch::<4096>());
        let mut array = vec![entry; n];
        let mut crate_call = || viommu.invalidate(black_box(&entries)).unwrap();
        let mut batch_call = || {
            for (i, e) in black_box(&entries).iter().enumerate() {
                batch.push(i as u32, *e).unwrap();
            }
            batch.flush().unwrap();
        };
        let mut raw_call = || raw_invalidate(fd.as_ref(), id, black_box(&entries));
        let mut one_per_call = || {
            for e in &entries {
                raw_invalidate(fd.as_ref(), id, core::slice::from_ref(black_box(e)));
            }
        };
        // What a VMM without the crate does with the same entries: copy them one by
        // one into its array, then one ioctl.
        let mut fill_call = || {
            for (slot, e) in array.iter_mut().zip(black_box(&entries)) {
                *slot = *e;
            }
            raw_invalidate(fd.as_ref(), id, &array);
        };
        let s = interleaved_samples(
            n,
            ROUNDS,
            &mut [
                &mut crate_call,
                &mut batch_call,
                &mut raw_call,
                &mut one_per_call,
            ],
        );
        let [c, b, r, one] = [0, 1, 2, 3].map(|i| min_median(&s[i]));
        // The ratios the targets speak of: each crate path against its raw
        // counterpart, call by call, so the guest's drift cancels out.
        let (_, _, crate_vs_raw) = alternating(n, ROUNDS, &mut crate_call, &mut raw_call);
        let (_, _, batch_vs_raw) = alternating(n, ROUNDS, &mut batch_call, &mut fill_call);
        println!(
            "{n:>5} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>7.0} / {:>5.0} {:>9.3} {:>9.3} {:>9.1}",
            c.0,
            c.1,
            b.0,
            b.1,
            r.0,
            r.1,
            one.0,
            one.1,
            crate_vs_raw,
            batch_vs_raw,
            paired_ratio(&s[3], &s[0]),
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
    let (info, hw) = fd
        .hw_info::<iommufd::uapi::IommuHwInfoArmSmmuv3>(iommufd::Device::dev_id(&dev))
        .unwrap();
    let ioas = IoasReady::new(&fd).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let _bound = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let label = format!(
        "arm64 TCG guest, Linux {}, arm-smmu-v3 on QEMU's SMMUv3",
        kernel.trim()
    );
    run(&label, &viommu, cmd::tlbi_nh_va(3, 0x4000_0000, true));
    let rules = iommufd::arch::smmuv3::CommandRules::new(&iommufd::arch::smmuv3::SmmuCaps::decode(
        &info,
        hw.capabilities,
    ));
    drain(&label, &viommu, &rules);
    ring(&label, &ioas, &viommu, &rules);
}

/// The VMM's whole path for a guest queue of N-1 TLBI_NH_VA and a CMD_SYNC: each raw
/// command checked and batched (`push_guest_commands`, capacity 63, the driver's
/// block), against a raw loop sending the same commands unchecked in 63-entry ioctls.
#[cfg(target_arch = "aarch64")]
fn drain(
    label: &str,
    viommu: &VIommuAllocated<iommufd::arch::Smmuv3>,
    rules: &iommufd::arch::smmuv3::CommandRules,
) {
    use iommufd::arch::smmuv3::Drain;
    use iommufd::arch::smmuv3::command as cmd;
    let fd = viommu.iommufd();
    let id = viommu.id().raw();
    println!(
        "{label}: a guest queue drained, checked, against unchecked; ns per command (min / median of {ROUNDS} interleaved rounds)"
    );
    println!(
        "{:>5} {:>21} {:>21} {:>9}",
        "N", "push_guest_commands", "raw loop of 63", "drain/raw"
    );
    for n in [8usize, 64, 256, 4096] {
        let entries: Vec<_> = (0..n as u64 - 1)
            .map(|i| cmd::tlbi_nh_va(3, 0x4000_0000 + (i << 12), true))
            .collect();
        let queue: Vec<[u8; 16]> = entries
            .iter()
            .chain([&cmd::sync()])
            .map(|c| c.as_bytes().try_into().unwrap())
            .collect();
        let mut batch = viommu.batch::<63>();
        let mut drain_call = || {
            let drain = batch.push_guest_commands(0, black_box(&queue), rules, |s| s == 0x42);
            assert_eq!(
                drain,
                Ok(Drain::Synced {
                    guest_index: n as u32 - 1
                })
            );
        };
        let mut raw_call = || {
            for chunk in black_box(&entries).chunks(63) {
                raw_invalidate(fd.as_ref(), id, chunk);
            }
        };
        let s = interleaved_samples(n, ROUNDS, &mut [&mut drain_call, &mut raw_call]);
        let [d, r] = [0, 1].map(|i| min_median(&s[i]));
        let (_, _, drain_vs_raw) = alternating(n, ROUNDS, &mut drain_call, &mut raw_call);
        println!(
            "{n:>5} {:>11.0} / {:>7.0} {:>11.0} / {:>7.0} {:>9.3}",
            d.0, d.1, r.0, r.1, drain_vs_raw
        );
    }
}

/// The glue's side of the ring bench: counts completed syncs; the rings hold no
/// CFGI_STE*.
#[cfg(target_arch = "aarch64")]
#[derive(Default)]
struct SyncCount(u64);

#[cfg(target_arch = "aarch64")]
impl iommufd::vsmmu::CommandHost for SyncCount {
    fn reload_stes(&mut self, _: iommufd::arch::smmuv3::StreamSpan) {
        unreachable!("no CFGI_STE in the bench's rings")
    }

    fn sync_complete(&mut self, sync: iommufd::vsmmu::SyncSignal) {
        self.0 += 1;
        black_box(sync);
    }
}

/// The VMM's whole path from guest memory on ARM: a guest ring of N-1 TLBI_NH_VA
/// (one in four with range fields) and a CMD_SYNC in guest RAM (a memfd, mapped
/// into the IOAS), consumed by the vSMMU's `CommandQueue` (each run of 64 read at
/// once, each command checked, batches of 63 to the vIOMMU) as on a guest's write
/// to CMDQ_PROD, against a raw loop sending the same commands, already in memory
/// and unchecked, in 63-entry ioctls. Guest memory is read with `pread` on the
/// memfd (`FileGuestMemory`) or copied out of the VMM's mapping of it; the drain of
/// the same commands from a slice (`push_guest_commands`) shows the checks alone.
#[cfg(target_arch = "aarch64")]
fn ring(
    label: &str,
    ioas: &iommufd::states::IoasReady,
    viommu: &VIommuAllocated<iommufd::arch::Smmuv3>,
    rules: &iommufd::arch::smmuv3::CommandRules,
) {
    use iommufd::arch::smmuv3::Drain;
    use iommufd::arch::smmuv3::command as cmd;
    use iommufd::vsmmu::{
        CommandQueue, Consumed, FileGuestMemory, FileRegion, GuestMemory, MappedGuestMemory, Ring,
    };
    use iommufd::{Access, Iova, MapAt};
    use std::sync::Arc;
    /// Guest RAM at this guest physical address: a ring of 2^13 commands (128 KiB)
    /// and as much again.
    const BASE: u64 = 0x4000_0000;
    const LOG2SIZE: u64 = 13;
    const RAM: usize = 2 << (LOG2SIZE + 4);
    let memfd =
        Arc::new(rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap());
    rustix::fs::ftruncate(&memfd, RAM as u64).unwrap();
    ioas.map_file(
        memfd.as_fd(),
        0,
        RAM as u64,
        MapAt::Fixed(Iova(BASE)),
        Access::READ | Access::WRITE,
    )
    .unwrap();
    let file = FileGuestMemory::new([FileRegion::new(memfd.clone(), BASE, RAM as u64, 0)]).unwrap();
    let mapped =
        MappedGuestMemory::map([FileRegion::new(memfd.clone(), BASE, RAM as u64, 0)]).unwrap();
    // Range fields only where the SMMU has range invalidation (QEMU's has).
    let range = cmd::tlbi_nh_va_range(
        3,
        0x4000_0000,
        true,
        cmd::TlbiRange {
            num: 3,
            scale: 0,
            tg: 1,
            ttl: 3,
        },
    );
    let ranges = rules.classify(range.as_bytes(), |_| true).is_ok();
    let fd = viommu.iommufd();
    let id = viommu.id().raw();
    println!(
        "{label}: a guest ring in guest memory consumed, checked, against unchecked (N-1 TLBI_NH_VA{} + CMD_SYNC); ns per command (min / median of {ROUNDS} interleaved rounds); ratios: median over calls alternated one by one with the raw loop (ABBA)",
        if ranges {
            ", 1 in 4 with range fields"
        } else {
            ""
        }
    );
    println!(
        "{:>5} {:>17} {:>17} {:>17} {:>17} {:>9} {:>9} {:>9}",
        "N",
        "consume, pread",
        "consume, mapped",
        "slice drain",
        "raw loop of 63",
        "pread/raw",
        "mapped/raw",
        "slice/raw"
    );
    for n in [8usize, 64, 256, 4096] {
        let commands = common::guest_unmap(n, ranges);
        let entries = &commands[..n - 1];
        let queue: Vec<[u8; 16]> = commands
            .iter()
            .map(|c| c.as_bytes().try_into().unwrap())
            .collect();
        file.write(BASE, commands.as_bytes()).unwrap();
        assert_eq!(mapped.read_u64(BASE).unwrap(), file.read_u64(BASE).unwrap());
        let mut on_file = CommandQueue::new(viommu.batch::<63>(), rules.clone());
        let mut on_mapped = CommandQueue::new(viommu.batch::<63>(), rules.clone());
        let mut slice = viommu.batch::<63>();
        let (mut h_file, mut h_mapped) = (SyncCount::default(), SyncCount::default());
        // The guest wrote PROD = n with CONS at 0; the same ring every round.
        let mut file_call = || {
            let ring = Ring::from_base(black_box(BASE | LOG2SIZE), 19, 16);
            let done = on_file.consume(&file, ring, n as u32, 0, |s| s == 0x42, &mut h_file);
            assert_eq!(
                done,
                Consumed {
                    cons: n as u32,
                    error: None
                }
            );
        };
        let mut mapped_call = || {
            let ring = Ring::from_base(black_box(BASE | LOG2SIZE), 19, 16);
            let done = on_mapped.consume(&mapped, ring, n as u32, 0, |s| s == 0x42, &mut h_mapped);
            assert_eq!(
                done,
                Consumed {
                    cons: n as u32,
                    error: None
                }
            );
        };
        let mut slice_call = || {
            let drain = slice.push_guest_commands(0, black_box(&queue), rules, |s| s == 0x42);
            assert_eq!(
                drain,
                Ok(Drain::Synced {
                    guest_index: n as u32 - 1
                })
            );
        };
        let mut raw_call = || {
            for chunk in black_box(entries).chunks(63) {
                raw_invalidate(fd.as_ref(), id, chunk);
            }
        };
        // Once each, counted: no allocation on any path, the kernel's answers
        // included.
        for (what, call) in [
            ("consume over pread", &mut file_call as &mut dyn FnMut()),
            ("consume over the mapping", &mut mapped_call),
            ("push_guest_commands", &mut slice_call),
        ] {
            let ((), allocs) = alloc_count::allocations(call);
            assert_eq!(allocs, 0, "{what} allocated");
        }
        let s = interleaved_samples(
            n,
            ROUNDS,
            &mut [
                &mut file_call,
                &mut mapped_call,
                &mut slice_call,
                &mut raw_call,
            ],
        );
        let [f, m, d, r] = [0, 1, 2, 3].map(|i| min_median(&s[i]));
        let (_, _, file_vs_raw) = alternating(n, ROUNDS, &mut file_call, &mut raw_call);
        let (_, _, mapped_vs_raw) = alternating(n, ROUNDS, &mut mapped_call, &mut raw_call);
        let (_, _, slice_vs_raw) = alternating(n, ROUNDS, &mut slice_call, &mut raw_call);
        println!(
            "{n:>5} {:>7.0} / {:>7.0} {:>7.0} / {:>7.0} {:>7.0} / {:>7.0} {:>7.0} / {:>7.0} {:>9.3} {:>9.3} {:>9.3}",
            f.0, f.1, m.0, m.1, d.0, d.1, r.0, r.1, file_vs_raw, mapped_vs_raw, slice_vs_raw
        );
        assert!(h_file.0 > 0 && h_mapped.0 > 0);
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn main() {}
