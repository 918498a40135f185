#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The arm64 kernel tier: builds the crate's arm64 kernel tests (tests/kernel_arm64) as
# a static aarch64 binary and runs them in the SMMUv3 guest with real VFIO devices.
# Extra arguments go to the test harness. Usage: rig/arm64-tier.sh [ARGS...]
source "$(dirname "$0")/common.sh"
guest_cargo_env arm64
# One test at a time: they share the guest's two VFIO devices.
exec cargo test --target "$GUEST_TARGET" --test kernel_arm64 -- --include-ignored --test-threads=1 "$@"
