// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Typed ids of iommufd objects, so one kind can never be passed for another.

use core::fmt;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

macro_rules! object_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u32);

        impl $name {
            /// Wraps a raw id the kernel returned (for ids handed over by other code).
            pub const fn from_raw(raw: u32) -> Self {
                Self(raw)
            }
            /// The raw id, as the kernel knows it.
            pub const fn raw(self) -> u32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($what, " {}"), self.0)
            }
        }
    };
}

object_id!(
    /// An I/O address space (IOAS).
    IoasId, "IOAS"
);
object_id!(
    /// A hardware page table (paging, nest-parent or nested).
    HwptId, "HWPT"
);
object_id!(
    /// A virtual IOMMU.
    VIommuId, "vIOMMU"
);
object_id!(
    /// A virtual device: a device as a vIOMMU's guest sees it.
    VDeviceId, "vDEVICE"
);
object_id!(
    /// A device bound to an iommufd (from `VFIO_DEVICE_BIND_IOMMUFD`). Not destroyable:
    /// closing the device's fd unbinds it.
    DevId, "device"
);
object_id!(
    /// A virtual event queue.
    VEventQueueId, "vEVENTQ"
);
object_id!(
    /// A hardware queue handed to a vIOMMU.
    HwQueueId, "HW queue"
);
object_id!(
    /// A fault queue (I/O page faults).
    FaultQueueId, "fault queue"
);

/// An object `IOMMU_DESTROY` can destroy.
pub trait Destroyable: Copy + fmt::Display + sealed::Sealed {
    /// The raw object id.
    fn object_id(self) -> u32;
}

pub(crate) mod sealed {
    pub trait Sealed {
        /// Whether a destroy refused with EBUSY may be retried later by id: not for
        /// objects the kernel also removes on its own (a vDEVICE goes with its
        /// device's unbind), whose id could by then name a new object.
        const RETRY_WHEN_BUSY: bool = true;
    }
}

impl sealed::Sealed for VDeviceId {
    const RETRY_WHEN_BUSY: bool = false;
}

macro_rules! destroyable {
    ($($name:ident),*) => {$(
        impl Destroyable for $name {
            fn object_id(self) -> u32 {
                self.0
            }
        }
    )*};
}
destroyable!(VDeviceId);

macro_rules! destroyable_retried {
    ($($name:ident),*) => {$(
        impl sealed::Sealed for $name {}
        impl Destroyable for $name {
            fn object_id(self) -> u32 {
                self.0
            }
        }
    )*};
}
destroyable_retried!(
    IoasId,
    HwptId,
    VIommuId,
    VEventQueueId,
    HwQueueId,
    FaultQueueId
);

/// What a page table can be allocated on, or a device attached to: an IOAS or a HWPT;
/// nested HWPTs may also sit on a vIOMMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PtId {
    /// An IOAS (the kernel picks or makes a paging HWPT).
    Ioas(IoasId),
    /// A hardware page table.
    Hwpt(HwptId),
    /// A vIOMMU (parent of SMMUv3-style nested HWPTs).
    Viommu(VIommuId),
}

impl PtId {
    /// The raw id.
    pub const fn raw(self) -> u32 {
        match self {
            PtId::Ioas(id) => id.raw(),
            PtId::Hwpt(id) => id.raw(),
            PtId::Viommu(id) => id.raw(),
        }
    }
}

impl From<IoasId> for PtId {
    fn from(id: IoasId) -> Self {
        PtId::Ioas(id)
    }
}
impl From<HwptId> for PtId {
    fn from(id: HwptId) -> Self {
        PtId::Hwpt(id)
    }
}
impl From<VIommuId> for PtId {
    fn from(id: VIommuId) -> Self {
        PtId::Viommu(id)
    }
}

/// Where `IOMMU_HWPT_INVALIDATE` sends its entries: a nested HWPT (VT-d, the mock) or
/// a vIOMMU (SMMUv3, the mock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidateTarget {
    /// A nested HWPT.
    Hwpt(HwptId),
    /// A vIOMMU.
    Viommu(VIommuId),
}

impl InvalidateTarget {
    /// The raw id.
    pub const fn raw(self) -> u32 {
        match self {
            InvalidateTarget::Hwpt(id) => id.raw(),
            InvalidateTarget::Viommu(id) => id.raw(),
        }
    }
}

impl From<HwptId> for InvalidateTarget {
    fn from(id: HwptId) -> Self {
        InvalidateTarget::Hwpt(id)
    }
}
impl From<VIommuId> for InvalidateTarget {
    fn from(id: VIommuId) -> Self {
        InvalidateTarget::Viommu(id)
    }
}

/// An I/O virtual address.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(transparent)]
pub struct Iova(pub u64);

impl fmt::Display for Iova {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IOVA {:#x}", self.0)
    }
}

/// An inclusive IOVA range. Laid out as `struct iommu_iova_range`, so slices of it
/// go to and from the kernel without a copy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C, align(8))]
pub struct IovaRange {
    /// First IOVA.
    pub start: Iova,
    /// Last IOVA (inclusive).
    pub last: Iova,
}

static_assertions::assert_eq_size!(IovaRange, crate::uapi::IommuIovaRange);
static_assertions::assert_eq_align!(IovaRange, crate::uapi::IommuIovaRange);
static_assertions::const_assert_eq!(core::mem::offset_of!(IovaRange, start), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(IovaRange, last), 8);
