// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Host micro-benchmarks of the invalidation hot path (`cargo bench`).
//!
//! - `InvalidationBatch::push_guest_command`: one raw guest command checked with
//!   `CommandRules` and stored in the batch (a batch on `/dev/null`, emptied with
//!   `clear` instead of a flush), against the same checks by the free `classify`;
//! - storing already classified entries (`push` without a kernel);
//! - what a flush costs beyond its syscall;
//! - one `IOMMU_HWPT_INVALIDATE` for N commands against N calls of one command,
//!   on `/dev/null`, whose ioctl returns ENOTTY at once: a syscall-cost proxy for
//!   what batching saves, not a kernel measurement (the guest benches are that);
//! - push + flush into a sink that takes the entries and answers at once: the
//!   batch's own cost per flush, without a syscall.

#[path = "common.rs"]
mod common;

use common::measure;
use iommufd::IommuFd;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{CommandRules, GuestCommand, Step, classify, command as cmd};
use iommufd::batch::{InvalidationBatch, InvalidationSink, VIommuIdSink};
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate;
use std::hint::black_box;
use zerocopy::IntoBytes;

/// The bare ioctl on /dev/null, which answers ENOTTY without reading the entries.
fn raw_enotty(fd: &IommuFd, entries: &[IommuViommuArmSmmuv3Invalidate]) {
    black_box(common::raw_invalidate(fd, 1, entries).is_err());
}

/// A sink that looks at the entries and accepts them: no syscall, so what is left
/// is the batch's own work.
struct Discard;

impl InvalidationSink for Discard {
    type Family = Smmuv3;

    #[inline(always)]
    fn submit(&self, entries: &[IommuViommuArmSmmuv3Invalidate]) -> iommufd::Result<()> {
        black_box(entries);
        Ok(())
    }
}

fn main() {
    common::print_host_clock();
    let caps = common::qemu_caps();
    let rules = CommandRules::new(&caps);
    let null = IommuFd::open_path("/dev/null").unwrap();
    let viommu = iommufd::VIommuId::from_raw(1);
    let bytes = |c: iommufd::uapi::IommuViommuArmSmmuv3Invalidate| -> [u8; 16] {
        c.as_bytes().try_into().unwrap()
    };

    // A guest's typical unmap: per-page TLBI_NH_VA (some as ranges), then CMD_SYNC.
    let unmap: Vec<[u8; 16]> = common::guest_unmap(64, true)
        .into_iter()
        .take(63) // the TLBIs, without the CMD_SYNC
        .map(bytes)
        .collect();
    let nh_all = vec![bytes(cmd::tlbi_nh_all()); 63];
    println!("one raw guest command, ns per command (63 per round, 9 interleaved rounds):");
    for (label, queue) in [("TLBI_NH_VA mix", &unmap), ("TLBI_NH_ALL", &nh_all)] {
        let mut batch = InvalidationBatch::<VIommuIdSink<Smmuv3>, 64>::for_viommu_id(&null, viommu);
        let mut drained =
            InvalidationBatch::<VIommuIdSink<Smmuv3>, 64>::for_viommu_id(&null, viommu);
        let results = common::measure_interleaved(
            queue.len(),
            9,
            &mut [
                // Inputs opaque once per round, each step handled as a VMM does,
                // results consumed at the round's end (a black_box per command
                // would force the batch through memory).
                &mut || {
                    let mut synced = 0u32;
                    for (i, raw) in black_box(queue).iter().enumerate() {
                        match batch.push_guest_command(i as u32, raw, &rules, |s| s == 0x42) {
                            Ok(Step::Queued | Step::Nothing) => {}
                            Ok(_) => synced += 1,
                            Err(_) => break,
                        }
                    }
                    black_box((synced, &batch));
                    batch.clear();
                },
                &mut || {
                    let drain =
                        drained.push_guest_commands(0, black_box(queue), &rules, |s| s == 0x42);
                    black_box((drain.is_ok(), &drained));
                    drained.clear();
                },
                &mut || {
                    let mut forward = 0u32;
                    for raw in black_box(queue).iter() {
                        let verdict = rules.classify(raw, |s| s == 0x42);
                        forward += u32::from(matches!(verdict, Ok(GuestCommand::Forward(_))));
                    }
                    black_box(forward);
                },
                &mut || {
                    let mut forward = 0u32;
                    for raw in black_box(queue).iter() {
                        let verdict = classify(raw, &caps, |s| s == 0x42);
                        forward += u32::from(matches!(verdict, Ok(GuestCommand::Forward(_))));
                    }
                    black_box(forward);
                },
            ],
        );
        let names = [
            "push_guest_command, one by one",
            "push_guest_commands, the slice",
            "CommandRules::classify only",
            "classify(caps) only",
        ];
        println!("  {label}:");
        for (name, (min, median)) in names.iter().zip(&results) {
            println!("    {name:<32} min {min:5.2}  median {median:5.2}");
        }
    }

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

    // The crate's cost around the syscall, all answered ENOTTY at once by /dev/null
    // (the error path: the kernel's side differs, the crate's work around the call
    // is the same): its invalidate against a bare ioctl with the same struct; a
    // batch's flush against a bare ioctl on the entries of a batch filled the same
    // way; and push + flush against a hand-written VMM's copy into an array + ioctl.
    println!(
        "beyond the syscall (median of paired differences over 31 interleaved rounds), ns per call:"
    );
    for n in [1usize, 64] {
        let entries = vec![cmd::tlbi_nh_all(); n];
        let mut batch = InvalidationBatch::<VIommuIdSink<Smmuv3>, 64>::for_viommu_id(&null, viommu);
        let mut filled =
            InvalidationBatch::<VIommuIdSink<Smmuv3>, 64>::for_viommu_id(&null, viommu);
        let mut array = [IommuViommuArmSmmuv3Invalidate::default(); 64];
        let s = common::interleaved_samples(
            1,
            31,
            &mut [
                &mut || raw_enotty(&null, black_box(&entries)),
                &mut || {
                    black_box(null.invalidate(viommu, black_box(&entries)).is_err());
                },
                &mut || {
                    for (slot, e) in array.iter_mut().zip(black_box(&entries)) {
                        *slot = *e;
                    }
                    raw_enotty(&null, &array[..n]);
                },
                &mut || {
                    for (i, e) in black_box(&entries).iter().enumerate() {
                        let _ = batch.push(i as u32, *e);
                    }
                    black_box(batch.flush().is_err());
                },
                &mut || {
                    for (i, e) in black_box(&entries).iter().enumerate() {
                        let _ = filled.push(i as u32, *e);
                    }
                    // The same push, then the bare ioctl on what the batch holds.
                    raw_enotty(&null, filled.entries());
                    filled.clear();
                },
            ],
        );
        println!(
            "  {n:>2} entries: raw ioctl {:.1}; IommuFd::invalidate {:+.1}; flush {:+.1} (push + flush against push + bare ioctl on the batch's entries); push + flush {:+.1} against copy + raw ioctl",
            common::median_difference(&s[0], &[0.0; 31]),
            common::median_difference(&s[1], &s[0]),
            common::median_difference(&s[3], &s[4]),
            common::median_difference(&s[3], &s[2]),
        );
    }
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
    println!("push + flush into a sink that answers at once (no syscall), ns per call:");
    for n in [1usize, 63] {
        let entries = vec![cmd::tlbi_nh_all(); n];
        let mut batch = InvalidationBatch::<Discard, 64>::new(Discard);
        let (min, med) = measure(1, 5, || {
            for (i, e) in black_box(&entries).iter().enumerate() {
                let _ = batch.push(i as u32, *e);
            }
            black_box(batch.flush().is_ok());
        });
        println!("  {n:>2} entries: min {min:6.2}  median {med:6.2}");
    }
}
