// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Byte-level encodings of the wire structs and proptest round trips through bytes.

use iommufd::uapi::*;
use proptest::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

#[test]
fn ioas_map_encodes_field_by_field_in_native_order() {
    let map = IommuIoasMap {
        size: 40,
        flags: (IoasMapFlags::FIXED_IOVA | IoasMapFlags::READABLE).bits(),
        ioas_id: 7,
        __reserved: 0,
        user_va: 0x1122_3344_5566_7788,
        length: 0x2000,
        iova: 0x4000_0000,
    };
    let mut want = Vec::new();
    want.extend_from_slice(&40u32.to_ne_bytes());
    want.extend_from_slice(&5u32.to_ne_bytes());
    want.extend_from_slice(&7u32.to_ne_bytes());
    want.extend_from_slice(&0u32.to_ne_bytes());
    want.extend_from_slice(&0x1122_3344_5566_7788u64.to_ne_bytes());
    want.extend_from_slice(&0x2000u64.to_ne_bytes());
    want.extend_from_slice(&0x4000_0000u64.to_ne_bytes());
    assert_eq!(map.as_bytes(), &want[..]);
}

#[test]
fn smmuv3_words_are_little_endian_whatever_the_host() {
    let ste = IommuHwptArmSmmuv3 {
        ste: [0x0102_0304_0506_0708u64.into(), 0xaabbu64.into()],
    };
    assert_eq!(&ste.as_bytes()[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&ste.as_bytes()[8..10], &[0xbb, 0xaa]);
    assert_eq!(
        align_of::<IommuHwptArmSmmuv3>(),
        8,
        "__aligned_le64 needs 8-byte alignment"
    );
}

#[test]
fn hw_info_union_is_one_field_at_the_c_offset() {
    let info = IommuHwInfo {
        data_type: IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
        out_max_pasid_log2: 20,
        ..Default::default()
    };
    let b = info.as_bytes();
    assert_eq!(&b[24..28], &2u32.to_ne_bytes());
    assert_eq!(b[28], 20);
}

#[test]
fn ioctl_numbers_are_io_semicolon_nr() {
    // _IO(';', nr) = (';' << 8) | nr: no size, no direction.
    assert_eq!(IOMMU_DESTROY, 0x3b80);
    assert_eq!(IOMMU_IOAS_ALLOC, 0x3b81);
    assert_eq!(IOMMU_HWPT_INVALIDATE, 0x3b8d);
    assert_eq!(IOMMU_HW_QUEUE_ALLOC, 0x3b94);
    assert_eq!(VFIO_DEVICE_BIND_IOMMUFD, 0x3b76);
    assert_eq!(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3b78);
    // The seccomp list names each request once.
    let mut numbers: Vec<_> = IOCTL_REQUESTS.iter().map(|(_, n)| *n).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), IOCTL_REQUESTS.len());
    assert_eq!(IOCTL_REQUESTS.len(), 24);
}

#[test]
fn every_layout_record_matches_the_rust_type() {
    for s in STRUCTS {
        assert!(
            s.size % s.align == 0,
            "{}: size not a multiple of align",
            s.c_name
        );
        let mut last = 0;
        for (field, offset) in s.fields {
            assert!(
                *offset >= last && *offset < s.size,
                "{}.{field} out of order",
                s.c_name
            );
            last = *offset;
        }
    }
}

/// A round trip through bytes for each struct: any bit pattern is a valid value
/// (FromBytes), and writing it back gives the same bytes.
macro_rules! round_trips {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {$(
            #[test]
            fn $name(bytes in proptest::collection::vec(any::<u8>(), size_of::<$ty>())) {
                let value = <$ty>::read_from_bytes(&bytes).unwrap();
                prop_assert_eq!(value.as_bytes(), &bytes[..]);
                let copy = value;
                prop_assert_eq!(copy, value);
            }
        )*}
    };
}

round_trips! {
    rt_destroy: IommuDestroy,
    rt_ioas_alloc: IommuIoasAlloc,
    rt_iova_range: IommuIovaRange,
    rt_iova_ranges: IommuIoasIovaRanges,
    rt_allow_iovas: IommuIoasAllowIovas,
    rt_map: IommuIoasMap,
    rt_noiommu_get_pa: IommuIoasNoiommuGetPa,
    rt_map_file: IommuIoasMapFile,
    rt_copy: IommuIoasCopy,
    rt_unmap: IommuIoasUnmap,
    rt_option: IommuOption,
    rt_vfio_ioas: IommuVfioIoas,
    rt_change_process: IommuIoasChangeProcess,
    rt_hwpt_alloc: IommuHwptAlloc,
    rt_hw_info: IommuHwInfo,
    rt_set_dirty: IommuHwptSetDirtyTracking,
    rt_get_dirty: IommuHwptGetDirtyBitmap,
    rt_invalidate: IommuHwptInvalidate,
    rt_pgfault: IommuHwptPgfault,
    rt_page_response: IommuHwptPageResponse,
    rt_fault_alloc: IommuFaultAlloc,
    rt_viommu_alloc: IommuViommuAlloc,
    rt_vdevice_alloc: IommuVdeviceAlloc,
    rt_vevent_header: IommufdVeventHeader,
    rt_veventq_alloc: IommuVeventqAlloc,
    rt_hw_queue_alloc: IommuHwQueueAlloc,
    rt_vtd_s1: IommuHwptVtdS1,
    rt_smmuv3_ste: IommuHwptArmSmmuv3,
    rt_amd_guest: IommuHwptAmdGuest,
    rt_info_vtd: IommuHwInfoVtd,
    rt_info_smmuv3: IommuHwInfoArmSmmuv3,
    rt_info_tegra: IommuHwInfoTegra241Cmdqv,
    rt_info_amd: IommuHwInfoAmd,
    rt_vtd_inv: IommuHwptVtdS1Invalidate,
    rt_smmuv3_cmd: IommuViommuArmSmmuv3Invalidate,
    rt_tegra_viommu: IommuViommuTegra241Cmdqv,
    rt_smmuv3_event: IommuVeventArmSmmuv3,
    rt_tegra_event: IommuVeventTegra241Cmdqv,
    rt_vfio_bind: VfioDeviceBindIommufd,
    rt_vfio_attach: VfioDeviceAttachIommufdPt,
    rt_vfio_detach: VfioDeviceDetachIommufdPt,
}
