# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Shared helpers for the kernel test rig. Sourced, never run.
# shellcheck shell=bash

set -euo pipefail

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$RIG_DIR/.." && pwd)
# Build output lives outside the repo so a fresh clone reuses it.
RIG_CACHE=${IOMMUFD_RIG_CACHE:-/var/cache/iommufd-rig}
# The kernel minor the rig builds; moving to a new minor is a deliberate change here.
KERNEL_SERIES=${IOMMUFD_KERNEL_SERIES:-7.3}

log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

need_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "missing '$1' (run rig/install-deps.sh ${2:-})"
}

mkdir -p "$RIG_CACHE"

# arm64_guest_init: builds (once per source change) the static /init of the arm64
# guests (L1 and L2) and prints its path.
arm64_guest_init() {
    local init
    init=$RIG_CACHE/arm64/init-$(sha256sum "$RIG_DIR/guest-init.c" | cut -c1-12)
    if [ ! -x "$init" ]; then
        mkdir -p "$RIG_CACHE/arm64"
        aarch64-linux-gnu-gcc -static -O2 -Wall -o "$init.tmp" "$RIG_DIR/guest-init.c" \
            || die "cannot build the guest init (libc6-dev-arm64-cross missing? run rig/install-deps.sh arm64)"
        mv "$init.tmp" "$init"
    fi
    echo "$init"
}

# guest_cargo_env TIER: installs what the tier needs, builds or reuses its kernel and
# sets cargo up to build static binaries for it and run them in its guest.
guest_cargo_env() {
    local tier=$1
    "$RIG_DIR/install-deps.sh" "$tier"
    "$RIG_DIR/build-kernel.sh" "$tier" >/dev/null
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
    case "$tier" in
        x86)
            GUEST_TARGET=x86_64-unknown-linux-gnu
            export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$RIG_DIR/guest-runner-x86.sh"
            ;;
        arm64)
            GUEST_TARGET=aarch64-unknown-linux-gnu
            rustup target list --installed 2>/dev/null | grep -qx "$GUEST_TARGET" || rustup target add "$GUEST_TARGET" >&2 \
                || die "cannot install the $GUEST_TARGET standard library with rustup"
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$RIG_DIR/guest-runner-arm64.sh"
            ;;
        *) die "unknown tier '$tier'" ;;
    esac
    cd "$REPO_DIR"
}
