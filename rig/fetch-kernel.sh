#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Downloads Debian's newest linux-source-$KERNEL_SERIES from trixie-backports through a
# private apt configuration (trixie never enters the system's apt) and unpacks it into
# the cache. Prints the source tree's path on stdout.
source "$(dirname "$0")/common.sh"

apt_dir=$RIG_CACHE/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main" \
    >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o DPkg::Lock::Timeout=600)

pkg=linux-source-$KERNEL_SERIES
version=${IOMMUFD_KERNEL_DEB_VERSION:-}
if [ -z "$version" ]; then
    # Reuse an unpacked tree when offline or when the index is fresh enough.
    if [ ! -f "$apt_dir/updated" ] || [ -n "$(find "$apt_dir/updated" -mmin +1440)" ]; then
        apt-get "${apt_opts[@]}" update -q >&2 && touch "$apt_dir/updated" \
            || log "warning: trixie-backports index update failed; using what is cached"
    fi
    version=$(apt-cache "${apt_opts[@]}" madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -V | tail -n1)
    if [ -z "$version" ]; then
        cached=$(ls -d "$RIG_CACHE"/src/linux-"$KERNEL_SERIES"*/ 2>/dev/null | sort -V | tail -n1)
        [ -n "$cached" ] || die "no $pkg in trixie-backports and nothing cached"
        echo "${cached%/}"; exit 0
    fi
fi

tree=$RIG_CACHE/src/linux-$version
if [ -f "$tree/.unpacked" ]; then echo "$tree"; exit 0; fi

log "downloading $pkg=$version"
work=$(mktemp -d "$RIG_CACHE/dl.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${apt_opts[@]}" download "$pkg=$version" >&2) || die "apt-get download $pkg=$version failed"
dpkg-deb -x "$work"/*.deb "$work/x" || die "cannot unpack the .deb"
rm -rf "$tree"; mkdir -p "$tree"
tar -xf "$work"/x/usr/src/linux-source-"$KERNEL_SERIES".tar.xz -C "$tree" --strip-components=1 \
    || die "cannot untar the kernel source"
touch "$tree/.unpacked"
log "kernel source in $tree"
echo "$tree"
