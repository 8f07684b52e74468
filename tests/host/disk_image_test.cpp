#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "core/error.h"
#include "host/disk_image.h"

using namespace btvmm;
using namespace btvmm::host;

namespace {
ImageContents sample() {
  ImageContents c;
  c.boot.kernel.assign(10000, 0xab);
  c.boot.initrd.assign(5000, 0xcd);
  c.boot.cmdline = "console=ttyS0 test=all";
  c.rootfs.assign(3 << 20, 0x11);
  return c;
}

// Fuzz seeds stay small (no root filesystem, cut after the last payload) so the ASan twin
// runs in seconds.
std::vector<uint8_t> small_image() {
  ImageContents c = sample();
  c.rootfs.clear();
  auto img = build_disk_image(c);
  auto p = parse_disk_image(img, "x");
  img.resize(p.header.cmdline_offset + p.header.cmdline_size);
  return img;
}

ExitCode code_of(const std::vector<uint8_t>& img) {
  try {
    parse_disk_image(img, "test.img");
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::kOk;
}
}  // namespace

TEST_CASE("disk_image_round_trips_kernel_initrd_cmdline") {
  auto c = sample();
  auto img = build_disk_image(c);
  CHECK(img.size() % (1 << 20) == 0);
  auto p = parse_disk_image(img, "test.img");
  CHECK(p.boot.kernel == c.boot.kernel);
  CHECK(p.boot.initrd == c.boot.initrd);
  CHECK(p.boot.cmdline == c.boot.cmdline);
  CHECK(p.header.rootfs_size == c.rootfs.size());
  CHECK(p.header.rootfs_offset % (1 << 20) == 0);
  CHECK(std::memcmp(img.data() + p.header.rootfs_offset, c.rootfs.data(), c.rootfs.size()) == 0);
}

TEST_CASE("disk_image_has_an_mbr_partition_over_the_root_filesystem") {
  auto c = sample();
  auto img = build_disk_image(c);
  CHECK(img[510] == 0x55);
  CHECK(img[511] == 0xaa);
  CHECK(img[446 + 4] == 0x83);
  uint32_t lba, sectors;
  std::memcpy(&lba, img.data() + 446 + 8, 4);
  std::memcpy(&sectors, img.data() + 446 + 12, 4);
  auto p = parse_disk_image(img, "x");
  CHECK(uint64_t(lba) * 512 == p.header.rootfs_offset);
  CHECK(uint64_t(sectors) * 512 == c.rootfs.size());
}

TEST_CASE("disk_image_rejects_every_truncation_with_bad_image") {
  auto img = build_disk_image(sample());
  auto p = parse_disk_image(img, "x");
  // Truncating anywhere before the end of the last payload must be reported, never crash.
  uint64_t payload_end = p.header.rootfs_offset + p.header.rootfs_size;
  for (uint64_t len : {uint64_t(0), uint64_t(100), uint64_t(511), uint64_t(1000), uint64_t(1023), uint64_t(4096),
                       p.header.kernel_offset + 1, p.header.initrd_offset + 10, payload_end - 1}) {
    std::vector<uint8_t> t(img.begin(), img.begin() + static_cast<long>(len));
    INFO("length " << len);
    CHECK(code_of(t) == ExitCode::kBadImage);
  }
}

TEST_CASE("disk_image_detects_a_flipped_bit_in_every_section") {
  auto img = build_disk_image(sample());
  auto p = parse_disk_image(img, "x");
  for (uint64_t off : {uint64_t(512 + 9), p.header.kernel_offset + 5000, p.header.initrd_offset + 1,
                       p.header.cmdline_offset + 3}) {
    auto bad = img;
    bad[off] ^= 0x10;
    INFO("offset " << off);
    CHECK(code_of(bad) == ExitCode::kBadImage);
  }
}

TEST_CASE("disk_image_rejects_wrong_magic_and_version_with_a_clear_message") {
  auto img = build_disk_image(sample());
  auto bad = img;
  bad[512] = 'X';
  try {
    parse_disk_image(bad, "disk.img");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("disk.img: no btvmm boot configuration") != std::string::npos);
  }
}

TEST_CASE("disk_image_rejects_random_bytes_without_crashing", "[fuzz]") {
  uint64_t seed = Catch::rngSeed() ? Catch::rngSeed() : 0x5eed;
  INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
  std::mt19937_64 rng(seed);
  auto good = small_image();
  for (int i = 0; i < 1000; ++i) {
    std::vector<uint8_t> img;
    if (i % 2) {
      img.resize(rng() % 8192);
      for (auto& b : img) b = static_cast<uint8_t>(rng());
    } else {
      img.assign(good.begin(), good.begin() + static_cast<long>(rng() % good.size() + 1));
      for (int j = 0; j < 4; ++j) img[rng() % img.size()] ^= static_cast<uint8_t>(rng());
    }
    ExitCode c = code_of(img);
    CHECK((c == ExitCode::kBadImage || c == ExitCode::kOk));
  }
}

TEST_CASE("disk_image_with_a_valid_header_checksum_but_absurd_extents_is_rejected", "[fuzz]") {
  uint64_t seed = Catch::rngSeed() ? Catch::rngSeed() : 0xd15c;
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  auto good = small_image();
  const uint64_t interesting[] = {0, 1, 511, 512, 1023, 1024, good.size() - 1, good.size(), good.size() + 1,
                                  ~0ull, ~0ull - 4095, 1ull << 63};
  for (int i = 0; i < 1000; ++i) {
    auto img = good;
    DiskImageHeader h;
    std::memcpy(&h, img.data() + 512, sizeof h);
    uint64_t* fields[] = {&h.kernel_offset, &h.kernel_size, &h.initrd_offset, &h.initrd_size, &h.cmdline_offset,
                          &h.cmdline_size, &h.rootfs_offset, &h.rootfs_size};
    uint64_t v = (rng() % 2) ? interesting[rng() % std::size(interesting)] : rng() % (good.size() * 2);
    *fields[rng() % std::size(fields)] = v;
    h.header_crc32 = crc32_of(std::span(reinterpret_cast<const uint8_t*>(&h), offsetof(DiskImageHeader, header_crc32)));
    std::memcpy(img.data() + 512, &h, sizeof h);
    ExitCode c = code_of(img);
    CHECK((c == ExitCode::kBadImage || c == ExitCode::kOk));
  }
}
