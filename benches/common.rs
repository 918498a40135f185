// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Timing helpers shared by the benches: repeated runs, min and median.

#![allow(dead_code)]
#![allow(unsafe_code)] // the raw ioctl the crate is measured against

use iommufd::payload::InvalidationEntry;
use iommufd::uapi::{IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate};
use rustix::fd::AsFd;
use std::time::{Duration, Instant};

/// A bare IOMMU_HWPT_INVALIDATE as a VMM without the crate issues it: fill the
/// struct, ioctl. What the crate is measured against.
#[inline(always)]
pub fn raw_invalidate<E: InvalidationEntry>(
    fd: &impl AsFd,
    target: u32,
    entries: &[E],
) -> rustix::io::Result<()> {
    let mut arg = IommuHwptInvalidate {
        size: size_of::<IommuHwptInvalidate>() as u32,
        hwpt_id: target,
        data_uptr: entries.as_ptr() as u64,
        data_type: E::DATA_TYPE,
        entry_len: size_of::<E>() as u32,
        entry_num: entries.len() as u32,
        __reserved: 0,
    };
    // SAFETY: IOMMU_HWPT_INVALIDATE takes struct iommu_hwpt_invalidate; data_uptr
    // points to `entries`, borrowed for the call, entry_len * entry_num bytes.
    unsafe {
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Updater::<IOMMU_HWPT_INVALIDATE, IommuHwptInvalidate>::new(&mut arg),
        )
    }
}

/// Seconds per measurement (IOMMUFD_BENCH_SECONDS, default 0.2).
pub fn budget() -> Duration {
    let s: f64 = std::env::var("IOMMUFD_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.2);
    Duration::from_secs_f64(s)
}

/// Runs `f` (which handles `per_call` items) repeatedly for the budget, `reps`
/// times; returns (min, median) nanoseconds per item.
pub fn measure(per_call: usize, reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    let budget = budget();
    let mut results = Vec::with_capacity(reps);
    for _ in 0..reps {
        // Calibrate the iteration count so one rep takes about the budget.
        let mut iters = 1u64;
        loop {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let e = t.elapsed();
            if e >= budget / 4 || iters > (1 << 30) {
                let target =
                    (iters as f64 * budget.as_secs_f64() / e.as_secs_f64().max(1e-9)) as u64;
                iters = target.max(1);
                break;
            }
            iters *= 4;
        }
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        results.push(t.elapsed().as_nanos() as f64 / (iters as f64 * per_call as f64));
    }
    results.sort_by(f64::total_cmp);
    (results[0], results[results.len() / 2])
}

/// Like [`measure`] for several variants at once, interleaved rep by rep so that
/// noise (a TCG guest, another load) hits them alike. Returns (min, median) ns per
/// item for each variant.
pub fn measure_interleaved(
    per_call: usize,
    reps: usize,
    variants: &mut [&mut dyn FnMut()],
) -> Vec<(f64, f64)> {
    interleaved_samples(per_call, reps, variants)
        .iter()
        .map(|s| min_median(s))
        .collect()
}

/// (min, median) of samples.
pub fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    (s[0], s[s.len() / 2])
}

/// The median over rounds of `slow[r] / fast[r]`: `fast`'s throughput relative to
/// `slow`'s, measured in the same rounds.
pub fn paired_ratio(slow: &[f64], fast: &[f64]) -> f64 {
    let mut r: Vec<f64> = slow.iter().zip(fast).map(|(s, f)| s / f).collect();
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

/// The median over rounds of `a[round] - b[round]`: a difference between two
/// variants measured in the same rounds, less noisy than a difference of medians.
pub fn median_difference(a: &[f64], b: &[f64]) -> f64 {
    let mut d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}

/// The ns per item of each variant in each of `reps` interleaved rounds:
/// `result[variant][round]`.
pub fn interleaved_samples(
    per_call: usize,
    reps: usize,
    variants: &mut [&mut dyn FnMut()],
) -> Vec<Vec<f64>> {
    let budget = budget();
    // Calibrate each variant once.
    let iters: Vec<u64> = variants
        .iter_mut()
        .map(|f| {
            let mut iters = 1u64;
            loop {
                let t = Instant::now();
                for _ in 0..iters {
                    f();
                }
                let e = t.elapsed();
                if e >= budget / 4 || iters > (1 << 30) {
                    break ((iters as f64 * budget.as_secs_f64() / e.as_secs_f64().max(1e-9))
                        as u64)
                        .max(1);
                }
                iters *= 4;
            }
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(reps); variants.len()];
    for _ in 0..reps {
        for (i, f) in variants.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..iters[i] {
                f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / (iters[i] as f64 * per_call as f64));
        }
    }
    samples
}

/// Per-call pairs of `a` and `b`, alternated call by call in ABBA order for the
/// budget (times `rounds`), so drift and order effects hit both alike. Returns the
/// median ns per item of `a` and of `b`, and the median over pairs of
/// `time(b) / time(a)`: `a`'s throughput relative to `b`'s.
pub fn alternating(
    per_call: usize,
    rounds: usize,
    a: &mut dyn FnMut(),
    b: &mut dyn FnMut(),
) -> (f64, f64, f64) {
    let deadline = budget() * rounds as u32;
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    let mut flip = false;
    while start.elapsed() < deadline || ta.len() < 16 {
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        };
        let (x, y) = if flip {
            let y = time(b);
            (time(a), y)
        } else {
            let x = time(a);
            (x, time(b))
        };
        flip = !flip;
        ta.push(x / per_call as f64);
        tb.push(y / per_call as f64);
        ratio.push(y / x);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb), median(&mut ratio))
}

/// Prints the host's CPU and the clock this run got (a shared host's vCPU speed
/// varies from run to run): one dependent add per cycle, so ns per add is ns per
/// cycle.
pub fn print_host_clock() {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("host: {machine}");
    let (cycle, _) = measure(1 << 16, 5, || {
        let mut x = std::hint::black_box(0u64);
        for _ in 0..1 << 16 {
            x = dependent_add(x);
        }
        std::hint::black_box(x);
    });
    println!(
        "clock reference: a dependent add takes {cycle:.3} ns (about {:.2} GHz)",
        1.0 / cycle
    );
}

/// One add the compiler can neither fold nor overlap with the next.
#[inline(always)]
fn dependent_add(x: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut x = x;
        // SAFETY: an add on a register; no memory, no stack, flags clobbered only.
        unsafe { core::arch::asm!("add {0}, 1", inout(reg) x, options(nomem, nostack)) };
        x
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::hint::black_box(x.wrapping_add(1))
}

/// QEMU 10's SMMUv3 as the benches' guest sees it (range invalidation, 16-bit
/// ASIDs), from the ID registers the arm64 tier's GET_HW_INFO reported.
pub fn qemu_caps() -> iommufd::arch::smmuv3::SmmuCaps {
    iommufd::arch::smmuv3::SmmuCaps::decode(
        &iommufd::uapi::IommuHwInfoArmSmmuv3 {
            idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
            aidr: 1,
            ..Default::default()
        },
        iommufd::uapi::HwCapabilities::empty(),
    )
}

/// A guest's typical unmap as raw SMMUv3 commands: `n - 1` per-page TLBI_NH_VA
/// (ASID 3, leaf; one in four with range fields when `ranges`), then a CMD_SYNC
/// (CS = SIG_NONE: the guest polls CONS, as Linux does on an SMMU without MSIs,
/// QEMU's).
pub fn guest_unmap(n: usize, ranges: bool) -> Vec<iommufd::uapi::IommuViommuArmSmmuv3Invalidate> {
    use iommufd::arch::smmuv3::command::{self as cmd, TlbiRange};
    (0..n as u64 - 1)
        .map(|i| {
            let va = 0x4000_0000 + (i << 12);
            if ranges && i % 4 == 3 {
                let range = TlbiRange {
                    num: 3,
                    scale: 0,
                    tg: 1,
                    ttl: 3,
                };
                cmd::tlbi_nh_va_range(3, va, true, range)
            } else {
                cmd::tlbi_nh_va(3, va, true)
            }
        })
        .chain([cmd::sync()])
        .collect()
}
