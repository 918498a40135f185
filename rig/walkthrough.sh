#!/usr/bin/env bash
# The main job: the Phase 1 / Phase 2 walkthrough (examples/walkthrough.rs) in the
# x86 guest with the kernel's mock IOMMU. Builds or reuses the test kernel itself.
source "$(dirname "$0")/common.sh"
guest_cargo_env x86
exec cargo run --quiet --target "$GUEST_TARGET" --features mock --example walkthrough
