#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# The kernel-version matrix: for each kernel series, builds (or reuses) its x86 kernel,
# runs the crate's x86 tier and, where they build against the series' own headers,
# the kernel's iommufd selftests, then prints one summary line per kernel and holds
# each to rig/matrix.expected. A test that needs a feature the kernel lacks reports
# itself ("rig: UNSUPPORTED ...") and counts as unsupported, never as passed.
# Usage: rig/matrix.sh [SERIES...]   (default: every series in rig/matrix.expected)
# Exit status: 0 when every kernel gave exactly its expected results.
source "$(dirname "$0")/common.sh"

expected=$RIG_DIR/matrix.expected
series=("$@")
[ ${#series[@]} -gt 0 ] || mapfile -t series < <(awk '!/^#/ && NF {print $1}' "$expected")

summaries=(); wrong=0
for s in "${series[@]}"; do
    want=$(awk -v s="$s" '$1 == s {print $2, $3, $4, $5}' "$expected")
    [ -n "$want" ] || die "series $s has no line in $expected"
    tier_log=$(mktemp); self_log=$(mktemp)
    set +e
    IOMMUFD_KERNEL_SERIES=$s bash "$RIG_DIR/x86-tier.sh" >"$tier_log" 2>&1
    tier_status=$?
    IOMMUFD_KERNEL_SERIES=$s bash "$RIG_DIR/selftests.sh" >"$self_log" 2>&1
    self_status=$?
    set -e
    version=$(sed -nE 's/.*(reusing|building|configuring) x86 kernel ([^ ]+).*/\2/p' "$tier_log" | head -n1)
    result=$(grep -E 'test result: (ok|FAILED)\.' "$tier_log" | tail -n1 || true)
    passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$result"); passed=${passed:-0}
    failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$result"); failed=${failed:-0}
    unsupported=$( (grep -o 'rig: UNSUPPORTED' "$tier_log" || true) | wc -l)
    # The harness counts an unsupported test as passed: it returned early.
    passed=$((passed - unsupported))
    [ -n "$result" ] || failed=crashed
    if [ "$self_status" -eq 3 ]; then
        selftests=none
    else
        selftests=$(grep -E '# Totals:' "$self_log" | sed -E 's/.*pass:([0-9]+) fail:([0-9]+).*skip:([0-9]+).*/\1\/\2\/\3/' | paste -sd+ -)
        [ "$self_status" -eq 0 ] || selftests="${selftests:-crashed}(status $self_status)"
    fi
    got="$passed $unsupported $failed $selftests"
    line="linux ${version:-$s}: crate tests $passed passed, $unsupported unsupported, $failed failed (status $tier_status); selftests ${selftests/none/do not build against its headers}"
    if [ "$got" = "$want" ]; then
        summaries+=("$line: as expected")
    else
        summaries+=("$line: EXPECTED $want (passed unsupported failed selftests), got $got")
        wrong=1
        grep -E 'rig: UNSUPPORTED|^test .* FAILED|panicked|rig: kernel lacks' "$tier_log" | head -n 40 >&2 || true
    fi
    rm -f "$tier_log" "$self_log"
done
printf '%s\n' "${summaries[@]}"
exit "$wrong"
