// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`IoasReady`]: an I/O address space, the first state.

use super::object::KernelObject;
use super::{S2Allocated, S2Options, sealed};
use crate::device::Device;
use crate::error::{Error, Op, Result, TransitionError};
use crate::ids::{IoasId, Iova, IovaRange};
use crate::iommufd::{Access, IommuFd, IovaRanges, MapAt};
use rustix::fd::BorrowedFd;
use std::sync::Arc;

/// An IOAS: the guest physical address space (stage 2's input), mapped to host
/// memory. Shared: clone the handle to give it to several stage 2s (one per physical
/// IOMMU instance); the IOAS is destroyed when the last handle and the last child go.
///
/// Next state: [`alloc_nest_parent`](Self::alloc_nest_parent) gives an
/// [`S2Allocated`].
#[derive(Debug, Clone)]
pub struct IoasReady {
    pub(super) ioas: Arc<KernelObject<IoasId>>,
}

impl sealed::Sealed for IoasReady {}
impl super::State for IoasReady {}

impl IoasReady {
    /// Allocates an empty IOAS in `iommufd`.
    pub fn new(iommufd: &Arc<IommuFd>) -> Result<Self> {
        let ioas = KernelObject::make(iommufd, IommuFd::alloc_ioas)?;
        Ok(Self {
            ioas: Arc::new(ioas),
        })
    }

    /// The kernel id.
    pub fn id(&self) -> IoasId {
        self.ioas.id()
    }

    /// The iommufd this IOAS lives in.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        self.ioas.fd()
    }

    /// Maps guest RAM from a file (a memfd) at `at` (for stage 2: the guest physical
    /// address). See [`IommuFd::map_file`].
    pub fn map_file(
        &self,
        file: BorrowedFd<'_>,
        start: u64,
        length: u64,
        at: MapAt,
        access: Access,
    ) -> Result<Iova> {
        self.iommufd()
            .map_file(self.id(), file, start, length, at, access)
    }

    /// Unmaps `iova .. iova + length`. See [`IommuFd::unmap`].
    pub fn unmap(&self, iova: Iova, length: u64) -> Result<u64> {
        self.iommufd().unmap(self.id(), iova, length)
    }

    /// The IOVA ranges the IOAS can map now. See [`IommuFd::iova_ranges`].
    pub fn iova_ranges(&self) -> Result<IovaRanges> {
        self.iommufd().iova_ranges(self.id())
    }

    /// Unmaps everything. Returns the bytes unmapped. See [`IommuFd::unmap_all`].
    pub fn unmap_all(&self) -> Result<u64> {
        self.iommufd().unmap_all(self.id())
    }

    /// Maps at `at` the pages that `src` maps at `src_iova .. src_iova + length`,
    /// without pinning them again (both IOASes must be on the same iommufd).
    /// Returns the IOVA used. See [`IommuFd::copy`].
    pub fn copy_from(
        &self,
        src: &IoasReady,
        src_iova: Iova,
        length: u64,
        at: MapAt,
        access: Access,
    ) -> Result<Iova> {
        if !Arc::ptr_eq(self.iommufd(), src.iommufd()) {
            return Err(Error::invalid(
                Op::IoasCopy,
                "src",
                "the source IOAS is on another iommufd",
            ));
        }
        self.iommufd()
            .copy(self.id(), at, src.id(), src_iova, length, access)
    }

    /// Restricts the IOVAs the kernel picks for [`MapAt::AnyFree`] to `ranges`;
    /// an empty slice lifts the restriction. See [`IommuFd::allow_iovas`].
    pub fn allow_iovas(&self, ranges: &[IovaRange]) -> Result<()> {
        self.iommufd().allow_iovas(self.id(), ranges)
    }

    /// Whether the IOAS may map with huge pages (on by default). See
    /// [`IommuFd::huge_pages`].
    pub fn huge_pages(&self) -> Result<bool> {
        self.iommufd().huge_pages(self.id())
    }

    /// Allows or forbids huge pages; only while the IOAS maps nothing. See
    /// [`IommuFd::set_huge_pages`].
    pub fn set_huge_pages(&self, enable: bool) -> Result<()> {
        self.iommufd().set_huge_pages(self.id(), enable)
    }

    /// Allocates the stage-2 page table of this IOAS for `dev`'s physical IOMMU: a
    /// paging HWPT with `NEST_PARENT`, mapping what the IOAS maps.
    pub fn alloc_nest_parent(&self, dev: &impl Device) -> Result<S2Allocated> {
        S2Allocated::new(self, dev, S2Options::new())
    }

    /// [`alloc_nest_parent`](Self::alloc_nest_parent) with options: dirty tracking
    /// for live migration, PASID support for nested HWPTs per PASID. The kernel
    /// refuses what the IOMMU cannot do (EOPNOTSUPP,
    /// [`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported)): Linux 7.3's
    /// arm-smmu-v3 never tracks dirty pages of a nest parent; VT-d needs
    /// ECAP.SLADS; the mock can.
    pub fn alloc_nest_parent_with(
        &self,
        dev: &impl Device,
        options: S2Options,
    ) -> Result<S2Allocated> {
        S2Allocated::new(self, dev, options)
    }

    /// Destroys the IOAS now and reports the kernel's answer (Drop does the same but
    /// cannot report). Fails, giving the handle back, while other handles or children
    /// share it.
    pub fn try_destroy(self) -> Result<(), TransitionError<Self>> {
        match Arc::try_unwrap(self.ioas) {
            Ok(object) => object.destroy().map_err(|(object, e)| {
                TransitionError::new(
                    Self {
                        ioas: Arc::new(object),
                    },
                    e,
                )
            }),
            Err(ioas) => Err(TransitionError::new(
                Self { ioas },
                Error::StillShared { what: "IOAS" },
            )),
        }
    }
}
