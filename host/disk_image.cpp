#include "host/disk_image.h"

#include <zlib.h>

#include <cstring>
#include <fstream>

#include "core/error.h"

namespace btvmm::host {

namespace {

constexpr uint64_t kPayloadAlign = 4096;
constexpr uint64_t kRootfsAlign = 1 << 20;  // partitions start on a MiB, like fdisk does
constexpr uint64_t kMbrPartitionTable = 446;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Checks that [offset, offset+size) lies in the file and after the header; returns the span.
std::span<const uint8_t> section(std::span<const uint8_t> bytes, const std::string& name, const char* what,
                                 uint64_t offset, uint64_t size) {
  const uint64_t header_end = DiskImageHeader::kOffset + sizeof(DiskImageHeader);
  if (size == 0) return {};
  if (offset < header_end || offset > bytes.size() || size > bytes.size() - offset)
    fail(ExitCode::kBadImage, "{}: {} at offset {} size {} lies outside the image ({} bytes): truncated or corrupt", name,
         what, offset, size, bytes.size());
  return bytes.subspan(offset, size);
}

void check_crc(const std::string& name, const char* what, std::span<const uint8_t> data, uint32_t expected) {
  uint32_t got = crc32_of(data);
  if (got != expected)
    fail(ExitCode::kBadImage, "{}: {} checksum mismatch (stored {:#010x}, computed {:#010x}): corrupt image", name, what,
         expected, got);
}

}  // namespace

uint32_t crc32_of(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large buffers in pieces.
  size_t done = 0;
  while (done < bytes.size()) {
    size_t n = std::min<size_t>(bytes.size() - done, 1u << 30);
    crc = crc32(crc, bytes.data() + done, static_cast<uInt>(n));
    done += n;
  }
  return static_cast<uint32_t>(crc);
}

ParsedImage parse_disk_image(std::span<const uint8_t> bytes, const std::string& name, uint64_t file_size) {
  if (file_size == UINT64_MAX) file_size = bytes.size();
  const uint64_t header_end = DiskImageHeader::kOffset + sizeof(DiskImageHeader);
  if (bytes.size() < header_end)
    fail(ExitCode::kBadImage, "{}: {} bytes is too small for a btvmm disk image (header ends at {})", name, bytes.size(),
         header_end);
  ParsedImage out{};
  std::memcpy(&out.header, bytes.data() + DiskImageHeader::kOffset, sizeof(DiskImageHeader));
  const DiskImageHeader& h = out.header;
  if (std::memcmp(h.magic, DiskImageHeader::kMagic, sizeof(h.magic)) != 0)
    fail(ExitCode::kBadImage, "{}: no btvmm boot configuration at offset 512 (bad magic); make one with 'btvmm mkimage'",
         name);
  if (h.version != DiskImageHeader::kVersion)
    fail(ExitCode::kBadImage, "{}: boot configuration version {} is not supported (this btvmm reads version {})", name,
         h.version, DiskImageHeader::kVersion);
  if (h.header_size != sizeof(DiskImageHeader))
    fail(ExitCode::kBadImage, "{}: boot configuration header size {} (expected {})", name, h.header_size,
         sizeof(DiskImageHeader));
  auto header_bytes = bytes.subspan(DiskImageHeader::kOffset, offsetof(DiskImageHeader, header_crc32));
  check_crc(name, "boot configuration", header_bytes, h.header_crc32);
  if (h.kernel_size == 0) fail(ExitCode::kBadImage, "{}: boot configuration names no kernel", name);

  auto kernel = section(bytes, name, "kernel", h.kernel_offset, h.kernel_size);
  auto initrd = section(bytes, name, "initrd", h.initrd_offset, h.initrd_size);
  auto cmdline = section(bytes, name, "command line", h.cmdline_offset, h.cmdline_size);
  // The root filesystem is not part of `bytes` when only the boot set was read: check its extent
  // against the whole file.
  if (h.rootfs_size && (h.rootfs_offset < header_end || h.rootfs_offset > file_size ||
                        h.rootfs_size > file_size - h.rootfs_offset))
    fail(ExitCode::kBadImage, "{}: root filesystem at offset {} size {} lies outside the image ({} bytes): truncated or corrupt",
         name, h.rootfs_offset, h.rootfs_size, file_size);
  check_crc(name, "kernel", kernel, h.kernel_crc32);
  check_crc(name, "initrd", initrd, h.initrd_crc32);
  check_crc(name, "command line", cmdline, h.cmdline_crc32);
  if (std::memchr(cmdline.data(), 0, cmdline.size()))
    fail(ExitCode::kBadImage, "{}: command line contains a NUL byte", name);

  out.file_size = file_size;
  out.boot.kernel.assign(kernel.begin(), kernel.end());
  out.boot.initrd.assign(initrd.begin(), initrd.end());
  out.boot.cmdline.assign(cmdline.begin(), cmdline.end());
  return out;
}

ParsedImage read_disk_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ExitCode::kBadImage, "{}: cannot open disk image: {}", path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) fail(ExitCode::kBadImage, "{}: cannot determine the image size", path);
  in.seekg(0);
  // The boot set is read whole: kernels and initrds are tens of MiB at most; the rest of the disk
  // (the root filesystem) is only checked for extent here and read by the block device later.
  std::vector<uint8_t> bytes(static_cast<size_t>(std::min<std::streamoff>(size, 1024)));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) fail(ExitCode::kBadImage, "{}: read error", path);
  ParsedImage head{};
  if (bytes.size() >= 1024) std::memcpy(&head.header, bytes.data() + 512, sizeof(head.header));
  uint64_t boot_end = 1024;
  for (auto [off, len] : {std::pair{head.header.kernel_offset, head.header.kernel_size},
                          std::pair{head.header.initrd_offset, head.header.initrd_size},
                          std::pair{head.header.cmdline_offset, head.header.cmdline_size}})
    if (off <= uint64_t(size) && len <= uint64_t(size) - off) boot_end = std::max(boot_end, off + len);
  boot_end = std::min<uint64_t>(boot_end, static_cast<uint64_t>(size));
  bytes.resize(boot_end);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(boot_end));
  if (!in) fail(ExitCode::kBadImage, "{}: read error", path);
  // Parse with the real file size so that out-of-file extents are reported as truncation.
  ParsedImage out = parse_disk_image(std::span<const uint8_t>(bytes), path, static_cast<uint64_t>(size));
  out.file_size = static_cast<uint64_t>(size);
  return out;
}

std::vector<uint8_t> build_disk_image(const ImageContents& c) {
  if (c.boot.kernel.empty()) fail(ExitCode::kUsage, "mkimage: no kernel given");
  DiskImageHeader h{};
  std::memcpy(h.magic, DiskImageHeader::kMagic, sizeof(h.magic));
  h.version = DiskImageHeader::kVersion;
  h.header_size = sizeof(DiskImageHeader);
  uint64_t pos = align_up(DiskImageHeader::kOffset + sizeof(h), kPayloadAlign);
  auto place = [&pos](uint64_t size, uint64_t& off, uint64_t& sz) {
    sz = size;
    off = size ? pos : 0;
    pos = align_up(pos + size, kPayloadAlign);
  };
  place(c.boot.kernel.size(), h.kernel_offset, h.kernel_size);
  place(c.boot.initrd.size(), h.initrd_offset, h.initrd_size);
  place(c.boot.cmdline.size(), h.cmdline_offset, h.cmdline_size);
  if (!c.rootfs.empty()) {
    pos = align_up(pos, kRootfsAlign);
    h.rootfs_offset = pos;
    h.rootfs_size = c.rootfs.size();
    pos += c.rootfs.size();
  }
  h.kernel_crc32 = crc32_of(c.boot.kernel);
  h.initrd_crc32 = crc32_of(c.boot.initrd);
  h.cmdline_crc32 = crc32_of(std::span(reinterpret_cast<const uint8_t*>(c.boot.cmdline.data()), c.boot.cmdline.size()));
  h.header_crc32 = crc32_of(std::span(reinterpret_cast<const uint8_t*>(&h), offsetof(DiskImageHeader, header_crc32)));

  std::vector<uint8_t> img(align_up(pos, kRootfsAlign), 0);
  std::memcpy(img.data() + DiskImageHeader::kOffset, &h, sizeof(h));
  auto put = [&img](uint64_t off, const auto& data) {
    if (!data.empty()) std::memcpy(img.data() + off, data.data(), data.size());
  };
  put(h.kernel_offset, c.boot.kernel);
  put(h.initrd_offset, c.boot.initrd);
  put(h.cmdline_offset, c.boot.cmdline);
  put(h.rootfs_offset, c.rootfs);
  // MBR: one Linux partition (type 0x83) over the root filesystem, LBA addressing, so the guest
  // sees its root as partition 1 of the disk. The boot area is zero: btvmm boots directly.
  if (h.rootfs_size) {
    uint8_t* e = img.data() + kMbrPartitionTable;
    uint32_t lba = static_cast<uint32_t>(h.rootfs_offset / 512);
    uint32_t sectors = static_cast<uint32_t>(align_up(h.rootfs_size, 512) / 512);
    e[0] = 0x00;                  // not bootable
    e[1] = 0xfe, e[2] = 0xff, e[3] = 0xff;  // CHS start: use LBA
    e[4] = 0x83;
    e[5] = 0xfe, e[6] = 0xff, e[7] = 0xff;
    std::memcpy(e + 8, &lba, 4);
    std::memcpy(e + 12, &sectors, 4);
  }
  img[510] = 0x55;
  img[511] = 0xaa;
  return img;
}

}  // namespace btvmm::host
