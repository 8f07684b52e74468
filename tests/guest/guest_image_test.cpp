// Checks the built test guest (guest.elf) against btvmm's own multiboot loader, so a guest that
// QEMU boots but btvmm would refuse is caught without /dev/kvm. Reads the image only; never runs it.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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
