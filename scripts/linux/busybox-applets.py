#!/usr/bin/env python3
# Prints the applet names compiled into an i386 busybox binary, one per line, without running it
# (this host cannot execute 32-bit ELF files). Only reads the binary; refuses to guess.
#
# BusyBox keeps its applet names as one sorted run of NUL-terminated strings beginning with the
# test applets "[" and "[[" (libbb/appletlib.c, applet_names[]); the run ends at an empty string.
import re
import sys

REQUIRED = {"sh", "mount", "reboot", "setsid", "cttyhack", "seq", "sort", "head", "uname",
            "modprobe", "ls", "cat", "true"}
NAME = re.compile(r"^[a-z0-9_.\[\]-]+$")


def applet_names(data: bytes) -> list[str]:
    start = data.find(b"[\x00[[\x00")
    if start < 0:
        raise ValueError("no applet name table (\"[\", \"[[\") found")
    end = data.index(b"\x00\x00", start)
    names = [n.decode("ascii") for n in data[start:end].split(b"\x00")]
    if names != sorted(names) or not all(NAME.match(n) for n in names):
        raise ValueError("the table found is not a sorted list of applet names")
    missing = REQUIRED - set(names)
    if missing:
        raise ValueError("applets the initramfs needs are missing: " + " ".join(sorted(missing)))
    return names


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: busybox-applets.py BUSYBOX", file=sys.stderr)
        return 1
    try:
        with open(sys.argv[1], "rb") as f:
            names = applet_names(f.read())
    except (OSError, ValueError) as e:
        print(f"busybox-applets: {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    print("\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
