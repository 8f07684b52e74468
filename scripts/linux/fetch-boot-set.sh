#!/usr/bin/env bash
# Assembles the Linux boot set (Debian's stock non-PAE i386 kernel + busybox-static:i386) in a
# cache outside the source tree. Never modifies the packages and never writes into the repo.
# Usage: fetch-boot-set.sh [--dir DIR] [--refresh] [--print-dir]
#   --dir DIR    the boot-set directory (default ${BTVMM_CACHE:-$HOME/.cache/btvmm}/linux)
#   --refresh    ask the archive again for the newest 6.1 686 kernel even if a set is cached
#   --print-dir  print the boot-set directory on stdout (all progress goes to stderr)
# Exit status: 0 ready, 1 error, 75 the Debian archive (or apt) cannot be reached.
set -euo pipefail

readonly EXIT_UNREACHABLE=75
cache_root="${BTVMM_CACHE:-$HOME/.cache/btvmm}"
dir="$cache_root/linux"
refresh=0
print_dir=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift ;;
    --refresh) refresh=1 ;;
    --print-dir) print_dir=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch-boot-set: unknown argument '$1'" >&2; exit 1 ;;
  esac
  shift
done

log() { echo "fetch-boot-set: $*" >&2; }
unreachable() { log "$*"; exit "$EXIT_UNREACHABLE"; }

mkdir -p "$dir"
# Several engineers and ctest runs share one cache: one fetch at a time.
exec 9>"$dir/.lock"
flock 9

stamp="$dir/boot-set.sha256"
env_file="$dir/boot-set.env"

# The stamp lists the checksums of the downloaded packages and of the files the boot needs
# (modules.order stands for the extracted modules tree);
# a set whose stamp still verifies is reused without touching the network.
if [ "$refresh" = 0 ] && [ -f "$stamp" ] && [ -f "$env_file" ] &&
   (cd "$dir" && sha256sum --quiet --strict -c boot-set.sha256 >/dev/null 2>&1); then
  log "reusing the verified boot set in $dir"
  [ "$print_dir" = 1 ] && echo "$dir"
  exit 0
fi

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  unreachable "apt-get/dpkg-deb not found: this script needs a Debian (or derived) host"
fi

# Only enabling i386 and refreshing the lists need root; a user without sudo can still fetch
# when root has done that once.
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

# i386 packages are visible to apt only once the architecture is enabled and the lists are
# refreshed. A partial update failure (e.g. a security mirror mid-sync) is tolerated: what
# matters is that the packages below have a download candidate.
if ! grep -qx i386 <<<"$(dpkg --print-foreign-architectures)"; then
  log "enabling the i386 architecture (dpkg --add-architecture i386)"
  $SUDO dpkg --add-architecture i386 || { log "dpkg --add-architecture i386 failed: run this once as root"; exit 1; }
  refresh=1
fi
# grep -q stops reading early; with pipefail the writer's SIGPIPE would fail the pipeline, so
# the candidate check reads apt-cache's whole answer first.
has_candidate() {
  local policy
  policy="$(apt-cache policy "$1" 2>/dev/null)" || return 1
  grep -q 'Candidate: [0-9]' <<<"$policy"
}
kernel_candidates() {
  apt-cache search --names-only '^linux-image-6\.1\.[0-9]+-[0-9]+-686-unsigned$' 2>/dev/null |
    awk '{print $1}' | sort -V
}
updated=0
update_lists() {
  log "apt-get update"
  $SUDO apt-get update -qq >&2 || log "apt-get update reported errors; continuing with the lists it got"
  updated=1
}
if [ "$refresh" = 1 ] || [ -z "$(kernel_candidates)" ]; then update_lists; fi

# Newest ABI of the 6.1 series built for 686 without PAE (the "-686-pae" flavour is excluded by
# the pattern); "-unsigned" is the real image package, the signed one is amd64-only.
newest_kernel() {
  local name
  for name in $(kernel_candidates | tac); do
    if has_candidate "$name:i386"; then echo "$name"; return; fi
  done
}
busybox_pkg=busybox-static

tmp="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# As root, apt would hand the download to its _apt user, which cannot enter a private $HOME:
# download as root instead (apt still checks each package against the signed index).
apt_opts=(-q)
if [ "$(id -u)" = 0 ]; then apt_opts+=(-o APT::Sandbox::User=root); fi
# download: resolves and downloads into $tmp/debs; fails when the lists or the archive fail us.
download() {
  kernel_pkg="$(newest_kernel)"
  if [ -z "$kernel_pkg" ]; then log "no linux-image-6.1.*-686-unsigned:i386 in the apt lists"; return 1; fi
  if ! has_candidate "$busybox_pkg:i386"; then log "no busybox-static:i386 in the apt lists"; return 1; fi
  rm -rf "$tmp/debs"
  mkdir "$tmp/debs"
  log "downloading $kernel_pkg:i386 and $busybox_pkg:i386"
  (cd "$tmp/debs" && apt-get download "${apt_opts[@]}" "$kernel_pkg:i386" "$busybox_pkg:i386" >&2)
}
# Lists left from an earlier day may name a package the archive has since replaced: refresh
# them once before concluding that the archive cannot be reached.
if ! download; then
  failed="cannot download the boot set from the Debian archive (archive unreachable?)"
  [ "$updated" = 0 ] || unreachable "$failed"
  update_lists
  download || unreachable "$failed"
fi

kernel_deb="$(ls "$tmp"/debs/"$kernel_pkg"_*_i386.deb)"
busybox_deb="$(ls "$tmp"/debs/"$busybox_pkg"_*_i386.deb)"
kernel_version="$(dpkg-deb -f "$kernel_deb" Version)"
busybox_version="$(dpkg-deb -f "$busybox_deb" Version)"

log "extracting $kernel_pkg $kernel_version and $busybox_pkg $busybox_version"
dpkg-deb -x "$kernel_deb" "$tmp/kernel"
dpkg-deb -x "$busybox_deb" "$tmp/busybox"
release="$(basename "$(ls -d "$tmp"/kernel/lib/modules/*)")"
[ -f "$tmp/kernel/boot/vmlinuz-$release" ] || { log "$kernel_deb: no boot/vmlinuz-$release"; exit 1; }
[ -f "$tmp/busybox/bin/busybox" ] || { log "$busybox_deb: no bin/busybox"; exit 1; }

cat >"$tmp/boot-set.env" <<EOF
KERNEL_PACKAGE=$kernel_pkg
KERNEL_VERSION=$kernel_version
KERNEL_RELEASE=$release
BUSYBOX_PACKAGE=$busybox_pkg
BUSYBOX_VERSION=$busybox_version
VMLINUZ=kernel/boot/vmlinuz-$release
MODULES=kernel/lib/modules/$release
BUSYBOX=busybox/bin/busybox
EOF

# Replace the previous set only once the new one is complete.
rm -rf "$dir/debs" "$dir/kernel" "$dir/busybox" "$stamp"
mv "$tmp/debs" "$tmp/kernel" "$tmp/busybox" "$dir/"
mv "$tmp/boot-set.env" "$env_file"
ln -sfn "kernel/boot/vmlinuz-$release" "$dir/vmlinuz"
(cd "$dir" && sha256sum debs/*.deb "kernel/boot/vmlinuz-$release" "kernel/lib/modules/$release/modules.order" \
   busybox/bin/busybox boot-set.env \
   >"$stamp.new" && mv "$stamp.new" "$stamp")
log "boot set ready in $dir: $kernel_pkg $kernel_version, $busybox_pkg $busybox_version"
[ "$print_dir" = 1 ] && echo "$dir"
exit 0
