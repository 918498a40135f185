// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Error mapping: errno to kind, and messages that name the operation.

use iommufd::{DevId, Error, ErrorKind, Feature, HwptId, IommuFd, Op};
use rustix::io::Errno;

#[test]
fn a_command_on_a_non_iommufd_fails_with_enotty_named_by_op() {
    let fd = IommuFd::open_path("/dev/null").unwrap();
    let e = fd.alloc_ioas().unwrap_err();
    assert_eq!(e.op(), Op::IoasAlloc);
    assert_eq!(e.errno(), Some(Errno::NOTTY));
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert!(e.to_string().starts_with("IOMMU_IOAS_ALLOC failed"), "{e}");
    let io: std::io::Error = e.into();
    assert_eq!(io.raw_os_error(), None, "the crate error is the payload");
}

#[test]
fn open_of_a_missing_device_names_open() {
    let e = IommuFd::open_path("/nonexistent/iommu").unwrap_err();
    assert_eq!((e.op(), e.kind()), (Op::Open, ErrorKind::NotFound));
}

#[test]
fn errno_kinds_cover_the_documented_cases() {
    let cases = [
        (Errno::BUSY, ErrorKind::Busy),
        (Errno::NOENT, ErrorKind::NotFound),
        (Errno::NODEV, ErrorKind::NotFound),
        (Errno::OPNOTSUPP, ErrorKind::NotSupported),
        (Errno::INVAL, ErrorKind::InvalidArgument),
        (Errno::TOOBIG, ErrorKind::UnknownTail),
        (Errno::MSGSIZE, ErrorKind::BufferTooSmall),
        (Errno::EXIST, ErrorKind::AlreadyExists),
        (Errno::NOMEM, ErrorKind::OutOfMemory),
        (Errno::IO, ErrorKind::Rejected),
        (Errno::PERM, ErrorKind::PermissionDenied),
        (Errno::XDEV, ErrorKind::Other),
    ];
    for (errno, kind) in cases {
        let e = Error::Invalidation {
            errno,
            refused: Some(1),
            completed: 0,
            requested: 2,
        };
        assert_eq!(e.kind(), kind, "{errno:?}");
        assert_eq!(e.op(), Op::HwptInvalidate);
    }
}

#[test]
fn invalidation_errors_say_how_far_the_kernel_got() {
    let partial = Error::Invalidation {
        errno: Errno::IO,
        refused: Some(2),
        completed: 0,
        requested: 3,
    };
    assert!(
        partial.to_string().contains("refused entry 2 of 3"),
        "{partial}"
    );
    let early = Error::Invalidation {
        errno: Errno::NOMEM,
        refused: None,
        completed: 0,
        requested: 3,
    };
    assert!(
        early
            .to_string()
            .contains("none of the 3 entries is known to have run"),
        "{early}"
    );
    let split = Error::Invalidation {
        errno: Errno::NOMEM,
        refused: None,
        completed: 4096,
        requested: 9000,
    };
    assert!(
        split
            .to_string()
            .contains("the first 4096 of 9000 entries ran"),
        "{split}"
    );
    // Only a driver's refusal of one entry names an entry to resubmit before.
    assert_eq!(partial.refused_entry(), Some(2));
    assert_eq!(early.refused_entry(), None);
    assert_eq!(split.refused_entry(), None);
    let all_handled = Error::Invalidation {
        errno: Errno::IO,
        refused: Some(3),
        completed: 0,
        requested: 3,
    };
    assert_eq!(all_handled.refused_entry(), None);
    let in_a_later_chunk = Error::Invalidation {
        errno: Errno::INVAL,
        refused: Some(5000),
        completed: 4096,
        requested: 9000,
    };
    assert_eq!(in_a_later_chunk.refused_entry(), Some(5000));
    assert_eq!(
        Error::Kernel {
            op: iommufd::Op::HwptInvalidate,
            errno: Errno::IO
        }
        .refused_entry(),
        None
    );
}

#[test]
fn a_command_the_kernel_lacks_names_the_feature_and_its_first_release() {
    // /dev/null answers ENOTTY as a kernel without the command does.
    let fd = IommuFd::open_path("/dev/null").unwrap();
    for feature in Feature::ALL {
        assert!(!fd.supports(feature), "{feature}");
        // Cached: asked again, the same answer.
        assert!(!fd.supports(feature));
        assert_eq!(Feature::of_op(feature.op()), Some(feature));
    }
    let e = fd
        .alloc_viommu_raw(1, DevId::from_raw(1), HwptId::from_raw(2), &mut [])
        .unwrap_err();
    assert_eq!(
        e,
        Error::KernelLacks {
            op: Op::VIommuAlloc,
            feature: Feature::VIommu,
            errno: Errno::NOTTY
        }
    );
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert_eq!(e.errno(), Some(Errno::NOTTY));
    assert_eq!(
        e.to_string(),
        "IOMMU_VIOMMU_ALLOC: the running kernel has no vIOMMUs (IOMMU_VIOMMU_ALLOC) (Linux 6.13): Operation not supported by device"
            .replace("Operation not supported by device", &Errno::NOTTY.to_string())
    );
    // A command every supported kernel has stays a plain kernel error.
    assert_eq!(Feature::of_op(Op::IoasAlloc), None);
    let e = fd.alloc_ioas().unwrap_err();
    assert!(matches!(e, Error::Kernel { .. }), "{e:?}");
    // The releases are in order.
    let firsts: Vec<_> = Feature::ALL.iter().map(|f| f.first_linux()).collect();
    assert!(firsts.windows(2).all(|w| w[0] <= w[1]), "{firsts:?}");
}
