// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vSMMU's command queue over a ring in a fake guest RAM, through the
//! recording fake of the kernel: what each PROD write sends and when, the wrap
//! bit, CMD_SYNC signalling, STE reloads, and each command error with the
//! recovery Linux's driver then performs (`arm_smmu_cmdq_skip_err`). No kernel.

use crate::alloc_count::allocations;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{
    CommandError, CommandRules, Drain, SmmuCaps, StreamSpan, command as cmd,
};
use iommufd::batch::{InvalidationBatch, InvalidationSink, RecordingSink};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate as Cmd};
use iommufd::vsmmu::{
    CError, CommandHost, CommandQueue, CommandQueueError, CompletionSignal, Consumed, GuestMemory,
    GuestMemoryError, GuestMemoryFault, MsiWrite, ReservedBits, Ring, SyncSignal,
};
use iommufd::{Error, Result};
use proptest::prelude::*;
use rustix::io::Errno;
use std::cell::Cell;
use std::sync::Mutex;
use zerocopy::IntoBytes;

/// Where the guest's ring starts.
const BASE: u64 = 0x1_0000;
/// The guest StreamID with a vDEVICE.
const VSID: u32 = 0x42;

/// Guest RAM from GPA `base`, `len` bytes; anything else is unmapped. Logs every
/// read asked of it (address, length) when built with `logged`.
struct Ram {
    base: u64,
    bytes: Mutex<Vec<u8>>,
    reads: Option<Mutex<Vec<(u64, usize)>>>,
}

impl Ram {
    fn new(len: usize) -> Self {
        Self {
            base: BASE,
            bytes: Mutex::new(vec![0; len]),
            reads: None,
        }
    }

    fn logged(len: usize) -> Self {
        Self {
            reads: Some(Mutex::new(Vec::new())),
            ..Self::new(len)
        }
    }

    fn span(
        &self,
        gpa: u64,
        len: usize,
    ) -> core::result::Result<core::ops::Range<usize>, GuestMemoryError> {
        let fault = GuestMemoryError {
            gpa,
            len,
            fault: GuestMemoryFault::Unmapped,
        };
        let start = gpa
            .checked_sub(self.base)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(fault)?;
        let end = start.checked_add(len).ok_or(fault)?;
        if end > self.bytes.lock().unwrap().len() {
            return Err(fault);
        }
        Ok(start..end)
    }

    fn reads(&self) -> Vec<(u64, usize)> {
        self.reads.as_ref().unwrap().lock().unwrap().clone()
    }

    fn word(&self, gpa: u64) -> u32 {
        let mut w = [0; 4];
        self.read(gpa, &mut w).unwrap();
        u32::from_le_bytes(w)
    }
}

impl GuestMemory for Ram {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> core::result::Result<(), GuestMemoryError> {
        if let Some(log) = &self.reads {
            log.lock().unwrap().push((gpa, buf.len()));
        }
        let r = self.span(gpa, buf.len())?;
        buf.copy_from_slice(&self.bytes.lock().unwrap()[r]);
        Ok(())
    }

    fn write(&self, gpa: u64, data: &[u8]) -> core::result::Result<(), GuestMemoryError> {
        let r = self.span(gpa, data.len())?;
        self.bytes.lock().unwrap()[r].copy_from_slice(data);
        Ok(())
    }
}

/// A ring of 2^`log2size` commands at [`BASE`].
fn ring(log2size: u8) -> Ring {
    Ring::from_base(BASE | u64::from(log2size), 19, 16)
}

/// Writes `commands` into the ring from `index` on, as the guest does, and
/// returns the PROD that publishes them.
fn post(ram: &Ram, ring: &Ring, index: u32, commands: &[Cmd]) -> u32 {
    let mut at = index;
    for c in commands {
        ram.write(ring.address(at), c.as_bytes()).unwrap();
        at = ring.next(at);
    }
    at
}

fn qemu_rules() -> CommandRules {
    CommandRules::new(&SmmuCaps::decode(
        &IommuHwInfoArmSmmuv3 {
            idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
            aidr: 1,
            ..Default::default()
        },
        HwCapabilities::empty(),
    ))
}

fn has_vdevice(sid: u32) -> bool {
    sid == VSID
}

fn queue<S: InvalidationSink<Family = Smmuv3>>(sink: S) -> CommandQueue<S, 8> {
    CommandQueue::new(InvalidationBatch::new(sink), qemu_rules())
}

/// What the host was asked, with the number of calls the sink had received by
/// then (so a test sees what was sent before each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Reload(StreamSpan, usize),
    Sync(SyncSignal, usize),
}

/// The glue's side: records; writes SIG_IRQ MSIs into RAM when given one (as a
/// VMM does for Linux's MSIPOLL).
struct Host<'a> {
    sink: &'a RecordingSink<Smmuv3>,
    ram: Option<&'a Ram>,
    events: Vec<Event>,
}

impl<'a> Host<'a> {
    fn new(sink: &'a RecordingSink<Smmuv3>) -> Self {
        Self {
            sink,
            ram: None,
            events: Vec::new(),
        }
    }
}

impl CommandHost for Host<'_> {
    fn reload_stes(&mut self, span: StreamSpan) {
        let calls = self.sink.submissions().len();
        self.events.push(Event::Reload(span, calls));
    }

    fn sync_complete(&mut self, sync: SyncSignal) {
        let calls = self.sink.submissions().len();
        self.events.push(Event::Sync(sync, calls));
        if let (CompletionSignal::Irq(msi), Some(ram)) = (sync.cs, self.ram) {
            // Not RAM: the VMM would deliver it to its interrupt controller.
            let _ = msi.write_to(ram);
        }
    }
}

fn plain_sync(index: u32, cons: u32, calls: usize) -> Event {
    Event::Sync(
        SyncSignal {
            index,
            cons,
            cs: CompletionSignal::None,
        },
        calls,
    )
}

fn asid(a: u16) -> Cmd {
    cmd::tlbi_nh_asid(a)
}

/// CMD_SYNC with CS = SIG_SEV, as Linux's driver writes over an illegal command.
fn sev_sync() -> Cmd {
    cmd::command(0x46 | (2 << 12), 0)
}

fn cfgi_ste_range(sid: u32, range: u64) -> Cmd {
    cmd::command(0x04 | (u64::from(sid) << 32), range)
}

fn entries(sink: &RecordingSink<Smmuv3>) -> Vec<Vec<Cmd>> {
    sink.submissions().into_iter().map(|s| s.entries).collect()
}

#[test]
fn tlbis_wait_for_the_sync_and_go_in_one_call_per_sync_that_has_any() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let commands = [
        asid(1),
        asid(2),
        cmd::sync(),
        cmd::sync(), // nothing before it: no call
        cmd::tlbi_nh_va(3, 0x4000, true),
        cmd::sync(),
    ];
    let prod = post(&ram, &ring, 0, &commands);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 6,
            error: None
        }
    );
    assert_eq!(entries(&sink), [vec![asid(1), asid(2)], vec![commands[4]]]);
    assert_eq!(
        host.events,
        [
            plain_sync(2, 3, 1),
            plain_sync(3, 4, 1),
            plain_sync(5, 6, 2)
        ]
    );
    assert!(q.batch().is_empty() && !q.is_halted());
}

#[test]
fn context_invalidations_for_a_stream_without_a_vdevice_do_nothing() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let commands = [
        asid(1),
        cmd::cfgi_cd(VSID + 1, 0, true), // no vDEVICE: nothing
        cmd::cfgi_cd_all(VSID + 2),      // nor here
        cmd::cfgi_cd(VSID, 0, true),     // the plugged device's: forwarded
        cmd::sync(),
        cmd::command(0x06 | 1 << 8 | u64::from(VSID + 1) << 32, 0), // CFGI_CD_ALL, RES0 bit 8
    ];
    let prod = post(&ram, &ring, 0, &commands);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    // Reserved bits in one are still an illegal command.
    assert_eq!(done.cons, 5);
    assert_eq!(done.error.map(|e| e.cerror()), Some(CError::Ill));
    // The batch before the first skipped command went first; nothing for the
    // unplugged streams reached the kernel.
    assert_eq!(entries(&sink), [vec![asid(1)], vec![commands[3]]]);
    assert_eq!(host.events, [plain_sync(4, 5, 2)]);
}

#[test]
fn tlbis_without_a_sync_are_sent_when_the_queue_drains() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let prod = post(&ram, &ring, 0, &[asid(1), asid(2)]);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 2,
            error: None
        }
    );
    assert_eq!(entries(&sink), [vec![asid(1), asid(2)]]);
    // An empty queue reads and sends nothing.
    let done = q.consume(&ram, ring, 2, 2, has_vdevice, &mut host);
    assert_eq!(done.cons, 2);
    assert_eq!(sink.submissions().len(), 1);
    assert!(host.events.is_empty());
}

#[test]
fn a_wrapped_ring_is_read_in_runs_that_stop_at_its_end() {
    let (ram, ring, sink) = (Ram::logged(0x1000), ring(2), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    // Four slots; CONS at slot 3 without the wrap bit: slots 3, 0, 1 (wrap set).
    let prod = post(&ram, &ring, 0b011, &[asid(3), asid(4), cmd::sync()]);
    assert_eq!(prod, 0b110);
    let done = q.consume(&ram, ring, prod, 0b011, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 0b110,
            error: None
        }
    );
    assert_eq!(ram.reads(), [(BASE + 3 * 16, 16), (BASE, 32)]);
    assert_eq!(entries(&sink), [vec![asid(3), asid(4)]]);
    assert_eq!(host.events, [plain_sync(0b101, 0b110, 1)]);
    // Wrap bit set to clear: slots 3, 0.
    let prod = post(&ram, &ring, 0b111, &[asid(5), cmd::sync()]);
    assert_eq!(prod, 0b001);
    let done = q.consume(&ram, ring, prod, 0b111, has_vdevice, &mut host);
    assert_eq!(done.cons, 0b001);
    assert_eq!(entries(&sink)[1], [asid(5)]);
    assert_eq!(host.events[1], plain_sync(0b000, 0b001, 2));
}

#[test]
fn prod_and_cons_count_only_their_index_and_wrap_bits() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(2), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    post(&ram, &ring, 0, &[asid(1), cmd::sync()]);
    // PROD 2 and CONS 0 under bits the index does not have.
    let done = q.consume(
        &ram,
        ring,
        0xffff_fff0 | 0b010,
        1 << 31,
        has_vdevice,
        &mut host,
    );
    assert_eq!(
        done,
        Consumed {
            cons: 0b010,
            error: None
        }
    );
    assert_eq!(entries(&sink), [vec![asid(1)]]);
    // A LOG2SIZE above a command queue's largest (19) reads as 19, and the base
    // is aligned to that queue's size (8 MiB): this ring starts at 0, outside
    // the RAM, so the fetch aborts there (CERROR_ABT), not at BASE.
    let big = Ring::from_base(BASE | 31, 31, 16);
    let done = q.consume(&ram, big, (1 << 20) | 2, 0, has_vdevice, &mut host);
    assert_eq!(done.cons, 0);
    assert!(
        matches!(done.error, Some(CommandQueueError::Fetch { index: 0, error }) if error.gpa == 0),
        "{done:?}"
    );
    assert_eq!(sink.submissions().len(), 1);
}

#[test]
fn cfgi_ste_range_and_all_reload_after_everything_before_them_was_sent() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let prod = post(
        &ram,
        &ring,
        0,
        &[
            asid(1),
            cmd::cfgi_ste(VSID, true),
            asid(2),
            cfgi_ste_range(0x45, 1),    // 4 StreamIDs, aligned: 0x44..0x48
            cfgi_ste_range(0x1234, 31), // CFGI_ALL
            cmd::sync(),
        ],
    );
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 6,
            error: None
        }
    );
    assert_eq!(
        host.events,
        [
            Event::Reload(
                StreamSpan::Range {
                    first: VSID,
                    count: 1
                },
                1
            ),
            Event::Reload(
                StreamSpan::Range {
                    first: 0x44,
                    count: 4
                },
                2
            ),
            Event::Reload(StreamSpan::All, 2),
            plain_sync(5, 6, 2),
        ]
    );
    assert_eq!(entries(&sink), [vec![asid(1)], vec![asid(2)]]);
}

#[test]
fn cmd_sync_signals_as_its_cs_field_asks() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    host.ram = Some(&ram);
    // Linux's MSIPOLL: SIG_IRQ, the MSI address is the sync's own slot, MSH
    // Inner Shareable, MSIAttr Write-Back; here with non-zero data to see it land.
    let slot = ring.address(1);
    let irq = cmd::command(
        0x46 | (1 << 12) | (0b11 << 22) | (0xf << 24) | (0xdead_beef << 32),
        slot,
    );
    let prod = post(&ram, &ring, 0, &[cmd::sync(), irq, sev_sync()]);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 3,
            error: None
        }
    );
    let msi = MsiWrite {
        address: slot,
        data: 0xdead_beef,
        memory_attributes: 0xf,
        shareability: 0b11,
    };
    assert_eq!(
        host.events,
        [
            plain_sync(0, 1, 0),
            Event::Sync(
                SyncSignal {
                    index: 1,
                    cons: 2,
                    cs: CompletionSignal::Irq(msi)
                },
                0
            ),
            Event::Sync(
                SyncSignal {
                    index: 2,
                    cons: 3,
                    cs: CompletionSignal::Sev
                },
                0
            ),
        ]
    );
    // The host wrote MSIData over the first word of the CMD_SYNC's slot: what
    // Linux's driver spins on.
    assert_eq!(ram.word(slot), 0xdead_beef);
    // The MSI address is word 1 bits 51:2, as an address.
    let high = cmd::command(0x46 | (1 << 12), (1 << 51) | 0xffc);
    post(&ram, &ring, 3, &[high]);
    let done = q.consume(&ram, ring, 4, 3, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 4,
            error: None
        }
    );
    let Event::Sync(
        SyncSignal {
            cs: CompletionSignal::Irq(msi),
            ..
        },
        _,
    ) = host.events[3]
    else {
        panic!("{:?}", host.events[3]);
    };
    assert_eq!((msi.address, msi.data), ((1 << 51) | 0xffc, 0));
}

#[test]
fn a_reserved_cs_is_an_illegal_command_after_what_precedes_it_was_sent() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink).with_reserved_bits(ReservedBits::Ignore);
    let mut host = Host::new(&sink);
    let prod = post(
        &ram,
        &ring,
        0,
        &[asid(1), cmd::command(0x46 | (3 << 12), 0), asid(2)],
    );
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(done.cons, 1);
    let e = done.error.unwrap();
    assert_eq!(e.cerror(), CError::Ill);
    assert!(matches!(
        e,
        CommandQueueError::Illegal {
            index: 1,
            cause: CommandError::Forbidden {
                word: 0,
                bits: 0x3000,
                ..
            }
        }
    ));
    assert_eq!(entries(&sink), [vec![asid(1)]]);
    assert!(host.events.is_empty(), "no signal for an illegal sync");
}

#[test]
fn reserved_bits_in_the_vsmmus_own_commands_are_illegal_unless_ignored() {
    let own = [
        cmd::command(0x46, 1),            // CMD_SYNC, MSIAddress bits 1:0
        cmd::command(0x46 | (1 << 8), 0), // CMD_SYNC, word 0 bit 8
        cmd::command(0x03 | (1 << 10) | (u64::from(VSID) << 32), 1), // CFGI_STE, SSec
        cmd::command(0x03, 2),            // CFGI_STE, word 1 bit 1
        cmd::command(0x04, 1 << 5),       // CFGI_STE_RANGE above Range
        cmd::command(0x01, 1),            // PREFETCH_CONFIG, word 1
        cmd::command(0x02 | (1 << 9), 0), // PREFETCH_ADDR, word 0 bit 9
    ];
    for c in own {
        let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
        let mut q = queue(&sink);
        let mut host = Host::new(&sink);
        let prod = post(&ram, &ring, 0, &[asid(1), c, asid(2)]);
        let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
        let e = done.error.unwrap_or_else(|| panic!("{c:?} passed"));
        assert_eq!((done.cons, e.cerror()), (1, CError::Ill), "{c:?}");
        assert!(
            matches!(
                e,
                CommandQueueError::Illegal {
                    index: 1,
                    cause: CommandError::Forbidden { .. }
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            entries(&sink),
            [vec![asid(1)]],
            "{c:?}: sent before the refusal"
        );
        assert!(host.events.is_empty());
        // Ignored, the command runs as if the bits were 0.
        let sink = RecordingSink::new();
        let mut q = queue(&sink).with_reserved_bits(ReservedBits::Ignore);
        let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut Host::new(&sink));
        assert_eq!(
            done,
            Consumed {
                cons: 3,
                error: None
            },
            "{c:?}"
        );
    }
    // Every defined field set: legal.
    let full = [
        cmd::command(
            0x46 | (1 << 12) | (3 << 22) | (0xf << 24) | (u64::MAX << 32),
            ((1 << 52) - 1) & !3,
        ),
        cmd::command(0x03 | (u64::MAX << 32), 1),
        cmd::command(0x04 | (u64::MAX << 32), 0x1f),
        cmd::command(0x01 | !0x7ff, 0),
        cmd::command(0x02 | !0x7ff, u64::MAX),
    ];
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let prod = post(&ram, &ring, 0, &full);
    let done = queue(&sink).consume(&ram, ring, prod, 0, has_vdevice, &mut Host::new(&sink));
    assert_eq!(
        done,
        Consumed {
            cons: 5,
            error: None
        }
    );
}

#[test]
fn an_illegal_command_halts_the_queue_at_it_until_the_guest_acknowledges() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    // TLBI_EL2_ALL: not a command a guest of this vIOMMU may issue.
    let prod = post(
        &ram,
        &ring,
        0,
        &[asid(1), cmd::command(0x20, 0), asid(2), cmd::sync()],
    );
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    let error = CommandQueueError::Illegal {
        index: 1,
        cause: CommandError::Opcode(0x20),
    };
    assert_eq!(
        done,
        Consumed {
            cons: 1,
            error: Some(error)
        }
    );
    assert_eq!((error.cerror().code(), done.cons), (1, 1));
    assert_eq!(entries(&sink), [vec![asid(1)]], "nothing after it ran");
    assert!(host.events.is_empty());
    assert!(q.is_halted());
    // Halted: nothing runs, and no new error overwrites CONS.ERR.
    let again = q.consume(&ram, ring, prod, 1, has_vdevice, &mut host);
    assert_eq!(
        again,
        Consumed {
            cons: 1,
            error: None
        }
    );
    assert_eq!(sink.submissions().len(), 1);
    // Linux's recovery: overwrite the command at CONS with a CMD_SYNC, acknowledge.
    post(&ram, &ring, 1, &[sev_sync()]);
    q.acknowledge();
    let done = q.consume(&ram, ring, prod, 1, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 4,
            error: None
        }
    );
    assert_eq!(entries(&sink), [vec![asid(1)], vec![asid(2)]]);
    assert_eq!(host.events.len(), 2);
}

#[test]
fn a_kernel_refusal_stops_at_the_refused_command_after_the_ones_before_are_sent_again() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    sink.then_refuse(1, Errno::IO);
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let prod = post(&ram, &ring, 0, &[asid(1), asid(2), asid(3), cmd::sync()]);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(done.cons, 1);
    let e = done.error.unwrap();
    assert!(
        matches!(
            e,
            CommandQueueError::Refused {
                index: 1,
                error: Error::Invalidation {
                    errno: Errno::IO,
                    ..
                }
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.cerror(), CError::Ill);
    // The refused call, then the ARM recovery's re-send of what came before.
    assert_eq!(
        entries(&sink),
        [vec![asid(1), asid(2), asid(3)], vec![asid(1)]]
    );
    assert!(host.events.is_empty(), "the sync after it waits");
    // Linux skips the command (a CMD_SYNC over it) and acknowledges: the rest runs.
    post(&ram, &ring, 1, &[sev_sync()]);
    q.acknowledge();
    let done = q.consume(&ram, ring, prod, 1, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 4,
            error: None
        }
    );
    assert_eq!(sink.accepted(), [asid(1), asid(3)]);
    assert_eq!(host.events.len(), 2);
}

#[test]
fn a_call_that_fails_as_a_whole_aborts_at_the_batch_so_the_guest_fetches_it_again() {
    let (ram, ring, sink) = (Ram::new(0x1000), ring(4), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    let prod = post(
        &ram,
        &ring,
        0,
        &[cmd::sync(), asid(1), asid(2), cmd::sync()],
    );
    sink.then_fail(Errno::NOMEM);
    let done = q.consume(&ram, ring, prod, 0, has_vdevice, &mut host);
    assert_eq!(done.cons, 1, "at the batch's first command");
    let e = done.error.unwrap();
    assert!(
        matches!(
            e,
            CommandQueueError::Failed {
                index: 1,
                count: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.cerror(), CError::Abt);
    assert_eq!(
        host.events,
        [plain_sync(0, 1, 0)],
        "the sync before it completed"
    );
    assert!(sink.accepted().is_empty());
    // Linux acknowledges a CERROR_ABT without touching the queue: the fetch is
    // retried, and the batch sent.
    q.acknowledge();
    let done = q.consume(&ram, ring, prod, 1, has_vdevice, &mut host);
    assert_eq!(
        done,
        Consumed {
            cons: 4,
            error: None
        }
    );
    assert_eq!(sink.accepted(), [asid(1), asid(2)]);
    assert_eq!(host.events[1], plain_sync(3, 4, 2));
}

#[test]
fn a_command_that_cannot_be_fetched_aborts_at_it_after_the_ones_before_ran() {
    // RAM ends after slot 1 of a four-slot ring.
    let (ram, ring, sink) = (Ram::logged(2 * 16), ring(2), RecordingSink::new());
    let mut q = queue(&sink);
    let mut host = Host::new(&sink);
    post(&ram, &ring, 0, &[asid(1), asid(2)]);
    let done = q.consume(&ram, ring, 3, 0, has_vdevice, &mut host);
    assert_eq!(done.cons, 2);
    let e = done.error.unwrap();
    assert_eq!(
        e,
        CommandQueueError::Fetch {
            index: 2,
            error: GuestMemoryError {
                gpa: BASE + 32,
                len: 16,
                fault: GuestMemoryFault::Unmapped
            }
        }
    );
    assert_eq!(e.cerror(), CError::Abt);
    assert_eq!(
        entries(&sink),
        [vec![asid(1), asid(2)]],
        "sent before the abort"
    );
    // The run at once, then one by one to find the command that faults.
    assert_eq!(
        ram.reads(),
        [(BASE, 48), (BASE, 16), (BASE + 16, 16), (BASE + 32, 16)]
    );
}

/// A sink that allocates nothing: refuses entry 0 of its call number `refuse`
/// (counting from 1), fails call number `fail`, accepts the others.
struct Quiet {
    calls: Cell<u32>,
    refuse: u32,
    fail: u32,
}

impl InvalidationSink for Quiet {
    type Family = Smmuv3;

    fn submit(&self, entries: &[Cmd]) -> Result<()> {
        let call = self.calls.get() + 1;
        self.calls.set(call);
        let error = |refused| Error::Invalidation {
            errno: Errno::IO,
            refused,
            completed: 0,
            requested: entries.len() as u32,
        };
        match call {
            c if c == self.refuse => Err(error(Some(0))),
            c if c == self.fail => Err(error(None)),
            _ => Ok(()),
        }
    }
}

/// A host that counts.
#[derive(Default)]
struct Counting {
    reloads: u32,
    syncs: u32,
}

impl CommandHost for Counting {
    fn reload_stes(&mut self, _: StreamSpan) {
        self.reloads += 1;
    }

    fn sync_complete(&mut self, _: SyncSignal) {
        self.syncs += 1;
    }
}

#[test]
fn consuming_allocates_nothing_on_any_path() {
    let ring = ring(8);
    let ram = Ram::new(256 * 16);
    // 250 commands from slot 200, across the wrap: groups of 9 TLBIs (a full
    // batch of 8 on the way) and a sync, a CFGI_STE and a prefetch now and then.
    let mut commands = Vec::new();
    for i in 0..25u16 {
        commands.extend((0..9).map(|a| asid(i * 16 + a)));
        commands.push(if i % 5 == 0 {
            cmd::cfgi_ste(VSID, true)
        } else if i % 7 == 0 {
            cmd::command(0x01, 0)
        } else {
            cmd::sync()
        });
    }
    let prod = post(&ram, &ring, 200, &commands);
    let sink = Quiet {
        calls: Cell::new(0),
        refuse: 0,
        fail: 0,
    };
    let mut q = CommandQueue::new(InvalidationBatch::<_, 8>::new(&sink), qemu_rules());
    let mut host = Counting::default();
    let (done, n) = allocations(|| q.consume(&ram, ring, prod, 200, has_vdevice, &mut host));
    assert_eq!(n, 0);
    assert_eq!(
        done,
        Consumed {
            cons: prod,
            error: None
        }
    );
    assert_eq!((host.reloads, host.syncs), (5, 17));
    // The error paths: a refusal (and its re-send), a failure, an illegal
    // command, a fetch fault; and a halted queue.
    for (refuse, fail) in [(2, 0), (0, 3)] {
        let sink = Quiet {
            calls: Cell::new(0),
            refuse,
            fail,
        };
        let mut q = CommandQueue::new(InvalidationBatch::<_, 8>::new(&sink), qemu_rules());
        let (done, n) = allocations(|| {
            let done = q.consume(&ram, ring, prod, 200, has_vdevice, &mut host);
            let halted = q.consume(&ram, ring, prod, done.cons, has_vdevice, &mut host);
            (done, halted)
        });
        assert_eq!(n, 0);
        assert!(done.0.error.is_some() && done.1.error.is_none());
    }
    post(&ram, &ring, 205, &[cmd::command(0x20, 0)]);
    let short = Ram::new(100 * 16);
    post(&short, &ring, 99, &[asid(1)]);
    let (done, n) = allocations(|| {
        q.acknowledge();
        let illegal = q.consume(&ram, ring, prod, 200, has_vdevice, &mut host);
        q.acknowledge();
        let fault = q.consume(&short, ring, 150, 99, has_vdevice, &mut host);
        (illegal, fault)
    });
    assert_eq!(n, 0);
    assert_eq!(
        done.0.error.map(|e| (e.index(), e.cerror())),
        Some((205, CError::Ill))
    );
    assert_eq!(
        done.1.error.map(|e| (e.index(), e.cerror())),
        Some((100, CError::Abt))
    );
}

fn guest_command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (any::<u16>(), any::<u64>()).prop_map(|(a, va)| cmd::tlbi_nh_va(a, va, true)),
        2 => Just(cmd::tlbi_nh_all()),
        1 => Just(cmd::cfgi_cd(VSID, 0, true)),
        1 => Just(cmd::cfgi_cd(VSID + 1, 0, true)),
        1 => Just(cmd::command(0x01, 0)),
        1 => Just(cmd::cfgi_ste(VSID, false)),
        1 => (any::<u32>(), 0..32u64).prop_map(|(sid, r)| cfgi_ste_range(sid, r)),
        2 => Just(cmd::sync()),
        1 => (0..4u64, any::<u32>(), any::<u64>()).prop_map(|(cs, data, addr)| {
            cmd::command(0x46 | (cs << 12) | (u64::from(data) << 32), addr)
        }),
        1 => (any::<u64>(), any::<u64>()).prop_map(|(w0, w1)| cmd::command(w0, w1)),
    ]
}

proptest! {
    #[test]
    fn any_ring_contents_sizes_and_indices_are_consumed_without_panic_within_bounds(
        log2size in 0u8..=5,
        contents in proptest::collection::vec(guest_command(), 32),
        mapped_slots in 0usize..=40,
        prod in any::<u32>(),
        cons in any::<u32>(),
        script in proptest::collection::vec((0u8..4, 0u32..10), 0..4),
        ignore in any::<bool>(),
    ) {
        let ring = ring(log2size);
        let slots = 1usize << log2size;
        let ram = Ram::logged(mapped_slots.min(slots) * 16);
        for (i, c) in contents.iter().take(mapped_slots.min(slots)).enumerate() {
            ram.write(BASE + i as u64 * 16, c.as_bytes()).unwrap();
        }
        let sink = RecordingSink::new();
        for (kind, entry) in script {
            match kind {
                0 => sink.then_refuse(entry, Errno::IO),
                1 => sink.then_fail(Errno::NOMEM),
                _ => {}
            }
        }
        let policy = if ignore { ReservedBits::Ignore } else { ReservedBits::Illegal };
        let mut q = queue(&sink).with_reserved_bits(policy);
        let mut host = Host::new(&sink);
        host.ram = Some(&ram);
        let done = q.consume(&ram, ring, prod, cons, has_vdevice, &mut host);

        let mask = ring.index_mask();
        let (prod, cons) = (prod & mask, cons & mask);
        let pending = ring.pending(prod, cons);
        prop_assert_eq!(done.cons & !mask, 0);
        prop_assert!(ring.pending(done.cons, cons) <= pending);
        match done.error {
            None => prop_assert_eq!(done.cons, prod),
            Some(e) => {
                prop_assert_eq!(e.index(), done.cons);
                prop_assert!(q.is_halted());
            }
        }
        prop_assert!(q.batch().is_empty());
        prop_assert!(sink.submissions().iter().all(|s| !s.entries.is_empty() && s.entries.len() <= 8));
        // Every read stays in the ring and inside CONS..PROD, and the first
        // reads (before any fallback) fetch at most PROD - CONS commands.
        let window: Vec<u32> = (0..pending).map(|i| ring.slot(cons.wrapping_add(i))).collect();
        let reads = ram.reads();
        for &(gpa, len) in &reads {
            prop_assert!(len % 16 == 0 && len > 0 && len <= 64 * 16);
            let first = ((gpa - BASE) / 16) as u32;
            for s in first..first + (len / 16) as u32 {
                prop_assert!((s as usize) < slots && window.contains(&s));
            }
        }
        let fetched: usize = reads.iter().map(|&(_, len)| len / 16).sum();
        if mapped_slots >= slots {
            prop_assert!(fetched as u32 <= pending);
        }
    }
}

/// Guest commands the queue executes without error: TLBIs, context invalidations
/// of the stream with a vDEVICE, prefetches, CFGI_STE and plain syncs.
fn legal_command() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (any::<u16>(), any::<u64>()).prop_map(|(a, va)| cmd::tlbi_nh_va(a, va, true)),
        2 => any::<u16>().prop_map(asid),
        1 => Just(cmd::tlbi_nh_all()),
        1 => Just(cmd::cfgi_cd(VSID, 0, true)),
        1 => Just(cmd::command(0x01, 0)),
        1 => Just(cmd::cfgi_ste(VSID, false)),
        2 => Just(cmd::sync()),
    ]
}

/// A sync (`true`) or a reload, its guest index (0 for a reload), and the calls
/// made before it.
type Mark = (bool, u32, usize);

/// What the slice drain (`push_guest_commands`, batches of 8) sends for
/// `commands` read as guest commands `first`, ...: the calls, each sync or
/// reload, and the index of the first command error.
fn slice_drain(first: u32, mask: u32, commands: &[Cmd]) -> (Vec<Vec<Cmd>>, Vec<Mark>, Option<u32>) {
    let sink = RecordingSink::new();
    let mut batch = InvalidationBatch::<_, 8>::new(&sink);
    let raw: Vec<[u8; 16]> = commands
        .iter()
        .map(|c| c.as_bytes().try_into().unwrap())
        .collect();
    let rules = qemu_rules();
    let (mut marks, mut error, mut i) = (Vec::new(), None, 0);
    while i < raw.len() {
        let index = |k: usize| first.wrapping_add(k as u32) & mask;
        match batch.push_guest_commands(0, &raw[i..], &rules, has_vdevice) {
            Ok(Drain::Synced { guest_index }) => {
                let k = i + guest_index as usize;
                marks.push((true, index(k), sink.submissions().len()));
                i = k + 1;
            }
            Ok(Drain::ReloadStes { guest_index, .. }) => {
                let k = i + guest_index as usize;
                marks.push((false, 0, sink.submissions().len()));
                i = k + 1;
            }
            Ok(Drain::End) => break,
            Err(e) => {
                error = Some(index(i + e.guest_index() as usize));
                break;
            }
        }
    }
    if error.is_none() {
        batch.flush().unwrap();
    }
    (entries(&sink), marks, error)
}

proptest! {
    #[test]
    fn consume_sends_and_signals_what_the_slice_drain_does_from_any_cons(
        log2size in 2u8..=7,
        commands in proptest::collection::vec(legal_command(), 0..=128),
        cons in any::<u32>(),
    ) {
        let ring = ring(log2size);
        let commands = &commands[..commands.len().min(1 << log2size)];
        let ram = Ram::logged(16 << log2size);
        let cons = cons & ring.index_mask();
        let prod = post(&ram, &ring, cons, commands);
        let sink = RecordingSink::new();
        let mut q = queue(&sink);
        let mut host = Host::new(&sink);
        let done = q.consume(&ram, ring, prod, cons, has_vdevice, &mut host);

        let (calls, marks, error) = slice_drain(cons, ring.index_mask(), commands);
        prop_assert_eq!(entries(&sink), calls);
        let seen: Vec<Mark> = host
            .events
            .iter()
            .map(|e| match *e {
                Event::Sync(s, calls) => (true, s.index, calls),
                Event::Reload(_, calls) => (false, 0, calls),
            })
            .collect();
        prop_assert_eq!(seen, marks);
        prop_assert_eq!(done.error.map(|e| e.index()), error);
        if error.is_none() {
            prop_assert_eq!(done.cons, prod);
            // Every command was read once.
            let read: usize = ram.reads().iter().map(|&(_, len)| len / 16).sum();
            prop_assert_eq!(read, commands.len());
        }
    }
}
