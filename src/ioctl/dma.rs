// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The one iommufd command that lets a device reach this process's own memory.
//! It lives here, with the other `unsafe` code, because its safety contract is the
//! caller's.

#![allow(unsafe_code)]

use crate::error::{ErrnoExt, Op, Result};
use crate::ids::{IoasId, Iova};
use crate::iommufd::ioas::{check_access, check_map_at, check_range};
use crate::iommufd::{Access, IommuFd, MapAt};
use crate::states::IoasReady;
use rustix::fd::AsFd;

impl IommuFd {
    /// Maps `length` bytes of this process's memory at `user_va` into `ioas`. Returns
    /// the IOVA used.
    ///
    /// # Safety
    ///
    /// From this call until the range is unmapped (or the IOAS destroyed), and
    /// until every copy of it made with [`copy`](Self::copy) into another IOAS is
    /// unmapped too, devices attached to those IOASes may read, and with [`Access::WRITE`] write,
    /// `user_va .. user_va + length` behind the compiler's back. The caller must
    /// ensure the range is mapped memory of this process, is not freed or remapped
    /// while mapped, and that no Rust reference assumes its contents stay unchanged
    /// (treat it like memory shared with another process). Prefer
    /// [`map_file`](Self::map_file) on a memfd, which needs none of this.
    pub unsafe fn map_user(
        &self,
        ioas: IoasId,
        user_va: *const u8,
        length: u64,
        at: MapAt,
        access: Access,
    ) -> Result<Iova> {
        check_access(Op::IoasMap, access)?;
        check_range(Op::IoasMap, "user_va", user_va as u64, length)?;
        check_map_at(Op::IoasMap, at, length)?;
        let (flags, iova) = at.flags(access);
        // SAFETY: forwarded from this function's contract.
        unsafe {
            super::ioas::ioas_map(
                self.as_fd(),
                ioas.raw(),
                flags,
                user_va as u64,
                length,
                iova,
            )
        }
        .op(Op::IoasMap)
        .map(Iova)
    }
}

impl IoasReady {
    /// Maps `length` bytes of this process's memory at `user_va` into the IOAS.
    /// Returns the IOVA used. See [`IommuFd::map_user`].
    ///
    /// # Safety
    ///
    /// As for [`IommuFd::map_user`]: until the range is unmapped from this IOAS
    /// (and from every IOAS it was copied into), devices may read and write it
    /// behind the compiler's back. Prefer [`map_file`](Self::map_file).
    pub unsafe fn map_user(
        &self,
        user_va: *const u8,
        length: u64,
        at: MapAt,
        access: Access,
    ) -> Result<Iova> {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            self.iommufd()
                .map_user(self.id(), user_va, length, at, access)
        }
    }
}
