#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The x86_64 kernel tier: builds the crate's kernel tests (tests/kernel_x86) as a
# static binary and runs them inside the mock-IOMMU guest. Extra arguments go to the
# test harness (filters, --exact, --nocapture...). Usage: rig/x86-tier.sh [ARGS...]
source "$(dirname "$0")/common.sh"
guest_cargo_env x86
exec cargo test --target "$GUEST_TARGET" --features mock --test kernel_x86 -- --include-ignored --skip child_process_entry "$@"
