#!/usr/bin/env bash
# The main job: the Phase 1 / Phase 2 walkthrough (examples/walkthrough.rs) in the
# x86 guest with the kernel's mock IOMMU. Builds or reuses the test kernel itself.
source "$(dirname "$0")/common.sh"
"$RIG_DIR/install-deps.sh" x86
"$RIG_DIR/build-kernel.sh" x86 >/dev/null
export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$RIG_DIR/guest-runner-x86.sh"
cd "$REPO_DIR"
exec cargo run --quiet --target x86_64-unknown-linux-gnu --features mock --example walkthrough
