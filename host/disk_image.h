// disk.img: a raw disk image (what qemu-img calls raw) that carries btvmm's boot configuration,
// the kernel, the initrd and the command line, and whose whole content is also the guest's disk.
// The layout is documented in README.md ("disk.img format"); this file is its only parser and
// writer. Parsing never trusts a field: every offset and size is checked against the file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace btvmm::host {

// Sector 1 (bytes 512..1023) of the image, little-endian.
struct DiskImageHeader {
  static constexpr char kMagic[8] = {'B', 'T', 'V', 'M', 'M', 'I', 'M', 'G'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kOffset = 512;

  char magic[8];
  uint32_t version;
  uint32_t header_size;  // 512
  uint64_t kernel_offset, kernel_size;
  uint64_t initrd_offset, initrd_size;
  uint64_t cmdline_offset, cmdline_size;  // without a terminating NUL
  uint64_t rootfs_offset, rootfs_size;    // also MBR partition 1 when present
  uint32_t kernel_crc32, initrd_crc32, cmdline_crc32, rootfs_crc32_reserved;
  uint8_t reserved[512 - 8 - 4 - 4 - 8 * 8 - 4 * 4 - 4];
  uint32_t header_crc32;  // CRC-32 of the 508 bytes before it
};
static_assert(sizeof(DiskImageHeader) == 512);

// What a parsed image offers. The image file stays the guest's disk; these are copies.
struct BootSet {
  std::vector<uint8_t> kernel;
  std::vector<uint8_t> initrd;  // may be empty
  std::string cmdline;
};

struct ParsedImage {
  DiskImageHeader header;
  uint64_t file_size;
  BootSet boot;
};

// Parses an image held in memory (for tests and fuzzing). Throws Error(kBadImage) with the
// image name and the offending field on anything wrong. `bytes` may be only the head of a file
// of `file_size` bytes (the boot set, without the root filesystem): the root filesystem's extent
// is checked against file_size (default: bytes.size()).
ParsedImage parse_disk_image(std::span<const uint8_t> bytes, const std::string& name, uint64_t file_size = UINT64_MAX);
// Reads and parses a file.
ParsedImage read_disk_image(const std::string& path);

struct ImageContents {
  BootSet boot;
  std::vector<uint8_t> rootfs;  // raw filesystem for partition 1, may be empty
};
// Builds the bytes of an image; the size is rounded up to a whole MiB.
std::vector<uint8_t> build_disk_image(const ImageContents& contents);

uint32_t crc32_of(std::span<const uint8_t> bytes);

}  // namespace btvmm::host
