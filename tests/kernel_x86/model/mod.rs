// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Issue 13: a model-based lifecycle test. Random sequences of the public API's
//! operations (IOAS, mappings, stage 2, vIOMMU, devices bound and unbound, stage-1
//! switches through the typed states and the runtime holder, HW queues, event and
//! fault queues, invalidations, try_destroy, drops of any handle in any order,
//! fail-nth injected at random steps) run against the kernel's mock IOMMU; after
//! every step the kernel's objects are compared with a model of which must exist
//! (see `world`), and at the end of each sequence everything is dropped in a random
//! order and nothing may be left: no object, no pinned page.

mod check;
mod devices;
mod ops;
mod queues;
mod rng;
mod seq;
mod world;

use crate::common::Buffer;
use iommufd::Feature;
use rustix::fd::OwnedFd;
use seq::{Failure, Seq, Stats};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::time::Instant;

/// Sequences per run, and the longest one.
const SEQUENCES: u64 = 2000;
const MAX_STEPS: usize = 40;
/// Sequence i runs from seed `FIRST_SEED + i`: fixed, so every run replays the
/// same sequences. `IOMMUFD_MODEL_SEED=<seed>` (hex with 0x, or decimal) runs just
/// that one and prints its steps (`rig/x86-tier.sh model --nocapture`).
const FIRST_SEED: u64 = 0x5eed_0000;

/// The seeds to run: the fixed list, or the one to replay.
fn seeds() -> (Vec<u64>, bool) {
    let Ok(seed) = std::env::var("IOMMUFD_MODEL_SEED") else {
        return ((FIRST_SEED..FIRST_SEED + SEQUENCES).collect(), false);
    };
    let seed = match seed.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => seed.parse(),
    }
    .expect("IOMMUFD_MODEL_SEED is a number");
    (vec![seed], true)
}

/// What every sequence shares: the memory it maps and the fault injector.
pub struct Env {
    pub memfd: OwnedFd,
    /// `map_user`'s memory: lives longer than every iommufd of the test.
    pub buffer: Buffer,
    pub faults: Faults,
}

/// This thread's fail-nth (`/proc/thread-self/fail-nth`), as `fail_nth::sweep`
/// drives it.
pub struct Faults {
    file: File,
}

impl Faults {
    fn open() -> Self {
        crate::fail_nth::configure();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .expect("the kernel tier's kernel has CONFIG_FAULT_INJECTION (fail-nth)");
        Self { file }
    }

    /// Runs `f` with the `n`-th injection site failing, if `n` is given; returns
    /// whether the fault fired.
    pub fn run<R>(&self, n: Option<u32>, f: impl FnOnce() -> R) -> (R, bool) {
        let Some(n) = n else { return (f(), false) };
        let armed = n.to_string();
        self.file
            .write_at(armed.as_bytes(), 0)
            .expect("fail-nth takes a count");
        let r = f();
        // "0" once the n-th site failed; the read can itself be refused then.
        let mut left = [0u8; 16];
        let fired = match self.file.read_at(&mut left, 0) {
            Ok(len) => std::str::from_utf8(&left[..len]).map(str::trim) == Ok("0"),
            Err(_) => true,
        };
        // Disarming can fail once with EFAULT too; the second try takes.
        if self.file.write_at(b"0", 0).is_err() {
            self.file.write_at(b"0", 0).expect("cannot disarm fail-nth");
        }
        (r, fired)
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn random_sequences_agree_with_the_model() {
    if !crate::common::needs(&[
        Feature::VIommu,
        Feature::VDevice,
        Feature::VEventQueue,
        Feature::HwQueue,
        Feature::IoasMapFile,
        Feature::FaultQueue,
    ]) {
        return;
    }
    let memfd = rustix::fs::memfd_create("model-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&memfd, ops::MAP_LEN * world::SLOTS as u64).unwrap();
    let env = Env {
        memfd,
        buffer: Buffer::new(ops::MAP_LEN as usize),
        faults: Faults::open(),
    };
    // The probe must tell a live object from a gone one, or every check passes.
    let fd = crate::common::open();
    let id = fd.alloc_ioas().unwrap().raw();
    assert!(check::exists(&fd, id), "the probe misses a live IOAS");
    fd.destroy(iommufd::IoasId::from_raw(id)).unwrap();
    assert!(!check::exists(&fd, id), "the probe sees a destroyed IOAS");
    drop(fd);

    let start = Instant::now();
    let mut stats = Stats::default();
    let mut failures: Vec<Failure> = Vec::new();
    let mut failed = 0;
    let (seeds, replay) = seeds();
    for &seed in &seeds {
        let mut seq = Seq::new(&env, seed);
        let len = MAX_STEPS / 4 + seq.rng.below(MAX_STEPS - MAX_STEPS / 4 + 1);
        let (found, log) = seq.run(len, &mut stats);
        if replay {
            for line in log {
                eprintln!("model:     {line}");
            }
        }
        failed += usize::from(!found.is_empty());
        failures.extend(found);
    }
    let possible = ops::OPS.len() * ops::OPS.len();
    eprintln!(
        "model: {} sequences, {} steps, {} of {possible} (op, next op) pairs, \
         fail-nth armed {} times and hit {} times, {} discrepancies in {failed} sequences, {:.1} s",
        seeds.len(),
        stats.steps,
        stats.pairs.len(),
        stats.armed,
        stats.hit,
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    // Grouped by kind (the message without its ids), with the steps of the
    // shortest sequence of each kind to replay by seed.
    let mut kinds: BTreeMap<String, Vec<&Failure>> = BTreeMap::new();
    for f in &failures {
        let mut parts: Vec<String> = f
            .message
            .split("; ")
            .map(|p| p.chars().filter(|c| !c.is_ascii_digit()).collect())
            .collect();
        parts.dedup();
        for kind in parts {
            kinds.entry(kind).or_default().push(f);
        }
    }
    for (kind, all) in &kinds {
        let f = all
            .iter()
            .min_by_key(|f| f.log.len())
            .expect("a kind has a failure");
        let seeds: Vec<String> = all
            .iter()
            .take(8)
            .map(|f| format!("{:#x}", f.seed))
            .collect();
        eprintln!(
            "model: {} times: {kind} (seeds {}, ...)",
            all.len(),
            seeds.join(" ")
        );
        eprintln!(
            "model:   seed {:#x}, step {}: {}",
            f.seed, f.step, f.message
        );
        for line in &f.log {
            eprintln!("model:     {line}");
        }
    }
    // Nothing the run relies on may have silently not happened.
    let never: Vec<_> = ops::OPS
        .iter()
        .map(|(op, _)| *op)
        .filter(|op| !stats.ran.contains_key(op))
        .collect();
    assert!(
        replay || never.is_empty(),
        "operations that never ran: {never:?}"
    );
    assert!(stats.hit > 0, "fail-nth never fired");
    assert!(
        failures.is_empty(),
        "{failed} of {} sequences disagree with the model; the first: seed {:#x}: {}",
        seeds.len(),
        failures[0].seed,
        failures[0].message
    );
}
