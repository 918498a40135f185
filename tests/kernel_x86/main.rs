// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Kernel tier, x86_64: every wrapped iommufd ioctl against Linux's mock IOMMU
//! (`CONFIG_IOMMUFD_TEST`), its success path and the failures the kernel documents,
//! with effects checked through the mock's own checks.
//!
//! These tests need `/dev/iommu` with the mock: they are ignored on a host and run in
//! the guest through `rig/x86-tier.sh` (see the README).

#![cfg(feature = "mock")]

#[path = "../shared/alloc_count.rs"]
mod alloc_count;
mod batch;
mod common;
mod destroy_and_options;
mod fail_nth;
mod failures;
mod faults_and_events;
mod hwpt;
mod ioas;
mod iopf;
mod kernel_support;
mod lifecycle;
mod model;
mod parent_nesting;
mod seccomp;
#[path = "../shared/seccomp_filter.rs"]
mod seccomp_filter;
mod viommu;
