// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What the running kernel has, asked two ways that must agree: the crate's probe
//! (`IommuFd::supports`) and the command itself through the public API. On a kernel
//! with a feature the command's own answer is anything but `KernelLacks`; on one
//! without (Linux 6.12 lacks the vIOMMU commands), it is the typed refusal naming
//! the feature, never a misleading errno. Meaningful on every series.

use crate::common::*;
use iommufd::{Access, DevId, Error, Feature, IommuFd, Iova, MapAt, Result, VIommuId};
use std::io::Write;

/// Sends `feature`'s command through the public API with arguments no kernel
/// acts on (ids that name nothing), or harmless ones (an empty fault queue, a
/// one-page file mapping on a fresh IOAS, a process change with nothing pinned).
fn issue(fd: &IommuFd, feature: Feature) -> Result<()> {
    let nothing = VIommuId::from_raw(0xfff_fff0);
    match feature {
        Feature::FaultQueue => fd.alloc_fault_queue().map(|q| {
            let (id, file) = q.into_parts();
            drop(file);
            let _ = fd.destroy(id);
        }),
        Feature::IoasMapFile => {
            let ioas = fd.alloc_ioas()?;
            let memfd =
                rustix::fs::memfd_create("probe", rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
            rustix::fs::ftruncate(&memfd, 4096).expect("ftruncate");
            let r = fd.map_file(
                ioas,
                rustix::fd::AsFd::as_fd(&memfd),
                0,
                4096,
                MapAt::Fixed(Iova(1 << 20)),
                Access::READ,
            );
            let _ = fd.destroy(ioas);
            r.map(drop)
        }
        Feature::IoasChangeProcess => fd.change_process(),
        Feature::VIommu => fd
            .alloc_viommu_raw(
                0xffff,
                DevId::from_raw(0xfff_fff0),
                iommufd::HwptId::from_raw(0xfff_fff1),
                &mut [],
            )
            .map(drop),
        Feature::VDevice => fd
            .alloc_vdevice(nothing, DevId::from_raw(0xfff_fff0), 1)
            .map(drop),
        Feature::VEventQueue => fd.alloc_vevent_queue(nothing, 1, 1).map(drop),
        Feature::HwQueue => fd.alloc_hw_queue(nothing, 1, 0, 0, 4096).map(drop),
        other => panic!("no command for {other:?}"),
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn the_probe_and_the_commands_agree_and_a_missing_one_is_a_typed_refusal() {
    let fd = open();
    let mut lacking = Vec::new();
    for feature in Feature::ALL {
        let has = fd.supports(feature);
        match issue(&fd, feature) {
            Err(Error::KernelLacks {
                op, feature: named, ..
            }) => {
                assert!(
                    !has,
                    "{feature}: the probe says present, the command ENOTTY"
                );
                assert_eq!((op, named), (feature.op(), feature));
                lacking.push(feature.to_string());
            }
            other => assert!(
                has,
                "{feature}: the probe says absent, the command answered {other:?}"
            ),
        }
    }
    // Which features this kernel lacks, for the matrix's log.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nrig: kernel lacks: {}",
        if lacking.is_empty() {
            "nothing".to_string()
        } else {
            lacking.join(", ")
        }
    );
}
