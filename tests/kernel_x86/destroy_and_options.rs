// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! DESTROY, OPTION, VFIO_IOAS, and the kernel's size checks (E2BIG, EINVAL).

use crate::common::*;
use iommufd::mock::MockChecks;
use iommufd::uapi::*;
use iommufd::{ErrorKind, IoasId, RlimitMode};
use zerocopy::IntoBytes;

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn destroy_refuses_busy_and_unknown_objects() {
    let (fd, ioas, dev) = ioas_with_device();
    // The mock device's auto-made HWPT holds the IOAS.
    assert_kind(fd.destroy(ioas), ErrorKind::Busy);
    drop(dev);
    fd.destroy(ioas).unwrap();
    assert_kind(fd.destroy(ioas), ErrorKind::NotFound);
    assert_kind(fd.destroy(IoasId::from_raw(0)), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn options_read_back_what_was_set() {
    let fd = open();
    // The accounting mode can change only while the iommufd holds no object.
    assert_eq!(fd.rlimit_mode().unwrap(), RlimitMode::PerUser);
    fd.set_rlimit_mode(RlimitMode::PerProcess).unwrap();
    assert_eq!(fd.rlimit_mode().unwrap(), RlimitMode::PerProcess);
    let ioas = fd.alloc_ioas().unwrap();
    assert_kind(fd.set_rlimit_mode(RlimitMode::PerUser), ErrorKind::Busy);
    assert!(fd.huge_pages(ioas).unwrap());
    fd.set_huge_pages(ioas, false).unwrap();
    assert!(!fd.huge_pages(ioas).unwrap());
    fd.set_huge_pages(ioas, true).unwrap();
    assert!(fd.huge_pages(ioas).unwrap());
    assert_kind(fd.huge_pages(IoasId::from_raw(9999)), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn vfio_compat_ioas_get_set_clear() {
    let fd = open();
    assert_kind(fd.vfio_compat_ioas(), ErrorKind::NotFound);
    let ioas = fd.alloc_ioas().unwrap();
    fd.set_vfio_compat_ioas(ioas).unwrap();
    assert_eq!(fd.vfio_compat_ioas().unwrap(), ioas);
    fd.clear_vfio_compat_ioas().unwrap();
    assert_kind(fd.vfio_compat_ioas(), ErrorKind::NotFound);
    assert_kind(
        fd.set_vfio_compat_ioas(IoasId::from_raw(9999)),
        ErrorKind::NotFound,
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn extensible_structs_reject_unknown_tails_and_short_sizes() {
    let fd = open();
    // struct iommu_ioas_alloc followed by 4 more bytes: zero is fine, non-zero is E2BIG.
    let mut buf = [0u8; 16];
    buf[..4].copy_from_slice(&16u32.to_ne_bytes());
    fd.raw_ioctl(IOMMU_IOAS_ALLOC, &mut buf).unwrap();
    let id = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
    fd.destroy(IoasId::from_raw(id)).unwrap();
    buf[8..12].fill(0);
    buf[12] = 1;
    assert_kind(
        fd.raw_ioctl(IOMMU_IOAS_ALLOC, &mut buf),
        ErrorKind::UnknownTail,
    );
    // A size smaller than the struct the kernel knows: EINVAL.
    let mut short = IommuIoasAlloc {
        size: 8,
        ..Default::default()
    };
    assert_kind(
        fd.raw_ioctl(IOMMU_IOAS_ALLOC, short.as_mut_bytes()),
        ErrorKind::InvalidArgument,
    );
    // Non-zero reserved fields are refused too.
    let mut unmap = IommuIoasUnmap {
        size: 24,
        ioas_id: 0,
        iova: 0,
        length: 0,
    };
    assert!(
        fd.raw_ioctl(IOMMU_IOAS_UNMAP, unmap.as_mut_bytes())
            .is_err()
    );
}
