// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest half of the vSMMU (`iommufd::vsmmu`) played by its guest driver
//! through the MMIO entry points only, against the real arm-smmu-v3 driver on
//! QEMU's SMMUv3, with edu's DMA as the proof.
//!
//! The VMM side is built as a VMM would build it (the device's hw_info, the guest's
//! caps from the host's, the register file, guest RAM as the memfd the IOAS maps,
//! the vIOMMU as the batch's sink, a vEVENTQ pump). The guest side writes its stream
//! table, command queue and event queue into guest RAM and programs the registers
//! the way Linux's `arm_smmu_device_reset` does; from then on it only writes
//! commands into its ring, rings CMDQ_PROD, reads CONS, GERROR and its event queue,
//! and acknowledges.

use crate::guest::*;
use iommufd::arch::smmuv3::{SmmuCaps, Ste, command as cmd};
use iommufd::arch::{DefaultStage1, Smmuv3};
use iommufd::batch::InvalidationBatch;
use iommufd::states::{GuestStage1, IoasReady, VIommuAllocated};
use iommufd::uapi::{IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate};
use iommufd::vsmmu::{
    Cr0, Devices, EventRecord, FileGuestMemory, FileRegion, GlobalErrors, Interrupt, Interrupts,
    IrqCtrl, Registers, VEventPump, VSmmu, VsmmuConfig, Width, WriteOutcome, offset,
};
use iommufd::{Device, ErrorKind, HwptId, IommuFd, VfioDevice};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, OwnedFd};
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The guest's StreamID for edu (its physical one is 0x18).
const SID: u32 = 0x42;
const ASID: u16 = 11;
/// Stage-1 input addresses: the pattern, two probes, and addresses stage 1 never maps.
const SRC: u64 = 0x5000_0000;
const PROBE: u64 = 0x6000_0000;
const PROBE2: u64 = 0x6010_0000;
const UNMAPPED: u64 = 0x7000_0000;
const UNMAPPED2: u64 = 0x7010_0000;
const PATTERN: u8 = 0xa5;

/// The guest's SMMU structures, in guest RAM above the data pages: a linear stream
/// table of 128 STEs (8 KiB, aligned to its size), a command queue of 8 entries (so
/// the tests wrap it) and an event queue of 8.
const STRTAB: u64 = RAM_IPA + 0x3e_0000;
const STRTAB_LOG2SIZE: u32 = 7;
const CMDQ: u64 = RAM_IPA + 0x3f_0000;
const CMDQ_LOG2SIZE: u32 = 3;
const EVTQ: u64 = RAM_IPA + 0x3f_1000;
const EVTQ_LOG2SIZE: u32 = 3;
/// RA/WA, bit 62 of the base registers (Linux sets it).
const BASE_ALLOCATE: u64 = 1 << 62;
/// Index and wrap bit of a queue of 8.
const INDEX_MASK: u32 = (2 << CMDQ_LOG2SIZE) - 1;
const WRAP: u32 = 1 << CMDQ_LOG2SIZE;
const CONS_ERR_SHIFT: u32 = 24;
const CERROR_ILL: u32 = 1;
const GBPA_UPDATE: u32 = 1 << 31;
const GBPA_ABORT: u32 = 1 << 20;
const EVTQ_OVFLG: u32 = 1 << 31;
/// An MSI doorbell outside guest RAM (the GICv3 ITS translater on QEMU's virt).
const DOORBELL: u64 = 0x0808_0040;

fn page(n: u64) -> u64 {
    DATA_IPA + n * PAGE
}

fn slot(index: u32) -> u64 {
    u64::from(index & (WRAP - 1))
}

fn next(index: u32) -> u32 {
    (index + 1) & INDEX_MASK
}

/// CMD_SYNC, CS = SIG_SEV (Linux without MSIs).
fn sync_sev() -> IommuViommuArmSmmuv3Invalidate {
    cmd::command(0x46 | (0b10 << 12), 0)
}

/// CMD_SYNC, CS = SIG_IRQ with an MSI: `data` at `address`, Inner Shareable, Normal
/// write-back (Linux's `arm_smmu_cmdq_build_sync_cmd` with MSIPOLL: the address is
/// the sync's own slot, the data 0).
fn sync_msi(address: u64, data: u32) -> IommuViommuArmSmmuv3Invalidate {
    let word0 = 0x46 | (0b01 << 12) | (0b11 << 22) | (0xf << 24) | (u64::from(data) << 32);
    cmd::command(word0, address & (((1 << 52) - 1) & !0b11))
}

/// CMD_PREFETCH_CONFIG of a StreamID (a hint Linux sends; nothing to do).
fn prefetch_config(sid: u32) -> IommuViommuArmSmmuv3Invalidate {
    cmd::command(0x01 | (u64::from(sid) << 32), 0)
}

/// CMD_CFGI_STE_RANGE with Range 31: CMD_CFGI_ALL.
fn cfgi_all() -> IommuViommuArmSmmuv3Invalidate {
    cmd::command(0x04, 31)
}

/// What the vSMMU's interrupts did: wired lines raised, MSIs to the interrupt
/// controller.
#[derive(Debug, Default)]
struct Log {
    raised: Mutex<Vec<Interrupt>>,
    msis: Mutex<Vec<(u64, u32)>>,
}

#[derive(Debug, Clone, Default)]
struct Irqs(Arc<Log>);

impl Interrupts for Irqs {
    fn raise(&self, which: Interrupt) {
        self.0.raised.lock().unwrap().push(which);
    }

    fn msi(&self, address: u64, data: u32) {
        self.0.msis.lock().unwrap().push((address, data));
    }
}

impl Irqs {
    fn take_raised(&self) -> Vec<Interrupt> {
        std::mem::take(&mut self.0.raised.lock().unwrap())
    }

    fn take_msis(&self) -> Vec<(u64, u32)> {
        std::mem::take(&mut self.0.msis.lock().unwrap())
    }
}

type TestSmmu = VSmmu<FileGuestMemory, Devices<Smmuv3, VfioDevice>, VIommuAllocated<Smmuv3>, Irqs>;

/// The VMM's vSMMU with edu behind it as StreamID [`SID`], and the guest driver's
/// own state (its copies of CMDQ_PROD and EVENTQ_CONS).
struct Rig {
    vsmmu: TestSmmu,
    irqs: Irqs,
    edu: Edu,
    /// A copy of the vEVENTQ's fd, for the VMM's event loop to poll.
    vevents: OwnedFd,
    vevent_queue_id: u32,
    ram: GuestRam,
    viommu: VIommuAllocated<Smmuv3>,
    ioas: IoasReady,
    fd: Arc<IommuFd>,
    cmdq_prod: Cell<u32>,
    eventq_cons: Cell<u32>,
}

impl Rig {
    /// The VMM at boot: guest RAM, edu bound and given to the guest as [`SID`], the
    /// vSMMU in its reset state (translation off, GBPA bypass).
    fn new() -> Self {
        let fd = Arc::new(IommuFd::open().expect("/dev/iommu must exist in the arm64 tier"));
        let ioas = IoasReady::new(&fd).unwrap();
        let ram = GuestRam::new(&ioas);
        let dev = open_device(0)
            .bind(&fd)
            .map_err(|e| e.into_parts().1)
            .unwrap();
        let (info, hw) = fd.hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id()).unwrap();
        let host = SmmuCaps::decode(&info, hw.capabilities);
        let mut config = VsmmuConfig::for_host(&host);
        // MSIs, so that the guest can poll CMD_SYNC in memory as Linux does.
        config.caps.msi = true;
        let regs = Registers::new(&host, config).unwrap();
        let s2 = ioas.alloc_nest_parent(&dev).unwrap();
        let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
        let queue = viommu.alloc_vevent_queue(64).unwrap();
        let vevents = queue.as_fd().try_clone_to_owned().unwrap();
        let vevent_queue_id = queue.id().raw();
        let mem = FileGuestMemory::new([FileRegion::new(ram.memfd(), RAM_IPA, RAM_SIZE as u64, 0)])
            .unwrap();
        let irqs = Irqs::default();
        let vsmmu = VSmmu::new(
            regs,
            mem,
            Devices::new(),
            InvalidationBatch::new(viommu.clone()),
            irqs.clone(),
        )
        .with_vevent_queue(VEventPump::new(queue));
        let bound = viommu
            .bind(dev, SID.into())
            .map_err(|e| e.into_parts().1)
            .unwrap();
        let edu = Edu::new(bound.device());
        assert!(vsmmu.plug(bound).is_ok(), "StreamID {SID:#x} is free");
        Self {
            vsmmu,
            irqs,
            edu,
            vevents,
            vevent_queue_id,
            ram,
            viommu,
            ioas,
            fd,
            cmdq_prod: Cell::new(0),
            eventq_cons: Cell::new(0),
        }
    }

    // --- The guest driver: MMIO and guest RAM only. ---

    fn read32(&self, offset: u64) -> u32 {
        self.vsmmu.read(offset, Width::U32).unwrap() as u32
    }

    fn write(&self, offset: u64, width: Width, value: u64) {
        let outcome = self.vsmmu.write(offset, width, value).unwrap();
        assert!(
            !matches!(outcome, WriteOutcome::Ignored(_)),
            "write of {value:#x} at {offset:#x}: {outcome:?}"
        );
    }

    fn write32(&self, offset: u64, value: u32) {
        self.write(offset, Width::U32, value.into());
    }

    fn write64(&self, offset: u64, value: u64) {
        self.write(offset, Width::U64, value);
    }

    /// Writes `value` to CR0 and polls CR0ACK until it matches (bounded), as
    /// `arm_smmu_write_reg_sync` does.
    fn set_cr0(&self, value: Cr0) {
        self.write32(offset::CR0, value.bits());
        self.poll(offset::CR0ACK, value.bits());
    }

    fn set_irq_ctrl(&self, value: IrqCtrl) {
        self.write32(offset::IRQ_CTRL, value.bits());
        self.poll(offset::IRQ_CTRLACK, value.bits());
    }

    fn poll(&self, offset: u64, want: u32) {
        for _ in 0..100 {
            if self.read32(offset) == want {
                return;
            }
        }
        panic!(
            "register {offset:#x} stays {:#x}, not {want:#x}",
            self.read32(offset)
        );
    }

    /// The guest's STE for [`SID`]: words 0 and 1, the rest zero.
    fn write_ste(&self, words: [u64; 2]) {
        let at = STRTAB + u64::from(SID) * 64;
        self.ram.fill(at, 64, 0);
        self.ram.write_u64(at + 8, words[1]);
        self.ram.write_u64(at, words[0]);
    }

    /// Guest physical address of the command slot `ahead` entries past PROD.
    fn cmdq_slot_ahead(&self, ahead: u32) -> u64 {
        let index = (self.cmdq_prod.get() + ahead) & INDEX_MASK;
        CMDQ + slot(index) * 16
    }

    fn write_command(&self, index: u32, command: IommuViommuArmSmmuv3Invalidate) {
        let at = CMDQ + slot(index) * 16;
        self.ram.write_u64(at, command.cmd[0].get());
        self.ram.write_u64(at + 8, command.cmd[1].get());
    }

    /// Writes `commands` into the ring at PROD (checking there is room, from
    /// CONS) without publishing them; returns their indices.
    fn queue(&self, commands: &[IommuViommuArmSmmuv3Invalidate]) -> Vec<u32> {
        let cons = self.read32(offset::CMDQ_CONS) & INDEX_MASK;
        let mut prod = self.cmdq_prod.get();
        let used = prod.wrapping_sub(cons) & INDEX_MASK;
        assert!(
            used as usize + commands.len() <= 1 << CMDQ_LOG2SIZE,
            "no room in the command queue"
        );
        let mut indices = Vec::new();
        for &c in commands {
            self.write_command(prod, c);
            indices.push(prod);
            prod = next(prod);
        }
        self.cmdq_prod.set(prod);
        indices
    }

    /// Publishes what was queued: a write to CMDQ_PROD.
    fn ring(&self) {
        self.write32(offset::CMDQ_PROD, self.cmdq_prod.get());
    }

    /// Queues `commands`, rings, and checks that the vSMMU consumed them all
    /// without error (CONS == PROD, ERR 0).
    fn submit(&self, commands: &[IommuViommuArmSmmuv3Invalidate]) -> Vec<u32> {
        let indices = self.queue(commands);
        self.ring();
        assert_eq!(
            self.read32(offset::CMDQ_CONS),
            self.cmdq_prod.get(),
            "CMDQ_CONS must reach PROD with ERR 0 ({commands:?})"
        );
        indices
    }

    /// Linux's `arm_smmu_device_reset`, for a linear stream table holding `ste`
    /// at [`SID`]: the probe of the ID registers, the stream table, the command
    /// queue (then CFGI_ALL, TLBI_NSNH_ALL, CMD_SYNC), the event queue, wired
    /// interrupts for GERROR and the event queue, and SMMUEN.
    fn boot(&self, ste: &Ste) {
        let idr0 = self.read32(offset::IDR0);
        let idr1 = self.read32(offset::IDR1);
        assert_eq!(idr0 & 0b10, 0b10, "S1P: {idr0:#x}");
        assert_eq!((idr0 >> 2) & 0b11, 0b10, "AArch64 tables: {idr0:#x}");
        assert_ne!(idr0 & (1 << 13), 0, "MSI: {idr0:#x}");
        assert!((idr1 >> 21) & 0x1f >= CMDQ_LOG2SIZE, "CMDQS: {idr1:#x}");
        assert!((idr1 >> 16) & 0x1f >= EVTQ_LOG2SIZE, "EVENTQS: {idr1:#x}");
        assert!(idr1 & 0x3f >= STRTAB_LOG2SIZE, "SIDSIZE: {idr1:#x}");
        assert_eq!(self.read32(offset::CR0ACK), 0, "disabled at reset");

        self.ram.fill(STRTAB, 64 << STRTAB_LOG2SIZE, 0);
        self.write_ste(ste.words());
        self.write64(offset::STRTAB_BASE, BASE_ALLOCATE | STRTAB);
        self.write32(offset::STRTAB_BASE_CFG, STRTAB_LOG2SIZE); // FMT linear

        self.ram.fill(CMDQ, 16 << CMDQ_LOG2SIZE, 0);
        self.write64(
            offset::CMDQ_BASE,
            BASE_ALLOCATE | CMDQ | u64::from(CMDQ_LOG2SIZE),
        );
        self.write32(offset::CMDQ_PROD, 0);
        self.write32(offset::CMDQ_CONS, 0);
        self.set_cr0(Cr0::CMDQEN);
        self.submit(&[cfgi_all(), cmd::tlbi_nsnh_all(), cmd::sync()]);

        self.ram.fill(EVTQ, 32 << EVTQ_LOG2SIZE, 0);
        self.write64(
            offset::EVENTQ_BASE,
            BASE_ALLOCATE | EVTQ | u64::from(EVTQ_LOG2SIZE),
        );
        self.write32(offset::EVENTQ_PROD, 0);
        self.write32(offset::EVENTQ_CONS, 0);
        self.set_cr0(Cr0::CMDQEN | Cr0::EVENTQEN);

        // Wired interrupts: no MSI address for GERROR or the event queue.
        self.write64(offset::GERROR_IRQ_CFG0, 0);
        self.write64(offset::EVENTQ_IRQ_CFG0, 0);
        self.set_irq_ctrl(IrqCtrl::GERROR_IRQEN | IrqCtrl::EVENTQ_IRQEN);

        self.set_cr0(Cr0::SMMUEN | Cr0::CMDQEN | Cr0::EVENTQEN);
    }

    /// Reads the records between the driver's EVENTQ_CONS and EVENTQ_PROD out of
    /// its event queue in guest RAM and acknowledges them (OVACKFLG = OVFLG).
    fn guest_events(&self) -> Vec<EventRecord> {
        let prod = self.read32(offset::EVENTQ_PROD);
        let mut cons = self.eventq_cons.get();
        let mut records = Vec::new();
        while (prod ^ cons) & INDEX_MASK != 0 {
            let at = EVTQ + slot(cons) * 32;
            let bytes: [u8; 32] = self.ram.bytes(at, 32).try_into().unwrap();
            records.push(EventRecord::from_bytes(bytes));
            cons = next(cons);
        }
        self.eventq_cons.set(cons);
        self.write32(offset::EVENTQ_CONS, cons | (prod & EVTQ_OVFLG));
        records
    }

    /// The VMM's event loop until the guest's event queue holds a record `want`
    /// accepts (10 s at most): poll the vEVENTQ's fd, pump while it is readable,
    /// read the guest's queue. Returns every record read.
    /// Whether the vEVENTQ's fd becomes readable within `timeout`.
    fn vevents_readable(&self, timeout: Duration) -> bool {
        let mut fds = [PollFd::new(&self.vevents, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
        fds[0].revents().contains(PollFlags::IN)
    }

    fn pump_until(&self, want: impl Fn(&EventRecord) -> bool) -> Vec<EventRecord> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 16 * VEventPump::ENTRY_BYTES];
        let mut seen = Vec::new();
        loop {
            if self.vevents_readable(Duration::from_millis(100)) {
                loop {
                    let forwarded = self
                        .vsmmu
                        .pump_events(&mut buf)
                        .unwrap()
                        .expect("the guest's event queue is enabled");
                    if forwarded.is_empty() {
                        break;
                    }
                }
            }
            seen.extend(self.guest_events());
            if seen.iter().any(&want) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "the record never reached the guest's event queue; it holds {seen:?}"
            );
        }
    }

    // --- The device. ---

    /// Maps SRC to page 0 holding the pattern, boots the guest's SMMU with `s1`'s
    /// STE, and loads edu's buffer with the pattern through stage 1.
    fn start(&self, s1: &mut Stage1<'_>) {
        s1.map(SRC, page(0));
        self.ram.fill(page(0), PAGE as usize, PATTERN);
        self.boot(&s1.vste());
        self.edu.dma(SRC, EDU_BUFFER, 64);
    }

    /// DMAs 4 bytes of the pattern to `iova` (one access: one event if it faults)
    /// and says which of `pages` received them.
    fn lands(&self, iova: u64, pages: &[u64]) -> Option<u64> {
        for &p in pages {
            self.ram.fill(p, 64, 0);
        }
        self.edu.dma(EDU_BUFFER, iova, 4);
        pages
            .iter()
            .copied()
            .find(|&p| self.ram.bytes(p, 4) == [PATTERN; 4])
    }

    fn device_stage1(&self) -> GuestStage1<Smmuv3> {
        self.vsmmu
            .with_backend(|d| d.get(SID).expect("edu is plugged").stage1().clone())
    }
}

/// The F_TRANSLATION record (0x10) of guest StreamID [`SID`] at `iova`.
fn is_translation_fault(record: &EventRecord, iova: u64) -> bool {
    let w = record.words();
    w[0] & 0xff == 0x10 && (w[0] >> 32) as u32 == SID && w[2] == iova
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn dma_follows_the_guests_tables_and_its_invalidations_through_a_wrapping_queue() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    // Before the guest enables its SMMU the device bypasses (GBPA at reset).
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Bypass)
    );
    rig.start(&mut s1);
    assert!(
        matches!(rig.device_stage1(), GuestStage1::Translate(_)),
        "SMMUEN loaded the guest's STE"
    );

    // 1. Translation: a page copied through stage 1 lands where stage 1 then
    // stage 2 say, and nowhere else.
    let pattern: Vec<u8> = (0..PAGE as usize).map(|i| (i * 7 + 3) as u8).collect();
    for (i, chunk) in pattern.chunks(8).enumerate() {
        rig.ram.write_u64(
            page(20) + 8 * i as u64,
            u64::from_le_bytes(chunk.try_into().unwrap()),
        );
    }
    s1.map(SRC + PAGE, page(20));
    s1.map(PROBE + PAGE, page(21));
    rig.ram.fill(page(21), PAGE as usize, 0);
    rig.ram.fill(page(22), PAGE as usize, 0);
    rig.edu.dma(SRC + PAGE, EDU_BUFFER, PAGE);
    rig.edu.dma(EDU_BUFFER, PROBE + PAGE, PAGE);
    assert_eq!(rig.ram.bytes(page(21), PAGE as usize), pattern);
    assert!(
        rig.ram
            .bytes(page(22), PAGE as usize)
            .iter()
            .all(|&b| b == 0)
    );
    rig.edu.dma(SRC, EDU_BUFFER, 64); // the pattern again
    assert_eq!(rig.lands(PROBE, &[page(1), page(2)]), Some(page(1)));
    // Translation is on: the page's own IPA is no stage-1 address.
    assert_eq!(rig.lands(page(1), &[page(1)]), None);

    // 2. Invalidation through the guest's queue: remap PROBE, see the SMMU's
    // cached translation, post TLBI_NH_VA + CMD_SYNC, see the new one. Three
    // commands a round in a ring of 8 (the boot used 3): runs cross the ring's
    // end and the wrap bit toggles at 8, 16 and 24.
    let rounds = 7u64;
    let (mut at, mut toggles) = (page(1), 0);
    for round in 0..rounds {
        let new = page(2 + round);
        s1.map(PROBE, new);
        assert_eq!(
            rig.lands(PROBE, &[at, new]),
            Some(at),
            "round {round}: QEMU serves the cached translation"
        );
        let sync_slot = rig.cmdq_slot_ahead(2);
        let sync = match round % 4 {
            0 => cmd::sync(),
            1 => sync_sev(),
            // Linux's MSIPOLL: the MSI writes MSIData (0) over the sync's own
            // first word, which the driver polls.
            2 => sync_msi(sync_slot, 0),
            _ => sync_msi(DOORBELL, 0xcafe),
        };
        let cons_before = rig.read32(offset::CMDQ_CONS);
        rig.submit(&[
            cmd::tlbi_nh_va(ASID, PROBE, true),
            prefetch_config(SID),
            sync,
        ]);
        if (rig.read32(offset::CMDQ_CONS) ^ cons_before) & WRAP != 0 {
            toggles += 1;
        }
        match round % 4 {
            2 => {
                assert_eq!(
                    rig.ram.read_u64(sync_slot) as u32,
                    0,
                    "the MSI must land on the CMD_SYNC's own slot"
                );
                assert_eq!(rig.irqs.take_msis(), []);
            }
            3 => assert_eq!(rig.irqs.take_msis(), [(DOORBELL, 0xcafe)]),
            _ => assert_eq!(rig.irqs.take_msis(), []),
        }
        assert_eq!(
            rig.lands(PROBE, &[at, new]),
            Some(new),
            "round {round}: the TLBI must reach the SMMU"
        );
        at = new;
    }
    assert_eq!(toggles, 3, "the ring wrapped three times");
    assert_eq!(rig.irqs.take_raised(), [], "no error, no event");

    // The guest unmaps PROBE: cached until invalidated, then the DMA faults.
    s1.unmap(PROBE);
    assert_eq!(rig.lands(PROBE, &[at]), Some(at), "cached");
    rig.submit(&[cmd::tlbi_nh_asid(ASID), cmd::sync()]);
    assert_eq!(rig.lands(PROBE, &[at]), None, "unmapped and invalidated");
    rig.pump_until(|r| is_translation_fault(r, PROBE));
    assert_eq!(rig.vsmmu.stats().syncs, 1 + rounds + 1);
    assert_eq!(rig.vsmmu.stats().command_errors, 0);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn an_illegal_command_stops_the_queue_until_the_guest_replaces_it_and_acknowledges() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    s1.map(PROBE2, page(11));
    rig.start(&mut s1);
    let (mut a, mut b) = (page(1), page(11));
    assert_eq!(rig.lands(PROBE, &[a]), Some(a));
    assert_eq!(rig.lands(PROBE2, &[b]), Some(b));

    let mut tlbi_with_res0 = cmd::tlbi_nh_va(ASID, PROBE, true);
    tlbi_with_res0.cmd[1].set(tlbi_with_res0.cmd[1].get() | 1 << 1);
    let illegal = [
        ("an unknown opcode", cmd::command(0x7f, 0)),
        ("TLBI_NH_VA with a RES0 bit", tlbi_with_res0),
    ];
    for (round, (what, bad)) in illegal.into_iter().enumerate() {
        // The second round without the GERROR interrupt enabled.
        let irq = round == 0;
        if !irq {
            rig.set_irq_ctrl(IrqCtrl::EVENTQ_IRQEN);
        }
        let (a2, b2) = (page(2 + round as u64), page(12 + round as u64));
        s1.map(PROBE, a2);
        s1.map(PROBE2, b2);
        let indices = rig.queue(&[
            cmd::tlbi_nh_va(ASID, PROBE, true),
            bad,
            cmd::tlbi_nh_va(ASID, PROBE2, true),
            cmd::sync(),
        ]);
        let gerror_before = rig.read32(offset::GERROR);
        rig.ring();
        let cons = rig.read32(offset::CMDQ_CONS);
        assert_eq!(cons & INDEX_MASK, indices[1], "{what}: CONS stops at it");
        assert_eq!(cons >> CONS_ERR_SHIFT & 0x7f, CERROR_ILL, "{what}: ERR");
        let gerror = rig.read32(offset::GERROR);
        assert_eq!(
            gerror ^ gerror_before,
            GlobalErrors::CMDQ_ERR.bits(),
            "{what}: GERROR.CMDQ_ERR toggles"
        );
        assert_eq!(
            (gerror ^ rig.read32(offset::GERRORN)) & GlobalErrors::CMDQ_ERR.bits(),
            GlobalErrors::CMDQ_ERR.bits(),
            "{what}: CMDQ_ERR is active"
        );
        let expected: &[Interrupt] = if irq { &[Interrupt::GlobalError] } else { &[] };
        assert_eq!(rig.irqs.take_raised(), expected, "{what}");
        assert_eq!(
            rig.lands(PROBE, &[a, a2]),
            Some(a2),
            "{what}: the command before it ran"
        );
        assert_eq!(
            rig.lands(PROBE2, &[b, b2]),
            Some(b),
            "{what}: the commands after it did not"
        );

        // Another CPU posts a CMD_SYNC before the GERROR handler runs: the queue
        // stays halted, CONS and its ERR stay for the handler to read.
        rig.queue(&[cmd::sync()]);
        rig.ring();
        assert_eq!(rig.read32(offset::CMDQ_CONS), cons, "{what}: halted");
        assert_eq!(rig.lands(PROBE2, &[b, b2]), Some(b), "{what}: halted");

        // Linux's GERROR handler (arm_smmu_cmdq_skip_err): CERROR_ILL, so the
        // command at CONS becomes a CMD_SYNC; then GERRORN = GERROR.
        rig.write_command(cons & INDEX_MASK, cmd::sync());
        rig.write32(offset::GERRORN, gerror);
        assert_eq!(
            rig.read32(offset::CMDQ_CONS),
            rig.cmdq_prod.get(),
            "{what}: the queue resumed and drained"
        );
        assert_eq!(
            rig.read32(offset::GERROR) ^ rig.read32(offset::GERRORN),
            0,
            "{what}: nothing active"
        );
        assert_eq!(
            rig.lands(PROBE2, &[b, b2]),
            Some(b2),
            "{what}: the commands after it ran once acknowledged"
        );
        assert_eq!(rig.irqs.take_raised(), [], "{what}");
        (a, b) = (a2, b2);
    }
    assert_eq!(rig.vsmmu.stats().command_errors, 2);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn a_translation_fault_reaches_the_guests_event_queue_in_guest_memory() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    rig.start(&mut s1);
    rig.irqs.take_raised();
    assert_eq!(rig.read32(offset::EVENTQ_PROD), 0);

    // A write to an address stage 1 does not map, then a read from another.
    assert_eq!(rig.lands(UNMAPPED, &[page(1)]), None);
    rig.edu.dma(UNMAPPED2, EDU_BUFFER, 4);
    let records = rig.pump_until(|r| is_translation_fault(r, UNMAPPED2));
    assert_eq!(
        records.len(),
        2,
        "one record per faulting access: {records:?}"
    );
    let prod = rig.read32(offset::EVENTQ_PROD);
    assert_eq!(prod, 2, "EVENTQ_PROD moved past the two records");
    for (i, (record, iova, read)) in [(records[0], UNMAPPED, false), (records[1], UNMAPPED2, true)]
        .into_iter()
        .enumerate()
    {
        // The 32 bytes in guest RAM, as the guest's driver reads them.
        let raw: [u8; 32] = rig.ram.bytes(EVTQ + 32 * i as u64, 32).try_into().unwrap();
        assert_eq!(EventRecord::from_bytes(raw), record);
        assert!(is_translation_fault(&record, iova), "{record:?}");
        let event = record.decode();
        assert_eq!(event.read, read, "RnW: {event:?}");
    }
    assert!(
        rig.irqs.take_raised().contains(&Interrupt::EventQueue),
        "EVENTQ_IRQEN: the event queue interrupt"
    );
    assert_eq!(rig.vsmmu.stats().events, 2);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn a_disabled_event_queue_discards_the_kernels_events_and_keeps_their_sequence() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    rig.start(&mut s1);
    rig.irqs.take_raised();

    // EVENTQEN off: the fault waits in the kernel's vEVENTQ, and a pump drops it
    // (VEventPump::discard) rather than leave the fd readable.
    rig.set_cr0(Cr0::SMMUEN | Cr0::CMDQEN);
    assert_eq!(rig.lands(UNMAPPED, &[page(1)]), None);
    assert!(rig.vevents_readable(Duration::from_secs(10)), "no vEVENT");
    let mut buf = [0u8; 16 * VEventPump::ENTRY_BYTES];
    let forwarded = rig.vsmmu.pump_events(&mut buf).unwrap().expect("a vEVENTQ");
    assert_eq!(
        (forwarded.written, forwarded.dropped, forwarded.lost),
        (0, 1, 0),
        "{forwarded:?}"
    );
    assert!(
        !rig.vevents_readable(Duration::ZERO),
        "the vEVENTQ was drained"
    );
    assert_eq!(
        rig.read32(offset::EVENTQ_PROD),
        0,
        "nothing in guest memory"
    );
    assert_eq!(rig.guest_events(), []);
    assert_eq!(rig.irqs.take_raised(), []);

    // EVENTQEN on again: the next fault arrives alone, and the sequence number
    // the discard tracked shows no loss (no OVFLG).
    rig.set_cr0(Cr0::SMMUEN | Cr0::CMDQEN | Cr0::EVENTQEN);
    rig.edu.dma(UNMAPPED2, EDU_BUFFER, 4);
    let records = rig.pump_until(|r| is_translation_fault(r, UNMAPPED2));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(rig.read32(offset::EVENTQ_PROD), 1, "one record, no OVFLG");
    assert_eq!(rig.vsmmu.stats().events, 1);
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn cfgi_ste_applies_abort_bypass_and_translate_and_a_bad_ste_is_c_bad_ste() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    rig.start(&mut s1);
    let ipa = page(7);
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), Some(page(1)));

    // Abort: nothing reaches memory, by stage 1 or otherwise.
    rig.write_ste(Ste::abort().words());
    rig.submit(&[cmd::cfgi_ste(SID, true), cmd::sync()]);
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Abort)
    );
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), None);
    assert_eq!(rig.lands(ipa, &[page(1), ipa]), None);

    // Bypass: stage 2 alone, the DMA address is the IPA.
    rig.write_ste(Ste::bypass().words());
    rig.submit(&[cmd::cfgi_ste(SID, true), cmd::sync()]);
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Bypass)
    );
    assert_eq!(rig.lands(ipa, &[page(1), ipa]), Some(ipa));
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), None);

    // Config 0b110 (stage 2 only) is no guest's: C_BAD_STE in the guest's event
    // queue, the device aborts; the CFGI_STE itself is no command error.
    assert_eq!(rig.guest_events(), []);
    rig.write_ste([1 | (0b110 << 1), 0]);
    rig.submit(&[cmd::cfgi_ste(SID, true), cmd::sync()]);
    let records = rig.guest_events();
    assert_eq!(records.len(), 1, "{records:?}");
    let w = records[0].words();
    assert_eq!(w[0] & 0xff, 0x04, "C_BAD_STE: {records:?}");
    assert_eq!((w[0] >> 32) as u32, SID, "{records:?}");
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Abort)
    );
    assert_eq!(rig.lands(ipa, &[page(1), ipa]), None);
    assert!(rig.irqs.take_raised().contains(&Interrupt::EventQueue));

    // Translate again, through CFGI_ALL this time.
    rig.write_ste(s1.vste().words());
    rig.submit(&[cfgi_all(), cmd::sync()]);
    assert!(matches!(rig.device_stage1(), GuestStage1::Translate(_)));
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), Some(page(1)));
    assert_eq!(rig.read32(offset::GERROR), rig.read32(offset::GERRORN));
}

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn disabling_follows_gbpa_and_the_teardown_leaves_nothing_in_the_kernel() {
    let rig = Rig::new();
    let mut s1 = Stage1::new(&rig.ram, ASID);
    s1.map(PROBE, page(1));
    rig.start(&mut s1);
    let ipa = page(7);
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), Some(page(1)));
    let (nested, vdevice) = rig.vsmmu.with_backend(|d| {
        let state = d.get(SID).unwrap();
        (
            state.stage1_hwpt().expect("a nested HWPT"),
            state.vdevice_id(),
        )
    });

    // CR0 = 0: GBPA (bypass at reset) decides; the nested HWPT is gone.
    rig.set_cr0(Cr0::empty());
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Bypass)
    );
    assert_eq!(rig.lands(ipa, &[page(1), ipa]), Some(ipa));
    assert_eq!(rig.lands(PROBE, &[page(1), ipa]), None);
    assert_eq!(
        rig.fd.destroy(nested).unwrap_err().kind(),
        ErrorKind::NotFound,
        "the nested HWPT went with SMMUEN"
    );
    // GBPA.ABORT, with Update polled clear as Linux does.
    let gbpa = rig.read32(offset::GBPA);
    rig.write32(offset::GBPA, gbpa | GBPA_ABORT | GBPA_UPDATE);
    rig.poll(offset::GBPA, gbpa | GBPA_ABORT);
    assert_eq!(
        rig.device_stage1(),
        GuestStage1::Default(DefaultStage1::Abort)
    );
    assert_eq!(rig.lands(ipa, &[page(1), ipa]), None);

    let ids = [
        vdevice.raw(),
        rig.vevent_queue_id,
        rig.viommu
            .default_hwpt(DefaultStage1::Bypass)
            .unwrap()
            .raw(),
        rig.viommu.default_hwpt(DefaultStage1::Abort).unwrap().raw(),
        rig.viommu.id().raw(),
        rig.viommu.s2().id().raw(),
        rig.ioas.id().raw(),
    ];
    let Rig {
        vsmmu,
        edu,
        vevents,
        ram,
        viommu,
        ioas,
        fd,
        ..
    } = rig;
    drop((edu, vevents, vsmmu, viommu, ram, ioas));
    for id in ids {
        assert_eq!(
            fd.destroy(HwptId::from_raw(id)).unwrap_err().kind(),
            ErrorKind::NotFound,
            "object {id} survived the teardown"
        );
    }
    assert_eq!(fd.pending_destroys(), 0);
}
