// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Host tier: wire encodings, round trips, error mapping and input validation. Needs
//! no kernel support: validation is proven by running against `/dev/null`, which would
//! answer ENOTTY to any ioctl that got through.

#[path = "../shared/alloc_count.rs"]
mod alloc_count;
mod amd;
mod arm_families;
mod batch;
mod drain;
mod encoding;
mod errors;
mod faults;
mod guest_memory;
mod guest_memory_mapped;
mod misuse;
mod seccomp;
#[path = "../shared/seccomp_filter.rs"]
mod seccomp_filter;
mod smmuv3;
mod validation;
mod vsmmu;
mod vsmmu_command_queue;
mod vsmmu_event_queue;
mod vsmmu_ram;
mod vsmmu_registers;
mod vsmmu_stream_table;
mod vtd;
