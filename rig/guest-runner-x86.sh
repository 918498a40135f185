#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Cargo runner for the x86_64 kernel tier: boots the test kernel (mock IOMMU) under
# QEMU with BINARY as the workload and exits with its status.
# Usage: guest-runner-x86.sh BINARY [ARGS...]
# Exit status: the binary's, or 124 on timeout, 125 when the guest ended without
# reporting one (panic, kernel WARN with panic_on_warn, crash).
source "$(dirname "$0")/common.sh"

bin=${1:?usage: guest-runner-x86.sh BINARY [ARGS...]}; shift
[ -x "$bin" ] || die "not an executable: $bin"
if readelf -l "$bin" 2>/dev/null | grep -q 'INTERP'; then die "$bin is dynamically linked: build with RUSTFLAGS='-C target-feature=+crt-static' and --target x86_64-unknown-linux-gnu"; fi
need_cmd qemu-system-x86_64 x86; need_cmd cpio x86
busybox=/bin/busybox
[ -x "$busybox" ] && file "$busybox" | grep -q 'statically linked' || busybox=$(command -v busybox.static || true)
[ -n "$busybox" ] || die "missing busybox-static (run rig/install-deps.sh x86)"

kernel=$("$RIG_DIR/build-kernel.sh" x86) || die "no x86 test kernel"
timeout_s=${IOMMUFD_GUEST_TIMEOUT:-900}

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run}
cp "$busybox" "$root/bin/busybox"
cp "$bin" "$root/test-binary"
# Files a script workload needs beside it (space separated), placed in /.
for f in ${IOMMUFD_GUEST_EXTRA_FILES:-}; do cp "$f" "$root/"; done
quoted=""
for a in "$@"; do quoted+=" '${a//\'/\'\\\'\'}'"; done
envs=""
for v in RUST_BACKTRACE RUST_TEST_THREADS RUST_LOG IOMMUFD_BENCH_SECONDS IOMMUFD_MODEL_SEED; do
    [ -n "${!v:-}" ] && envs+="export $v='${!v}'; "
done
cat >"$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
echo 256 > /proc/sys/vm/nr_hugepages
dmesg -n 1
[ -e /dev/iommu ] || echo "rig: /dev/iommu is missing in the guest"
cd /tmp
$envs/test-binary$quoted
status=\$?
if [ \$status -ne 0 ]; then echo "rig: kernel log follows"; dmesg | tail -n 30; fi
echo "IOMMUFD-RIG-EXIT=\$status"
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

console=$work/console.log
# The firmware's last line has no newline: the program's first line follows it on
# the same line, so strip the firmware's text, not the line.
set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp 2 -nographic -no-reboot \
    -nic none -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 panic_on_warn=1 quiet" </dev/null 2>&1 \
    | tr -d "\r" | tee "$console" | sed -e "s/\x1bc//g" -e "s/\x1b\[[0-9;?=]*[a-zA-Z]//g" \
        -e "/^SeaBIOS (version/d" -e "/^Booting from ROM\.*$/d" -e "s/^Booting from ROM\.*//" \
    | grep -v -e "IOMMUFD-RIG-EXIT=" -e "reboot: Restarting system"
qemu_status=${PIPESTATUS[0]}
set -e
status=$(grep -o 'IOMMUFD-RIG-EXIT=[0-9]*' "$console" | tail -n1 | cut -d= -f2)
if [ -n "$status" ]; then exit "$status"; fi
if [ "$qemu_status" -eq 124 ]; then
    log "the guest timed out after ${timeout_s}s (IOMMUFD_GUEST_TIMEOUT); last console lines:"
    tail -n 40 "$console" >&2; exit 124
fi
log "the guest ended without an exit status (kernel panic or WARN?); last console lines:"
tail -n 60 "$console" >&2
exit 125
