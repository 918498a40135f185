#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Checks the crate's uAPI mirror against the kernel's own headers (see header_check.py).
source "$(dirname "$0")/common.sh"
need_cmd gcc; need_cmd python3
src=$("$RIG_DIR/fetch-kernel.sh") || die "cannot get the kernel source"
version=$(basename "$src"); version=${version#linux-}
headers=$RIG_CACHE/headers/$version
if [ ! -f "$headers/.done" ]; then
    log "installing uAPI headers of $version"
    make -C "$src" O="$headers" ARCH=x86 headers >/dev/null 2>&1 || die "make headers failed"
    touch "$headers/.done"
fi
dump=$(mktemp); trap 'rm -f "$dump"' EXIT
(cd "$REPO_DIR" && cargo run -q --example uapi_layout --features mock) >"$dump" || die "uapi_layout failed"
python3 "$RIG_DIR/header_check.py" --include "$headers/usr/include" \
    --mock-header "$src/drivers/iommu/iommufd/iommufd_test.h" "$dump"
