// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VSmmu`]: one virtual SMMUv3 with everything wired together: its register file
//! (IHI 0070 chapter 6), the stream table and queues in guest memory (chapters 3,
//! 4, 5 and 7), the devices behind it and the vIOMMU its invalidations go to. The
//! VMM calls [`read`](VSmmu::read) and [`write`](VSmmu::write) from its MMIO exit
//! handler, [`pump_events`](VSmmu::pump_events) when the vEVENTQ's fd is readable,
//! and plugs devices in and out by StreamID.

use super::backend::{Backend, Devices};
use super::command_queue::{CError, CommandHost, CommandQueue, CompletionSignal, SyncSignal};
use super::event_queue::{EventRecord, Forwarded, GuestEventQueue, VEventPump};
use super::guest_memory::GuestMemory;
use super::interrupts::MsiWrite;
use super::interrupts::{Deferred, Interrupt, Interrupts};
use super::registers::{
    AccessError, Cr0, Effect, GlobalErrors, IrqCtrl, Registers, Width, WriteOutcome,
};
use super::stream_table::{BadStreamId, LookupError, StreamTable};
use crate::arch::DefaultStage1;
use crate::arch::smmuv3::{CommandRules, Smmuv3, StreamSpan};
use crate::batch::{InvalidationBatch, InvalidationSink};
use crate::device::Device;
use crate::states::{GuestStage1, VDeviceBound};
use core::cell::RefCell;
use rustix::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Mutex, MutexGuard};

/// Counters a VMM can log: what the guest made the vSMMU do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// CMD_SYNCs completed.
    pub syncs: u64,
    /// STEs read from the guest's stream table and applied.
    pub ste_loads: u64,
    /// Events written into the guest's event queue (the model's and the kernel's).
    pub events: u64,
    /// Command errors reported through CMDQ_CONS.ERR.
    pub command_errors: u64,
    /// STEs that could not be loaded (the device aborts).
    pub ste_errors: u64,
}

/// Whether a failed STE load is reported to the guest. Hardware reports a bad
/// StreamID or STE when a transaction arrives; the model loads STEs without one,
/// so it reports only where the guest just asked for the STE (CFGI_STE*,
/// CFGI_ALL), not when SMMUEN goes on or a device is plugged: Linux enables the
/// SMMU before it fills in its devices' level-2 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Events,
    Quietly,
}

/// SMMU_CR2.RECINVSID: record C_BAD_STREAMID for StreamIDs past the table.
const CR2_RECINVSID: u32 = 1 << 1;

/// One virtual SMMUv3, safe to call from several vCPU threads at once (one lock
/// around the model; the interrupt callbacks run under it).
///
/// `M` is guest memory, `B` the devices behind the vSMMU ([`Devices`] for real
/// ones), `S` where invalidations go (the vIOMMU's handle), `I` the VMM's
/// interrupt controller, `N` the batch's capacity (63 matches the ARM driver's
/// block of commands per sync).
pub struct VSmmu<M, B, S, I, const N: usize = 63>
where
    M: GuestMemory,
    B: Backend<Family = Smmuv3>,
    S: InvalidationSink<Family = Smmuv3>,
    I: Interrupts,
{
    model: Mutex<Model<M, B, S, N>>,
    interrupts: I,
}

/// What the lock guards.
struct Model<M, B, S: InvalidationSink, const N: usize> {
    regs: Registers,
    mem: M,
    // A RefCell: the command queue asks which StreamIDs have a device while the
    // host it calls back may change a device's stage 1 (never at the same time:
    // the borrows are taken one after the other, and refused, not panicking,
    // if they ever were not).
    backend: RefCell<B>,
    cmdq: CommandQueue<S, N>,
    events: Option<VEventPump>,
    stats: Stats,
}

impl<M, B, S, I, const N: usize> core::fmt::Debug for VSmmu<M, B, S, I, N>
where
    M: GuestMemory,
    B: Backend<Family = Smmuv3>,
    S: InvalidationSink<Family = Smmuv3>,
    I: Interrupts,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let stats = self.lock().stats;
        f.debug_struct("VSmmu").field("stats", &stats).finish()
    }
}

impl<M, B, S, I, const N: usize> VSmmu<M, B, S, I, N>
where
    M: GuestMemory,
    B: Backend<Family = Smmuv3>,
    S: InvalidationSink<Family = Smmuv3>,
    I: Interrupts,
{
    /// A vSMMU in its reset state presenting `regs` (made from the host's caps and
    /// the VMM's choices), reaching guest memory through `mem`, with the devices of
    /// `backend` on the reset GBPA default, sending invalidations through `batch`
    /// (`InvalidationBatch::new(viommu.clone())`) and interrupts to `interrupts`.
    pub fn new(
        regs: Registers,
        mem: M,
        backend: B,
        batch: InvalidationBatch<S, N>,
        interrupts: I,
    ) -> Self {
        let rules = CommandRules::new(&regs.config().caps);
        let vsmmu = Self {
            model: Mutex::new(Model {
                regs,
                mem,
                backend: RefCell::new(backend),
                cmdq: CommandQueue::new(batch, rules),
                events: None,
                stats: Stats::default(),
            }),
            interrupts,
        };
        vsmmu.lock().ctx().follow_gbpa();
        vsmmu
    }

    /// Forwards the kernel's vEVENTs (faults of the devices behind this vSMMU)
    /// into the guest's event queue from now on: see
    /// [`pump_events`](Self::pump_events).
    #[must_use]
    pub fn with_vevent_queue(self, pump: VEventPump) -> Self {
        self.lock().events = Some(pump);
        self
    }

    /// The model, whatever a panicking thread left (the state is never half
    /// updated across a panic point: every update is a plain store).
    fn lock(&self) -> MutexGuard<'_, Model<M, B, S, N>> {
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A guest read of `width` at `offset` in the vSMMU's MMIO window (pages 0
    /// and 1, 128 KiB).
    ///
    /// # Errors
    ///
    /// An access the spec does not allow (misaligned, or 64 bits across two
    /// registers): the VMM logs it and gives the guest 0.
    pub fn read(&self, offset: u64, width: Width) -> Result<u64, AccessError> {
        self.lock().regs.read(offset, width)
    }

    /// A guest write of `width` at `offset`, with everything it sets off: CR0
    /// changes (translation on or off, queues enabled), a CMDQ_PROD write
    /// (the guest's commands, run to PROD before this returns), GERRORN
    /// acknowledgements (a halted command queue restarts), GBPA and IRQ_CTRL.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read); nothing changed. A write the register ignores
    /// (read-only, or a base register of an enabled queue) comes back as
    /// [`WriteOutcome::Ignored`] for the VMM's log.
    pub fn write(
        &self,
        offset: u64,
        width: Width,
        value: u64,
    ) -> Result<WriteOutcome, AccessError> {
        let deferred = Deferred::default();
        let outcome = {
            let mut model = self.lock();
            let outcome = model.regs.write(offset, width, value)?;
            if let WriteOutcome::Effect(effect) = outcome {
                model.act(effect, &deferred);
            }
            outcome
        };
        deferred.deliver(&self.interrupts);
        Ok(outcome)
    }

    /// Reads the kernel's vEVENTQ once into `buf` and writes what it held into the
    /// guest's event queue (raising its interrupt). Call it when the vEVENTQ's fd
    /// ([`VEventPump`]'s `AsFd`) is readable, until
    /// [`Forwarded::is_empty`]. Returns `None` without a vEVENTQ, or while the
    /// guest's event queue is disabled (the events wait in the kernel).
    ///
    /// # Errors
    ///
    /// The vEVENTQ read's error.
    pub fn pump_events(&self, buf: &mut [u8]) -> crate::Result<Option<Forwarded>> {
        let deferred = Deferred::default();
        let forwarded = self.pump_locked(buf, &deferred);
        deferred.deliver(&self.interrupts);
        forwarded
    }

    /// [`pump_events`](Self::pump_events) under the lock.
    fn pump_locked(&self, buf: &mut [u8], deferred: &Deferred) -> crate::Result<Option<Forwarded>> {
        let mut model = self.lock();
        let model = &mut *model;
        let enabled = model.regs.cr0ack().contains(Cr0::EVENTQEN);
        let prod = model.regs.eventq_prod();
        let Some(pump) = model.events.as_mut() else {
            return Ok(None);
        };
        if !enabled {
            // A disabled event queue discards events (and the fd must not stay
            // readable, or the VMM's epoll spins).
            let dropped = pump.discard(buf)?;
            return Ok(Some(Forwarded {
                prod,
                written: 0,
                dropped,
                lost: 0,
                overflow_signalled: false,
                abort: None,
            }));
        }
        let evtq = GuestEventQueue::from_base(
            model.regs.eventq_base(),
            model.regs.config().eventq_max_log2size,
        );
        let forwarded = pump.pump(
            buf,
            &model.mem,
            &evtq,
            model.regs.eventq_prod(),
            model.regs.eventq_cons(),
        )?;
        let mut ctx = model.ctx();
        ctx.set_eventq_prod(forwarded.prod);
        ctx.stats.events += u64::from(forwarded.written);
        if forwarded.abort.is_some() {
            ctx.raise(GlobalErrors::EVENTQ_ABT_ERR, deferred);
        }
        if forwarded.interrupt() {
            ctx.signal(Interrupt::EventQueue, deferred);
        }
        Ok(Some(forwarded))
    }

    /// The vEVENTQ's file descriptor, for the VMM's epoll (readable when the kernel
    /// has events for the guest: call [`pump_events`](Self::pump_events)). Valid
    /// while the vSMMU lives; `None` without a vEVENTQ.
    pub fn vevent_queue_fd(&self) -> Option<RawFd> {
        self.lock()
            .events
            .as_ref()
            .map(|pump| pump.as_fd().as_raw_fd())
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Runs `f` on the backend under the vSMMU's lock (to look at the devices).
    pub fn with_backend<R>(&self, f: impl FnOnce(&mut B) -> R) -> R {
        f(self.lock().backend.get_mut())
    }

    /// A system reset: the registers to their reset values, the command queue
    /// emptied, every device on the reset GBPA default.
    pub fn reset(&self) {
        let mut model = self.lock();
        model.regs.reset();
        model.cmdq.reset();
        model.ctx().follow_gbpa();
    }
}

impl<M, D, S, I, const N: usize> VSmmu<M, Devices<Smmuv3, D>, S, I, N>
where
    M: GuestMemory,
    D: Device + Send,
    S: InvalidationSink<Family = Smmuv3>,
    I: Interrupts,
{
    /// Hot-plugs a device bound with its guest StreamID: it takes what the vSMMU
    /// says now (its STE while SMMUEN is on, the GBPA default otherwise). Gives the
    /// device back when the StreamID is taken.
    pub fn plug(&self, bound: VDeviceBound<Smmuv3, D>) -> Result<(), VDeviceBound<Smmuv3, D>> {
        let deferred = Deferred::default();
        {
            let mut model = self.lock();
            // A StreamID past SIDSIZE is one the guest can never name.
            let sid_bits = model.regs.config().caps.sid_bits;
            let Some(sid) = u32::try_from(bound.virt_id())
                .ok()
                .filter(|&sid| u64::from(sid) >> sid_bits == 0)
            else {
                return Err(bound);
            };
            model.backend.get_mut().insert(bound)?;
            model.ctx().load_ste(sid, Report::Quietly, &deferred);
        }
        deferred.deliver(&self.interrupts);
        Ok(())
    }

    /// Hot-unplugs device `sid`: back on the stage 2 alone, its vDEVICE gone.
    /// `None` when no device has that StreamID; on the kernel's refusal the device
    /// stays plugged.
    pub fn unplug(&self, sid: u32) -> Option<crate::Result<D>> {
        self.lock().backend.get_mut().unplug(sid)
    }
}

impl<M, B, S, const N: usize> Model<M, B, S, N>
where
    M: GuestMemory,
    B: Backend<Family = Smmuv3>,
    S: InvalidationSink<Family = Smmuv3>,
{
    /// Everything but the command queue, for the work both the register effects
    /// and the command queue's callbacks do.
    fn ctx(&mut self) -> Ctx<'_, M, B> {
        Ctx {
            regs: &mut self.regs,
            mem: &self.mem,
            backend: &self.backend,
            stats: &mut self.stats,
        }
    }

    /// Carries out what a register write set off.
    fn act(&mut self, effect: Effect, interrupts: &Deferred) {
        match effect {
            Effect::Cr0 { new, .. } => self.enable(new, interrupts),
            Effect::Gbpa { .. } => {
                if !self.regs.cr0ack().contains(Cr0::SMMUEN) {
                    self.ctx().follow_gbpa();
                }
            }
            Effect::IrqCtrl { new, .. } => self.regs.set_irq_ctrlack(new),
            Effect::Gerrorn { .. } => {
                let acked = !self
                    .regs
                    .active_global_errors()
                    .contains(GlobalErrors::CMDQ_ERR);
                if self.cmdq.is_halted() && acked {
                    self.cmdq.acknowledge();
                    self.run_commands(interrupts);
                }
            }
            Effect::CmdqProd { .. } => self.run_commands(interrupts),
            // The guest freed event slots: nothing waits on it (events that did
            // not fit were dropped, and the overflow signalled).
            Effect::EventqCons { .. } => {}
        }
    }

    /// CR0 changed: act on what differs from CR0ACK, then acknowledge.
    fn enable(&mut self, new: Cr0, interrupts: &Deferred) {
        let was = self.regs.cr0ack();
        self.regs.set_cr0ack(new);
        if new.contains(Cr0::SMMUEN) != was.contains(Cr0::SMMUEN) {
            if new.contains(Cr0::SMMUEN) {
                self.ctx()
                    .load_span(StreamSpan::All, Report::Quietly, interrupts);
            } else {
                self.ctx().follow_gbpa();
            }
        }
        if new.contains(Cr0::CMDQEN) && !was.contains(Cr0::CMDQEN) {
            self.cmdq.reset();
            self.run_commands(interrupts);
        }
    }

    /// Runs the guest's commands from CONS to PROD, if the queue may run, and
    /// publishes the new CONS (with ERR and GERROR.CMDQ_ERR on an error).
    fn run_commands(&mut self, interrupts: &Deferred) {
        // Halted by a command error (§7.1): nothing runs until GERRORN
        // acknowledges it, and CONS keeps the ERR the guest's GERROR handler
        // has yet to read (publishing the halted queue's CONS would clear it).
        if !self.regs.cr0ack().contains(Cr0::CMDQEN) || self.cmdq.is_halted() {
            return;
        }
        let ring = self.regs.cmdq();
        let (prod, cons) = (self.regs.cmdq_prod(), self.regs.cmdq_cons());
        let mut host = Host {
            ctx: Ctx {
                regs: &mut self.regs,
                mem: &self.mem,
                backend: &self.backend,
                stats: &mut self.stats,
            },
            interrupts,
        };
        let backend = &self.backend;
        let has_vdevice = |sid: u32| {
            backend
                .try_borrow()
                .is_ok_and(|devices| devices.has_device(sid))
        };
        let consumed = self
            .cmdq
            .consume(&self.mem, ring, prod, cons, has_vdevice, &mut host);
        let mut ctx = host.ctx;
        match consumed.error {
            None => ctx.regs.set_cmdq_cons(consumed.cons, CError::None),
            Some(error) => {
                ctx.regs.set_cmdq_cons(consumed.cons, error.cerror());
                ctx.stats.command_errors += 1;
                ctx.raise(GlobalErrors::CMDQ_ERR, interrupts);
            }
        }
    }
}

/// The model's parts the command queue's callbacks and the register effects
/// share (everything but the command queue itself).
struct Ctx<'a, M, B> {
    regs: &'a mut Registers,
    mem: &'a M,
    backend: &'a RefCell<B>,
    stats: &'a mut Stats,
}

impl<M: GuestMemory, B: Backend<Family = Smmuv3>> Ctx<'_, M, B> {
    /// Moves device `sid` to `stage1`; false when that failed (or the backend
    /// was busy, which the lock order rules out).
    fn apply(&mut self, sid: u32, stage1: GuestStage1<Smmuv3>) -> bool {
        self.backend
            .try_borrow_mut()
            .is_ok_and(|mut devices| devices.apply(sid, stage1).is_ok())
    }

    /// The next device above `after`.
    fn device_after(&self, after: Option<u32>) -> Option<u32> {
        self.backend
            .try_borrow()
            .ok()
            .and_then(|devices| devices.device_after(after))
    }

    /// What GBPA makes of untranslated DMA while SMMUEN is 0.
    fn gbpa_default(&self) -> DefaultStage1 {
        if self.regs.gbpa_abort() {
            DefaultStage1::Abort
        } else {
            DefaultStage1::Bypass
        }
    }

    /// Every device does what GBPA says (SMMUEN is 0). A default the vIOMMU
    /// lacks leaves a device where it was.
    fn follow_gbpa(&mut self) {
        let kind = self.gbpa_default();
        let mut next = self.device_after(None);
        while let Some(sid) = next {
            self.apply(sid, GuestStage1::Default(kind));
            next = self.device_after(Some(sid));
        }
    }

    /// Re-reads the STEs of the devices in `span` and applies them.
    fn load_span(&mut self, span: StreamSpan, report: Report, interrupts: &Deferred) {
        let (first, last) = match span {
            StreamSpan::All => (0, u32::MAX),
            StreamSpan::Range { first, count } => {
                let last = u64::from(first).saturating_add(count.saturating_sub(1));
                (first, u32::try_from(last).unwrap_or(u32::MAX))
            }
        };
        let mut next = self.device_after(first.checked_sub(1));
        while let Some(sid) = next.filter(|&sid| sid <= last) {
            self.load_ste(sid, report, interrupts);
            next = self.device_after(Some(sid));
        }
    }

    /// Device `sid` takes its STE (SMMUEN on) or the GBPA default (off). A lookup
    /// the spec calls an error, or an STE the kernel refuses, leaves the device
    /// aborting; with [`Report::Events`] the event goes to the guest too.
    fn load_ste(&mut self, sid: u32, report: Report, interrupts: &Deferred) {
        if !self.regs.cr0ack().contains(Cr0::SMMUEN) {
            let kind = self.gbpa_default();
            self.apply(sid, GuestStage1::Default(kind));
            return;
        }
        let table = StreamTable::new(
            self.regs.strtab_base(),
            self.regs.strtab_base_cfg(),
            self.regs.config().caps.sid_bits,
        );
        self.stats.ste_loads += 1;
        let event = match table.lookup(self.mem, sid) {
            Ok(ste) if self.apply(sid, ste.into()) => return,
            // The parser takes what Linux takes; the kernel may still refuse (an
            // S1CDMax the physical SMMU cannot back, say): C_BAD_STE.
            Ok(_) => Some(EventRecord::bad_ste(sid)),
            // With CR2.RECINVSID clear, a StreamID past the table is not recorded.
            Err(LookupError::BadStreamId {
                why: BadStreamId::OutOfRange { .. },
                ..
            }) if self.regs.cr2() & CR2_RECINVSID == 0 => None,
            Err(error) => Some(error.event()),
        };
        self.stats.ste_errors += 1;
        self.apply(sid, GuestStage1::Default(DefaultStage1::Abort));
        if let (Report::Events, Some(event)) = (report, event) {
            self.record(&event, interrupts);
        }
    }

    /// Writes `event` into the guest's event queue, if it is enabled.
    fn record(&mut self, event: &EventRecord, interrupts: &Deferred) {
        if !self.regs.cr0ack().contains(Cr0::EVENTQEN) {
            return;
        }
        let evtq = GuestEventQueue::from_base(
            self.regs.eventq_base(),
            self.regs.config().eventq_max_log2size,
        );
        let (prod, cons) = (self.regs.eventq_prod(), self.regs.eventq_cons());
        match evtq.write(self.mem, prod, cons, event) {
            Ok(outcome) => {
                self.set_eventq_prod(outcome.prod());
                if outcome.interrupt() {
                    self.stats.events += 1;
                    self.signal(Interrupt::EventQueue, interrupts);
                }
            }
            Err(abort) => {
                self.set_eventq_prod(abort.prod);
                self.raise(GlobalErrors::EVENTQ_ABT_ERR, interrupts);
            }
        }
    }

    /// Stores a new SMMU_EVENTQ_PROD value (index, wrap and OVFLG).
    fn set_eventq_prod(&mut self, prod: u32) {
        let overflow = prod & GuestEventQueue::PROD_OVFLG != 0;
        self.regs.set_eventq_prod(prod, overflow);
    }

    /// Raises global errors, and their interrupt for the ones newly raised.
    fn raise(&mut self, errors: GlobalErrors, interrupts: &Deferred) {
        if !self.regs.raise_global_errors(errors).is_empty() {
            self.signal(Interrupt::GlobalError, interrupts);
        }
    }

    /// Signals `which` if IRQ_CTRL enables it: by its MSI when the guest set one,
    /// else on its wired line.
    fn signal(&mut self, which: Interrupt, interrupts: &Deferred) {
        let enables = self.regs.irq_ctrlack();
        let (enabled, msi, abort) = match which {
            Interrupt::EventQueue => (
                enables.contains(IrqCtrl::EVENTQ_IRQEN),
                self.regs.eventq_msi(),
                GlobalErrors::MSI_EVENTQ_ABT_ERR,
            ),
            Interrupt::GlobalError => (
                enables.contains(IrqCtrl::GERROR_IRQEN),
                self.regs.gerror_msi(),
                GlobalErrors::MSI_GERROR_ABT_ERR,
            ),
            // CMD_SYNC's interrupt has no enable: the command asked for it.
            Interrupt::CmdSync => (true, None, GlobalErrors::MSI_CMDQ_ABT_ERR),
        };
        if !enabled {
            return;
        }
        match msi {
            Some(msi) => self.send_msi(&msi, abort, interrupts),
            None => interrupts.raise(which),
        }
    }

    /// An MSI: into guest RAM when it points there, else to the VMM's interrupt
    /// controller. A write guest memory refuses otherwise is `abort` in GERROR
    /// (not signalled again, which could loop).
    fn send_msi(&mut self, msi: &MsiWrite, abort: GlobalErrors, interrupts: &Deferred) {
        match msi.write_to(self.mem) {
            Ok(()) => {}
            Err(e) if e.is_unmapped() => interrupts.msi(msi.address, msi.data),
            // The GERROR MSI's own abort is not signalled again (it could loop);
            // the others are global errors like any.
            Err(_) if abort == GlobalErrors::MSI_GERROR_ABT_ERR => {
                self.regs.raise_global_errors(abort);
            }
            Err(_) => self.raise(abort, interrupts),
        }
    }
}

/// The command queue's view of the vSMMU while it runs the guest's commands.
struct Host<'a, 'i, M, B> {
    ctx: Ctx<'a, M, B>,
    interrupts: &'i Deferred,
}

impl<M, B> CommandHost for Host<'_, '_, M, B>
where
    M: GuestMemory,
    B: Backend<Family = Smmuv3>,
{
    fn reload_stes(&mut self, span: StreamSpan) {
        self.ctx.load_span(span, Report::Events, self.interrupts);
    }

    fn sync_complete(&mut self, sync: SyncSignal) {
        // CONS past the sync first: a guest polling CONS sees it complete.
        self.ctx.regs.set_cmdq_cons(sync.cons, CError::None);
        self.ctx.stats.syncs += 1;
        match sync.cs {
            CompletionSignal::Irq(msi) if self.ctx.regs.config().caps.msi => {
                self.ctx
                    .send_msi(&msi, GlobalErrors::MSI_CMDQ_ABT_ERR, self.interrupts);
            }
            CompletionSignal::Irq(_) => self.ctx.signal(Interrupt::CmdSync, self.interrupts),
            // SEV wakes PEs in WFE, which a VMM cannot reach from here: the guest's
            // event stream wakes it to poll CONS. NONE asks for nothing.
            _ => {}
        }
    }
}
