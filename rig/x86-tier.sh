#!/usr/bin/env bash
# The x86_64 kernel tier: builds the crate's kernel tests as a static binary and runs
# them inside the mock-IOMMU guest. Extra arguments go to the test harness (filters,
# --exact, --nocapture...). Usage: rig/x86-tier.sh [TEST ARGS...]
source "$(dirname "$0")/common.sh"
"$RIG_DIR/install-deps.sh" x86
"$RIG_DIR/build-kernel.sh" x86 >/dev/null
target=x86_64-unknown-linux-gnu
export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$RIG_DIR/guest-runner-x86.sh"
cd "$REPO_DIR"
exec cargo test --target "$target" --features mock --test kernel_x86 -- --include-ignored "$@"
