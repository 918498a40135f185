// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! IOAS commands on [`IommuFd`].

use super::IommuFd;
use crate::error::{ErrnoExt, Error, Op, Result};
use crate::ids::{IoasId, Iova, IovaRange};
use crate::ioctl;
use crate::uapi::{self, IoasMapFlags};
use bitflags::bitflags;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;

bitflags! {
    /// What a device may do through a mapping.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Access: u32 {
        /// The device may read.
        const READ = IoasMapFlags::READABLE.bits();
        /// The device may write.
        const WRITE = IoasMapFlags::WRITEABLE.bits();
    }
}

/// Where a mapping goes in the IOAS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapAt {
    /// Exactly this IOVA (a guest physical address, for stage 2).
    Fixed(Iova),
    /// Wherever the kernel finds room among the allowed ranges.
    AnyFree,
}

impl MapAt {
    pub(crate) fn flags(self, access: Access) -> (IoasMapFlags, u64) {
        let flags = IoasMapFlags::from_bits_retain(access.bits());
        match self {
            MapAt::Fixed(iova) => (flags | IoasMapFlags::FIXED_IOVA, iova.0),
            MapAt::AnyFree => (flags, 0),
        }
    }
}

/// How the kernel accounts the pages an iommufd pins (`IOMMU_OPTION_RLIMIT_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RlimitMode {
    /// Against the user's `RLIMIT_MEMLOCK` (the default).
    PerUser,
    /// Against the process's `RLIMIT_MEMLOCK` (needs `CAP_SYS_RESOURCE` to set).
    PerProcess,
}

/// The IOVA ranges an IOAS can map and the alignment every IOVA needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IovaRanges {
    /// The usable ranges, in ascending order.
    pub ranges: Vec<IovaRange>,
    /// Every IOVA and length must be a multiple of this.
    pub alignment: u64,
}

/// Refuses a zero length or a range that wraps past the end of the address space.
pub(crate) fn check_range(
    op: Op,
    start_field: &'static str,
    start: u64,
    length: u64,
) -> Result<()> {
    if length == 0 {
        return Err(Error::invalid(op, "length", "must not be zero"));
    }
    if start.checked_add(length - 1).is_none() {
        return Err(Error::invalid(
            op,
            start_field,
            "start + length wraps past 2^64",
        ));
    }
    Ok(())
}

pub(crate) fn check_access(op: Op, access: Access) -> Result<()> {
    if access.is_empty() {
        return Err(Error::invalid(op, "access", "needs READ, WRITE or both"));
    }
    Ok(())
}

pub(crate) fn check_map_at(op: Op, at: MapAt, length: u64) -> Result<()> {
    match at {
        MapAt::Fixed(iova) => check_range(op, "iova", iova.0, length),
        MapAt::AnyFree => Ok(()),
    }
}

impl IommuFd {
    /// Allocates an empty I/O address space.
    pub fn alloc_ioas(&self) -> Result<IoasId> {
        ioctl::ioas::ioas_alloc(self.as_fd())
            .op(Op::IoasAlloc)
            .map(IoasId::from_raw)
    }

    /// Reads the IOVA ranges `ioas` can map now (they shrink as devices with
    /// reserved regions attach) and the IOVA alignment.
    pub fn iova_ranges(&self, ioas: IoasId) -> Result<IovaRanges> {
        let mut ranges: Vec<IovaRange> = Vec::new();
        // Two calls: the first learns the count (EMSGSIZE when it outgrows the buffer);
        // loop in case a device attached in between and the count grew.
        loop {
            let (result, out) =
                ioctl::ioas::ioas_iova_ranges(self.as_fd(), ioas.raw(), &mut ranges);
            match result {
                Ok(()) => {
                    ranges.truncate(out.num_iovas as usize);
                    return Ok(IovaRanges {
                        ranges,
                        alignment: out.out_iova_alignment,
                    });
                }
                Err(Errno::MSGSIZE) if out.num_iovas as usize > ranges.len() => {
                    ranges.resize(out.num_iovas as usize, IovaRange::default());
                }
                Err(errno) => return Err(Error::kernel(Op::IoasIovaRanges, errno)),
            }
        }
    }

    /// Restricts the IOVAs the kernel may choose for [`MapAt::AnyFree`] to `ranges`
    /// (an empty slice lifts the restriction).
    pub fn allow_iovas(&self, ioas: IoasId, ranges: &[IovaRange]) -> Result<()> {
        if ranges.iter().any(|r| r.start > r.last) {
            return Err(Error::invalid(
                Op::IoasAllowIovas,
                "ranges",
                "a range starts after its last IOVA",
            ));
        }
        Error::check_len_u32(Op::IoasAllowIovas, "ranges", ranges.len())?;
        ioctl::ioas::ioas_allow_iovas(self.as_fd(), ioas.raw(), ranges).op(Op::IoasAllowIovas)
    }

    /// Maps `length` bytes of `file` from offset `start` into `ioas` (a memfd holding
    /// guest RAM, typically). Returns the IOVA used.
    ///
    /// Safe: the device reaches the file's pages, never a Rust object. Memory that
    /// this process also mmaps from the file is shared memory, which Rust code must
    /// already treat as changing underneath it.
    pub fn map_file(
        &self,
        ioas: IoasId,
        file: BorrowedFd<'_>,
        start: u64,
        length: u64,
        at: MapAt,
        access: Access,
    ) -> Result<Iova> {
        check_access(Op::IoasMapFile, access)?;
        check_range(Op::IoasMapFile, "start", start, length)?;
        check_map_at(Op::IoasMapFile, at, length)?;
        let (flags, iova) = at.flags(access);
        ioctl::ioas::ioas_map_file(self.as_fd(), ioas.raw(), flags, file, start, length, iova)
            .op(Op::IoasMapFile)
            .map(Iova)
    }

    /// Maps into `dst` the pages that `src` maps at `src_iova .. src_iova + length`
    /// (no new pinning). Returns the destination IOVA.
    pub fn copy(
        &self,
        dst: IoasId,
        dst_at: MapAt,
        src: IoasId,
        src_iova: Iova,
        length: u64,
        access: Access,
    ) -> Result<Iova> {
        check_access(Op::IoasCopy, access)?;
        check_range(Op::IoasCopy, "src_iova", src_iova.0, length)?;
        check_map_at(Op::IoasCopy, dst_at, length)?;
        let (flags, dst_iova) = dst_at.flags(access);
        ioctl::ioas::ioas_copy(
            self.as_fd(),
            flags,
            dst.raw(),
            dst_iova,
            src.raw(),
            src_iova.0,
            length,
        )
        .op(Op::IoasCopy)
        .map(Iova)
    }

    /// Unmaps every mapping inside `iova .. iova + length`. Returns the bytes
    /// unmapped. A mapping that straddles either end makes it fail (ENOENT).
    pub fn unmap(&self, ioas: IoasId, iova: Iova, length: u64) -> Result<u64> {
        check_range(Op::IoasUnmap, "iova", iova.0, length)?;
        ioctl::ioas::ioas_unmap(self.as_fd(), ioas.raw(), iova.0, length).op(Op::IoasUnmap)
    }

    /// Unmaps everything in `ioas`. Returns the bytes unmapped.
    pub fn unmap_all(&self, ioas: IoasId) -> Result<u64> {
        ioctl::ioas::ioas_unmap(self.as_fd(), ioas.raw(), 0, u64::MAX).op(Op::IoasUnmap)
    }

    /// Reads how pinned pages are accounted.
    pub fn rlimit_mode(&self) -> Result<RlimitMode> {
        let v = ioctl::ioas::option(
            self.as_fd(),
            uapi::IOMMU_OPTION_RLIMIT_MODE,
            uapi::IOMMU_OPTION_OP_GET,
            0,
            0,
        )
        .op(Op::Option)?;
        Ok(if v == 0 {
            RlimitMode::PerUser
        } else {
            RlimitMode::PerProcess
        })
    }

    /// Sets how pinned pages are accounted; only before anything is pinned.
    pub fn set_rlimit_mode(&self, mode: RlimitMode) -> Result<()> {
        let v = match mode {
            RlimitMode::PerUser => 0,
            RlimitMode::PerProcess => 1,
        };
        ioctl::ioas::option(
            self.as_fd(),
            uapi::IOMMU_OPTION_RLIMIT_MODE,
            uapi::IOMMU_OPTION_OP_SET,
            0,
            v,
        )
        .op(Op::Option)
        .map(drop)
    }

    /// Reads whether `ioas` may use huge pages (on by default).
    pub fn huge_pages(&self, ioas: IoasId) -> Result<bool> {
        ioctl::ioas::option(
            self.as_fd(),
            uapi::IOMMU_OPTION_HUGE_PAGES,
            uapi::IOMMU_OPTION_OP_GET,
            ioas.raw(),
            0,
        )
        .op(Op::Option)
        .map(|v| v != 0)
    }

    /// Sets whether `ioas` may use huge pages; only while it maps nothing.
    pub fn set_huge_pages(&self, ioas: IoasId, enable: bool) -> Result<()> {
        ioctl::ioas::option(
            self.as_fd(),
            uapi::IOMMU_OPTION_HUGE_PAGES,
            uapi::IOMMU_OPTION_OP_SET,
            ioas.raw(),
            u64::from(enable),
        )
        .op(Op::Option)
        .map(drop)
    }

    /// Reads the IOAS of the VFIO compatibility container (ENOENT when none is set).
    pub fn vfio_compat_ioas(&self) -> Result<IoasId> {
        ioctl::ioas::vfio_ioas(self.as_fd(), uapi::IOMMU_VFIO_IOAS_GET, 0)
            .op(Op::VfioIoas)
            .map(IoasId::from_raw)
    }

    /// Makes `ioas` the IOAS of the VFIO compatibility container.
    pub fn set_vfio_compat_ioas(&self, ioas: IoasId) -> Result<()> {
        ioctl::ioas::vfio_ioas(self.as_fd(), uapi::IOMMU_VFIO_IOAS_SET, ioas.raw())
            .op(Op::VfioIoas)
            .map(drop)
    }

    /// Clears the IOAS of the VFIO compatibility container.
    pub fn clear_vfio_compat_ioas(&self) -> Result<()> {
        ioctl::ioas::vfio_ioas(self.as_fd(), uapi::IOMMU_VFIO_IOAS_CLEAR, 0)
            .op(Op::VfioIoas)
            .map(drop)
    }
}
