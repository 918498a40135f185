// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`KernelObject`]: one iommufd object owned by the crate, destroyed exactly once.

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Destroyable;
use crate::iommufd::IommuFd;
use std::sync::Arc;

/// An object the crate made and must destroy. Its iommufd stays open while it lives.
/// Dropping it destroys it; if the kernel answers EBUSY (something outside the
/// crate's handles holds it), the destroy is retried as soon as that may have gone
/// (see [`IommuFd::pending_destroys`]). Nothing here panics.
#[derive(Debug)]
pub(crate) struct KernelObject<I: Destroyable> {
    fd: Arc<IommuFd>,
    id: I,
    live: bool,
}

impl<I: Destroyable> KernelObject<I> {
    /// Runs `make` and takes ownership of what it made.
    pub(crate) fn make(
        fd: &Arc<IommuFd>,
        make: impl FnOnce(&IommuFd) -> Result<I>,
    ) -> Result<Self> {
        let id = make(fd)?;
        Ok(Self {
            fd: Arc::clone(fd),
            id,
            live: true,
        })
    }

    /// Takes ownership of an object made elsewhere.
    pub(crate) fn adopt(fd: &Arc<IommuFd>, id: I) -> Self {
        Self {
            fd: Arc::clone(fd),
            id,
            live: true,
        }
    }

    pub(crate) fn id(&self) -> I {
        self.id
    }

    pub(crate) fn fd(&self) -> &Arc<IommuFd> {
        &self.fd
    }

    /// Destroys the object now, reporting the kernel's answer; on failure the object
    /// comes back, still owned.
    pub(crate) fn destroy(mut self) -> core::result::Result<(), (Self, Error)> {
        match self.destroy_in_place() {
            Ok(()) => Ok(()),
            Err(e) => Err((self, e)),
        }
    }

    /// [`destroy`](Self::destroy) for an object inside a struct: on success it is
    /// marked gone (its drop does nothing), on failure it is still owned.
    pub(crate) fn destroy_in_place(&mut self) -> Result<()> {
        if !self.live {
            return Ok(());
        }
        match self.fd.destroy(self.id) {
            Ok(()) => {
                self.live = false;
                self.fd.retry_pending_destroys();
                Ok(())
            }
            // Already gone (a vDEVICE goes with its device's unbind): nothing to do.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.live = false;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl<I: Destroyable> Drop for KernelObject<I> {
    fn drop(&mut self) {
        if self.live {
            self.fd.destroy_or_defer(self.id);
        }
    }
}
