#!/usr/bin/env python3
"""Writes a minimal multiboot v1 kernel (a.out kludge, loaded at 1 MiB) whose code is the given
hex bytes, for end-to-end tests of btvmm's exit paths. Usage: make_tiny_kernel.py OUT HEXCODE"""
import struct
import sys

LOAD = 0x100000
MAGIC, FLAGS = 0x1BADB002, 0x00010000  # bit 16: the address fields below are valid
out, code = sys.argv[1], bytes.fromhex(sys.argv[2])
header_size = 32
image_size = header_size + len(code)
header = struct.pack("<8I", MAGIC, FLAGS, (-(MAGIC + FLAGS)) & 0xFFFFFFFF,
                     LOAD, LOAD, LOAD + image_size, LOAD + image_size, LOAD + header_size)
with open(out, "wb") as f:
    f.write(header + code)
