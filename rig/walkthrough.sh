#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The main job. By default the SMMUv3 walkthrough (examples/walkthrough_smmuv3.rs):
# nested translation on Linux's real arm-smmu-v3 driver in the arm64 guest, with DMA
# from a VFIO device. `rig/walkthrough.sh mock` runs the same story on the x86 guest's
# mock IOMMU (examples/walkthrough.rs); `rig/walkthrough.sh l2` boots an unmodified
# Linux under KVM inside the arm64 guest whose own arm-smmu-v3 driver drives the
# crate's vSMMU (rig/vmm, tier 3). Builds or reuses the test kernel itself.
source "$(dirname "$0")/common.sh"
case "${1:-smmuv3}" in
    smmuv3)
        guest_cargo_env arm64
        exec cargo run --quiet --target "$GUEST_TARGET" --example walkthrough_smmuv3 ;;
    mock)
        guest_cargo_env x86
        exec cargo run --quiet --target "$GUEST_TARGET" --features mock --example walkthrough ;;
    l2)
        IOMMUFD_L2_BENCH=0 exec "$RIG_DIR/l2-tier.sh" ;;
    *) die "usage: rig/walkthrough.sh [smmuv3|mock|l2]" ;;
esac
