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
