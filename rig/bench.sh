#!/usr/bin/env bash
# The in-guest invalidation bench (benches/guest_invalidate.rs) on one tier:
# x86 (kernel mock IOMMU) or arm64 (real arm-smmu-v3 driver). Prints a table.
# IOMMUFD_BENCH_SECONDS sets each measurement's length (default 0.2 s).
source "$(dirname "$0")/common.sh"
tier=${1:-x86}
guest_cargo_env "$tier"
exec cargo bench --quiet --target "$GUEST_TARGET" --features mock --bench guest_invalidate
