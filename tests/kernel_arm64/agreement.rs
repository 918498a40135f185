// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The crate's verdicts on guest STEs and commands against the real driver's: every
//! entry of the shared tables goes to the kernel, and the crate must accept exactly
//! what it accepts (and refuse, naming a field, what it answers EIO to).

#[path = "../shared/smmuv3_tables.rs"]
mod tables;

use crate::guest::*;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{self, CommandRules, GuestCommand, SmmuCaps, Ste, classify};
use iommufd::states::{DeviceState, GuestStage1, IoasReady};
use iommufd::uapi::IommuHwInfoArmSmmuv3;
use iommufd::{Device, IommuFd};
use rustix::io::Errno;
use std::sync::Arc;
use tables::{COMMANDS, STES, VSID, bytes};

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
        let vste = smmuv3::vste(case.words[0], case.words[1]);
        let (next, kernel_ok) = match state.apply(GuestStage1::<Smmuv3>::Translate(&vste)) {
            Ok(s) => (s, true),
            Err(e) => {
                let (s, error) = e.into_parts();
                assert_eq!(
                    error.errno(),
                    Some(Errno::IO),
                    "{}: the driver refuses guest STEs with EIO",
                    case.name
                );
                (s, false)
            }
        };
        state = next;
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
