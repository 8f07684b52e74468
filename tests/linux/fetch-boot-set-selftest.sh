#!/usr/bin/env bash
# Offline checks of fetch-boot-set.sh with apt replaced by fakes on PATH and tiny packages built
# here: it picks the newest 6.1 686 kernel, refreshes stale lists once, records a stamp, reuses a
# verified set without asking apt, re-fetches a corrupted one, and exits 75 (a visible ctest
# skip through the fixture) when the archive cannot be reached. Never touches the real apt.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
fetch="$here/../../scripts/linux/fetch-boot-set.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fake_deb NAME VERSION FILE...: a minimal i386 package holding FILEs (each gets its own path
# as content), as Debian's archive would serve it.
fake_deb() {
  local name="$1" version="$2" root="$work/pkg-$1"
  shift 2
  mkdir -p "$root/DEBIAN"
  printf 'Package: %s\nVersion: %s\nArchitecture: i386\nMaintainer: t <t@t>\nDescription: t\n' \
    "$name" "$version" >"$root/DEBIAN/control"
  for f in "$@"; do mkdir -p "$root/$(dirname "$f")"; echo "$f" >"$root/$f"; done
  mkdir -p "$work/archive"
  dpkg-deb --root-owner-group -b "$root" "$work/archive/${name}_${version}_i386.deb" >/dev/null
}
fake_deb linux-image-6.1.0-99-686-unsigned 6.1.999-1 \
  boot/vmlinuz-6.1.0-99-686 lib/modules/6.1.0-99-686/modules.order
fake_deb busybox-static 1:1.35.0-9 bin/busybox

# The fake archive: FAKE_ARCHIVE=down finds nothing; FAKE_ARCHIVE=stale offers two kernel ABIs
# but serves downloads only after an `apt-get update`. dpkg says i386 is already enabled.
mkdir "$work/bin"
cat >"$work/bin/apt-cache" <<EOF
#!/bin/sh
echo "apt-cache \$*" >>"$work/apt-calls"
[ "\$FAKE_ARCHIVE" = down ] && exit 100
case "\$1" in
  search) printf '%s - Linux 6.1\n' linux-image-6.1.0-98-686-unsigned linux-image-6.1.0-99-686-unsigned ;;
  policy) printf '%s:\n  Candidate: 1.0\n' "\$2" ;;
esac
EOF
cat >"$work/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$work/apt-calls"
[ "\$FAKE_ARCHIVE" = down ] && exit 100
case "\$*" in
  *update*) touch "$work/lists-fresh" ;;
  *download*)
    [ -e "$work/lists-fresh" ] || exit 100
    for a in "\$@"; do
      case "\$a" in *:i386) cp "$work/archive/\${a%:i386}"_*_i386.deb . || exit 100 ;; esac
    done ;;
esac
EOF
printf '#!/bin/sh\n[ "$1" = --print-foreign-architectures ] && echo i386\nexit 0\n' >"$work/bin/dpkg"
printf '#!/bin/sh\nexec "$@"\n' >"$work/bin/sudo"
chmod +x "$work/bin/"*
export PATH="$work/bin:$PATH"

failures=0
check() {  # check DESCRIPTION COMMAND...: the command's success is the verdict
  local what="$1"
  shift
  if "$@"; then echo "ok:   $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
calls() { grep -c -- "$1" "$work/apt-calls" 2>/dev/null || true; }
run_fetch() { rm -f "$work/apt-calls"; "$fetch" --dir "$set_dir" --print-dir >"$work/out" 2>"$work/err"; status=$?; }

set_dir="$work/cache/linux"
export FAKE_ARCHIVE=stale
run_fetch
check "a first fetch succeeds (exit $status)" [ "$status" = 0 ]
check "it prints the boot-set directory" [ "$(cat "$work/out")" = "$set_dir" ]
check "stale lists are refreshed exactly once ($(calls 'apt-get update') updates)" [ "$(calls 'apt-get update')" = 1 ]
check "the newest kernel ABI is chosen" grep -qx 'KERNEL_RELEASE=6.1.0-99-686' "$set_dir/boot-set.env"
check "package versions are recorded" grep -qx 'BUSYBOX_VERSION=1:1.35.0-9' "$set_dir/boot-set.env"
check "vmlinuz points at the extracted kernel" grep -qx 'boot/vmlinuz-6.1.0-99-686' "$set_dir/vmlinuz"
check "the stamp verifies" sh -c "cd '$set_dir' && sha256sum --quiet --strict -c boot-set.sha256"

run_fetch
check "a verified set is reused (exit $status)" [ "$status" = 0 ]
check "reuse asks apt nothing" [ ! -e "$work/apt-calls" ]

echo corrupted >"$set_dir/busybox/bin/busybox"
run_fetch
check "a set whose checksum fails is fetched again (exit $status)" [ "$status" = 0 ]
check "and the new copy is intact" grep -qx 'bin/busybox' "$set_dir/busybox/bin/busybox"

export FAKE_ARCHIVE=down
echo corrupted >"$set_dir/busybox/bin/busybox"
run_fetch
check "a corrupted set with the archive down exits 75 (got $status)" [ "$status" = 75 ]

set_dir="$work/empty/linux"
run_fetch
check "an empty cache with the archive down exits 75 (got $status)" [ "$status" = 75 ]
check "and says why" grep -q 'archive unreachable' "$work/err"
check "and leaves no partial set behind" [ ! -e "$set_dir/boot-set.sha256" ]

if [ "$failures" != 0 ]; then
  echo "$failures check(s) failed; last stderr:"
  cat "$work/err"
  exit 1
fi
echo "fetch-boot-set.sh: every check passed"
