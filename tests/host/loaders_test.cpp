#include <catch2/catch.hpp>

#include <random>

#include "core/error.h"
#include "host/kernel_loader.h"
#include "host/linux_loader.h"
#include "host/multiboot_loader.h"
#include "host/pc_memory_map.h"
#include "image_builders.h"

using namespace btvmm;
using namespace btvmm::host;
using namespace btvmm::testing;

namespace {
constexpr uint64_t kRam = 64 << 20;

template <typename T>
T peek(const mmu::GuestMemory& mem, uint64_t addr) {
  T v{};
  REQUIRE(mem.read_obj(GuestPhysAddr(addr), v));
  return v;
}

ExitCode load_code(const KernelInput& in, uint64_t ram = kRam) {
  mmu::GuestMemory mem(ram);
  try {
    load_kernel(in, mem);
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::kOk;
}
}  // namespace

TEST_CASE("multiboot_elf_is_loaded_at_paddr_and_entered_per_spec_3_2") {
  mmu::GuestMemory mem(kRam);
  auto k = make_multiboot_elf(0x100000, 0x100000, 0x100010, 256, 4096);
  std::vector<MultibootModule> mods = {{std::vector<uint8_t>(3000, 0x42), "init.elf arg"}};
  BootPlan p = load_multiboot(k, mods, "test=all", mem);
  CHECK(p.cpu.eax == 0x2badb002);
  CHECK(p.cpu.eip == 0x100010);
  CHECK((p.cpu.cr0 & 1) == 1);
  CHECK((p.cpu.cr0 & 0x80000000u) == 0);
  CHECK((p.cpu.eflags & 0x200) == 0);
  CHECK(peek<uint8_t>(mem, 0x100000 + 12) == 0x90);  // payload after the multiboot header
  CHECK(peek<uint32_t>(mem, 0x100000 + 256) == 0);   // bss zeroed
  const uint32_t mbi = p.cpu.ebx;
  uint32_t flags = peek<uint32_t>(mem, mbi);
  CHECK((flags & (1 | 4 | 8 | 64)) == (1 | 4 | 8 | 64));
  CHECK(peek<uint32_t>(mem, mbi + 4) == 639);                      // mem_lower KiB
  CHECK(peek<uint32_t>(mem, mbi + 8) == (kRam - 0x100000) / 1024);  // mem_upper KiB
  std::string cmd;
  for (uint32_t a = peek<uint32_t>(mem, mbi + 16); peek<char>(mem, a); ++a) cmd += peek<char>(mem, a);
  CHECK(cmd == "test=all");
  CHECK(peek<uint32_t>(mem, mbi + 20) == 1);  // mods_count
  uint32_t mod = peek<uint32_t>(mem, mbi + 24);
  uint32_t start = peek<uint32_t>(mem, mod), end = peek<uint32_t>(mem, mod + 4);
  CHECK(start % 4096 == 0);
  CHECK(start >= 0x100000 + 256 + 4096);
  CHECK(end - start == 3000);
  CHECK(peek<uint8_t>(mem, start + 2999) == 0x42);
  // Memory map: entries of size 20 covering low RAM and RAM above 1 MiB.
  uint32_t mmap_len = peek<uint32_t>(mem, mbi + 44), mmap = peek<uint32_t>(mem, mbi + 48);
  CHECK(mmap_len == pc_memory_map(kRam).size() * 24);
  CHECK(peek<uint32_t>(mem, mmap) == 20);
}

TEST_CASE("multiboot_higher_half_entry_is_translated_to_its_physical_address") {
  mmu::GuestMemory mem(kRam);
  auto k = make_multiboot_elf(0x100000, 0xc0100000, 0xc0100020);
  BootPlan p = load_multiboot(k, {}, "", mem);
  CHECK(p.cpu.eip == 0x100020);
}

TEST_CASE("multiboot_kernel_that_does_not_fit_in_ram_is_a_bad_kernel") {
  auto k = make_multiboot_elf(0x100000, 0x100000, 0x100000, 256, 64 << 20);
  CHECK(load_code({k, {}, ""}, kRam) == ExitCode::kBadKernel);
  auto low = make_multiboot_elf(0x1000, 0x1000, 0x1000);  // would overwrite the boot information
  CHECK(load_code({low, {}, ""}) == ExitCode::kBadKernel);
}

TEST_CASE("linux_bzimage_loads_per_the_32_bit_boot_protocol") {
  mmu::GuestMemory mem(kRam);
  auto k = make_bzimage();
  std::vector<uint8_t> initrd(100000, 0x5a);
  BootPlan p = load_linux(k, initrd, "console=ttyS0 root=/dev/vda1", mem);
  CHECK(p.cpu.eip == 0x100000);
  CHECK(p.cpu.cs.selector == 0x10);
  CHECK(p.cpu.ds.selector == 0x18);
  CHECK(p.cpu.ebx == 0);
  CHECK(p.cpu.esi == kBootInfoAddr);
  const uint32_t bp = p.cpu.esi;
  CHECK(peek<uint8_t>(mem, 0x100000 + 5) == uint8_t(5 * 7));  // protected-mode kernel at 1 MiB
  CHECK(peek<uint8_t>(mem, bp + 0x210) == 0xff);              // type_of_loader
  uint32_t cmd = peek<uint32_t>(mem, bp + 0x228);
  std::string s;
  for (uint32_t a = cmd; peek<char>(mem, a); ++a) s += peek<char>(mem, a);
  CHECK(s == "console=ttyS0 root=/dev/vda1");
  uint32_t rd = peek<uint32_t>(mem, bp + 0x218), rd_size = peek<uint32_t>(mem, bp + 0x21c);
  CHECK(rd_size == initrd.size());
  CHECK(rd % 4096 == 0);
  CHECK(rd + rd_size <= kRam);
  CHECK(rd >= 0x1000000 + 0x800000);  // above pref_address + init_size
  CHECK(peek<uint8_t>(mem, rd + rd_size - 1) == 0x5a);
  uint8_t n = peek<uint8_t>(mem, bp + 0x1e8);
  REQUIRE(n == pc_memory_map(kRam).size());
  uint64_t last_base = peek<uint64_t>(mem, bp + 0x2d0 + 20 * (n - 1));
  uint64_t last_len = peek<uint64_t>(mem, bp + 0x2d0 + 20 * (n - 1) + 8);
  CHECK(last_base + last_len == kRam);
  // GDT with __BOOT_CS/__BOOT_DS flat descriptors.
  CHECK(peek<uint64_t>(mem, p.cpu.gdt_base + 0x10) == 0x00cf9b000000ffffull);
  CHECK(peek<uint64_t>(mem, p.cpu.gdt_base + 0x18) == 0x00cf93000000ffffull);
}

TEST_CASE("linux_loader_rejects_old_protocols_long_cmdlines_and_small_ram") {
  CHECK(load_code({make_bzimage(8192, 0x0204), {}, ""}) == ExitCode::kBadKernel);
  CHECK(load_code({make_bzimage(), {}, std::string(3000, 'x')}) == ExitCode::kBadKernel);
  CHECK(load_code({make_bzimage(), {}, ""}, 16 << 20) == ExitCode::kBadKernel);  // init_size needs 24 MiB
  KernelInput big{make_bzimage(), {{std::vector<uint8_t>(41 << 20, 1), "initrd"}}, ""};
  CHECK(load_code(big) == ExitCode::kBadKernel);  // initrd cannot fit above the kernel in 64 MiB
}

TEST_CASE("kernel_loader_refuses_files_that_are_neither_linux_nor_multiboot") {
  CHECK(load_code({std::vector<uint8_t>(100000, 0), {}, ""}) == ExitCode::kBadKernel);
  CHECK(load_code({{}, {}, ""}) == ExitCode::kBadKernel);
}

TEST_CASE("loaders_survive_truncated_and_mutated_kernels", "[fuzz]") {
  uint64_t seed = Catch::rngSeed() ? Catch::rngSeed() : 0x10ad;
  INFO("seed " << seed << " (rerun with --rng-seed " << seed << ")");
  std::mt19937_64 rng(seed);
  const std::vector<std::vector<uint8_t>> seeds = {make_multiboot_elf(0x100000, 0xc0100000, 0xc0100000, 600, 100),
                                                   make_bzimage(4096)};
  mmu::GuestMemory mem(kRam);
  for (int i = 0; i < 4000; ++i) {
    auto k = seeds[i % 2];
    switch (rng() % 3) {
      case 0: k.resize(rng() % k.size()); break;                                            // truncated
      case 1: k.resize(k.size() + rng() % 100000, static_cast<uint8_t>(rng())); break;     // oversized
      default: break;
    }
    int flips = static_cast<int>(rng() % 8);
    for (int j = 0; j < flips && !k.empty(); ++j) {
      size_t at = (rng() % 2) ? rng() % std::min<size_t>(k.size(), 0x300) : rng() % k.size();
      uint32_t v = static_cast<uint32_t>(rng());
      if (at + 4 <= k.size() && rng() % 2) std::memcpy(k.data() + at, &v, 4);
      else k[at] ^= static_cast<uint8_t>(v);
    }
    try {
      load_kernel({k, {{std::vector<uint8_t>(rng() % 5000, 1), "m"}}, "cmd"}, mem);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::kBadKernel);
    }
  }
}
