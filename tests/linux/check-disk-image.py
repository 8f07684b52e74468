#!/usr/bin/env python3
# Black-box check of a disk.img made by scripts/linux/make-disk-image.sh: the boot configuration
# at offset 512 (README "disk.img format") holds exactly the given kernel, initrd and command
# line, with valid CRC-32s. Reads the files only.
import struct
import sys
import zlib

HEADER_OFFSET = 512
# magic, version, header_size, then kernel/initrd/cmdline/rootfs (offset, size) pairs and CRCs.
FIELDS = struct.Struct("<8sII8Q4I")


def check(image: bytes, kernel: bytes, initrd: bytes, cmdline: bytes) -> list[str]:
    errors = []
    if len(image) < HEADER_OFFSET + 512:
        return [f"image of {len(image)} bytes is too short for a boot configuration"]
    header = image[HEADER_OFFSET:HEADER_OFFSET + 512]
    (magic, version, header_size, k_off, k_size, i_off, i_size, c_off, c_size, _r_off, _r_size,
     k_crc, i_crc, c_crc, _reserved) = FIELDS.unpack_from(header)
    if magic != b"BTVMMIMG":
        errors.append(f"magic {magic!r}, expected b'BTVMMIMG'")
    if version != 1 or header_size != 512:
        errors.append(f"version {version} header_size {header_size}, expected 1 and 512")
    (header_crc,) = struct.unpack_from("<I", header, 508)
    if zlib.crc32(header[:508]) != header_crc:
        errors.append("boot configuration CRC-32 does not match")
    for what, off, size, crc, want in (("kernel", k_off, k_size, k_crc, kernel),
                                       ("initrd", i_off, i_size, i_crc, initrd),
                                       ("command line", c_off, c_size, c_crc, cmdline)):
        got = image[off:off + size]
        if got != want:
            errors.append(f"{what} at offset {off} size {size} differs from the input "
                          f"({len(want)} bytes)")
        elif zlib.crc32(got) != crc:
            errors.append(f"{what} CRC-32 does not match")
        else:
            print(f"ok: {what}: {size} bytes at offset {off}")
    if len(image) % (1 << 20):
        errors.append(f"image size {len(image)} is not a whole number of MiB")
    return errors


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: check-disk-image.py IMAGE KERNEL INITRD CMDLINE", file=sys.stderr)
        return 2
    paths = sys.argv[1:4]
    image, kernel, initrd = (open(p, "rb").read() for p in paths)
    errors = check(image, kernel, initrd, sys.argv[4].encode())
    for e in errors:
        print(f"FAIL: {paths[0]}: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
