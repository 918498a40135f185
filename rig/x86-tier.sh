#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The x86_64 kernel tier: builds the crate's kernel tests (tests/kernel_x86) as a
# static binary and runs them inside the mock-IOMMU guest. Extra arguments go to the
# test harness (filters, --exact, --nocapture...). Usage: rig/x86-tier.sh [ARGS...]
# One test at a time: the seccomp test forks a child, which holds a copy of every fd
# (an event or fault queue's among them) until it execs, and a queue whose fd is
# held cannot be destroyed (EBUSY), which other tests would see as a leak.
source "$(dirname "$0")/common.sh"
guest_cargo_env x86
exec cargo test --target "$GUEST_TARGET" --features mock --test kernel_x86 -- --include-ignored --test-threads=1 --skip child_process_entry "$@"
