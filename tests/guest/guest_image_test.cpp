// Checks the built test guest (guest.elf) against btvmm's own multiboot loader, so a guest that
// QEMU boots but btvmm would refuse is caught without /dev/kvm. Reads the image only; never runs it.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "host/guest_symbols.h"
#include "host/multiboot_loader.h"
#include "mmu/machine_memory.h"

using namespace btvmm;

namespace {
constexpr uint64_t kRam = 128 << 20;  // what run_guest_test.sh gives every backend

std::vector<uint8_t> guest_image() {
  std::ifstream f(BTVMM_GUEST_ELF, std::ios::binary);
  REQUIRE(f.good());
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

template <typename T>
T peek(const mmu::GuestMemory& mem, uint64_t addr) {
  T v{};
  REQUIRE(mem.read_obj(GuestPhysAddr(addr), v));
  return v;
}
}  // namespace

TEST_CASE("guest_elf_is_a_32bit_elf_with_its_multiboot_header_in_the_first_8k") {
  auto k = guest_image();
  REQUIRE(k.size() > 64);
  CHECK(std::memcmp(k.data(), "\177ELF", 4) == 0);
  CHECK(k[4] == 1);  // ELFCLASS32: QEMU's multiboot loader rejects 64-bit ELF
  auto hdr = host::find_multiboot_header(k);
  REQUIRE(hdr.has_value());
  CHECK(*hdr < 8192);
}

TEST_CASE("guest_elf_is_loaded_by_btvmm_multiboot_loader_with_its_command_line") {
  auto k = guest_image();
  mmu::GuestMemory mem(kRam);
  host::BootPlan p = host::load_multiboot(k, {}, "test=all", mem);
  CHECK(p.cpu.eax == 0x2badb002);
  // Entry is the physical bootstrap at 1 MiB (kernel/linker.ld), not the higher half.
  CHECK(p.cpu.eip >= 0x100000);
  CHECK(p.cpu.eip < 0x101000);
  CHECK(peek<uint32_t>(mem, 0x100000) == 0x1badb002);  // the header leads the .boot section
  const uint32_t mbi = p.cpu.ebx;
  const uint32_t flags = peek<uint32_t>(mem, mbi);
  CHECK((flags & (1 | 4)) == (1 | 4));  // mem_lower/mem_upper and cmdline: kmain reads both
  CHECK(peek<uint32_t>(mem, mbi + 8) == (kRam - 0x100000) / 1024);
  std::string cmd;
  for (uint32_t a = peek<uint32_t>(mem, mbi + 16); peek<char>(mem, a); ++a) cmd += peek<char>(mem, a);
  CHECK(cmd == "test=all");
  // kmain reads the boot information through the 3G/1G direct map, which covers 256 MiB.
  CHECK(mbi < 0x10000000u);
}

TEST_CASE("guest_elf_symbols_name_kernel_code_for_the_hottest_translations_table") {
  const auto k = guest_image();
  const host::GuestSymbols syms = host::GuestSymbols::from_elf(k);
  REQUIRE(syms.size() > 50);
  const uint32_t kmemcpy = syms.address_of("kmemcpy");
  REQUIRE(kmemcpy >= 0xc0100000);  // the test guest's kernel links at 0xc0100000
  CHECK(syms.name(kmemcpy) == "kmemcpy");
  CHECK(syms.name(kmemcpy + 4) == "kmemcpy+0x4");
  CHECK(syms.name(syms.address_of("fork_current") + 0x40) == "fork_current+0x40");
  CHECK(syms.name(0x1000) == "");  // below every symbol
  CHECK(syms.name(0xfffff000) == "");  // past the last function's end, no label there
}

TEST_CASE("guest_symbols_from_truncated_or_scrambled_elf_files_are_empty_or_partial_never_a_crash") {
  const auto k = guest_image();
  for (size_t cut = 0; cut < k.size(); cut += 1 + k.size() / 97) {
    std::vector<uint8_t> part(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(cut));
    (void)host::GuestSymbols::from_elf(part).name(0xc0100000);
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> bad = k;
    // Scramble the header and the section headers at the end of the file, where the offsets live.
    for (int i = 0; i < 8; ++i) {
      const size_t at = rng() % 2 ? rng() % 52 : bad.size() - 1 - rng() % std::min<size_t>(bad.size(), 2048);
      bad[at] = static_cast<uint8_t>(rng());
    }
    (void)host::GuestSymbols::from_elf(bad).name(static_cast<uint32_t>(rng()));
  }
  CHECK(host::GuestSymbols::from_elf({}).empty());
}
