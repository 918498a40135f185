// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Host micro-benchmark of the vSMMU's command queue (`cargo bench --bench vsmmu`):
//! the whole path from a guest ring in guest memory to the kernel, per guest
//! command, against the raw push loop.
//!
//! The guest's ring holds N-1 TLBI_NH_VA (one in four with range fields) and a
//! CMD_SYNC. `CommandQueue::consume` reads it out of guest memory (runs of 64
//! commands, one access each), checks each command and batches it (capacity 63,
//! the ARM driver's block), flushing at the CMD_SYNC. The raw push loop stores
//! the same N-1 commands, already in memory and unchecked, with `push` into the
//! same batch, then flushes. Guest memory is a memfd read with `pread`
//! (`FileGuestMemory`), the same memfd mapped once and copied out of
//! (`MappedGuestMemory`, what a VMM on rust-vmm's `vm-memory` does too), or `FakeGuestMemory` (a `Vec`
//! behind a lock).
//!
//! The kernel's stand-in is a sink that counts the entries and answers at once:
//! the id-level sink on `/dev/null` answers ENOTTY, and a failed flush halts the
//! queue with CERROR_ABT, another path. Without the syscall, what is left is the
//! crate's work; the in-guest bench (`benches/guest_invalidate.rs`) runs the same
//! path on the real kernel.

#[path = "common.rs"]
mod common;

#[path = "../tests/shared/alloc_count.rs"]
mod alloc_count;

use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{CommandRules, Drain, StreamSpan};
use iommufd::batch::{InvalidationBatch, InvalidationSink};
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate;
use iommufd::vsmmu::{
    CommandHost, CommandQueue, Consumed, FakeGuestMemory, FileGuestMemory, FileRegion, GuestMemory,
    MappedGuestMemory, Ring, SyncSignal,
};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use zerocopy::IntoBytes;

/// Where guest RAM starts, and the ring in it.
const BASE: u64 = 0x4000_0000;
/// The ring: 2^13 commands (128 KiB), room for the largest N.
const LOG2SIZE: u64 = 13;
/// Guest RAM: the ring and as much again.
const RAM: usize = 2 << (LOG2SIZE + 4);
/// The guest StreamID with a vDEVICE.
const VSID: u32 = 0x42;
/// Interleaved rounds per table row.
const ROUNDS: usize = 15;

/// The kernel's stand-in: takes the entries, counts them and answers at once.
#[derive(Default)]
struct Counting {
    calls: Cell<u64>,
    entries: Cell<u64>,
}

impl InvalidationSink for Counting {
    type Family = Smmuv3;

    #[inline(always)]
    fn submit(&self, entries: &[IommuViommuArmSmmuv3Invalidate]) -> iommufd::Result<()> {
        self.calls.set(self.calls.get() + 1);
        self.entries.set(self.entries.get() + entries.len() as u64);
        black_box(entries);
        Ok(())
    }
}

/// The glue's side: counts completed syncs; no CFGI_STE* in these rings.
#[derive(Default)]
struct Host {
    syncs: u64,
}

impl CommandHost for Host {
    fn reload_stes(&mut self, _: StreamSpan) {
        unreachable!("no CFGI_STE in the bench's rings")
    }

    #[inline]
    fn sync_complete(&mut self, sync: SyncSignal) {
        self.syncs += 1;
        black_box(sync);
    }
}

type Queue<'a> = CommandQueue<&'a Counting, 63>;

/// One PROD write's worth: the guest wrote PROD = `n` with CONS at 0.
#[inline(always)]
fn consume(queue: &mut Queue<'_>, mem: &impl GuestMemory, n: u32, host: &mut Host) -> Consumed {
    let ring = Ring::from_base(black_box(BASE | LOG2SIZE), 19, 16);
    queue.consume(mem, ring, n, 0, |s| s == VSID, host)
}

fn main() {
    common::print_host_clock();
    // QEMU's SMMUv3 (range invalidation, 16-bit ASIDs), as in the invalidate bench.
    let caps = common::qemu_caps();
    let rules = CommandRules::new(&caps);

    let memfd =
        Arc::new(rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap());
    rustix::fs::ftruncate(&memfd, RAM as u64).unwrap();
    let file = FileGuestMemory::new([FileRegion::new(memfd.clone(), BASE, RAM as u64, 0)]).unwrap();
    let mapped =
        MappedGuestMemory::map([FileRegion::new(memfd.clone(), BASE, RAM as u64, 0)]).unwrap();
    let fake = FakeGuestMemory::new(BASE, RAM);

    println!(
        "vSMMU command queue, a guest ring of N-1 TLBI_NH_VA (1 in 4 with range fields) + CMD_SYNC consumed into a batch of 63 whose sink answers at once (no syscall); ns per guest command, min / median of {ROUNDS} interleaved rounds; +raw: median over rounds of the difference to the raw push loop"
    );
    println!(
        "{:>5} {:>15} {:>23} {:>23} {:>23} {:>23} {:>15}",
        "N",
        "raw push",
        "push_guest_commands",
        "consume, memfd pread",
        "consume, memfd mapped",
        "consume, FakeGuestMem",
        "pread alone"
    );
    for n in [8usize, 64, 256, 4096] {
        let commands = common::guest_unmap(n, true);
        let queue: Vec<[u8; 16]> = commands
            .iter()
            .map(|c| c.as_bytes().try_into().unwrap())
            .collect();
        let entries = &commands[..n - 1];
        // The guest posts its ring once; the same ring is consumed every round (the
        // glue would see PROD = n, CONS = 0 each time).
        file.write(BASE, commands.as_bytes()).unwrap();
        fake.write(BASE, commands.as_bytes()).unwrap();
        assert_eq!(mapped.read_u64(BASE).unwrap(), file.read_u64(BASE).unwrap());

        let sink = Counting::default();
        let mut raw = InvalidationBatch::<_, 63>::new(&sink);
        let mut slice = InvalidationBatch::<_, 63>::new(&sink);
        let mut on_file = Queue::new(InvalidationBatch::new(&sink), rules.clone());
        let mut on_mapped = Queue::new(InvalidationBatch::new(&sink), rules.clone());
        let mut on_fake = Queue::new(InvalidationBatch::new(&sink), rules.clone());
        let [mut h_file, mut h_mapped, mut h_fake] = [(); 3].map(|()| Host::default());

        // Each path once: it ends where the guest expects, sends every command in
        // ceil((n-1)/63) calls, signals one sync, and allocates nothing.
        let done = Consumed {
            cons: n as u32,
            error: None,
        };
        for (what, (got, allocs)) in [
            (
                "memfd pread",
                alloc_count::allocations(|| consume(&mut on_file, &file, n as u32, &mut h_file)),
            ),
            (
                "memfd mapped",
                alloc_count::allocations(|| {
                    consume(&mut on_mapped, &mapped, n as u32, &mut h_mapped)
                }),
            ),
            (
                "FakeGuestMemory",
                alloc_count::allocations(|| consume(&mut on_fake, &fake, n as u32, &mut h_fake)),
            ),
        ] {
            assert_eq!(got, done, "consume over {what}");
            assert_eq!(allocs, 0, "consume over {what} allocated");
        }
        let calls = (n as u64 - 1).div_ceil(63);
        assert_eq!(
            (sink.calls.get(), sink.entries.get()),
            (3 * calls, 3 * (n as u64 - 1))
        );
        assert_eq!([h_file.syncs, h_mapped.syncs, h_fake.syncs], [1; 3]);
        let (drained, allocs) = alloc_count::allocations(|| {
            slice.push_guest_commands(0, &queue, &rules, |s| s == VSID)
        });
        assert_eq!(
            (drained, allocs),
            (
                Ok(Drain::Synced {
                    guest_index: n as u32 - 1
                }),
                0
            )
        );

        let mut fetched = [0u8; 1024];
        let s = common::interleaved_samples(
            n,
            ROUNDS,
            &mut [
                &mut || {
                    for (i, e) in black_box(entries).iter().enumerate() {
                        let _ = raw.push(i as u32, *e);
                    }
                    black_box(raw.flush().is_ok());
                },
                &mut || {
                    let drained =
                        slice.push_guest_commands(0, black_box(&queue), &rules, |s| s == VSID);
                    black_box(drained.is_ok());
                },
                &mut || {
                    let _ = black_box(consume(&mut on_file, &file, n as u32, &mut h_file));
                },
                &mut || {
                    let _ = black_box(consume(&mut on_mapped, &mapped, n as u32, &mut h_mapped));
                },
                &mut || {
                    let _ = black_box(consume(&mut on_fake, &fake, n as u32, &mut h_fake));
                },
                // What the memfd path reads: one pread per run of 64 commands.
                &mut || {
                    for run in (0..n).step_by(64) {
                        let len = (n - run).min(64) * 16;
                        let gpa = black_box(BASE) + run as u64 * 16;
                        black_box(file.read(gpa, &mut fetched[..len]).is_ok());
                    }
                },
            ],
        );
        let cell = |i: usize| {
            let (min, med) = common::min_median(&s[i]);
            if i == 0 {
                format!("{min:6.2} / {med:6.2}")
            } else {
                let over = common::median_difference(&s[i], &s[0]);
                format!("{min:6.2} / {med:6.2} {over:+6.2}")
            }
        };
        println!(
            "{n:>5} {:>15} {:>23} {:>23} {:>23} {:>23} {:>15}",
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4),
            {
                let (min, med) = common::min_median(&s[5]);
                format!("{min:6.2} / {med:6.2}")
            },
        );
        // Every round ended where the guest expects (checked above for one round;
        // the queues never halted since).
        assert!(!on_file.is_halted() && !on_mapped.is_halted() && !on_fake.is_halted());
    }
    println!(
        "allocations: none in any consume, push_guest_commands or push (counted on the first call of each, per N)"
    );
}
