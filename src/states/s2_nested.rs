// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`S2Nested`]: a device translated by the guest's stage 1 on a nest parent, for
//! families without a vIOMMU (Intel VT-d).

use super::s2_binding::S2Binding;
use super::{S2Attached, sealed};
use crate::arch::ParentNesting;
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::HwptId;

/// A device attached to its own nested HWPT whose parent is the stage 2: the
/// physical IOMMU walks the guest's first-stage table, then stage 2. Guest
/// invalidations go to this HWPT ([`invalidate`](Self::invalidate)): the family has
/// no vIOMMU to send them to.
///
/// Transitions consume it; a failed one gives it back, still attached to the same
/// HWPT.
pub struct S2Nested<F: ParentNesting, D: Device> {
    pub(super) binding: S2Binding<F, D>,
    pub(super) config: F::Stage1,
}

impl<F: ParentNesting, D: Device> sealed::Sealed for S2Nested<F, D> {}
impl<F: ParentNesting, D: Device> super::State for S2Nested<F, D> {}

impl<F: ParentNesting, D: Device + core::fmt::Debug> core::fmt::Debug for S2Nested<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("S2Nested")
            .field("binding", &self.binding)
            .field("config", &self.config)
            .finish()
    }
}

impl<F: ParentNesting, D: Device> S2Nested<F, D> {
    super::s2_binding::s2_binding_accessors!();
    super::s2_pasid::s2_pasid_methods!();

    /// The guest stage-1 configuration the nested HWPT was made from.
    pub fn stage1(&self) -> &F::Stage1 {
        &self.config
    }

    /// The nested HWPT the device is attached to (always `Some`: as
    /// [`Nested::stage1_hwpt`](super::Nested::stage1_hwpt)).
    pub fn stage1_hwpt(&self) -> Option<HwptId> {
        self.binding.stage1.as_ref().map(|h| h.id())
    }

    /// The fault queue the current nested HWPT reports I/O page faults to (set
    /// with `set_fault_queue` before it was installed).
    pub fn stage1_fault_queue(&self) -> Option<&super::FaultQueue> {
        self.binding.stage1.as_ref().and_then(|h| h.fault_queue())
    }

    /// Forwards guest invalidations to the nested HWPT in one ioctl, without
    /// copying or allocating. The driver handles the entries in order; when it
    /// refuses one, [`Error::refused_entry`](crate::Error::refused_entry) is its
    /// index and the entries before it took effect (VT-d's partial-failure rule:
    /// the kernel writes back how many it handled).
    pub fn invalidate(&self, entries: &[F::Invalidation]) -> Result<()> {
        self.binding.invalidate(entries)
    }

    /// Follows a change of the guest's configuration: allocates a nested HWPT from
    /// `config`, replaces the attachment, then destroys the old HWPT.
    pub fn reinstall(mut self, config: &F::Stage1) -> Result<Self, TransitionError<Self>> {
        match self.binding.switch_to_config(config) {
            Ok(old) => {
                drop(old);
                self.config = config.clone();
                Ok(self)
            }
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// The guest turned translation off: back to the stage 2 alone, destroying the
    /// nested HWPT.
    pub fn uninstall(mut self) -> Result<S2Attached<F, D>, TransitionError<Self>> {
        match self.binding.switch_to_s2() {
            Ok(old) => {
                drop(old);
                Ok(S2Attached {
                    binding: self.binding,
                })
            }
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }

    /// Takes the device away from the guest: detaches its PASIDs, attaches it to
    /// the stage 2 alone, destroys the nested HWPTs and gives the device back. On
    /// failure the state comes back (with the PASIDs not yet detached, on its
    /// nested HWPT).
    pub fn unbind(mut self) -> Result<D, TransitionError<Self>> {
        if let Err(e) = self.binding.detach_all_pasids() {
            return Err(TransitionError::new(self, e));
        }
        match self.uninstall() {
            Ok(attached) => Ok(attached.binding.into_device()),
            Err(e) => Err(e),
        }
    }
}
