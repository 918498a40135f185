// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The whole vSMMU on the host: a test plays the guest's SMMUv3 driver through the
//! MMIO entry points only (stream table and queues in fake guest memory, CR0,
//! CMDQ_PROD, GERRORN), against a recording backend (which STE each device got),
//! the recording sink (what went to the "kernel") and recorded interrupts.

use iommufd::arch::smmuv3::{Ste, command as cmd};
use iommufd::arch::{DefaultStage1, Smmuv3};
use iommufd::batch::{InvalidationBatch, RecordingSink};
use iommufd::states::GuestStage1;
use iommufd::vsmmu::{
    Backend, FakeGuestMemory, Interrupt, Interrupts, Registers, VSmmu, VsmmuConfig, Width,
    offset as o,
};
use std::sync::Mutex;
use zerocopy::IntoBytes;

const RAM: u64 = 0x8000_0000;
const STRTAB: u64 = RAM;
const CMDQ: u64 = RAM + 0x1_0000;
const EVTQ: u64 = RAM + 0x2_0000;
/// log2 of the command queue's entries: 8, so a few rounds wrap it.
const CMDQ_LOG2: u64 = 3;
const EVTQ_LOG2: u64 = 4;
const SID: u32 = 5;

/// The devices behind the vSMMU, as a list of what each was told.
#[derive(Default)]
struct Recorded {
    sids: Vec<u32>,
    applied: Vec<(u32, GuestStage1<Smmuv3>)>,
    refuse: bool,
}

impl Backend for Recorded {
    type Family = Smmuv3;

    fn has_device(&self, sid: u32) -> bool {
        self.sids.contains(&sid)
    }

    fn device_after(&self, after: Option<u32>) -> Option<u32> {
        self.sids
            .iter()
            .copied()
            .filter(|&s| after.is_none_or(|a| s > a))
            .min()
    }

    fn apply(&mut self, sid: u32, stage1: GuestStage1<Smmuv3>) -> iommufd::Result<()> {
        if self.refuse && matches!(stage1, GuestStage1::Translate(_)) {
            return Err(iommufd::Error::Unsupported {
                op: iommufd::Op::HwptAlloc,
                reason: "refused by the test",
            });
        }
        self.applied.push((sid, stage1));
        Ok(())
    }
}

/// Interrupts as they came.
#[derive(Default)]
struct Irqs(Mutex<Vec<Interrupt>>);

impl Interrupts for Irqs {
    fn raise(&self, which: Interrupt) {
        self.0.lock().unwrap().push(which);
    }

    fn msi(&self, _: u64, _: u32) {}
}

type Model<'a> = VSmmu<&'a FakeGuestMemory, Recorded, &'a RecordingSink<Smmuv3>, &'a Irqs>;

struct Guest<'a> {
    vsmmu: Model<'a>,
    mem: &'a FakeGuestMemory,
    prod: u32,
}

/// Guest RAM, the kernel's stand-in and the interrupt record of one test.
fn parts() -> (FakeGuestMemory, RecordingSink<Smmuv3>, Irqs) {
    (
        FakeGuestMemory::new(RAM, 1 << 20),
        RecordingSink::new(),
        Irqs::default(),
    )
}

impl<'a> Guest<'a> {
    fn new(mem: &'a FakeGuestMemory, sink: &'a RecordingSink<Smmuv3>, irqs: &'a Irqs) -> Self {
        Self::with(mem, sink, irqs, false)
    }

    /// A vSMMU that advertises MSIs (what Linux's CMD_SYNC polling needs).
    fn with_msi(mem: &'a FakeGuestMemory, sink: &'a RecordingSink<Smmuv3>, irqs: &'a Irqs) -> Self {
        Self::with(mem, sink, irqs, true)
    }

    fn with(
        mem: &'a FakeGuestMemory,
        sink: &'a RecordingSink<Smmuv3>,
        irqs: &'a Irqs,
        msi: bool,
    ) -> Self {
        let host = crate::vsmmu_registers::qemu_host();
        let mut config = VsmmuConfig::for_host(&host);
        config.caps.msi = msi;
        let regs = Registers::new(&host, config).unwrap();
        let backend = Recorded {
            sids: vec![SID],
            ..Default::default()
        };
        let vsmmu = VSmmu::new(regs, mem, backend, InvalidationBatch::new(sink), irqs);
        Self {
            vsmmu,
            mem,
            prod: 0,
        }
    }

    fn write(&self, offset: u64, value: u64) {
        self.vsmmu.write(offset, Width::U32, value).unwrap();
    }

    fn write64(&self, offset: u64, value: u64) {
        self.vsmmu.write(offset, Width::U64, value).unwrap();
    }

    fn read(&self, offset: u64) -> u64 {
        self.vsmmu.read(offset, Width::U32).unwrap()
    }

    fn ste(&self, sid: u32, ste: Ste) {
        let words = ste.words();
        self.mem
            .poke(STRTAB + u64::from(sid) * 64, words.as_bytes())
            .unwrap();
    }

    /// What Linux's probe does: tables and queues, then everything on.
    fn enable(&self) {
        self.write64(o::STRTAB_BASE, STRTAB);
        self.write(o::STRTAB_BASE_CFG, 6); // linear, 64 StreamIDs
        self.write64(o::CMDQ_BASE, CMDQ | CMDQ_LOG2);
        self.write64(o::EVENTQ_BASE, EVTQ | EVTQ_LOG2);
        self.write(o::IRQ_CTRL, 0b101); // GERROR and EVENTQ interrupts
        self.write(o::CR0, 0b1101); // SMMUEN, EVENTQEN, CMDQEN
        assert_eq!(self.read(o::CR0ACK), 0b1101);
    }

    /// Posts `commands` at PROD and rings PROD.
    fn post(&mut self, commands: &[[u64; 2]]) {
        let mask = (2u32 << CMDQ_LOG2) - 1;
        for c in commands {
            let slot = u64::from(self.prod & ((1 << CMDQ_LOG2) - 1));
            self.mem.poke(CMDQ + slot * 16, c.as_bytes()).unwrap();
            self.prod = (self.prod + 1) & mask;
        }
        self.write(o::CMDQ_PROD, u64::from(self.prod));
    }

    fn cons(&self) -> u64 {
        self.read(o::CMDQ_CONS)
    }

    fn last_applied(&self) -> Option<(u32, GuestStage1<Smmuv3>)> {
        self.vsmmu.with_backend(|b| b.applied.last().cloned())
    }
}

fn words(c: iommufd::uapi::IommuViommuArmSmmuv3Invalidate) -> [u64; 2] {
    [c.cmd[0].get(), c.cmd[1].get()]
}

fn translate() -> Ste {
    Ste::translate(RAM + 0x3_0000).unwrap()
}

#[test]
fn the_guest_enables_translation_and_its_ste_reaches_the_device() {
    let (mem, sink, irqs) = parts();
    let guest = Guest::new(&mem, &sink, &irqs);
    // At reset, GBPA (bypass by default) decides.
    assert_eq!(
        guest.last_applied(),
        Some((SID, GuestStage1::Default(DefaultStage1::Bypass)))
    );
    guest.ste(SID, translate());
    guest.enable();
    assert_eq!(
        guest.last_applied(),
        Some((SID, GuestStage1::Translate(translate())))
    );
    assert_eq!(guest.vsmmu.stats().ste_loads, 1);
    // Translation off again: GBPA once more.
    guest.write(o::CR0, 0b1100);
    assert_eq!(
        guest.last_applied(),
        Some((SID, GuestStage1::Default(DefaultStage1::Bypass)))
    );
}

#[test]
fn tlbis_go_out_in_one_call_per_sync_and_the_ring_wraps() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::new(&mem, &sink, &irqs);
    guest.ste(SID, translate());
    guest.enable();
    for round in 0..5u16 {
        let commands = [
            words(cmd::tlbi_nh_asid(round)),
            words(cmd::tlbi_nh_asid(round + 100)),
            words(cmd::sync()),
        ];
        guest.post(&commands);
        assert_eq!(guest.cons(), u64::from(guest.prod), "round {round}");
    }
    // 15 commands through an 8-entry ring: the wrap bit went round.
    let submissions = sink.submissions();
    assert_eq!(submissions.len(), 5, "one ioctl per CMD_SYNC");
    assert!(submissions.iter().all(|s| s.entries.len() == 2));
    assert_eq!(guest.vsmmu.stats().syncs, 5);
    assert_eq!(guest.read(o::GERROR), 0);
}

#[test]
fn an_msi_polled_sync_writes_its_own_slot() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::with_msi(&mem, &sink, &irqs);
    guest.enable();
    // Linux's MSIPOLL: CS=SIG_IRQ, MSIData 0, MSIAddress the sync's own slot.
    // The slot's first word holds the command (0x1046) until the MSI lands.
    let slot = CMDQ + 16; // the sync goes second
    guest.post(&[words(cmd::tlbi_nh_all()), [0x46 | 1 << 12, slot]]);
    let low = u32::from_le_bytes(mem.peek(slot, 4).unwrap().try_into().unwrap());
    assert_eq!(low, 0, "MSIData 0 written at MSIAddress");
    assert_eq!(guest.cons(), 2);
    assert_eq!(sink.accepted().len(), 1);
    assert!(
        irqs.0.lock().unwrap().is_empty(),
        "an MSI to RAM is no interrupt"
    );
}

#[test]
fn an_illegal_command_stops_the_queue_until_the_guest_acknowledges() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::new(&mem, &sink, &irqs);
    guest.enable();
    // TLBI, an unknown opcode (0x7f), TLBI, SYNC.
    guest.post(&[
        words(cmd::tlbi_nh_asid(1)),
        [0x7f, 0],
        words(cmd::tlbi_nh_asid(2)),
        words(cmd::sync()),
    ]);
    let cons = guest.cons();
    assert_eq!(cons & 0xfffff, 1, "CONS stops at the illegal command");
    assert_eq!((cons >> 24) & 0x7f, 1, "CMDQ_CONS.ERR = CERROR_ILL");
    assert_eq!(guest.read(o::GERROR) & 1, 1, "GERROR.CMDQ_ERR toggled");
    assert!(irqs.0.lock().unwrap().contains(&Interrupt::GlobalError));
    // What came before it was sent; nothing after it.
    assert_eq!(sink.accepted().len(), 1);
    // Another CPU posts before the guest's GERROR handler runs: CONS, ERR
    // included, stays as the error left it (Linux's handler reads ERR to decide
    // what to do with the command at CONS), and nothing more runs.
    guest.post(&[words(cmd::sync())]);
    assert_eq!(guest.cons(), cons, "still halted, ERR kept");
    assert_eq!(sink.accepted().len(), 1);
    // Linux: overwrite it with a CMD_SYNC, acknowledge in GERRORN.
    mem.poke(CMDQ + 16, words(cmd::sync()).as_bytes()).unwrap();
    guest.write(o::GERRORN, 1);
    assert_eq!(guest.cons(), 5, "the queue ran on to PROD, ERR cleared");
    assert_eq!(sink.accepted().len(), 2);
}

#[test]
fn cfgi_ste_reloads_the_ste_and_a_bad_one_is_reported_in_the_event_queue() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::new(&mem, &sink, &irqs);
    guest.ste(SID, translate());
    guest.enable();
    // The guest aborts the device.
    guest.ste(SID, Ste::abort());
    guest.post(&[words(cmd::cfgi_ste(SID, true)), words(cmd::sync())]);
    assert_eq!(
        guest.last_applied(),
        Some((SID, GuestStage1::Default(DefaultStage1::Abort)))
    );
    // Config 0b110 (stage 2 only) is not a guest's to set: C_BAD_STE.
    mem.poke(
        STRTAB + u64::from(SID) * 64,
        [1u64 | 0b110 << 1, 0].as_bytes(),
    )
    .unwrap();
    guest.post(&[words(cmd::cfgi_ste(SID, true)), words(cmd::sync())]);
    assert_eq!(guest.read(o::EVENTQ_PROD), 1);
    let record = mem.peek(EVTQ, 8).unwrap();
    let word0 = u64::from_le_bytes(record.try_into().unwrap());
    assert_eq!((word0 & 0xff, word0 >> 32), (0x04, u64::from(SID)));
    assert!(irqs.0.lock().unwrap().contains(&Interrupt::EventQueue));
    assert_eq!(
        guest.last_applied(),
        Some((SID, GuestStage1::Default(DefaultStage1::Abort)))
    );
    // An STE the kernel refuses is the same event, the device aborting.
    guest.ste(SID, translate());
    guest.vsmmu.with_backend(|b| b.refuse = true);
    guest.post(&[words(cmd::cfgi_ste(SID, true)), words(cmd::sync())]);
    assert_eq!(guest.read(o::EVENTQ_PROD), 2);
    assert_eq!(guest.vsmmu.stats().events, 2);
}

#[test]
fn a_stream_id_past_the_table_is_c_bad_streamid_when_the_guest_asks_for_it() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::new(&mem, &sink, &irqs);
    guest.vsmmu.with_backend(|b| b.sids.push(100));
    guest.ste(SID, translate());
    guest.write(o::CR2, 0b10); // RECINVSID, as Linux sets it
    // A 64-entry table: StreamID 100 is out of it. Enabling loads it quietly
    // (Linux enables before it fills in its tables): the device aborts.
    guest.enable();
    assert_eq!(guest.read(o::EVENTQ_PROD), 0);
    let aborted = |guest: &Guest<'_>| {
        guest
            .vsmmu
            .with_backend(|b| b.applied.iter().rev().find(|(s, _)| *s == 100).cloned())
    };
    assert_eq!(
        aborted(&guest),
        Some((100, GuestStage1::Default(DefaultStage1::Abort)))
    );
    // The guest asks for every STE: now the event is the guest's.
    guest.post(&[[0x04, 31], words(cmd::sync())]); // CFGI_ALL (Range 31)
    assert_eq!(guest.read(o::EVENTQ_PROD), 1);
    let word0 = u64::from_le_bytes(mem.peek(EVTQ, 8).unwrap().try_into().unwrap());
    assert_eq!((word0 & 0xff, word0 >> 32), (0x02, 100));
    assert_eq!(guest.vsmmu.stats().ste_errors, 2);
}

#[test]
fn without_recinvsid_a_stream_id_past_the_table_is_not_recorded() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::new(&mem, &sink, &irqs);
    guest.vsmmu.with_backend(|b| b.sids.push(100));
    guest.enable();
    guest.post(&[[0x04, 31], words(cmd::sync())]);
    assert_eq!(guest.read(o::EVENTQ_PROD), 0);
    assert_eq!(guest.cons(), 2, "CFGI_ALL itself is no command error");
}

#[test]
fn an_msi_guest_memory_refuses_is_a_signalled_global_error() {
    let (mem, sink, irqs) = parts();
    let mut guest = Guest::with_msi(&mem, &sink, &irqs);
    guest.enable();
    // The sync's MSI goes to RAM that faults on writes (not a doorbell).
    let target = RAM + 0x5_0000;
    mem.fail_writes(
        target,
        4,
        iommufd::vsmmu::GuestMemoryFault::Io(rustix::io::Errno::IO),
    );
    guest.post(&[[0x46 | 1 << 12, target]]);
    assert_eq!(guest.read(o::GERROR) & (1 << 4), 1 << 4, "MSI_CMDQ_ABT_ERR");
    assert!(irqs.0.lock().unwrap().contains(&Interrupt::GlobalError));
    assert_eq!(guest.cons(), 1, "the sync itself completed");
}

type Loop = VSmmu<FakeGuestMemory, Recorded, RecordingSink<Smmuv3>, std::sync::Arc<Reentrant>>;

/// Interrupts that read the vSMMU back, as a VMM routing a guest MSI aimed at the
/// vSMMU's own window would.
#[derive(Default)]
struct Reentrant {
    vsmmu: std::sync::OnceLock<std::sync::Weak<Loop>>,
    seen: Mutex<Vec<u64>>,
}

impl Interrupts for Reentrant {
    fn raise(&self, _: Interrupt) {
        if let Some(vsmmu) = self.vsmmu.get().and_then(std::sync::Weak::upgrade) {
            let gerror = vsmmu.read(o::GERROR, Width::U32).unwrap();
            self.seen.lock().unwrap().push(gerror);
        }
    }

    fn msi(&self, _: u64, _: u32) {}
}

#[test]
fn interrupt_callbacks_may_call_back_into_the_vsmmu() {
    let host = crate::vsmmu_registers::qemu_host();
    let regs = Registers::new(&host, VsmmuConfig::for_host(&host)).unwrap();
    let backend = Recorded {
        sids: vec![SID],
        ..Default::default()
    };
    let irqs = std::sync::Arc::new(Reentrant::default());
    let mem = FakeGuestMemory::new(RAM, 1 << 20);
    mem.poke(CMDQ, [0x7fu64, 0].as_bytes()).unwrap(); // an illegal command
    let batch = InvalidationBatch::new(RecordingSink::new());
    let vsmmu: std::sync::Arc<Loop> =
        std::sync::Arc::new(VSmmu::new(regs, mem, backend, batch, irqs.clone()));
    irqs.vsmmu.set(std::sync::Arc::downgrade(&vsmmu)).unwrap();
    let write = |offset, value| vsmmu.write(offset, Width::U32, value).unwrap();
    vsmmu
        .write(o::CMDQ_BASE, Width::U64, CMDQ | CMDQ_LOG2)
        .unwrap();
    write(o::IRQ_CTRL, 1); // GERROR
    write(o::CR0, 0b1000); // CMDQEN
    // The GERROR interrupt's callback reads GERROR through the same vSMMU: a
    // deadlock if it ran under the vSMMU's lock.
    write(o::CMDQ_PROD, 1);
    assert_eq!(*irqs.seen.lock().unwrap(), [1]);
}

// One vSMMU serves vCPU threads at once.
static_assertions::assert_impl_all!(
    VSmmu<FakeGuestMemory, iommufd::vsmmu::Devices<Smmuv3, iommufd::VfioDevice>, iommufd::states::VIommuAllocated<Smmuv3>, iommufd::vsmmu::NoInterrupts>: Send, Sync
);

mod random {
    use super::*;
    use proptest::prelude::*;

    /// The registers a guest driver writes, and a few holes.
    const OFFSETS: &[u64] = &[
        o::CR0,
        o::CR1,
        o::CR2,
        o::GBPA,
        o::IRQ_CTRL,
        o::GERRORN,
        o::STRTAB_BASE,
        o::STRTAB_BASE + 4,
        o::STRTAB_BASE_CFG,
        o::CMDQ_BASE,
        o::CMDQ_BASE + 4,
        o::CMDQ_PROD,
        o::CMDQ_CONS,
        o::EVENTQ_BASE,
        o::EVENTQ_PROD,
        o::EVENTQ_CONS,
        o::GERROR_IRQ_CFG0,
        o::EVENTQ_IRQ_CFG0,
        0x3,
        0xfff8,
        0x1_fffc,
        0x2_0000,
    ];

    fn access() -> impl Strategy<Value = (u64, Width, u64)> {
        (
            prop::sample::select(OFFSETS),
            prop::bool::ANY,
            prop_oneof![
                any::<u64>(),
                // Values that reach the model's deeper paths: queues and tables in RAM.
                (0u64..16).prop_map(|n| RAM | n),
                (0u64..0x100).prop_map(|n| (RAM + (n << 12)) | 3),
                0u64..0x40,
            ],
        )
            .prop_map(|(offset, wide, value)| {
                (offset, if wide { Width::U64 } else { Width::U32 }, value)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the guest writes, in whatever order, over whatever memory:
        /// no panic, and the registers stay in states the spec allows.
        #[test]
        fn random_mmio_over_random_memory_never_panics(
            fill in any::<u8>(),
            seed in prop::collection::vec(any::<u64>(), 64),
            accesses in prop::collection::vec(access(), 1..64),
            refuse in prop::option::of(0u32..4),
        ) {
            let mem = FakeGuestMemory::new(RAM, 1 << 20);
            mem.poke(RAM, &vec![fill; 1 << 20]).unwrap();
            // Some plausible commands and STEs scattered over the first pages.
            for (i, word) in seed.iter().enumerate() {
                mem.poke(RAM + (i as u64) * 8 * 17, &word.to_le_bytes()).unwrap();
            }
            let sink = RecordingSink::new();
            if let Some(k) = refuse {
                sink.then_refuse(k, rustix::io::Errno::IO);
            }
            let irqs = Irqs::default();
            let guest = Guest::new(&mem, &sink, &irqs);
            for (offset, width, value) in accesses {
                let _ = guest.vsmmu.write(offset, width, value);
                let _ = guest.vsmmu.read(offset, width);
                // CR0 changes are acted on at once: CR0ACK follows CR0.
                prop_assert_eq!(guest.read(o::CR0ACK), guest.read(o::CR0));
                let cons = guest.read(o::CMDQ_CONS);
                prop_assert_eq!(cons & 0x00f0_0000, 0, "CONS bits 23:20 are RES0");
                // ERR is the guest's to write while CMDQEN is 0; the model only
                // ever writes codes the spec has.
                if guest.read(o::CR0ACK) & 0b1000 != 0 && guest.read(o::GERROR) & 1 != 0 {
                    prop_assert!((cons >> 24) & 0x7f <= 3, "a CERROR the spec has");
                }
                prop_assert_eq!(guest.read(o::GERROR) & !0x1f5, 0, "implemented GERROR bits only");
            }
            // And it still tears down.
            guest.vsmmu.reset();
            prop_assert_eq!(guest.read(o::CR0ACK), 0);
        }
    }
}
