#include "host/linux_loader.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "host/pc_memory_map.h"

namespace btvmm::host {

namespace {

// Offsets in the setup header / boot_params (boot.rst, "The real-mode kernel header" and
// zero-page.rst). The header lives at the same offsets in the file and in boot_params.
constexpr size_t kSetupSects = 0x1f1;
constexpr size_t kBootFlag = 0x1fe;
constexpr size_t kJump = 0x200;
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadFlags = 0x211;
constexpr size_t kCode32Start = 0x214;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21c;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22c;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;
constexpr size_t kInitSize = 0x260;
constexpr size_t kAltMemK = 0x1e0;
constexpr size_t kE820Entries = 0x1e8;
constexpr size_t kE820Table = 0x2d0;
constexpr size_t kE820MaxEntries = 128;
constexpr size_t kBootParamsSize = 4096;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint16_t kMinVersion = 0x0206;  // 2.06: cmdline_size exists; every 2.6.22+ kernel has it
constexpr uint64_t kKernelLoadAddr = 0x100000;

template <typename T>
T get(std::span<const uint8_t> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}
template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

bool is_linux_bzimage(std::span<const uint8_t> k) {
  return k.size() >= kHeaderMagic + 4 && std::memcmp(k.data() + kHeaderMagic, "HdrS", 4) == 0;
}

BootPlan load_linux(std::span<const uint8_t> k, std::span<const uint8_t> initrd, const std::string& cmdline,
                    mmu::GuestMemory& mem) {
  if (!is_linux_bzimage(k)) fail(ExitCode::kBadKernel, "linux: no setup header (\"HdrS\" at 0x202): not a bzImage");
  if (k.size() < kInitSize + 4)
    fail(ExitCode::kBadKernel, "linux: file of {} bytes is too short for a 2.06+ setup header", k.size());
  if (get<uint16_t>(k, kBootFlag) != 0xaa55) fail(ExitCode::kBadKernel, "linux: boot_flag at 0x1fe is not 0xAA55");
  const uint16_t version = get<uint16_t>(k, kVersion);
  if (version < kMinVersion)
    fail(ExitCode::kBadKernel, "linux: boot protocol {}.{:02} is too old (need 2.06 or later)", version >> 8, version & 0xff);
  const uint8_t loadflags = k[kLoadFlags];
  if (!(loadflags & kLoadedHigh)) fail(ExitCode::kBadKernel, "linux: zImage (not LOADED_HIGH) kernels are not supported");

  // Header end as the kernel declares it: the short jump at 0x200 skips the header (boot.rst).
  size_t header_end = kJump + 2 + k[kJump + 1];
  if (k[kJump] != 0xeb || header_end > k.size() || header_end < kInitSize + 4)
    fail(ExitCode::kBadKernel, "linux: setup header end ({:#x}) inconsistent with protocol {}.{:02}", header_end,
         version >> 8, version & 0xff);
  unsigned setup_sects = k[kSetupSects] ? k[kSetupSects] : 4;  // 0 means 4 (boot.rst)
  size_t pm_offset = (size_t(setup_sects) + 1) * 512;
  if (pm_offset >= k.size())
    fail(ExitCode::kBadKernel, "linux: setup_sects {} puts the protected-mode kernel past the end of the file ({} bytes)",
         setup_sects, k.size());
  const uint64_t pm_size = k.size() - pm_offset;
  const uint64_t ram = mem.size();

  // The decompressor needs init_size bytes from its run-time address (pref_address for a
  // relocatable kernel, the load address otherwise); nothing else may live there.
  uint64_t run_addr = std::max<uint64_t>(get<uint64_t>(k, kPrefAddress), kKernelLoadAddr);
  uint64_t kernel_end = std::max(kKernelLoadAddr + pm_size, run_addr + get<uint32_t>(k, kInitSize));
  if (kernel_end > ram || !mem.contains(GuestPhysAddr(kKernelLoadAddr), pm_size))
    fail(ExitCode::kBadKernel, "linux: kernel needs guest RAM up to {:#x} but the guest has {} MiB; use a larger -m",
         kernel_end, ram >> 20);
  mem.write(GuestPhysAddr(kKernelLoadAddr), k.data() + pm_offset, pm_size);

  std::vector<uint8_t> bp(kBootParamsSize, 0);
  std::memcpy(bp.data() + kSetupSects, k.data() + kSetupSects, header_end - kSetupSects);
  bp[kTypeOfLoader] = 0xff;  // "undefined" loader id (boot.rst, type_of_loader)
  put<uint32_t>(bp, kCode32Start, kKernelLoadAddr);

  const uint32_t cmdline_max = get<uint32_t>(k, kCmdlineSize);
  if (cmdline.size() > cmdline_max || cmdline.size() >= kBootInfoEnd)
    fail(ExitCode::kBadKernel, "linux: command line of {} bytes exceeds the kernel's cmdline_size {}", cmdline.size(),
         cmdline_max);
  mem.write(GuestPhysAddr(kBootCmdlineAddr), cmdline.c_str(), cmdline.size() + 1);
  put<uint32_t>(bp, kCmdLinePtr, kBootCmdlineAddr);

  if (!initrd.empty()) {
    // Highest page-aligned place below initrd_addr_max and the end of RAM, as GRUB and QEMU do.
    uint64_t limit = std::min<uint64_t>(uint64_t(get<uint32_t>(k, kInitrdAddrMax)) + 1, ram);
    if (initrd.size() > limit || (limit - initrd.size()) / kPageSize * kPageSize < align_up(kernel_end, kPageSize))
      fail(ExitCode::kBadKernel, "linux: initrd of {} bytes does not fit between the kernel (ends {:#x}) and {:#x}; use a larger -m",
           initrd.size(), kernel_end, limit);
    uint64_t at = (limit - initrd.size()) / kPageSize * kPageSize;
    mem.write(GuestPhysAddr(at), initrd.data(), initrd.size());
    put<uint32_t>(bp, kRamdiskImage, static_cast<uint32_t>(at));
    put<uint32_t>(bp, kRamdiskSize, static_cast<uint32_t>(initrd.size()));
  }

  auto map = pc_memory_map(ram);
  if (map.size() > kE820MaxEntries) fail(ExitCode::kInternal, "linux: e820 map too long");
  bp[kE820Entries] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    uint8_t* e = bp.data() + kE820Table + 20 * i;
    std::memcpy(e, &map[i].base, 8);
    std::memcpy(e + 8, &map[i].length, 8);
    uint32_t type = map[i].type;
    std::memcpy(e + 16, &type, 4);
  }
  put<uint32_t>(bp, kAltMemK, static_cast<uint32_t>((std::min<uint64_t>(ram, 0xffffffff) - kHighMemoryStart) / 1024));
  mem.write(GuestPhysAddr(kBootInfoAddr), bp.data(), bp.size());

  BootPlan plan{};
  plan.kind = BootPlan::Kind::kLinux;
  install_flat_gdt(mem, plan.cpu);
  // 32-bit boot protocol: %esi = boot_params, %ebp = %edi = %ebx = 0, interrupts off, flat
  // __BOOT_CS/__BOOT_DS, entry at the start of the protected-mode kernel.
  plan.cpu.esi = kBootInfoAddr;
  plan.cpu.eip = kKernelLoadAddr;
  plan.memory_map = map;
  plan.description = fmt::format("Linux bzImage protocol {}.{:02}, {} KiB kernel at {:#x}, {} KiB initrd", version >> 8,
                                 version & 0xff, pm_size / 1024, kKernelLoadAddr, initrd.size() / 1024);
  return plan;
}

}  // namespace btvmm::host
