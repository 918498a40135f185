#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The in-guest invalidation bench (benches/guest_invalidate.rs): x86 (kernel mock
# IOMMU), arm64 (real arm-smmu-v3 driver), or all (both, then invalidation.svg is
# redrawn from their output by rig/plot.py). Prints the tables.
# IOMMUFD_BENCH_SECONDS sets each measurement's length (default 0.2 s).
source "$(dirname "$0")/common.sh"
tier=${1:-all}
run_one() {
    ( guest_cargo_env "$1"
      cargo bench --quiet --target "$GUEST_TARGET" --features mock --bench guest_invalidate ) \
        | tee "$RIG_CACHE/bench-$1.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || die "the $1 bench failed"
}
case "$tier" in
    x86|arm64) run_one "$tier" ;;
    all)
        run_one x86
        run_one arm64
        python3 "$RIG_DIR/plot.py" "$RIG_CACHE/bench-x86.txt" "$RIG_CACHE/bench-arm64.txt" >"$REPO_DIR/invalidation.svg"
        log "plot written to invalidation.svg" ;;
    *) die "usage: rig/bench.sh [x86|arm64|all]" ;;
esac
