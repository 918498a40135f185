#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Tier 3: in the arm64 guest (L1), the rig's VMM (rig/vmm) boots an unmodified Linux
# (L2, the same kernel image) under KVM. L2's SMMUv3 is the crate's vSMMU, its PCI
# device QEMU's edu passed through with VFIO; L2's test program (rig/vmm/src/bin/
# l2-test.rs) does DMA through L2's own arm-smmu-v3 driver. Exits with the VMM's
# status. Usage: rig/l2-tier.sh [VMM ARGS...]
source "$(dirname "$0")/common.sh"
guest_cargo_env arm64
target_dir=$REPO_DIR/target/rig-vmm
log "building the rig's VMM and the L2 test program for $GUEST_TARGET"
cargo build --release --quiet --manifest-path "$RIG_DIR/vmm/Cargo.toml" \
    --target "$GUEST_TARGET" --target-dir "$target_dir"
bin=$target_dir/$GUEST_TARGET/release
kernel=$("$RIG_DIR/build-kernel.sh" arm64)

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# l2_initrd NAME ARGS...: L2's initramfs, whose /init runs l2-test with ARGS.
l2_initrd() {
    local name=$1 root=$work/$1; shift
    mkdir -p "$root"/{dev,proc,sys,tmp}
    cp "$(arm64_guest_init)" "$root/init"
    cp "$bin/l2-test" "$root/test-binary"
    : >"$root/args"
    for a in "$@"; do printf '%s\0' "$a" >>"$root/args"; done
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/$name.cpio.gz"
}
l2_initrd l2
# The bench: rounds of mapping pages one by one and unmapping them at once.
l2_initrd l2-bench bench "${IOMMUFD_L2_BENCH_ROUNDS:-40}" "${IOMMUFD_L2_BENCH_PAGES:-63}"
cp "$kernel" "$work/Image"
files="$work/Image $work/l2.cpio.gz"
bench=()
# IOMMUFD_L2_BENCH=0: the tests only (the walkthrough).
if [ "${IOMMUFD_L2_BENCH:-1}" != 0 ]; then
    files+=" $work/l2-bench.cpio.gz"
    bench=(--bench-initrd /files/l2-bench.cpio.gz)
fi
IOMMUFD_GUEST_FILES=$files "$RIG_DIR/guest-runner-arm64.sh" "$bin/iommufd-rig-vmm" \
    --kernel /files/Image --initrd /files/l2.cpio.gz "${bench[@]}" "$@"
