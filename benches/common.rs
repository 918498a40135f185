//! Timing helpers shared by the benches: repeated runs, min and median.

#![allow(dead_code)]

use std::time::{Duration, Instant};

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
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            (s[0], s[s.len() / 2])
        })
        .collect()
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
