#include "host/multiboot_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "host/pc_memory_map.h"

namespace btvmm::host {

namespace {

constexpr uint32_t kHeaderMagic = 0x1badb002;
constexpr uint32_t kBootloaderMagic = 0x2badb002;
constexpr size_t kSearchLimit = 8192;  // spec 3.1.1: header within the first 8192 bytes
constexpr uint32_t kFlagAoutKludge = 1u << 16;
// Flags bits 0-15 the loader must understand or refuse to boot (spec 3.1.2); we know 0, 1, 2.
constexpr uint32_t kRequiredKnown = 0x7;

// Multiboot information structure (spec 3.3), the part we fill.
struct MultibootInfo {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
  uint32_t apm_table, vbe[6];
};
struct MultibootModuleEntry {
  uint32_t mod_start, mod_end, string, reserved;
};
struct __attribute__((packed)) MultibootMmapEntry {
  uint32_t size;
  uint64_t base_addr, length;
  uint32_t type;
};

uint32_t read32(std::span<const uint8_t> b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// A region of guest memory a payload occupies; loaders refuse overlapping or out-of-RAM ones.
struct Extent {
  uint64_t start, end;
};

void check_placement(const mmu::GuestMemory& mem, uint64_t start, uint64_t size, const char* what) {
  if (start < kBootInfoEnd)
    fail(ExitCode::kBadKernel, "multiboot: {} at {:#x} overlaps the loader's boot-information area (below {:#x})", what,
         start, kBootInfoEnd);
  if (!mem.contains(GuestPhysAddr(start), size))
    fail(ExitCode::kBadKernel, "multiboot: {} at {:#x}+{:#x} does not fit in guest RAM ({} MiB); try a larger -m", what,
         start, size, mem.size() >> 20);
}

// Loads ELF32 PT_LOAD segments at their physical addresses; returns [lowest, highest) and entry.
Extent load_elf(std::span<const uint8_t> k, mmu::GuestMemory& mem, uint32_t& entry) {
  if (k.size() < sizeof(Elf32_Ehdr)) fail(ExitCode::kBadKernel, "multiboot: kernel too small for an ELF header");
  Elf32_Ehdr eh;
  std::memcpy(&eh, k.data(), sizeof(eh));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    fail(ExitCode::kBadKernel, "multiboot: kernel is neither ELF nor has the a.out kludge flag (bit 16)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_386)
    fail(ExitCode::kBadKernel, "multiboot: kernel is not a 32-bit little-endian i386 ELF (class {}, machine {})",
         eh.e_ident[EI_CLASS], eh.e_machine);
  if (eh.e_phentsize != sizeof(Elf32_Phdr) || eh.e_phnum == 0 || eh.e_phoff > k.size() ||
      uint64_t(eh.e_phnum) * sizeof(Elf32_Phdr) > k.size() - eh.e_phoff)
    fail(ExitCode::kBadKernel, "multiboot: ELF program headers ({} at offset {}) lie outside the file", eh.e_phnum,
         eh.e_phoff);
  Extent ext{~0ull, 0};
  std::vector<Elf32_Phdr> loads;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf32_Phdr ph;
    std::memcpy(&ph, k.data() + eh.e_phoff + i * sizeof(ph), sizeof(ph));
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz || ph.p_offset > k.size() || ph.p_filesz > k.size() - ph.p_offset)
      fail(ExitCode::kBadKernel, "multiboot: ELF segment {} (offset {:#x}, filesz {:#x}, memsz {:#x}) is inconsistent", i,
           ph.p_offset, ph.p_filesz, ph.p_memsz);
    check_placement(mem, ph.p_paddr, ph.p_memsz, "ELF segment");
    mem.write(GuestPhysAddr(ph.p_paddr), k.data() + ph.p_offset, ph.p_filesz);
    mem.fill(GuestPhysAddr(uint64_t(ph.p_paddr) + ph.p_filesz), 0, ph.p_memsz - ph.p_filesz);
    ext.start = std::min<uint64_t>(ext.start, ph.p_paddr);
    ext.end = std::max<uint64_t>(ext.end, uint64_t(ph.p_paddr) + ph.p_memsz);
    loads.push_back(ph);
  }
  if (loads.empty()) fail(ExitCode::kBadKernel, "multiboot: ELF kernel has no loadable segment");
  // e_entry is a virtual address; a higher-half kernel links vaddr != paddr. Translate it into
  // the segment that contains it, as GRUB does, so the CPU (paging off) starts at the right byte.
  entry = eh.e_entry;
  bool in_phys = false;
  for (auto& ph : loads) in_phys |= eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz;
  if (!in_phys) {
    bool translated = false;
    for (auto& ph : loads)
      if (eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
        entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
        translated = true;
        break;
      }
    if (!translated) fail(ExitCode::kBadKernel, "multiboot: ELF entry point {:#x} is in no loaded segment", eh.e_entry);
  }
  return ext;
}

// a.out kludge (spec 3.1.3): the header's address fields say where the image goes.
Extent load_aout_kludge(std::span<const uint8_t> k, size_t hdr_off, mmu::GuestMemory& mem, uint32_t& entry) {
  if (k.size() - hdr_off < 32) fail(ExitCode::kBadKernel, "multiboot: header truncated before its address fields");
  uint32_t header_addr = read32(k, hdr_off + 12), load_addr = read32(k, hdr_off + 16);
  uint32_t load_end = read32(k, hdr_off + 20), bss_end = read32(k, hdr_off + 24);
  entry = read32(k, hdr_off + 28);
  if (load_addr > header_addr || header_addr - load_addr > hdr_off)
    fail(ExitCode::kBadKernel, "multiboot: load_addr {:#x} / header_addr {:#x} inconsistent with the header at file offset {}",
         load_addr, header_addr, hdr_off);
  uint64_t file_off = hdr_off - (header_addr - load_addr);
  uint64_t size = load_end ? uint64_t(load_end) - load_addr : k.size() - file_off;
  if (load_end && load_end < load_addr) fail(ExitCode::kBadKernel, "multiboot: load_end_addr below load_addr");
  if (size > k.size() - file_off) fail(ExitCode::kBadKernel, "multiboot: image ({:#x} bytes) exceeds the file", size);
  uint64_t end = load_addr + size;
  uint64_t mem_end = bss_end ? std::max<uint64_t>(bss_end, end) : end;
  check_placement(mem, load_addr, mem_end - load_addr, "a.out image");
  mem.write(GuestPhysAddr(load_addr), k.data() + file_off, size);
  mem.fill(GuestPhysAddr(end), 0, mem_end - end);
  if (entry < load_addr || entry >= mem_end)
    fail(ExitCode::kBadKernel, "multiboot: entry_addr {:#x} outside the loaded image", entry);
  return {load_addr, mem_end};
}

// Bump allocator for the boot-information area below kBootInfoEnd.
class InfoArea {
 public:
  explicit InfoArea(mmu::GuestMemory& mem) : mem_(mem) {}
  uint32_t put(const void* data, size_t size) {
    uint32_t at = static_cast<uint32_t>(align_up(next_, 8));
    if (at + size > kBootInfoEnd)
      fail(ExitCode::kBadKernel, "multiboot: boot information (command lines, module list) exceeds {} bytes",
           kBootInfoEnd - kBootInfoAddr);
    mem_.write(GuestPhysAddr(at), data, size);
    next_ = at + size;
    return at;
  }
  uint32_t put_string(const std::string& s) { return put(s.c_str(), s.size() + 1); }

 private:
  mmu::GuestMemory& mem_;
  uint64_t next_ = kBootInfoAddr + sizeof(MultibootInfo);
};

}  // namespace

std::optional<size_t> find_multiboot_header(std::span<const uint8_t> k) {
  size_t limit = std::min(k.size(), kSearchLimit);
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    uint32_t magic = read32(k, off), flags = read32(k, off + 4), sum = read32(k, off + 8);
    if (magic == kHeaderMagic && uint32_t(magic + flags + sum) == 0) return off;
  }
  return std::nullopt;
}

BootPlan load_multiboot(std::span<const uint8_t> kernel, const std::vector<MultibootModule>& modules,
                        const std::string& cmdline, mmu::GuestMemory& mem) {
  auto hdr = find_multiboot_header(kernel);
  if (!hdr) fail(ExitCode::kBadKernel, "multiboot: no multiboot header in the first 8 KiB of the kernel");
  uint32_t flags = read32(kernel, *hdr + 4);
  if (flags & 0xffff & ~kRequiredKnown)
    fail(ExitCode::kBadKernel, "multiboot: kernel requires unsupported features (flags {:#x})", flags);

  uint32_t entry = 0;
  Extent image = (flags & kFlagAoutKludge) ? load_aout_kludge(kernel, *hdr, mem, entry) : load_elf(kernel, mem, entry);

  InfoArea info(mem);
  MultibootInfo mbi{};
  std::vector<MultibootModuleEntry> mods;
  uint64_t next = align_up(image.end, kPageSize);
  for (const auto& m : modules) {
    // Modules go after the kernel, page aligned (always, which also satisfies flag bit 0).
    check_placement(mem, next, std::max<uint64_t>(m.bytes.size(), 1), "module");
    mem.write(GuestPhysAddr(next), m.bytes.data(), m.bytes.size());
    mods.push_back({static_cast<uint32_t>(next), static_cast<uint32_t>(next + m.bytes.size()), info.put_string(m.cmdline), 0});
    next = align_up(next + m.bytes.size(), kPageSize);
  }
  const uint64_t ram = mem.size();
  std::vector<MultibootMmapEntry> mmap;
  for (const auto& r : pc_memory_map(ram)) mmap.push_back({20, r.base, r.length, r.type});

  mbi.flags = (1u << 0) | (1u << 2) | (1u << 6) | (1u << 9);  // mem_*, cmdline, mmap, loader name
  mbi.mem_lower = kLowRamEnd / 1024;
  mbi.mem_upper = static_cast<uint32_t>((std::min<uint64_t>(ram, 0xffffffff) - kHighMemoryStart) / 1024);
  mbi.cmdline = info.put_string(cmdline);
  mbi.boot_loader_name = info.put_string("btvmm");
  if (!mods.empty()) {
    mbi.flags |= 1u << 3;
    mbi.mods_count = static_cast<uint32_t>(mods.size());
    mbi.mods_addr = info.put(mods.data(), mods.size() * sizeof(MultibootModuleEntry));
  }
  mbi.mmap_length = static_cast<uint32_t>(mmap.size() * sizeof(MultibootMmapEntry));
  mbi.mmap_addr = info.put(mmap.data(), mbi.mmap_length);
  mem.write_obj(GuestPhysAddr(kBootInfoAddr), mbi);

  BootPlan plan{};
  plan.kind = BootPlan::Kind::kMultiboot;
  install_flat_gdt(mem, plan.cpu);  // spec 3.2: GDTR may be invalid; a valid one costs nothing
  plan.cpu.eax = kBootloaderMagic;
  plan.cpu.ebx = kBootInfoAddr;
  plan.cpu.eip = entry;
  // Spec 3.2 leaves ESP undefined; kernels (the test guest's CPUID probe among them) push before
  // setting up a stack, as GRUB and QEMU leave a usable one. Give them the free page below the GDT.
  plan.cpu.esp = kBootGdtAddr;
  plan.memory_map = pc_memory_map(ram);
  plan.description = fmt::format("multiboot {} kernel at {:#x}-{:#x}, entry {:#x}, {} module(s)",
                                 (flags & kFlagAoutKludge) ? "a.out-kludge" : "ELF", image.start, image.end, entry,
                                 modules.size());
  return plan;
}

}  // namespace btvmm::host
