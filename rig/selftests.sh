#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Runs the kernel's own iommufd selftests (tools/testing/selftests/iommu) in the same
# x86 guest as the crate's tests, so a broken rig can be told apart from a crate bug.
# Linux 7.3.4's 8 dmabuf failures are fixed by rig/patches/01-selftest-dmabuf-fd.sh.
# Exit status: the guest's, or 3 when the selftests do not build against the series'
# own headers (Debian's 6.12 tree).
source "$(dirname "$0")/common.sh"
"$RIG_DIR/install-deps.sh" x86
kernel=$("$RIG_DIR/build-kernel.sh" x86)
build=$(cat "$(dirname "$kernel")/tree")   # patched tree, configured by build-kernel.sh
out=$RIG_CACHE/selftests/$(basename "$(dirname "$kernel")")
if [ ! -x "$out/iommufd" ] || [ ! -x "$out/iommufd_fail_nth" ]; then
    log "building the kernel's iommufd selftests"
    mkdir -p "$out"
    make -C "$build" headers >/dev/null 2>&1 || die "make headers failed in $build"
    make -C "$build/tools/testing/selftests/iommu" LDFLAGS=-static OUTPUT="$out" >"$out/build.log" 2>&1 \
        || { tail -n 30 "$out/build.log" >&2; log "selftest build failed (log: $out/build.log)"; exit 3; }
fi
# One guest runs both programs through a small script.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$out/iommufd" "$out/iommufd_fail_nth" "$work/"
cat >"$work/run-selftests" <<'SH'
#!/bin/sh
status=0
for t in /iommufd /iommufd_fail_nth; do
    "$t" > "/tmp/$(basename "$t").log" 2>&1 || status=1
    grep -E "not ok|# Totals|# FAILED|# PASSED" "/tmp/$(basename "$t").log" || tail -n 5 "/tmp/$(basename "$t").log"
done
exit $status
SH
chmod +x "$work/run-selftests"
IOMMUFD_GUEST_EXTRA_FILES="$work/iommufd $work/iommufd_fail_nth" \
    exec "$RIG_DIR/guest-runner-x86.sh" "$work/run-selftests"
