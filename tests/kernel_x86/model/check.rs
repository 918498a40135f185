// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Checks of the kernel against the model, through the kernel only.

use super::world::{Backing, Node, What, World};
use crate::common::Buffer;
use iommufd::mock::MockChecks;
use iommufd::uapi::{IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, IommuHwptInvalidateSelftest};
use iommufd::{HwptId, InvalidateTarget, IommuFd};
use rustix::io::Errno;

/// Whether object `id` exists, without changing anything: `IOMMU_HWPT_INVALIDATE`
/// with no entries looks the id up (any type) before anything else, so ENOENT means
/// no such object and any other answer means there is one.
pub fn exists(fd: &IommuFd, id: u32) -> bool {
    let target = InvalidateTarget::Hwpt(HwptId::from_raw(id));
    let entry_len = size_of::<IommuHwptInvalidateSelftest>() as u32;
    match fd.invalidate_raw(
        target,
        IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
        &[],
        entry_len,
        0,
    ) {
        Ok(()) => true,
        Err(e) => match e.errno() {
            Some(Errno::NOENT) => false,
            Some(_) => true,
            // Refused before the ioctl: the probe would say nothing.
            None => panic!("the existence probe was not sent: {e}"),
        },
    }
}

/// A short name for a node, for messages.
pub fn describe(world: &World, node: Node) -> String {
    let name = match world.what(node) {
        What::Ioas { .. } => "IOAS",
        What::Hwpt { parent, .. } => match world.what(*parent) {
            What::Ioas { .. } => "paging HWPT",
            _ => "nested HWPT",
        },
        What::Viommu { .. } => "vIOMMU",
        What::Vdevice { .. } => "vDEVICE",
        What::RawVEventQueue { .. } => "vEVENTQ",
        What::HwQueue { .. } => "HW queue",
        What::Access { .. } => "HW queue access",
        What::FaultQueue => "fault queue",
        What::Idev => "mock idev",
        What::Stdev { .. } => "mock device",
        _ => "handle",
    };
    match world.nodes[node].id {
        Some(id) => format!("{name} {id}"),
        None => format!("{name} (node {node})"),
    }
}

/// An id on which the kernel and the model disagree.
pub struct Mismatch {
    pub id: u32,
    /// The model's last object with this id, if it ever had one.
    pub node: Option<Node>,
    /// Whether the kernel has the object (the model says the opposite).
    pub exists: bool,
}

impl Mismatch {
    pub fn to_string(&self, world: &World) -> String {
        match (self.node, self.exists) {
            (Some(n), true) => format!("{} still exists", describe(world, n)),
            (Some(n), false) => format!("{} is gone", describe(world, n)),
            (None, _) => format!("object {}, unknown to the model, exists", self.id),
        }
    }
}

/// Every id from 1 to past the largest the sequence saw: it exists in the kernel
/// exactly when the model has a live object with it (ids are the lowest free, so a
/// leaked object the model never heard of shows up in this range too).
pub fn scan(fd: &IommuFd, world: &World) -> Vec<Mismatch> {
    let live = world.live_ids();
    let mut wrong = Vec::new();
    for id in 1..=world.max_id() + 8 {
        let exists = exists(fd, id);
        if live.contains_key(&id) != exists {
            let node = (0..world.nodes.len())
                .rev()
                .find(|&n| world.nodes[n].id == Some(id));
            wrong.push(Mismatch { id, node, exists });
        }
    }
    wrong
}

/// With no live `map_user` mapping in the model, no page of `buf` may be pinned.
pub fn pins(fd: &IommuFd, world: &World, buf: &Buffer) -> Option<String> {
    let mapped = world
        .live(|w| matches!(w, What::Ioas { maps } if maps.contains(&Some(Backing::User))))
        .next()
        .is_some();
    if mapped {
        return None;
    }
    fd.check_refs(buf.bytes(), 0)
        .err()
        .map(|e| format!("the user buffer is still pinned with nothing mapping it ({e})"))
}
