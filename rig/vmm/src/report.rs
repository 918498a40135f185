// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What the run proved: the L2 program's checks (its `CHECK name: ok` lines),
//! the vSMMU's traffic to the kernel, and a teardown that leaves no iommufd
//! object behind.

use crate::iommu::Iommu;
use crate::layout::DEVICE_SID;
use iommufd::arch::DefaultStage1;
use iommufd::arch::smmuv3::SmmuCaps;
use iommufd::{ErrorKind, HwptId};
use std::sync::atomic::Ordering::Relaxed;

/// Linux's `ARM_SMMU_FEAT_*` bits (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h)
/// that follow from the ID registers the vSMMU advertises.
const FEAT_ATS: u32 = 1 << 5;
const FEAT_MSI: u32 = 1 << 7;
const FEAT_TRANS_S1: u32 = 1 << 9;
const FEAT_TRANS_S2: u32 = 1 << 10;
const FEAT_RANGE_INV: u32 = 1 << 15;
const FEAT_NESTING: u32 = 1 << 19;

/// Whether the features L2's driver logged at probe ("features 0x...") are what
/// the vSMMU's ID registers say: stage 1 only, no nesting, MSIs, ATS and range
/// invalidation as advertised.
fn features_agree(lines: &[String], caps: &SmmuCaps) -> bool {
    let Some(features) = lines.iter().find_map(|l| {
        let hex = l.split_once("features 0x")?.1.get(..8)?;
        u32::from_str_radix(hex, 16).ok()
    }) else {
        println!("vmm: L2's driver logged no features");
        return false;
    };
    let expected = [
        ("TRANS_S1", FEAT_TRANS_S1, caps.stages.stage1),
        ("TRANS_S2", FEAT_TRANS_S2, false),
        ("NESTING", FEAT_NESTING, false),
        ("MSI", FEAT_MSI, caps.msi),
        ("ATS", FEAT_ATS, caps.ats),
        ("RANGE_INV", FEAT_RANGE_INV, caps.range_invalidation),
    ];
    let wrong: Vec<&str> = expected
        .iter()
        .filter(|(_, bit, want)| (features & bit != 0) != *want)
        .map(|(name, ..)| *name)
        .collect();
    println!(
        "vmm: L2's driver probed features {features:#010x}: {}",
        if wrong.is_empty() {
            "as the vSMMU advertises".to_string()
        } else {
            format!("{wrong:?} differ from the vSMMU's ID registers")
        }
    );
    wrong.is_empty()
}

/// Prints the checks and the traffic; whether L2 exited 0 with every check ok.
pub fn report(lines: &[String], iommu: &Iommu) -> bool {
    let features = features_agree(lines, &iommu.caps);
    let exit = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("IOMMUFD-RIG-EXIT="))
        .next_back()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let checks: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("CHECK "))
        .collect();
    let failed = checks.iter().filter(|c| !c.ends_with(": ok")).count();
    println!("vmm: {} L2 checks, {failed} failed", checks.len());
    for c in &checks {
        println!("vmm:   {c}");
    }

    let stats = iommu.vsmmu.stats();
    let ioctls = iommu.counters.ioctls.load(Relaxed);
    let commands = iommu.counters.commands.load(Relaxed);
    let per = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    println!(
        "vmm: invalidation: {} CMD_SYNCs, {ioctls} ioctls, {commands} commands: {:.2} ioctls per CMD_SYNC, {:.2} commands per ioctl",
        stats.syncs,
        per(ioctls, stats.syncs),
        per(commands, ioctls)
    );
    println!(
        "vmm: vSMMU: {} STE loads ({} found no valid STE: the device aborted), {} events to L2, {} command errors",
        stats.ste_loads, stats.ste_errors, stats.events, stats.command_errors
    );
    match exit {
        Some(0) if failed == 0 && !checks.is_empty() => features,
        Some(status) => {
            println!("vmm: L2's program exited {status}");
            false
        }
        None => {
            println!("vmm: L2 printed no exit status");
            false
        }
    }
}

/// Drops every crate object and proves the kernel holds none of them.
pub fn teardown(iommu: Iommu) -> bool {
    let mut ids: Vec<u32> = Vec::new();
    iommu.vsmmu.with_backend(|devices| {
        if let Some(state) = devices.get(DEVICE_SID) {
            ids.push(state.vdevice_id().raw());
            ids.extend(state.stage1_hwpt().map(|h| h.raw()));
        }
    });
    ids.push(iommu.vevent_queue_id);
    for kind in [DefaultStage1::Bypass, DefaultStage1::Abort] {
        ids.extend(iommu.viommu.default_hwpt(kind).map(|h| h.raw()));
    }
    ids.push(iommu.viommu.id().raw());
    ids.push(iommu.viommu.s2().id().raw());
    ids.push(iommu.ioas.id().raw());
    let Iommu {
        vsmmu,
        vevents,
        device,
        viommu,
        ioas,
        fd,
        ..
    } = iommu;
    drop((vsmmu, vevents, device, viommu, ioas));
    let left: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|&id| {
            !matches!(fd.destroy(HwptId::from_raw(id)), Err(e) if e.kind() == ErrorKind::NotFound)
        })
        .collect();
    let pending = fd.pending_destroys();
    println!(
        "vmm: teardown: {} objects, {} left in the kernel{}",
        ids.len(),
        left.len(),
        if pending > 0 {
            format!(", {pending} destroys pending")
        } else {
            String::new()
        }
    );
    left.is_empty() && pending == 0
}
