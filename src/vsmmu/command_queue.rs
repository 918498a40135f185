// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's command queue (IHI 0070, §3.5 queues, §4 commands, §7.1 command
//! errors): [`CommandQueue`], which reads the commands a guest posts to its ring
//! and executes them through the drain and the VMM's [`CommandHost`]; its
//! documentation gives the protocol and the decisions behind it.

mod error;
mod fetch;
mod reserved;
mod sync;

pub use error::{CError, CommandQueueError};
pub use reserved::ReservedBits;
pub use sync::{CompletionSignal, SyncSignal};

use super::{GuestMemory, Ring};
use crate::arch::Family;
use crate::arch::smmuv3::{CommandError, CommandRules, DrainError, Step, StreamSpan};
use crate::batch::{InvalidationBatch, InvalidationSink};
use crate::uapi::IommuViommuArmSmmuv3Invalidate;
use fetch::{Entry, fetch};
use zerocopy::IntoBytes;

/// SMMU_IDR1.CMDQS's largest value (§6.3): a command queue holds at most 2^19
/// entries.
const MAX_LOG2SIZE: u8 = 19;

/// What the vSMMU asks of the VMM while it executes the guest's commands: the
/// work that needs the device map or the interrupt controller, which the queue
/// does not know.
pub trait CommandHost {
    /// CFGI_STE, CFGI_STE_RANGE or CFGI_ALL ([`StreamSpan::All`]) named these
    /// guest StreamIDs: re-read their STEs from the guest's stream table and
    /// apply them to each device's state (the runtime holder). Every command
    /// before it has been sent to the kernel. An STE the kernel refuses is no
    /// command error (§4.3.1 gives CFGI_STE none): leave that device aborting
    /// and record the event, as a bad STE would on hardware.
    fn reload_stes(&mut self, span: StreamSpan);

    /// A CMD_SYNC completed: every command before it has been sent to the
    /// kernel. Publish `sync.cons` to SMMU_CMDQ_CONS for a guest that polls it,
    /// then signal as `sync.cs` asks ([`CompletionSignal`]).
    fn sync_complete(&mut self, sync: SyncSignal);
}

impl<H: CommandHost + ?Sized> CommandHost for &mut H {
    fn reload_stes(&mut self, span: StreamSpan) {
        (**self).reload_stes(span);
    }

    fn sync_complete(&mut self, sync: SyncSignal) {
        (**self).sync_complete(sync);
    }
}

/// What one [`CommandQueue::consume`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the guest reads CONS (and CONS.ERR) from the register file: write them"]
pub struct Consumed {
    /// The new CONS (index and wrap bit): PROD when every command ran, the
    /// failing command's index on an error, CONS unchanged while the queue is
    /// halted. Goes into SMMU_CMDQ_CONS.RD.
    pub cons: u32,
    /// Set when the queue stopped on a command error in this call: write
    /// [`CommandQueueError::cerror`] into SMMU_CMDQ_CONS.ERR and toggle
    /// SMMU_GERROR.CMDQ_ERR. `None` leaves both as they are (also while halted:
    /// the guest may not have read the ERR of the error that halted it yet).
    pub error: Option<CommandQueueError>,
}

/// The command queue processor of one vSMMU (IHI 0070, §3.5 queues, §4
/// commands, §7.1 command errors): it owns the invalidation batch it sends
/// through (a vIOMMU, or a fake in tests) and the guest command rules of the
/// SMMU the guest sees, and knows whether an error halted it.
///
/// On a write to SMMU_CMDQ_PROD, [`consume`](Self::consume) reads the commands
/// from CONS to PROD out of the ring in guest memory and executes them:
/// invalidations go to the kernel through the drain and its batch (one
/// `IOMMU_HWPT_INVALIDATE` per CMD_SYNC that has any), the rest the vSMMU does
/// itself through the VMM's [`CommandHost`].
///
/// ```text
///  guest writes CMDQ_PROD ──> glue ──> CommandQueue::consume(mem, ring, prod, cons, ..)
///                                        │ runs read into the batch's free slots, one read each
///                                        ▼
///                          push_guest_command (classifier + InvalidationBatch)
///        TLBI_*, ATC_INV, CFGI_CD* ──> batch ──> one ioctl at the CMD_SYNC
///        CMD_SYNC ──────────────────> flush, then CommandHost::sync_complete
///        CFGI_STE, _RANGE, CFGI_ALL ─> flush, then CommandHost::reload_stes
///        PREFETCH_* ────────────────> nothing
///                                        │
///  glue <── Consumed { cons, error } ────┘  CONS.RD = cons; on error: CONS.ERR,
///                                           toggle GERROR.CMDQ_ERR
/// ```
///
/// The queue knows neither the register file nor the device map: the glue (the
/// vSMMU's MMIO handler) passes it SMMU_CMDQ_BASE as a [`Ring`], PROD and CONS,
/// which guest StreamIDs have a vDEVICE, and a [`CommandHost`] that re-reads
/// STEs into the devices' runtime holders and signals completed syncs.
///
/// # Indices
///
/// PROD and CONS count with a wrap bit above the slot index (§3.5): only those
/// bits count, the rest of a PROD the guest writes is masked off. A run of reads
/// never crosses the ring's end, the queue never reads more than PROD − CONS
/// entries, and a LOG2SIZE above 19 (SMMU_IDR1.CMDQS's largest) reads as 19.
///
/// # Reads
///
/// Each run of commands is read in one access into the batch's free slots, where
/// the legal TLBIs stay (one copy per command); a run holds what is pending up to
/// the ring's end and the free slots. With `N = 63`, a Linux block of 63 commands
/// and its CMD_SYNC is therefore two reads (the sync after the flush of the full
/// batch); `N = 64` reads it at once, but sends 64 invalidations in one call for a
/// guest that posts that many without a sync (a second CMD_SYNC in the host's
/// driver). Each command is read once.
///
/// # When CONS moves
///
/// When `consume` returns, every command before the CONS it reports has been
/// executed: the batch is flushed at each CMD_SYNC and CFGI_STE*, when full, and
/// when the queue drains without a CMD_SYNC (Linux's driver issues a full batch
/// of 64 commands that way). Holding invalidations past CONS would save that
/// ioctl but let the guest reuse their slots before their errors are known.
///
/// # Errors (§7.1)
///
/// A command error stops the queue at the command: CONS stays there, the glue
/// writes [`CommandQueueError::cerror`] into CMDQ_CONS.ERR and toggles
/// GERROR.CMDQ_ERR, and the queue executes nothing more until the guest
/// acknowledges (GERRORN), when the glue calls [`acknowledge`](Self::acknowledge)
/// and `consume` again: the SMMU then fetches the command at CONS anew, which
/// the guest may have replaced. What Linux's driver does on each
/// (`arm_smmu_cmdq_skip_err`) decides the mapping:
///
/// | stop | CONS at | ERR | Linux's driver |
/// |---|---|---|---|
/// | the classifier refuses a command, or a command the vSMMU executes sets reserved bits | the command | CERROR_ILL | overwrites it with a CMD_SYNC, acknowledges: the queue goes on after it |
/// | the kernel refuses a command ([`BatchError::Refused`](crate::batch::BatchError)) | the command, after everything before it was sent again (the ARM recovery) | CERROR_ILL | the same |
/// | the invalidation call fails as a whole ([`BatchError::Failed`](crate::batch::BatchError)) | the batch's first command | CERROR_ABT | acknowledges: the SMMU fetches the batch again |
/// | a command cannot be read from guest memory | that command, after everything before it was sent | CERROR_ABT | the same: fetch again |
///
/// A call that fails as a whole is no illegal command: CERROR_ILL would make the
/// driver overwrite a legal invalidation with a CMD_SYNC, losing it and leaving
/// stale translations; CERROR_ATC_INV_SYNC would make it repeat the CMD_SYNC
/// only, past the lost batch. CERROR_ABT at the batch's first command makes the
/// guest replay the batch, which is safe (invalidations are idempotent), and
/// paces the retries through its GERROR handler (which logs each) rather than
/// spinning in the VMM's MMIO handler on a failure that tends to persist (the
/// vIOMMU gone, ENOMEM). A glue that sees it persist may escalate, e.g. to
/// service failure mode: the error carries the kernel's errno.
///
/// # Commands the kernel never sees
///
/// CMD_SYNC signals as its CS field asks ([`SyncSignal`], §4.7.3); CS = 0b11 is
/// reserved: CERROR_ILL. CFGI_STE, CFGI_STE_RANGE and CFGI_ALL (§4.3.1, §4.3.2,
/// §4.3.6) call [`CommandHost::reload_stes`] once everything before them was
/// sent. Prefetches (§4.2) are hints a vSMMU has no cache to warm with. RES0 bits
/// set in any of them: CERROR_ILL by default ([`ReservedBits`]). A legal CFGI_CD,
/// CFGI_CD_ALL or ATC_INV for a StreamID with no vDEVICE (a device unplugged, or
/// never plugged) does nothing, as on an SMMU with nothing cached for the stream,
/// where the kernel would refuse it: CONS moves past it (after the batch before it
/// was sent).
///
/// # Example
///
/// ```
/// use iommufd::arch::Smmuv3;
/// use iommufd::arch::smmuv3::{CommandRules, SmmuCaps, StreamSpan, command as cmd};
/// use iommufd::batch::{InvalidationBatch, RecordingSink};
/// use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
/// use iommufd::vsmmu::{
///     CommandHost, CommandQueue, CompletionSignal, GuestMemory, GuestMemoryError,
///     GuestMemoryFault, Ring, SyncSignal,
/// };
/// use std::ops::Range;
/// use std::sync::Mutex;
/// use zerocopy::IntoBytes;
///
/// /// Guest RAM from GPA 0 (a VMM has its memfd view).
/// struct Ram(Mutex<Vec<u8>>);
/// impl Ram {
///     fn range(&self, gpa: u64, len: usize) -> Result<Range<usize>, GuestMemoryError> {
///         let fault = GuestMemoryError { gpa, len, fault: GuestMemoryFault::Unmapped };
///         let start = usize::try_from(gpa).map_err(|_| fault)?;
///         let end = start.checked_add(len).ok_or(fault)?;
///         if end > self.0.lock().unwrap().len() { return Err(fault) }
///         Ok(start..end)
///     }
/// }
/// impl GuestMemory for Ram {
///     fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
///         let r = self.range(gpa, buf.len())?;
///         Ok(buf.copy_from_slice(&self.0.lock().unwrap()[r]))
///     }
///     fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
///         let r = self.range(gpa, data.len())?;
///         Ok(self.0.lock().unwrap()[r].copy_from_slice(data))
///     }
/// }
///
/// /// The glue's side: devices by StreamID, the interrupt controller.
/// struct Glue<'a> { mem: &'a Ram, reloaded: Vec<StreamSpan> }
/// impl CommandHost for Glue<'_> {
///     fn reload_stes(&mut self, span: StreamSpan) {
///         // Re-read the STEs `span` names and apply them to each device's state.
///         self.reloaded.push(span);
///     }
///     fn sync_complete(&mut self, sync: SyncSignal) {
///         if let CompletionSignal::Irq(msi) = sync.cs {
///             // RAM (Linux's MSIPOLL: the sync's own slot), else the VMM's
///             // interrupt callback.
///             if msi.write_to(self.mem).is_err() { /* deliver the MSI */ }
///         }
///     }
/// }
///
/// // QEMU's SMMUv3 capabilities; the rules and the batch, once per vIOMMU.
/// let idr = [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74];
/// let info = IommuHwInfoArmSmmuv3 { idr, aidr: 1, ..Default::default() };
/// let caps = SmmuCaps::decode(&info, HwCapabilities::empty());
/// let sink = RecordingSink::<Smmuv3>::new(); // a VMM: `viommu.clone()`
/// let batch = InvalidationBatch::<_, 63>::new(&sink);
/// let mut queue = CommandQueue::new(batch, CommandRules::new(&caps));
///
/// // The guest's queue: 16 entries at 0x1000; two TLBIs, a CFGI_STE, a CMD_SYNC.
/// let ram = Ram(Mutex::new(vec![0; 0x2000]));
/// let commands = [
///     cmd::tlbi_nh_asid(1),
///     cmd::tlbi_nh_va(1, 0x8000, true),
///     cmd::cfgi_ste(0x42, true),
///     cmd::sync(),
/// ];
/// ram.write(0x1000, commands.as_bytes()).unwrap();
/// // SMMU_CMDQ_BASE (LOG2SIZE 4), SMMU_IDR1.CMDQS, 16-byte entries.
/// let ring = Ring::from_base(0x1000 | 4, 19, 16);
///
/// // The guest wrote PROD = 4; CONS was 0.
/// let mut glue = Glue { mem: &ram, reloaded: Vec::new() };
/// let done = queue.consume(&ram, ring, 4, 0, |vsid| vsid == 0x42, &mut glue);
/// assert_eq!((done.cons, done.error), (4, None)); // CONS.RD = 4
/// assert_eq!(glue.reloaded, [StreamSpan::Range { first: 0x42, count: 1 }]);
/// assert_eq!(sink.submissions().len(), 1); // both TLBIs in one call, before the reload
/// ```
#[must_use = "a command queue does nothing until it consumes"]
pub struct CommandQueue<S: InvalidationSink, const N: usize> {
    batch: InvalidationBatch<S, N>,
    rules: CommandRules,
    reserved: ReservedBits,
    halted: bool,
}

impl<S: InvalidationSink + core::fmt::Debug, const N: usize> core::fmt::Debug
    for CommandQueue<S, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommandQueue")
            .field("batch", &self.batch)
            .field("rules", &self.rules)
            .field("reserved", &self.reserved)
            .field("halted", &self.halted)
            .finish()
    }
}

impl<S: InvalidationSink, const N: usize> CommandQueue<S, N>
where
    S::Family: Family<Invalidation = IommuViommuArmSmmuv3Invalidate>,
{
    /// A running queue sending through `batch` (`N = 63` on ARM: the driver's
    /// block per sync), checking commands with `rules`, refusing reserved bits
    /// ([`ReservedBits::Illegal`]).
    pub fn new(batch: InvalidationBatch<S, N>, rules: CommandRules) -> Self {
        Self {
            batch,
            rules,
            reserved: ReservedBits::default(),
            halted: false,
        }
    }

    /// The same queue with another policy for reserved bits in the commands the
    /// vSMMU executes itself.
    pub fn with_reserved_bits(mut self, policy: ReservedBits) -> Self {
        self.reserved = policy;
        self
    }

    /// The batch (empty between calls to [`consume`](Self::consume)).
    pub fn batch(&self) -> &InvalidationBatch<S, N> {
        &self.batch
    }

    /// The guest command rules.
    pub fn rules(&self) -> &CommandRules {
        &self.rules
    }

    /// The reserved-bits policy.
    pub fn reserved_bits(&self) -> ReservedBits {
        self.reserved
    }

    /// Whether a command error halted the queue (GERROR.CMDQ_ERR active, §7.1).
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// The guest acknowledged the command error (its write to SMMU_GERRORN made
    /// CMDQ_ERR inactive): the queue runs again. Call
    /// [`consume`](Self::consume) next, as PROD may be ahead already: the SMMU
    /// fetches the command at CONS again (§7.1).
    pub fn acknowledge(&mut self) {
        self.halted = false;
    }

    /// The vSMMU was reset: not halted, nothing waiting.
    pub fn reset(&mut self) {
        self.halted = false;
        self.batch.clear();
    }

    /// The batch and the rules back.
    pub fn into_parts(self) -> (InvalidationBatch<S, N>, CommandRules) {
        (self.batch, self.rules)
    }

    /// Executes the guest's commands from `cons` to `prod` (SMMU_CMDQ_CONS and
    /// the PROD just written; bits above the index and wrap bit are ignored) in
    /// `ring` (SMMU_CMDQ_BASE as `Ring::from_base(base, IDR1.CMDQS, 16)`), read
    /// from `mem`. `has_vdevice` tells which guest StreamIDs have a vDEVICE (the
    /// kernel refuses CFGI_CD and ATC_INV for others); `host` reloads STEs and
    /// signals syncs.
    ///
    /// Stops at PROD, or at the first command error, which halts the queue
    /// until [`acknowledge`](Self::acknowledge). Does nothing while halted.
    /// Never allocates, never panics, whatever the guest wrote.
    pub fn consume<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        ring: Ring,
        prod: u32,
        cons: u32,
        has_vdevice: impl Fn(u32) -> bool,
        host: &mut impl CommandHost,
    ) -> Consumed {
        // Rebuilt as a command ring no larger than a command queue can be, so
        // that the index arithmetic below holds for any `Ring` a caller passes.
        let log2size = ring.log2size().min(MAX_LOG2SIZE);
        let ring = Ring::from_base(ring.base() | u64::from(log2size), MAX_LOG2SIZE, 16);
        let prod = prod & ring.index_mask();
        let cons = cons & ring.index_mask();
        if self.halted {
            return Consumed { cons, error: None };
        }
        match self.run(mem, &ring, prod, cons, &has_vdevice, host) {
            Ok(()) => Consumed {
                cons: prod,
                error: None,
            },
            Err(error) => {
                self.halted = true;
                Consumed {
                    cons: error.index(),
                    error: Some(error),
                }
            }
        }
    }

    /// The loop of [`consume`](Self::consume): runs of contiguous slots, each
    /// read at once into the batch's free slots, where the legal TLBIs stay (no
    /// copy but the read). Another command is executed on its own; the commands
    /// read after it wait in the free slots (moved down when the batch's length
    /// changed), so every command is read once.
    fn run<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &M,
        ring: &Ring,
        prod: u32,
        mut cons: u32,
        has_vdevice: &impl Fn(u32) -> bool,
        host: &mut impl CommandHost,
    ) -> Result<(), CommandQueueError> {
        let slots = 1u32 << ring.log2size();
        // The commands read and not yet executed, from guest index `cons`: `ahead`
        // of them in the batch's slots from `at`, then the read's fault, if any.
        let (mut at, mut ahead) = (0, 0);
        let mut fault = None;
        while !ring.is_empty(prod, cons) {
            if ahead == 0 {
                if let Some(error) = fault {
                    // The commands before the one that faulted ran: send what waits.
                    self.batch.flush()?;
                    return Err(CommandQueueError::Fetch { index: cons, error });
                }
                at = self.batch.len();
                let free = self.batch.free_slots();
                if free.is_empty() {
                    // The batch is full: send it, as a push would.
                    self.batch.flush()?;
                    continue;
                }
                let to_end = slots - ring.slot(cons);
                let want = (ring.pending(prod, cons).min(to_end) as usize).min(free.len());
                let run = free.get_mut(..want).unwrap_or_default();
                (ahead, fault) = fetch(mem, ring, cons, run.as_mut_bytes());
                continue;
            }
            let run = self.batch.read_ahead(at, ahead);
            if run.len() != ahead {
                // Not in free slots (cannot happen): read them again.
                (ahead, fault) = (0, None);
                continue;
            }
            let legal = run
                .iter()
                .take_while(|e| self.rules.is_legal_tlbi(e.cmd[0].get(), e.cmd[1].get()))
                .count();
            // Copied out: executing it may push into its slot.
            let other: Option<Entry> = run.get(legal).and_then(|e| e.as_bytes().try_into().ok());
            self.batch.commit(cons, legal);
            // A run never crosses the ring's end: the indices wrap at its last.
            cons = cons.wrapping_add(legal as u32) & ring.index_mask();
            (at, ahead) = (self.batch.len(), ahead - legal);
            if let Some(raw) = other {
                let next = ring.next(cons);
                (at, ahead) = (at + 1, ahead - 1);
                self.execute(cons, next, &raw, has_vdevice, host)?;
                cons = next;
            }
        }
        // The queue drained: nothing may wait behind CONS ("When CONS moves").
        self.batch.flush()?;
        Ok(())
    }

    /// One command: an invalidation is queued (the straight line), everything
    /// else goes through [`execute_own`](Self::execute_own).
    #[inline]
    fn execute(
        &mut self,
        index: u32,
        next: u32,
        raw: &Entry,
        has_vdevice: &impl Fn(u32) -> bool,
        host: &mut impl CommandHost,
    ) -> Result<(), CommandQueueError> {
        match self
            .batch
            .push_guest_command(index, raw, &self.rules, has_vdevice)
        {
            Ok(Step::Queued) => Ok(()),
            Ok(step) => self.execute_own(index, next, raw, step, host),
            // A legal CFGI_CD* or ATC_INV for a StreamID with no vDEVICE: nothing
            // is cached for it ("Commands the kernel never sees").
            Err(DrainError::Illegal {
                cause: CommandError::UnknownStream { .. },
                ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The commands the vSMMU executes itself, once the drain has flushed what
    /// comes before them (CMD_SYNC, CFGI_STE*) or left the batch as it was (a
    /// prefetch). Out of line: one per batch at most, next to an ioctl.
    #[cold]
    #[inline(never)]
    fn execute_own(
        &mut self,
        index: u32,
        next: u32,
        raw: &Entry,
        step: Step,
        host: &mut impl CommandHost,
    ) -> Result<(), CommandQueueError> {
        let w = words(raw);
        let illegal = |cause| CommandQueueError::Illegal { index, cause };
        match step {
            Step::Synced => {
                self.reserved.check(w).map_err(illegal)?;
                let cs = sync::completion_signal(w).map_err(illegal)?;
                host.sync_complete(SyncSignal {
                    index,
                    cons: next,
                    cs,
                });
            }
            Step::ReloadStes(span) => {
                self.reserved.check(w).map_err(illegal)?;
                host.reload_stes(span);
            }
            Step::Nothing => {
                if let Err(cause) = self.reserved.check(w) {
                    // No flush came before a prefetch: send what precedes it.
                    self.batch.flush()?;
                    return Err(illegal(cause));
                }
            }
            Step::Queued => {}
        }
        Ok(())
    }
}

/// The two little-endian words of a command: the low and high halves of its
/// 128 bits.
fn words(raw: &Entry) -> [u64; 2] {
    let all = u128::from_le_bytes(*raw);
    [all as u64, (all >> 64) as u64]
}
