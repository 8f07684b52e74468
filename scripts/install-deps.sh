#!/usr/bin/env bash
# Installs every Debian package btvmm needs to build, test and benchmark. Idempotent: skips
# apt entirely when everything is already installed. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  gcc-multilib g++-multilib
  libzydis-dev libasmjit-dev libfmt-dev catch2 libcapstone-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev
  qemu-system-x86 cpio xz-utils zstd file
  python3
  gnuplot-nox qemu-user
  kmod fakeroot e2fsprogs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
