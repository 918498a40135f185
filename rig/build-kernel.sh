#!/usr/bin/env bash
# Builds (or reuses) the test kernel for one tier and prints the image path on stdout.
# Usage: build-kernel.sh x86|arm64
# The image is cached under $RIG_CACHE keyed by kernel version, option list and patches.
source "$(dirname "$0")/common.sh"

tier=${1:?usage: build-kernel.sh x86|arm64}
case "$tier" in
    x86) arch=x86; cross=; image=arch/x86/boot/bzImage; target=bzImage; opts=$RIG_DIR/config/x86_64.options ;;
    arm64) arch=arm64; cross=aarch64-linux-gnu-; image=arch/arm64/boot/Image; target=Image; opts=$RIG_DIR/config/arm64.options ;;
    *) die "unknown tier '$tier'" ;;
esac
need_cmd make; need_cmd flex "$tier"; need_cmd bison "$tier"; need_cmd bc "$tier"
[ -z "$cross" ] || need_cmd "${cross}gcc" "$tier"

src=$("$RIG_DIR/fetch-kernel.sh") || die "cannot get the kernel source"
version=$(basename "$src"); version=${version#linux-}
patches=("$RIG_DIR"/patches/*.sh)
# Options one series needs on top of the tier's list, in <list>.<series>.options.
series_opts=${opts%.options}.$KERNEL_SERIES.options
[ -f "$series_opts" ] || series_opts=/dev/null
# What the image depends on, and nothing else (an edit to this script's messages must
# not rebuild kernels): the option list, the patches and the recipe below. Bump
# RECIPE when the build commands change.
RECIPE=2
key=$( (echo "recipe $RECIPE $tier"; cat "$opts" "$series_opts"; for p in "${patches[@]}"; do [ -f "$p" ] && cat "$p"; done) | sha256sum | cut -c1-16)
out=$RIG_CACHE/kernel/$tier-$version-$key
if [ -f "$out/image" ]; then log "reusing $tier kernel $version ($key)"; echo "$out/image"; exit 0; fi

# One build per tree at a time; each (tier, version, key) has its own tree, so
# patches and configs of different tiers, series or option lists never mix.
build=$RIG_CACHE/build/$tier-$version-$key
mkdir -p "$RIG_CACHE/build"
exec 9>"$build.lock"; flock 9
if [ -f "$out/image" ]; then log "reusing $tier kernel $version ($key)"; echo "$out/image"; exit 0; fi
if [ ! -f "$build/.copied" ]; then
    log "copying the source tree for $tier $version"
    rm -rf "$build"; mkdir -p "$build"
    cp -a "$src/." "$build/" && touch "$build/.copied"
fi
for p in "${patches[@]}"; do
    [ -f "$p" ] || continue
    log "applying $(basename "$p")"
    bash "$p" "$build" >&2 || die "patch $(basename "$p") failed on $version"
done

mk() { make -C "$build" ARCH=$arch ${cross:+CROSS_COMPILE=$cross} "$@"; }
log "configuring $tier kernel $version"
mk tinyconfig >/dev/null
# "OPT?" in the list: only where this tree defines OPT (options a series adds or
# drops); each one skipped is named. A plain OPT the tree lacks fails the build.
wanted=(); skipped=()
for o in $(cat "$opts" "$series_opts" | grep -v '^#' | tr -s ' \n' ' '); do
    case "$o" in
        *\?) o=${o%\?}
            if grep -rqsx --include='Kconfig*' -e "config $o" -e "menuconfig $o" "$build"; then wanted+=("$o")
            else skipped+=("$o"); fi ;;
        *) wanted+=("$o") ;;
    esac
done
[ ${#skipped[@]} -eq 0 ] || log "options Linux $version does not have, skipped: ${skipped[*]}"
args=(); for o in "${wanted[@]}"; do args+=(-e "$o"); done
"$build/scripts/config" --file "$build/.config" "${args[@]}"
mk olddefconfig >/dev/null
# olddefconfig silently drops what it cannot satisfy: insist on every option.
dropped=()
for o in "${wanted[@]}"; do grep -q "^CONFIG_$o=y" "$build/.config" || dropped+=("$o"); done
[ ${#dropped[@]} -eq 0 ] || die "the final $tier .config of $version lacks: ${dropped[*]} (a dependency is missing, or the option does not exist there; see $opts)"

log "building $tier kernel $version with $(nproc) jobs (4 to 8 minutes)"
start=$(date +%s)
mk -j"$(nproc)" "$target" >"$build/build.log" 2>&1 || { tail -n 40 "$build/build.log" >&2; die "kernel build failed (log: $build/build.log)"; }
log "built in $(( $(date +%s) - start )) s"
mkdir -p "$out"
cp "$build/.config" "$out/config"
echo "$build" >"$out/tree"
cp "$build/$image" "$out/image.tmp" && mv "$out/image.tmp" "$out/image"
echo "$out/image"
