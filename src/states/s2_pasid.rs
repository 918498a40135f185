// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Nested HWPTs per PASID on a device of the stage-2 path: a VT-d guest's
//! scalable-mode PASID table entries, each its own first-stage table.
//!
//! The kernel's rules (Linux 7.3, `iommufd_hwpt_pasid_compat`): a PASID takes only a
//! PASID-compatible HWPT, and only while the device's own (RID) HWPT is one too.
//! On this path both hold when the stage 2 was allocated with
//! [`S2Options::pasid`](super::S2Options::pasid): the stage 2 and every nested
//! HWPT made on it are then PASID-compatible. The device must support PASIDs
//! (`max_pasid_log2` in its hw_info; the intel driver also needs ECAP.PASID).
//!
//! SMMUv3 guests reach substreams another way: the guest's STE points at its
//! context-descriptor table, S1CDMax entries deep (at most the vSMMU's SSIDSIZE,
//! which [`SmmuCaps::for_guest`](crate::arch::smmuv3::SmmuCaps::for_guest) copies
//! from the host), and the one nested HWPT covers every SubstreamID; the driver
//! checks S1CDMax against the host's SSID bits at install (EINVAL).

use super::binding::Stage1Hwpt;
use super::s2_binding::S2Binding;
use crate::arch::ParentNesting;
use crate::device::Device;
use crate::error::{Error, Op, Result};
use crate::ids::PtId;

/// The widest PASID (20 bits, PCIe).
pub const PASID_MAX: u32 = (1 << 20) - 1;

impl<F: ParentNesting, D: Device> S2Binding<F, D> {
    fn check_pasid(&self, pasid: u32) -> Result<()> {
        if pasid == 0 {
            return Err(Error::invalid(
                Op::Attach,
                "pasid",
                "0 is the device's own translation (install it instead)",
            ));
        }
        if pasid > PASID_MAX {
            return Err(Error::invalid(Op::Attach, "pasid", "wider than 20 bits"));
        }
        if !self.s2.options().has_pasid() {
            return Err(Error::Unsupported {
                op: Op::Attach,
                reason: "the stage 2 was allocated without S2Options::pasid",
            });
        }
        Ok(())
    }

    fn pasid_index(&self, pasid: u32) -> Option<usize> {
        self.pasids.iter().position(|(p, _)| *p == pasid)
    }

    /// Attaches a nested HWPT for `config` to `pasid`, replacing the one there. On
    /// failure nothing changed.
    pub(super) fn attach_pasid(&mut self, pasid: u32, config: &F::Stage1) -> Result<()> {
        self.check_pasid(pasid)?;
        let hwpt = self.make_nested(config)?;
        self.dev().attach_pasid(pasid, PtId::Hwpt(hwpt.id()))?;
        let old = match self.pasid_index(pasid) {
            Some(i) => Some(core::mem::replace(&mut self.pasids[i].1, hwpt)),
            None => {
                self.pasids.push((pasid, hwpt));
                None
            }
        };
        drop(old); // detached by the replace: the kernel can destroy it now
        Ok(())
    }

    /// Detaches `pasid` and destroys its nested HWPT.
    pub(super) fn detach_pasid(&mut self, pasid: u32) -> Result<()> {
        let Some(i) = self.pasid_index(pasid) else {
            return Err(Error::invalid(
                Op::Attach,
                "pasid",
                "no nested HWPT attached to it",
            ));
        };
        self.dev().detach_pasid(pasid)?;
        drop(self.pasids.remove(i));
        Ok(())
    }

    /// Detaches every PASID, stopping at the first failure.
    pub(super) fn detach_all_pasids(&mut self) -> Result<()> {
        while let Some((pasid, _)) = self.pasids.last() {
            self.detach_pasid(*pasid)?;
        }
        Ok(())
    }

    pub(super) fn pasid_hwpt(&self, pasid: u32) -> Option<&Stage1Hwpt> {
        self.pasid_index(pasid).map(|i| &self.pasids[i].1)
    }

    /// Forwards invalidations to the nested HWPT of `pasid`.
    pub(super) fn invalidate_pasid(&self, pasid: u32, entries: &[F::Invalidation]) -> Result<()> {
        match self.pasid_hwpt(pasid) {
            Some(hwpt) => self.s2.iommufd().invalidate(hwpt.id(), entries),
            None => Err(Error::invalid(
                Op::HwptInvalidate,
                "pasid",
                "no nested HWPT attached to it",
            )),
        }
    }
}

/// The PASID methods both per-device states of the stage-2 path have.
macro_rules! s2_pasid_methods {
    () => {
        /// Attaches a nested HWPT made from the guest's stage-1 `config` to `pasid`
        /// (1 to [`PASID_MAX`](crate::states::PASID_MAX)), replacing the one
        /// there, if any. Refused before any syscall when the stage 2 lacks
        /// [`S2Options::pasid`](crate::states::S2Options::pasid). On failure
        /// nothing changed: the PASID keeps what it had.
        pub fn attach_pasid(&mut self, pasid: u32, config: &F::Stage1) -> crate::Result<()> {
            self.binding.attach_pasid(pasid, config)
        }

        /// Detaches `pasid` (DMA tagged with it is blocked) and destroys its
        /// nested HWPT. Refused before any syscall when nothing is attached there.
        pub fn detach_pasid(&mut self, pasid: u32) -> crate::Result<()> {
            self.binding.detach_pasid(pasid)
        }

        /// The nested HWPT attached to `pasid`.
        pub fn pasid_hwpt(&self, pasid: u32) -> Option<crate::HwptId> {
            self.binding.pasid_hwpt(pasid).map(|h| h.id())
        }

        /// The PASIDs with a nested HWPT, in attach order.
        pub fn pasids(&self) -> impl Iterator<Item = u32> + '_ {
            self.binding.pasids.iter().map(|(p, _)| *p)
        }

        /// Forwards guest invalidations to the nested HWPT of `pasid`, as
        /// [`S2Nested::invalidate`](crate::states::S2Nested::invalidate) does for
        /// the device's own.
        pub fn invalidate_pasid(
            &self,
            pasid: u32,
            entries: &[F::Invalidation],
        ) -> crate::Result<()> {
            self.binding.invalidate_pasid(pasid, entries)
        }
    };
}
pub(super) use s2_pasid_methods;
