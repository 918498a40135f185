// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The VFIO device regions a VMM reaches around the crate (the crate is about
//! iommufd): config space and BAR0, by offset in the device fd. Shared by the
//! arm64 kernel tests and the rig's VMM (rig/vmm), which include this file.

#![allow(unsafe_code)] // one ioctl

use rustix::fd::{AsFd, OwnedFd};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// `struct vfio_region_info`.
#[repr(C)]
#[derive(Default)]
struct RegionInfo {
    argsz: u32,
    flags: u32,
    index: u32,
    cap_offset: u32,
    size: u64,
    offset: u64,
}

const VFIO_DEVICE_GET_REGION_INFO: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::none(b';', 100 + 8);

/// VFIO_PCI_BAR0_REGION_INDEX and VFIO_PCI_CONFIG_REGION_INDEX.
pub const BAR0: u32 = 0;
pub const CONFIG: u32 = 7;

/// One region of the device: where it is in the fd, how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub offset: u64,
    pub size: u64,
}

/// A VFIO device's regions, read and written by offset.
pub struct Regions {
    file: File,
    pub config: Region,
    pub bar0: Region,
}

fn region(dev: &impl AsFd, index: u32) -> std::io::Result<Region> {
    let mut info = RegionInfo {
        argsz: size_of::<RegionInfo>() as u32,
        index,
        ..Default::default()
    };
    // SAFETY: VFIO_DEVICE_GET_REGION_INFO takes struct vfio_region_info, which holds
    // no pointer; argsz says how much the kernel may write.
    unsafe {
        rustix::ioctl::ioctl(
            dev,
            rustix::ioctl::Updater::<VFIO_DEVICE_GET_REGION_INFO, RegionInfo>::new(&mut info),
        )
    }?;
    Ok(Region {
        offset: info.offset,
        size: info.size,
    })
}

impl Regions {
    /// The regions of the VFIO device `dev` (a copy of its fd is kept).
    pub fn new(dev: &impl AsFd) -> std::io::Result<Self> {
        let fd: OwnedFd = dev.as_fd().try_clone_to_owned()?;
        Ok(Self {
            config: region(dev, CONFIG)?,
            bar0: region(dev, BAR0)?,
            file: File::from(fd),
        })
    }

    /// Reads `buf.len()` bytes at `offset` into `region`; all ones past its end
    /// or on a failed read, as a PCI read of nothing gives.
    pub fn read(&self, region: Region, offset: u64, buf: &mut [u8]) {
        let fits = offset + buf.len() as u64 <= region.size;
        if !fits
            || self
                .file
                .read_exact_at(buf, region.offset + offset)
                .is_err()
        {
            buf.fill(0xff);
        }
    }

    /// Writes `data` at `offset` into `region`; dropped past its end.
    pub fn write(&self, region: Region, offset: u64, data: &[u8]) {
        if offset + data.len() as u64 <= region.size {
            let _ = self.file.write_all_at(data, region.offset + offset);
        }
    }
}
