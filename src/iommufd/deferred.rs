// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Destroys the kernel refused while something outside the crate's handles still
//! held the object (a device attached straight to an IOAS, a HWPT still attached
//! through a lent device fd): retried whenever what may have held them goes.

use crate::error::ErrorKind;
use crate::ioctl;
use rustix::fd::BorrowedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Object ids whose destroy got EBUSY, per iommufd. Only objects that nothing but
/// `IOMMU_DESTROY` removes go here (never a vDEVICE, which the kernel destroys with
/// its device's unbind): a deferred id therefore stays this object's until the retry
/// destroys it, and is never reused for another.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Lets the common case (nothing deferred) skip the lock.
    any: AtomicBool,
    ids: Mutex<Vec<u32>>,
}

impl Deferred {
    pub(crate) fn push(&self, id: u32) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.push(id);
        self.any.store(true, Ordering::Release);
    }

    /// Destroys what it can, in rounds, until a round makes no progress (a deferred
    /// HWPT may hold a deferred IOAS).
    pub(crate) fn retry(&self, fd: BorrowedFd<'_>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let before = ids.len();
            ids.retain(|&id| match ioctl::ioas::destroy(fd, id) {
                Ok(()) => false,
                Err(errno) => {
                    let e = crate::Error::kernel(crate::Op::Destroy, errno);
                    e.kind() != ErrorKind::NotFound
                }
            });
            if ids.len() == before || ids.is_empty() {
                break;
            }
        }
        self.any.store(!ids.is_empty(), Ordering::Release);
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
