#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Installs what the kernel tiers need from Debian's archive. Idempotent: does nothing
# when every package is already there. Usage: install-deps.sh [x86|arm64|all]
source "$(dirname "$0")/common.sh"

tier=${1:-all}
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$backports" ]; then
    log "adding the bookworm-backports source (QEMU 10 comes from there)"
    cat >"$backports" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    rm -f "$RIG_CACHE/.apt-updated"
fi

common=(flex bison bc libelf-dev libssl-dev cpio busybox-static libcap-dev make gcc xz-utils python3)
backported=()
case "$tier" in
    x86) backported+=(qemu-system-x86) ;;
    arm64) backported+=(qemu-system-arm qemu-efi-aarch64); common+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    all) backported+=(qemu-system-x86 qemu-system-arm qemu-efi-aarch64); common+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    *) die "unknown tier '$tier' (x86, arm64 or all)" ;;
esac

missing=()
for p in "${common[@]}" "${backported[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { log "packages present"; exit 0; }

log "installing: ${missing[*]}"
if [ ! -f "$RIG_CACHE/.apt-updated" ]; then
    apt_get update -q || die "apt-get update failed"
    touch "$RIG_CACHE/.apt-updated"
fi
export DEBIAN_FRONTEND=noninteractive
apt_get install -y -q --no-install-recommends "${common[@]}" \
    || die "apt-get install of build packages failed"
# Without -t apt picks bookworm's QEMU 7.2, too old for nested SMMUv3 and in
# conflict with the machine's qemu-utils 10.
apt_get install -y -q --no-install-recommends -t bookworm-backports "${backported[@]}" \
    || die "apt-get install of QEMU from bookworm-backports failed"
