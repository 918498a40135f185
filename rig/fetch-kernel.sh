#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
# Downloads Debian's newest linux-source-$KERNEL_SERIES and unpacks it into the cache;
# prints the source tree's path on stdout. The suite it comes from is resolved here:
# every suite the rig knows (trixie, trixie-security, trixie-backports, sid) is in a
# private apt configuration (none of them enters the system's apt), and the newest
# version of the package in any of them wins, so 7.3 comes from trixie-backports,
# 7.2.13 from sid (trixie-backports stops at 7.2.12) and 6.12 from trixie or
# trixie-security. IOMMUFD_KERNEL_DEB_VERSION pins a version.
source "$(dirname "$0")/common.sh"

apt_dir=$RIG_CACHE/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat >"$apt_dir/sources.list.new" <<SRC
deb [signed-by=$key] http://deb.debian.org/debian trixie main
deb [signed-by=$key] http://deb.debian.org/debian-security trixie-security main
deb [signed-by=$key] http://deb.debian.org/debian trixie-backports main
deb [signed-by=$key] http://deb.debian.org/debian sid main
SRC
# A changed suite list makes the cached index stale.
if ! cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list"; then
    mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"; rm -f "$apt_dir/updated"
else
    rm -f "$apt_dir/sources.list.new"
fi
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o DPkg::Lock::Timeout=600)

pkg=linux-source-$KERNEL_SERIES
version=${IOMMUFD_KERNEL_DEB_VERSION:-}
if [ -z "$version" ]; then
    # Reuse an unpacked tree when offline or when the index is fresh enough; the
    # index is shared by concurrent runs, so one updates it at a time.
    exec 9>"$apt_dir/lock"; flock 9
    if [ ! -f "$apt_dir/updated" ] || [ -n "$(find "$apt_dir/updated" -mmin +1440)" ]; then
        apt-get "${apt_opts[@]}" update -q >&2 && touch "$apt_dir/updated" \
            || log "warning: a Debian index update failed; using what is cached"
    fi
    flock -u 9
    candidates=$(apt-cache "${apt_opts[@]}" madison "$pkg" 2>/dev/null \
        | awk -F'|' '{gsub(/ /,"",$2); split($3, where, " "); print $2 " " where[2]}')
    version=$(awk '{print $1}' <<<"$candidates" | sort -V | tail -n1)
    if [ -z "$version" ]; then
        # Offline: the newest tree of exactly this series ("6.1." never matches 6.12).
        cached=$(ls -d "$RIG_CACHE"/src/linux-"$KERNEL_SERIES".[0-9]*/ 2>/dev/null | sort -V | tail -n1)
        [ -n "$cached" ] || die "no $pkg in trixie, trixie-security, trixie-backports or sid, and nothing cached"
        echo "${cached%/}"; exit 0
    fi
    log "$pkg $version from $(awk -v v="$version" '$1 == v {print $2; exit}' <<<"$candidates")"
fi

tree=$RIG_CACHE/src/linux-$version
if [ -f "$tree/.unpacked" ]; then echo "$tree"; exit 0; fi

exec 8>"$RIG_CACHE/src-$version.lock"; flock 8
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
