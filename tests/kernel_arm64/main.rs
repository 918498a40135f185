// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Kernel tier, arm64: the crate against Linux's real arm-smmu-v3 driver on QEMU's
//! emulated SMMUv3 (both stages), with QEMU's edu devices on vfio-pci.
//!
//! These tests need the arm64 guest: they are ignored elsewhere and run there through
//! `rig/arm64-tier.sh` (see the README).

mod agreement;
#[path = "../shared/alloc_count.rs"]
mod alloc_count;
mod borrowed;
mod effect;
mod guest;
mod smmuv3;
mod vsmmu;
