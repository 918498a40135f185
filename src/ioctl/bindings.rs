// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Each wire struct bound to its request, once, in the order of
//! [`uapi::IOCTL_REQUESTS`]; and the compile-time check that holds the bindings to that
//! table.
//!
//! Each `SAFETY` line names the C struct the request takes (the check below compares
//! that name with the request's), the size field it starts with, and its pointers.

#![allow(unsafe_code)]

use super::command::{Command, NoPointers, UserPointers};
use crate::uapi::layout::CStruct;
use crate::uapi::{self, *};
use rustix::ioctl::Opcode;

// SAFETY: struct iommu_destroy, `size` first; then an object id, no pointer.
unsafe impl Command for IommuDestroy {
    const OPCODE: Opcode = IOMMU_DESTROY;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_ioas_alloc, `size` first; then flags, an id, no pointer.
unsafe impl Command for IommuIoasAlloc {
    const OPCODE: Opcode = IOMMU_IOAS_ALLOC;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_ioas_allow_iovas, `size` first; `allowed_iovas` is a user pointer.
unsafe impl Command for IommuIoasAllowIovas {
    const OPCODE: Opcode = IOMMU_IOAS_ALLOW_IOVAS;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_ioas_copy, `size` first; then IOVAs (of pages already pinned),
// no pointer.
unsafe impl Command for IommuIoasCopy {
    const OPCODE: Opcode = IOMMU_IOAS_COPY;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_ioas_iova_ranges, `size` first; `allowed_iovas` is a user pointer.
unsafe impl Command for IommuIoasIovaRanges {
    const OPCODE: Opcode = IOMMU_IOAS_IOVA_RANGES;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_ioas_map, `size` first; `user_va` is a user pointer.
unsafe impl Command for IommuIoasMap {
    const OPCODE: Opcode = IOMMU_IOAS_MAP;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_ioas_unmap, `size` first; then an IOVA range, no pointer.
unsafe impl Command for IommuIoasUnmap {
    const OPCODE: Opcode = IOMMU_IOAS_UNMAP;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_option, `size` first; then ids, a value, no pointer.
unsafe impl Command for IommuOption {
    const OPCODE: Opcode = IOMMU_OPTION;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_vfio_ioas, `size` first; then an IOAS id, no pointer.
unsafe impl Command for IommuVfioIoas {
    const OPCODE: Opcode = IOMMU_VFIO_IOAS;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_hwpt_alloc, `size` first; `data_uptr` is a user pointer.
unsafe impl Command for IommuHwptAlloc {
    const OPCODE: Opcode = IOMMU_HWPT_ALLOC;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_hw_info, `size` first; `data_uptr` is a user pointer.
unsafe impl Command for IommuHwInfo {
    const OPCODE: Opcode = IOMMU_GET_HW_INFO;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_hwpt_set_dirty_tracking, `size` first; then an id, flags, no
// pointer.
unsafe impl Command for IommuHwptSetDirtyTracking {
    const OPCODE: Opcode = IOMMU_HWPT_SET_DIRTY_TRACKING;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_hwpt_get_dirty_bitmap, `size` first; `data` is a user pointer.
unsafe impl Command for IommuHwptGetDirtyBitmap {
    const OPCODE: Opcode = IOMMU_HWPT_GET_DIRTY_BITMAP;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_hwpt_invalidate, `size` first; `data_uptr` is a user pointer.
unsafe impl Command for IommuHwptInvalidate {
    const OPCODE: Opcode = IOMMU_HWPT_INVALIDATE;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_fault_alloc, `size` first; then flags, an id, an fd, no pointer.
unsafe impl Command for IommuFaultAlloc {
    const OPCODE: Opcode = IOMMU_FAULT_QUEUE_ALLOC;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_ioas_map_file, `size` first; then an fd (the kernel pins its
// file's pages, not memory of this process's address space), no pointer.
unsafe impl Command for IommuIoasMapFile {
    const OPCODE: Opcode = IOMMU_IOAS_MAP_FILE;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_viommu_alloc, `size` first; `data_uptr` is a user pointer.
unsafe impl Command for IommuViommuAlloc {
    const OPCODE: Opcode = IOMMU_VIOMMU_ALLOC;
    type Pointers = UserPointers;
}

// SAFETY: struct iommu_vdevice_alloc, `size` first; then ids, no pointer.
unsafe impl Command for IommuVdeviceAlloc {
    const OPCODE: Opcode = IOMMU_VDEVICE_ALLOC;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_ioas_change_process, `size` first; then nothing else, no pointer.
unsafe impl Command for IommuIoasChangeProcess {
    const OPCODE: Opcode = IOMMU_IOAS_CHANGE_PROCESS;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_veventq_alloc, `size` first; then ids, a depth, an fd, no pointer.
unsafe impl Command for IommuVeventqAlloc {
    const OPCODE: Opcode = IOMMU_VEVENTQ_ALLOC;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_hw_queue_alloc, `size` first; then ids, a guest physical address
// (resolved through stage 2), no pointer.
unsafe impl Command for IommuHwQueueAlloc {
    const OPCODE: Opcode = IOMMU_HW_QUEUE_ALLOC;
    type Pointers = NoPointers;
}

// SAFETY: struct vfio_device_bind_iommufd, `argsz` first; `token_uuid_ptr` is a user
// pointer.
unsafe impl Command for VfioDeviceBindIommufd {
    const OPCODE: Opcode = VFIO_DEVICE_BIND_IOMMUFD;
    type Pointers = UserPointers;
}

// SAFETY: struct vfio_device_attach_iommufd_pt, `argsz` first; then ids, flags, no pointer.
unsafe impl Command for VfioDeviceAttachIommufdPt {
    const OPCODE: Opcode = VFIO_DEVICE_ATTACH_IOMMUFD_PT;
    type Pointers = NoPointers;
}

// SAFETY: struct vfio_device_detach_iommufd_pt, `argsz` first; then flags, a PASID, no
// pointer.
unsafe impl Command for VfioDeviceDetachIommufdPt {
    const OPCODE: Opcode = VFIO_DEVICE_DETACH_IOMMUFD_PT;
    type Pointers = NoPointers;
}

// SAFETY: struct iommu_test_cmd, `size` first; some operations' payloads hold a user
// pointer (`uptr`).
#[cfg(feature = "mock")]
unsafe impl Command for IommuTestCmd {
    const OPCODE: Opcode = IOMMU_TEST_CMD;
    type Pointers = UserPointers;
}

/// A binding as the check sees it: the struct's C name and its request number.
type Binding = (&'static str, Opcode);

/// `C`'s binding.
const fn binding<C: Command + CStruct>() -> Binding {
    (C::LAYOUT.c_name, C::OPCODE)
}

/// Every binding above but the mock's.
const BINDINGS: &[Binding] = &[
    binding::<IommuDestroy>(),
    binding::<IommuIoasAlloc>(),
    binding::<IommuIoasAllowIovas>(),
    binding::<IommuIoasCopy>(),
    binding::<IommuIoasIovaRanges>(),
    binding::<IommuIoasMap>(),
    binding::<IommuIoasUnmap>(),
    binding::<IommuOption>(),
    binding::<IommuVfioIoas>(),
    binding::<IommuHwptAlloc>(),
    binding::<IommuHwInfo>(),
    binding::<IommuHwptSetDirtyTracking>(),
    binding::<IommuHwptGetDirtyBitmap>(),
    binding::<IommuHwptInvalidate>(),
    binding::<IommuFaultAlloc>(),
    binding::<IommuIoasMapFile>(),
    binding::<IommuViommuAlloc>(),
    binding::<IommuVdeviceAlloc>(),
    binding::<IommuIoasChangeProcess>(),
    binding::<IommuVeventqAlloc>(),
    binding::<IommuHwQueueAlloc>(),
    binding::<VfioDeviceBindIommufd>(),
    binding::<VfioDeviceAttachIommufdPt>(),
    binding::<VfioDeviceDetachIommufdPt>(),
];

/// Requests whose name is not their struct's C name in upper case (the header's own
/// spelling).
const RENAMED: &[(&str, &str)] = &[
    ("iommu_hw_info", "IOMMU_GET_HW_INFO"),
    ("iommu_fault_alloc", "IOMMU_FAULT_QUEUE_ALLOC"),
];

// A struct bound to another struct's request, or a request bound to no struct or to
// two, fails the build here (for the bindings listed above: list every one).
const _: () = check(BINDINGS, uapi::IOCTL_REQUESTS, true);
#[cfg(feature = "mock")]
const _: () = check(&[binding::<IommuTestCmd>()], uapi::MOCK_CONSTANTS, false);

/// Panics (at compile time) unless each binding's number is the one `requests` holds
/// under the name its struct's C name gives, and, with `complete`, unless each
/// request is bound exactly once.
const fn check(bindings: &[Binding], requests: &[(&str, u64)], complete: bool) {
    let mut b = 0;
    while b < bindings.len() {
        let (c_name, opcode) = bindings[b];
        let mut r = 0;
        while r < requests.len() && !names_request(c_name, requests[r].0) {
            r += 1;
        }
        assert!(
            r < requests.len(),
            "a bound struct's C name names no request"
        );
        assert!(
            requests[r].1 == opcode as u64,
            "a struct is bound to another request than the one its C name names"
        );
        b += 1;
    }
    let mut r = 0;
    while complete && r < requests.len() {
        let mut bound = 0;
        let mut b = 0;
        while b < bindings.len() {
            if bindings[b].1 as u64 == requests[r].1 {
                bound += 1;
            }
            b += 1;
        }
        assert!(bound == 1, "a request is bound to no struct, or to two");
        r += 1;
    }
}

/// Whether `request` is the request name of the struct named `c_name`.
const fn names_request(c_name: &str, request: &str) -> bool {
    let mut i = 0;
    while i < RENAMED.len() {
        if same(RENAMED[i].0, c_name, false) {
            return same(RENAMED[i].1, request, false);
        }
        i += 1;
    }
    same(request, c_name, true)
}

/// Whether `a` is `b`, or with `upcase` `b` in ASCII upper case.
const fn same(a: &str, b: &str, upcase: bool) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let c = if upcase {
            b[i].to_ascii_uppercase()
        } else {
            b[i]
        };
        if a[i] != c {
            return false;
        }
        i += 1;
    }
    true
}
