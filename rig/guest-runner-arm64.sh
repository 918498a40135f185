#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Cargo runner for the arm64 kernel tier: boots the arm64 test kernel on QEMU's virt
# machine with an emulated SMMUv3 (both stages) and two edu devices on vfio-pci, with
# BINARY as the workload, and exits with its status.
# Usage: guest-runner-arm64.sh BINARY [ARGS...]
# Exit status: the binary's, or 124 on timeout, 125 when the guest ended without
# reporting one.
source "$(dirname "$0")/common.sh"

bin=${1:?usage: guest-runner-arm64.sh BINARY [ARGS...]}; shift
[ -x "$bin" ] || die "not an executable: $bin"
need_cmd qemu-system-aarch64 arm64; need_cmd aarch64-linux-gnu-gcc arm64; need_cmd cpio arm64
firmware=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
[ -f "$firmware" ] || die "missing $firmware (run rig/install-deps.sh arm64)"
if readelf -l "$bin" 2>/dev/null | grep -q INTERP; then
    die "$bin is dynamically linked: build with crt-static and --target aarch64-unknown-linux-gnu"
fi
kernel=$("$RIG_DIR/build-kernel.sh" arm64) || die "no arm64 test kernel"
timeout_s=${IOMMUFD_GUEST_TIMEOUT:-900}
cache=$RIG_CACHE/arm64; mkdir -p "$cache"

init=$(arm64_guest_init)

machine=(-machine virt,iommu=smmuv3,gic-version=3,virtualization=on -cpu max,pauth-impdef=on -smp 2 -m 2G
    -nographic -nodefaults -serial stdio -no-reboot -bios "$firmware"
    -device edu,bus=pcie.0,addr=3,dma_mask=0xffffffffffffffff
    -device edu,bus=pcie.0,addr=4,dma_mask=0xffffffffffffffff)
append="console=ttyAMA0 acpi=force panic=-1 panic_on_warn=1 quiet"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# pack ROOT_DIR OUT: a gzip'd newc cpio of a directory.
pack() { (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"; }

# boot INITRD CONSOLE_LOG: runs the guest, console to the log and (filtered) stdout.
boot() {
    set +e
    timeout "$timeout_s" qemu-system-aarch64 "${machine[@]}" -kernel "$kernel" -initrd "$1" \
        -append "$append" </dev/null 2>&1 | tr -d '\r' | tee "$2" \
        | sed -e 's/\x1bc//g' -e 's/\x1b\[[0-9;?=]*[a-zA-Z]//g' \
        | grep -v -e 'IOMMUFD-RIG-EXIT=' -e '^IORT-HEX:' -e 'EFI stub:' -e '^UEFI firmware' -e '^BdsDxe:' -e '^\s*$'
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

# The IORT QEMU generates depends on the machine command line: take it from a first
# boot, patch it, cache it by QEMU version and command line.
iort_key=$( (qemu-system-aarch64 --version; printf '%s\n' "${machine[@]}") | sha256sum | cut -c1-16)
iort=$cache/iort-$iort_key.aml
if [ ! -f "$iort" ]; then
    log "reading QEMU's IORT for this machine (one extra boot)"
    mkdir -p "$work/dump"
    cp "$init" "$work/dump/init"; cp "$init" "$work/dump/test-binary"
    mkdir -p "$work/dump"/{dev,proc,sys,tmp}
    printf 'dump-iort\0' >"$work/dump/args"
    pack "$work/dump" "$work/dump.gz"
    boot "$work/dump.gz" "$work/dump.log" >/dev/null || true
    grep -o 'IORT-HEX:[0-9a-f]*' "$work/dump.log" | cut -d: -f2 >"$work/iort.hex"
    [ -s "$work/iort.hex" ] || { tail -n 40 "$work/dump.log" >&2; die "the guest did not print its IORT"; }
    python3 "$RIG_DIR/iort_patch.py" "$work/iort.hex" "$iort.tmp" >&2 || die "cannot patch the IORT"
    mv "$iort.tmp" "$iort"
fi

# Uncompressed cpio with the table upgrade first, then the gzip'd root.
mkdir -p "$work/override/kernel/firmware/acpi"
cp "$iort" "$work/override/kernel/firmware/acpi/iort.aml"
(cd "$work/override" && find kernel | cpio -o -H newc --quiet) >"$work/initrd"
root=$work/root
mkdir -p "$root"/{dev,proc,sys,tmp}
cp "$init" "$root/init"
cp "$bin" "$root/test-binary"
: >"$root/args"
for a in "$@"; do printf '%s\0' "$a" >>"$root/args"; done
# IOMMUFD_GUEST_FILES: more files for the workload, as /files/NAME (the L2 tier's
# kernel and initramfs).
if [ -n "${IOMMUFD_GUEST_FILES:-}" ]; then
    mkdir -p "$root/files"
    for f in $IOMMUFD_GUEST_FILES; do
        [ -f "$f" ] || die "IOMMUFD_GUEST_FILES names a missing file: $f"
        cp "$f" "$root/files/"
    done
fi
: >"$root/env"
for v in RUST_BACKTRACE RUST_TEST_THREADS IOMMUFD_BENCH_SECONDS; do
    if [ -n "${!v:-}" ]; then printf '%s=%s\0' "$v" "${!v}" >>"$root/env"; fi
done
pack "$root" "$work/root.gz"
cat "$work/root.gz" >>"$work/initrd"

console=$work/console.log
boot "$work/initrd" "$console" && qemu_status=0 || qemu_status=$?
status=$(grep -o 'IOMMUFD-RIG-EXIT=[0-9]*' "$console" | tail -n1 | cut -d= -f2)
if [ -n "$status" ]; then exit "$status"; fi
if [ "$qemu_status" -eq 124 ]; then
    log "the arm64 guest timed out after ${timeout_s}s; last console lines:"
    tail -n 40 "$console" >&2; exit 124
fi
log "the arm64 guest ended without an exit status (kernel panic or WARN?); last console lines:"
tail -n 60 "$console" >&2
exit 125
