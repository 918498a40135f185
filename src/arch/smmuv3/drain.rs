// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest-command drain: raw commands from the guest's queue into an
//! [`InvalidationBatch`], for every family that speaks SMMUv3's commands (SMMUv3
//! itself, Tegra241 CMDQV): those whose invalidation entry is
//! [`IommuViommuArmSmmuv3Invalidate`], on any [`InvalidationSink`].
//!
//! The VMM works the guest command rules out once per vIOMMU ([`CommandRules`])
//! and drains with [`InvalidationBatch::push_guest_commands`], whose docs show the
//! loop.

use super::{CommandError, CommandRules, GuestCommand, StreamSpan};
use crate::arch::Family;
use crate::batch::{BatchError, InvalidationBatch, InvalidationSink};
use crate::uapi::IommuViommuArmSmmuv3Invalidate;

/// What a pushed guest command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Added to the batch (which may have been flushed first, being full).
    Queued,
    /// CMD_SYNC: everything before it was sent; complete the sync for the guest.
    Synced,
    /// CFGI_STE*: everything before it was sent; now re-read these STEs and
    /// reinstall them (the VMM's job).
    ReloadStes(StreamSpan),
    /// A prefetch: nothing to do.
    Nothing,
}

/// Where [`InvalidationBatch::push_guest_commands`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// It took every command; what it queued waits in the batch (flush when the
    /// guest's queue is empty).
    End,
    /// It stopped after the CMD_SYNC at `guest_index`: everything before it was
    /// sent; complete the sync, then go on with the next command.
    Synced {
        /// Index of the CMD_SYNC in the guest's queue.
        guest_index: u32,
    },
    /// It stopped after the CFGI_STE* at `guest_index`: everything before it was
    /// sent; re-read these STEs and reinstall them, then go on with the next
    /// command.
    ReloadStes {
        /// Index of the CFGI_STE* in the guest's queue.
        guest_index: u32,
        /// The guest StreamIDs it names.
        span: StreamSpan,
    },
}

/// Why a drain stopped on an error. Each names the guest queue index to report to
/// the guest (CERROR_ILL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DrainError {
    /// The crate refused a guest command before any ioctl (the kernel would too).
    /// Every command before it was sent.
    #[error("guest command {guest_index}: {cause}")]
    Illegal {
        /// Index of the command in the guest's queue.
        guest_index: u32,
        /// Why.
        cause: CommandError,
    },
    /// A flush failed: the kernel refused a command, or the call failed as a
    /// whole.
    #[error(transparent)]
    Batch(#[from] BatchError),
}

impl DrainError {
    /// The guest queue index to report (CERROR_ILL): the illegal or refused
    /// command, or the first of a batch that failed as a whole (see
    /// [`BatchError::Failed`], which is no command error).
    pub fn guest_index(&self) -> u32 {
        match self {
            DrainError::Illegal { guest_index, .. } => *guest_index,
            DrainError::Batch(e) => e.guest_index(),
        }
    }
}

impl<S: InvalidationSink, const N: usize> InvalidationBatch<S, N>
where
    S::Family: Family<Invalidation = IommuViommuArmSmmuv3Invalidate>,
{
    /// Takes one raw command from the guest's queue: checks it with `rules` (the
    /// SMMU the guest sees) and `has_vdevice` (guest StreamIDs with a vDEVICE), then
    /// queues it, or flushes for a CMD_SYNC or a CFGI_STE*, or refuses it after
    /// sending everything before it.
    #[inline]
    pub fn push_guest_command(
        &mut self,
        guest_index: u32,
        raw: &[u8],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Step, DrainError> {
        match rules.forwarded_tlbi(raw) {
            Some(entry) => match self.push(guest_index, entry) {
                Ok(()) => Ok(Step::Queued),
                Err(e) => Err(DrainError::Batch(e)),
            },
            None => self.push_other_command(guest_index, raw, rules, has_vdevice),
        }
    }

    /// Takes a run of raw commands from the guest's queue, `queue[0]` being guest
    /// command `first_index`, as [`push_guest_command`](Self::push_guest_command)
    /// one by one would, and stops after the first command that needs the VMM (a
    /// CMD_SYNC, a CFGI_STE*) or at the end of `queue`: the way to drain a queue
    /// into the batch.
    ///
    /// On an error, the guest's queue stops at [`DrainError::guest_index`].
    ///
    /// A legal TLBI costs a table lookup and a 16-byte store, everything else goes
    /// through the full checks. The drain stops where the VMM has work of its own:
    ///
    /// ```no_run
    /// # use iommufd::arch::{Smmuv3, smmuv3::{CommandRules, Drain, DrainError, SmmuCaps}};
    /// # fn f(viommu: &iommufd::states::VIommuAllocated<Smmuv3>, caps: &SmmuCaps, guest_queue: &[[u8; 16]]) -> Result<(), DrainError> {
    /// let rules = CommandRules::new(caps); // once, when the vIOMMU is made
    /// let mut batch = viommu.batch::<63>(); // 63: the ARM driver's block per sync
    /// let mut cons = 0; // the guest's CONS
    /// while cons < guest_queue.len() {
    ///     let run = &guest_queue[cons..];
    ///     match batch.push_guest_commands(cons as u32, run, &rules, |vsid| vsid == 0x42)? {
    ///         Drain::Synced { guest_index } => {
    ///             // Everything before the CMD_SYNC was sent (one ioctl): complete it.
    ///             cons = guest_index as usize + 1;
    ///         }
    ///         Drain::ReloadStes { guest_index, span } => {
    ///             // Re-read the STEs `span` names and reinstall them, then go on.
    ///             let _ = span;
    ///             cons = guest_index as usize + 1;
    ///         }
    ///         Drain::End => {
    ///             batch.flush()?; // the queue is empty: send what waits
    ///             cons = guest_queue.len();
    ///         }
    ///     }
    /// }
    /// // On Err(e): report CERROR_ILL at e.guest_index(); the guest's CONS stops there.
    /// # Ok(()) }
    /// ```
    pub fn push_guest_commands(
        &mut self,
        first_index: u32,
        queue: &[[u8; 16]],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Drain, DrainError> {
        let mut i = 0;
        while i < queue.len() {
            i += self.append_legal_tlbis(first_index.wrapping_add(i as u32), &queue[i..], rules);
            // `queue[i]` is no legal TLBI, or the batch is full: the whole way.
            let Some(raw) = queue.get(i) else { break };
            let guest_index = first_index.wrapping_add(i as u32);
            match self.push_guest_command(guest_index, raw, rules, &has_vdevice)? {
                Step::Synced => return Ok(Drain::Synced { guest_index }),
                Step::ReloadStes(span) => return Ok(Drain::ReloadStes { guest_index, span }),
                Step::Queued | Step::Nothing => {}
            }
            i += 1;
        }
        Ok(Drain::End)
    }

    /// Appends the legal TLBIs at the head of `run` (`run[0]` being guest command
    /// `first_index`) while the batch has room; returns how many. What
    /// [`push_guest_command`](Self::push_guest_command) would do with each of them,
    /// in one tight loop: the drain's and the vSMMU command queue's straight line.
    #[inline]
    pub(crate) fn append_legal_tlbis(
        &mut self,
        first_index: u32,
        run: &[[u8; 16]],
        rules: &CommandRules,
    ) -> usize {
        self.append_while(first_index, run.len(), |k| {
            run.get(k).and_then(|raw| rules.forwarded_tlbi(raw))
        })
    }

    /// Everything but a legal TLBI: the full checks, then what the command asks.
    /// Marked cold so the TLBI path is the straight line (one CMD_SYNC per batch
    /// comes here; that is cheap next to the flush it makes).
    #[cold]
    #[inline(never)]
    fn push_other_command(
        &mut self,
        guest_index: u32,
        raw: &[u8],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Step, DrainError> {
        let step = match rules.classify(raw, has_vdevice) {
            Ok(GuestCommand::Forward(entry)) => {
                self.push(guest_index, entry).map(|()| Step::Queued)
            }
            Ok(GuestCommand::Sync) => self.flush().map(|()| Step::Synced),
            Ok(GuestCommand::ReloadStes(span)) => self.flush().map(|()| Step::ReloadStes(span)),
            Ok(GuestCommand::Nothing) => Ok(Step::Nothing),
            Err(cause) => {
                self.flush()?;
                return Err(DrainError::Illegal { guest_index, cause });
            }
        };
        Ok(step?)
    }
}
