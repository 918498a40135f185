// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The crate's verdicts on guest STEs and commands against the real driver's: every
//! entry of the shared tables goes to the kernel, and the crate must accept exactly
//! what it accepts (and refuse, naming a field, what it answers EIO to).

#[path = "../shared/smmuv3_tables.rs"]
mod tables;

use crate::guest::*;
use iommufd::arch::DefaultStage1;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{self, CommandRules, GuestCommand, SmmuCaps, Ste, classify};
use iommufd::states::{DeviceState, GuestStage1, IoasReady};
use iommufd::uapi::{IommuHwInfoArmSmmuv3, IommuHwptArmSmmuv3};
use iommufd::{Device, HwptAlloc, IommuFd, PtId};
use rustix::io::Errno;
use std::sync::Arc;
use tables::{COMMANDS, STES, VSID, bytes};
use zerocopy::little_endian::U64;

#[test]
#[ignore = "needs the arm64 guest with an SMMUv3 and VFIO devices: run rig/arm64-tier.sh"]
fn crate_and_driver_agree_on_every_ste_and_command() {
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = IoasReady::new(&fd).unwrap();
    let _ram = GuestRam::new(&ioas);
    let dev = open_device(0)
        .bind(&fd)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let (info, hw) = fd.hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id()).unwrap();
    let caps = SmmuCaps::decode(&info, hw.capabilities);
    let rules = CommandRules::new(&caps);
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Smmuv3>(&dev).unwrap();
    let mut state = DeviceState::from(
        viommu
            .bind(dev, VSID)
            .map_err(|e| e.into_parts().1)
            .unwrap(),
    );

    let mut disagreements = Vec::new();
    let mut checked = 0;
    for case in STES {
        let crate_says = Ste::parse(&bytes(case.words));
        // The raw words go to the kernel at the id level (the lifecycle only takes
        // parsed STEs): the driver checks a vSTE when the nested HWPT is made.
        let raw = IommuHwptArmSmmuv3 {
            ste: case.words.map(U64::new),
        };
        let request = HwptAlloc::nested(state.device().dev_id(), viommu.id(), &raw);
        let kernel_ok = match fd.alloc_hwpt(&request) {
            Ok(hwpt) => {
                // And the device takes it: attach, then back to where it was.
                let attached = state.device().attach(PtId::Hwpt(hwpt));
                let bypass = viommu.default_hwpt(DefaultStage1::Bypass).unwrap();
                state.device().attach(PtId::Hwpt(bypass)).unwrap();
                fd.destroy(hwpt).unwrap();
                attached.is_ok()
            }
            Err(error) => {
                assert_eq!(
                    error.errno(),
                    Some(Errno::IO),
                    "{}: the driver refuses guest STEs with EIO",
                    case.name
                );
                false
            }
        };
        // What the crate accepts, the lifecycle installs in place.
        if let Ok(ste) = crate_says {
            state.apply(GuestStage1::from(ste)).unwrap();
            state
                .apply(GuestStage1::Default(DefaultStage1::Bypass))
                .unwrap();
        }
        checked += 1;
        if crate_says.is_ok() != kernel_ok {
            disagreements.push(format!(
                "vSTE {}: crate {crate_says:?}, kernel accepted={kernel_ok}",
                case.name
            ));
        }
    }
    let mut vmm_only = 0;
    for case in COMMANDS {
        let crate_says = classify(&bytes(case.words), &caps, |sid| u64::from(sid) == VSID);
        // The table the batch uses must give the same verdict, field for field.
        assert_eq!(
            rules.classify(&bytes(case.words), |sid| u64::from(sid) == VSID),
            crate_says,
            "{}: CommandRules and classify",
            case.name
        );
        if matches!(
            crate_says,
            Ok(GuestCommand::Sync | GuestCommand::ReloadStes(_) | GuestCommand::Nothing)
        ) {
            vmm_only += 1; // the VMM's own job: never sent to the kernel
            continue;
        }
        let command = smmuv3::command::command(case.words[0], case.words[1]);
        let kernel = viommu.invalidate(&[command]);
        checked += 1;
        if let Err(e) = &kernel {
            assert_eq!(
                e.errno(),
                Some(Errno::IO),
                "{}: the driver refuses commands with EIO",
                case.name
            );
        }
        if crate_says.is_ok() != kernel.is_ok() {
            disagreements.push(format!(
                "command {}: crate {crate_says:?}, kernel {kernel:?}",
                case.name
            ));
        }
    }
    eprintln!(
        "agreement: {checked} entries sent to the driver ({} vSTEs, {} commands), {vmm_only} VMM-only commands, {} disagreements",
        STES.len(),
        COMMANDS.len() - vmm_only,
        disagreements.len()
    );
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    drop(state);
}
