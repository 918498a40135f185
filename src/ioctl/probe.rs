// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Whether the running kernel has a command: each probe sends the command with an
//! argument every kernel that has it refuses before doing anything (a default type,
//! an unknown flag, a reserved field set), so the only answers are that refusal or
//! ENOTTY from a kernel without the command.

use super::command::call;
use crate::feature::Feature;
use crate::uapi::{
    IommuFaultAlloc, IommuHwQueueAlloc, IommuIoasChangeProcess, IommuIoasMapFile,
    IommuVdeviceAlloc, IommuVeventqAlloc, IommuViommuAlloc,
};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;

/// `true` unless the kernel answers ENOTTY.
pub(crate) fn has(fd: BorrowedFd<'_>, feature: Feature) -> bool {
    let answer = match feature {
        // `flags` must be 0: EOPNOTSUPP.
        Feature::FaultQueue => call(
            fd,
            &mut IommuFaultAlloc {
                flags: 1,
                ..Default::default()
            },
        ),
        // An unknown flag: EOPNOTSUPP (after the EOVERFLOW checks a zero IOVA passes).
        Feature::IoasMapFile => call(
            fd,
            &mut IommuIoasMapFile {
                flags: 1 << 31,
                ..Default::default()
            },
        ),
        // `__reserved` must be 0: EOPNOTSUPP.
        Feature::IoasChangeProcess => call(
            fd,
            &mut IommuIoasChangeProcess {
                __reserved: 1,
                ..Default::default()
            },
        ),
        // The default type is refused first: EOPNOTSUPP. `data_len` 0: no pointer.
        Feature::VIommu => viommu_probe(fd),
        // vIOMMU id 0 names nothing: ENOENT.
        Feature::VDevice => call(fd, &mut IommuVdeviceAlloc::default()),
        // The default type: EOPNOTSUPP.
        Feature::VEventQueue => call(fd, &mut IommuVeventqAlloc::default()),
        Feature::HwQueue => call(fd, &mut IommuHwQueueAlloc::default()),
    };
    answer != Err(Errno::NOTTY)
}

fn viommu_probe(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut arg = IommuViommuAlloc::default();
    // SAFETY: data_uptr is 0 and data_len 0: the kernel follows no pointer (and it
    // refuses the default type before looking at the data).
    unsafe { super::command::call_with_pointers(fd, &mut arg) }
}
