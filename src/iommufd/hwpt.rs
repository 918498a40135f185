// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! HWPT commands on [`IommuFd`]: allocation, hw_info, dirty tracking, invalidation.

use super::IommuFd;
use crate::error::{ErrnoExt, Error, Op, Result};
use crate::ids::{DevId, FaultQueueId, HwptId, InvalidateTarget, Iova, PtId};
use crate::ioctl;
use crate::ioctl::hwpt::HwptAllocArgs;
use crate::payload::{HwInfoData, HwptData, InvalidationEntry};
use crate::uapi::{self, DirtyBitmapFlags, HwCapabilities, HwptAllocFlags};
use core::sync::atomic::Ordering;
use rustix::fd::AsFd;
use zerocopy::IntoBytes;

/// The most entries the crate sends in one `IOMMU_HWPT_INVALIDATE`. The kernel's
/// bound is 2^19, but the drivers allocate `entries x entry size` in one piece and
/// fail (with a kernel warning) above 4 MiB; 4096 entries per call costs nothing
/// measurable against the per-entry cost.
pub const INVALIDATE_CHUNK: usize = 4096;

/// What to allocate with [`IommuFd::alloc_hwpt`]: a paging HWPT on an IOAS, or a
/// nested one on a nest-parent HWPT or a vIOMMU with the driver's data.
#[derive(Debug, Clone, Copy)]
pub struct HwptAlloc<'a> {
    dev: DevId,
    parent: PtId,
    flags: HwptAllocFlags,
    data_type: u32,
    data: &'a [u8],
    fault: Option<FaultQueueId>,
}

impl<'a> HwptAlloc<'a> {
    /// A paging HWPT (stage 2 when made a [`nest_parent`](Self::nest_parent)) that
    /// maps what `ioas` maps, for `dev`'s IOMMU.
    pub fn paging(dev: DevId, ioas: crate::IoasId) -> Self {
        Self {
            dev,
            parent: PtId::Ioas(ioas),
            flags: HwptAllocFlags::empty(),
            data_type: 0,
            data: &[],
            fault: None,
        }
    }

    /// A nested (stage-1) HWPT on `parent` (a nest-parent HWPT for VT-d, a vIOMMU
    /// for SMMUv3) described by `data`.
    ///
    /// Sent at the shortest length that holds every non-zero byte, and at least
    /// [`HwptData::MIN_LEN`]: the kernel refuses driver data longer than its own
    /// struct (EINVAL, whatever the tail holds) and zero-fills what a shorter one
    /// leaves out, so data that uses no field a kernel lacks works on that kernel
    /// too (the mock's `pagetable_type`, which Linux 6.12 does not have).
    pub fn nested<D: HwptData>(dev: DevId, parent: impl Into<PtId>, data: &'a D) -> Self {
        let bytes = data.as_bytes();
        let used = bytes
            .iter()
            .rposition(|b| *b != 0)
            .map_or(0, |last| last + 1);
        let len = used.max(D::MIN_LEN).min(bytes.len());
        Self::nested_raw(dev, parent, D::DATA_TYPE, &bytes[..len])
    }

    /// A nested HWPT from raw driver data, for a driver the crate has no type for.
    pub fn nested_raw(dev: DevId, parent: impl Into<PtId>, data_type: u32, data: &'a [u8]) -> Self {
        Self {
            dev,
            parent: parent.into(),
            flags: HwptAllocFlags::empty(),
            data_type,
            data,
            fault: None,
        }
    }

    /// Makes it a nest parent: nested HWPTs and vIOMMUs can sit on it.
    #[must_use]
    pub fn nest_parent(mut self) -> Self {
        self.flags |= HwptAllocFlags::NEST_PARENT;
        self
    }

    /// Asks for dirty tracking support.
    #[must_use]
    pub fn dirty_tracking(mut self) -> Self {
        self.flags |= HwptAllocFlags::DIRTY_TRACKING;
        self
    }

    /// Makes it attachable to PASIDs.
    #[must_use]
    pub fn pasid(mut self) -> Self {
        self.flags |= HwptAllocFlags::PASID;
        self
    }

    /// Reports its I/O page faults to `queue`.
    #[must_use]
    pub fn fault_queue(mut self, queue: FaultQueueId) -> Self {
        self.flags |= HwptAllocFlags::FAULT_ID_VALID;
        self.fault = Some(queue);
        self
    }
}

/// What `IOMMU_GET_HW_INFO` says of a device's IOMMU, besides the driver data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwInfo {
    /// The driver data type (`IOMMU_HW_INFO_TYPE_*`).
    pub data_type: u32,
    /// The length of the driver data the kernel has (may exceed the buffer given: the
    /// rest was cut; may be shorter: the rest of the buffer was zeroed).
    pub data_len: u32,
    /// Generic capabilities.
    pub capabilities: HwCapabilities,
    /// log2 of the largest PASID the device supports; 0 without PASID.
    pub max_pasid_log2: u8,
}

impl IommuFd {
    /// Allocates a hardware page table.
    pub fn alloc_hwpt(&self, req: &HwptAlloc<'_>) -> Result<HwptId> {
        if req.data_type == uapi::IOMMU_HWPT_DATA_NONE && !req.data.is_empty() {
            return Err(Error::invalid(
                Op::HwptAlloc,
                "data",
                "a paging HWPT takes no driver data",
            ));
        }
        Error::check_len_u32(Op::HwptAlloc, "data", req.data.len())?;
        let args = HwptAllocArgs {
            flags: req.flags,
            dev_id: req.dev.raw(),
            pt_id: req.parent.raw(),
            data_type: req.data_type,
            fault_id: req.fault.map_or(0, FaultQueueId::raw),
        };
        ioctl::hwpt::hwpt_alloc(self.as_fd(), args, req.data)
            .op(Op::HwptAlloc)
            .map(HwptId::from_raw)
    }

    /// Reads `dev`'s IOMMU information into `buf` (the driver's data). With
    /// `data_type`, asks for that type (`IOMMU_HW_INFO_FLAG_INPUT_TYPE`), else for the
    /// driver's default.
    pub fn hw_info_raw(
        &self,
        dev: DevId,
        data_type: Option<u32>,
        buf: &mut [u8],
    ) -> Result<HwInfo> {
        Error::check_len_u32(Op::GetHwInfo, "buf", buf.len())?;
        let out =
            ioctl::hwpt::get_hw_info(self.as_fd(), dev.raw(), data_type, buf).op(Op::GetHwInfo)?;
        Ok(HwInfo {
            data_type: out.data_type,
            data_len: out.data_len,
            capabilities: HwCapabilities::from_bits_retain(out.out_capabilities),
            max_pasid_log2: out.out_max_pasid_log2,
        })
    }

    /// Reads `dev`'s IOMMU information as the driver type `T`. Fails with
    /// [`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported) when the device's
    /// IOMMU is of another kind.
    ///
    /// Asks for `T`'s type (`IOMMU_HW_INFO_FLAG_INPUT_TYPE`, Linux 6.17 on). A
    /// kernel without that flag (6.12: EOPNOTSUPP for any flag) is asked again
    /// without it, and the type it reports is checked against `T`; once that
    /// worked, this iommufd asks without the flag from then on.
    pub fn hw_info<T: HwInfoData>(&self, dev: DevId) -> Result<(T, HwInfo)> {
        let mut data = T::new_zeroed();
        let info = if self.hw_info_input_type.load(Ordering::Relaxed) {
            match self.hw_info_raw(dev, Some(T::INFO_TYPE), data.as_mut_bytes()) {
                Err(e) if e.errno() == Some(rustix::io::Errno::OPNOTSUPP) => {
                    // Either the kernel lacks the flag or the driver lacks the type:
                    // the plain query tells.
                    data = T::new_zeroed();
                    let plain = self.hw_info_raw(dev, None, data.as_mut_bytes())?;
                    if plain.data_type == T::INFO_TYPE {
                        // The driver has the type, so the kernel refused the flag.
                        self.hw_info_input_type.store(false, Ordering::Relaxed);
                    }
                    plain
                }
                other => other?,
            }
        } else {
            self.hw_info_raw(dev, None, data.as_mut_bytes())?
        };
        if info.data_type != T::INFO_TYPE {
            return Err(Error::Unsupported {
                op: Op::GetHwInfo,
                reason: "the device's IOMMU reports another kind of hw_info",
            });
        }
        Ok((data, info))
    }

    /// Turns dirty tracking of `hwpt` on or off.
    pub fn set_dirty_tracking(&self, hwpt: HwptId, enable: bool) -> Result<()> {
        ioctl::hwpt::set_dirty_tracking(self.as_fd(), hwpt.raw(), enable)
            .op(Op::HwptSetDirtyTracking)
    }

    /// Reads which `page_size` pages of `iova .. iova + length` were written into
    /// `bitmap` (bit n: page n; bits already set stay set), and clears them in the
    /// IOMMU unless `keep` is set.
    pub fn dirty_bitmap(
        &self,
        hwpt: HwptId,
        iova: Iova,
        length: u64,
        page_size: u64,
        bitmap: &mut [u64],
        keep: bool,
    ) -> Result<()> {
        let op = Op::HwptGetDirtyBitmap;
        if !page_size.is_power_of_two() {
            return Err(Error::invalid(op, "page_size", "must be a power of two"));
        }
        if length == 0 {
            return Err(Error::invalid(op, "length", "must not be zero"));
        }
        if iova.0 % page_size != 0 {
            return Err(Error::invalid(op, "iova", "not aligned to page_size"));
        }
        if length % page_size != 0 {
            return Err(Error::invalid(op, "length", "not a multiple of page_size"));
        }
        let needed = ioctl::hwpt::dirty_bitmap_bytes(length, page_size).unwrap_or(u64::MAX);
        if (bitmap.len() as u64).saturating_mul(8) < needed {
            return Err(Error::invalid(
                op,
                "bitmap",
                "too small for length / page_size bits",
            ));
        }
        let flags = if keep {
            DirtyBitmapFlags::NO_CLEAR
        } else {
            DirtyBitmapFlags::empty()
        };
        ioctl::hwpt::get_dirty_bitmap(
            self.as_fd(),
            hwpt.raw(),
            flags,
            iova.0,
            length,
            page_size,
            bitmap,
        )
        .op(op)
    }

    /// Sends `entries` to the driver's cache invalidation in one ioctl (one per
    /// [`INVALIDATE_CHUNK`] entries for larger arrays), without copying or
    /// allocating. On failure, [`Error::Invalidation`] names the entry the driver
    /// refused, or says that none of the call is known to have run; the kernel's
    /// bounds are checked first (see [`invalidate_raw`](Self::invalidate_raw)).
    ///
    /// # ARM SMMUv3: recovering from a refused command
    ///
    /// Linux 7.3's SMMUv3 driver converts commands in blocks of 63 and issues each
    /// block with its own sync. When command `k` is illegal it answers EIO with
    /// `refused = Some(k)`, but the legal commands converted since the last issued
    /// block were never sent. Invalidations are idempotent, so the safe recovery,
    /// whatever the kernel version, re-sends every command before `k`; the ones
    /// after `k` wait for the guest (a real SMMU halts its queue at CERROR_ILL).
    /// [`Error::refused_entry`] gives `k`;
    /// [`InvalidationBatch`](crate::batch::InvalidationBatch) does all of this for you.
    #[inline]
    pub fn invalidate<E: InvalidationEntry>(
        &self,
        target: impl Into<InvalidateTarget>,
        entries: &[E],
    ) -> Result<()> {
        self.invalidate_raw(
            target,
            E::DATA_TYPE,
            entries.as_bytes(),
            size_of::<E>() as u32,
            entries.len(),
        )
    }

    /// [`invalidate`](Self::invalidate) of at most [`INVALIDATE_CHUNK`] entries in
    /// one call, for the batch: the checks that hold by construction (typed entries,
    /// few of them) are left out, so only the data type's check stands between the
    /// caller and the syscall, and it folds away for a known family.
    #[inline(always)]
    pub(crate) fn invalidate_one_call<E: InvalidationEntry>(
        &self,
        target: InvalidateTarget,
        entries: &[E],
    ) -> Result<()> {
        if entries.len() > INVALIDATE_CHUNK {
            return self.invalidate(target, entries);
        }
        let Some(refusals) = Refusals::of(target, E::DATA_TYPE) else {
            return self.invalidate(target, entries); // names the bad data type
        };
        let num = entries.len() as u32;
        let call = Call {
            refusals,
            target: target.raw(),
            data_type: E::DATA_TYPE,
            entry_len: size_of::<E>() as u32,
            requested: num,
        };
        self.invalidate_call(&call, entries.as_bytes(), 0, num)
    }

    /// One `IOMMU_HWPT_INVALIDATE` of `num` entries of `data`, the first being
    /// entry `done` of the `call`; a failure says which entry, if any, was refused.
    #[inline(always)]
    fn invalidate_call(&self, call: &Call, data: &[u8], done: u32, num: u32) -> Result<()> {
        let (result, written) = ioctl::hwpt::hwpt_invalidate(
            self.as_fd(),
            call.target,
            call.data_type,
            data,
            call.entry_len,
            num,
        );
        match result {
            Ok(()) => Ok(()),
            Err(errno) => Err(Error::Invalidation {
                errno,
                refused: self
                    .refused_entry(call, errno, written, num)
                    .map(|k| done + k),
                completed: done,
                requested: call.requested,
            }),
        }
    }

    /// [`invalidate`](Self::invalidate) for raw entries: `count` entries of
    /// `entry_len` bytes each from `data`, for testing the kernel's handling of
    /// `entry_len` and for entry layouts the crate has no type for.
    ///
    /// Refused before the syscall, naming the field, as the kernel would refuse it:
    /// `entry_len` outside `1..=PAGE_SIZE` (with entries), more than
    /// [`INVALIDATE_MAX_ENTRIES`] entries, a `data_type` that no driver takes on this
    /// kind of target (VT-d's or the mock's on a HWPT; SMMUv3's or the mock's on a
    /// vIOMMU), `data` shorter than `entry_len * count`.
    ///
    /// Inlined: called from [`invalidate`](Self::invalidate), the entry type's
    /// constants fold these checks away and no frame sits before the syscall.
    #[inline]
    pub fn invalidate_raw(
        &self,
        target: impl Into<InvalidateTarget>,
        data_type: u32,
        data: &[u8],
        entry_len: u32,
        count: usize,
    ) -> Result<()> {
        let op = Op::HwptInvalidate;
        let target = target.into();
        let Some(refusals) = Refusals::of(target, data_type) else {
            return Err(Error::invalid(
                op,
                "data_type",
                "no driver takes this invalidation data type on this kind of target",
            ));
        };
        let requested = match u32::try_from(count) {
            Ok(n) if n <= INVALIDATE_MAX_ENTRIES => n,
            _ => return Err(Error::invalid(op, "entry_num", "more than 2^19 entries")),
        };
        // Every page is at least 4 KiB: only a longer entry needs the page size.
        let too_long = entry_len > 4096 && entry_len as usize > rustix::param::page_size();
        if requested > 0 && (entry_len == 0 || too_long) {
            return Err(Error::invalid(op, "entry_len", "not in 1..=PAGE_SIZE"));
        }
        if (data.len() as u64) < u64::from(entry_len) * u64::from(requested) {
            return Err(Error::invalid(op, "data", "shorter than entry_len * count"));
        }
        let call = Call {
            refusals,
            target: target.raw(),
            data_type,
            entry_len,
            requested,
        };
        let chunk = INVALIDATE_CHUNK as u32;
        let mut done = 0u32;
        // One call even for an empty array: the driver decides what that means.
        loop {
            let num = (requested - done).min(chunk);
            let start = done as usize * entry_len as usize;
            self.invalidate_call(&call, &data[start..], done, num)?;
            done += num;
            if done >= requested {
                return Ok(());
            }
        }
    }

    /// Which entry of a failed call of `num` entries the driver refused, if it
    /// refused one. The 7.3 core fails before any driver sees an entry (object gone,
    /// wrong kind, arguments out of bounds) with `entry_num` written back as 0; the
    /// drivers write back the index of the entry they stop at, or leave the count
    /// passed in when they fail before looking (ENOMEM). Only the errnos a driver
    /// uses for an entry it refuses count, and where those overlap the core's own
    /// (EINVAL, EOPNOTSUPP) at index 0, an empty call to the same target tells the
    /// two apart: it succeeds exactly when the target and data type are good.
    #[cold]
    #[inline(never)]
    fn refused_entry(
        &self,
        call: &Call,
        errno: rustix::io::Errno,
        written: u32,
        num: u32,
    ) -> Option<u32> {
        if written >= num || !call.refusals.errnos().contains(&errno) {
            return None;
        }
        if written > 0 || call.refusals == Refusals::DriverOnly {
            return Some(written);
        }
        let (probe, _) =
            ioctl::hwpt::hwpt_invalidate(self.as_fd(), call.target, call.data_type, &[], 0, 0);
        probe.is_ok().then_some(0)
    }
}

/// The most entries one `IOMMU_HWPT_INVALIDATE` may carry (the kernel's bound; the
/// crate splits what it sends into [`INVALIDATE_CHUNK`]s).
pub const INVALIDATE_MAX_ENTRIES: u32 = 1 << 19;

/// What every kernel call of one invalidation shares.
struct Call {
    refusals: Refusals,
    target: u32,
    data_type: u32,
    entry_len: u32,
    /// Entries in the whole invalidation (all its calls).
    requested: u32,
}

/// How the driver behind an invalidation data type refuses an entry (Linux 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusals {
    /// SMMUv3 (`arm_vsmmu_cache_invalidate`, also Tegra241's): EIO, which the core
    /// never returns.
    DriverOnly,
    /// VT-d (`intel_nested_cache_invalidate_user`) and the mock: EINVAL or
    /// EOPNOTSUPP, which the core also returns before any entry is looked at.
    SharedWithCore,
}

impl Refusals {
    #[inline]
    fn of(target: InvalidateTarget, data_type: u32) -> Option<Self> {
        use crate::uapi::{
            IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
        };
        match (target, data_type) {
            (InvalidateTarget::Viommu(_), IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3) => {
                Some(Self::DriverOnly)
            }
            (InvalidateTarget::Hwpt(_), IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) => {
                Some(Self::SharedWithCore)
            }
            // The kernel's mock (CONFIG_IOMMUFD_TEST), one type for both targets.
            #[cfg(feature = "mock")]
            (_, crate::uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST) => Some(Self::SharedWithCore),
            _ => None,
        }
    }

    fn errnos(self) -> &'static [rustix::io::Errno] {
        use rustix::io::Errno;
        match self {
            Self::DriverOnly => &[Errno::IO],
            Self::SharedWithCore => &[Errno::INVAL, Errno::OPNOTSUPP],
        }
    }
}
