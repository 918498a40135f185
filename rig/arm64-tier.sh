#!/usr/bin/env bash
# The arm64 kernel tier: builds the crate's arm64 kernel tests (tests/kernel_arm64) as
# a static aarch64 binary and runs them in the SMMUv3 guest with real VFIO devices.
# Extra arguments go to the test harness. Usage: rig/arm64-tier.sh [TEST ARGS...]
source "$(dirname "$0")/common.sh"
"$RIG_DIR/install-deps.sh" arm64
"$RIG_DIR/build-kernel.sh" arm64 >/dev/null
target=aarch64-unknown-linux-gnu
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >&2 \
    || die "cannot install the $target standard library with rustup"
export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$RIG_DIR/guest-runner-arm64.sh"
cd "$REPO_DIR"
# One test at a time: they share the guest's two VFIO devices.
exec cargo test --target "$target" --test kernel_arm64 -- --include-ignored --test-threads=1 "$@"
