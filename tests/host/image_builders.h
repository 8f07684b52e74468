// Builders of synthetic kernels for loader tests: a minimal multiboot ELF32 and a minimal
// bzImage with a boot-protocol 2.15 setup header. Only what the loaders read is filled in.
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace btvmm::testing {

inline void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) { std::memcpy(b.data() + off, &v, 4); }
inline void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) { std::memcpy(b.data() + off, &v, 2); }
inline void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) { std::memcpy(b.data() + off, &v, 8); }

// One PT_LOAD segment of `payload` bytes (multiboot header first) at paddr, linked at vaddr.
inline std::vector<uint8_t> make_multiboot_elf(uint32_t paddr, uint32_t vaddr, uint32_t entry_vaddr,
                                               uint32_t payload = 256, uint32_t bss = 0) {
  const size_t off = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
  std::vector<uint8_t> f(off + payload, 0x90);
  Elf32_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS32;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_386;
  eh.e_version = EV_CURRENT;
  eh.e_entry = entry_vaddr;
  eh.e_phoff = sizeof(Elf32_Ehdr);
  eh.e_ehsize = sizeof(Elf32_Ehdr);
  eh.e_phentsize = sizeof(Elf32_Phdr);
  eh.e_phnum = 1;
  std::memcpy(f.data(), &eh, sizeof eh);
  Elf32_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_offset = off;
  ph.p_vaddr = vaddr;
  ph.p_paddr = paddr;
  ph.p_filesz = payload;
  ph.p_memsz = payload + bss;
  ph.p_flags = PF_R | PF_X;
  ph.p_align = 4096;
  std::memcpy(f.data() + sizeof eh, &ph, sizeof ph);
  const uint32_t magic = 0x1badb002, flags = 0x3;
  put32(f, off, magic);
  put32(f, off + 4, flags);
  put32(f, off + 8, uint32_t(-(magic + flags)));
  return f;
}

// A bzImage: one setup sector plus the boot sector, then `pm_size` bytes of "kernel".
inline std::vector<uint8_t> make_bzimage(uint32_t pm_size = 8192, uint16_t version = 0x020f) {
  const unsigned setup_sects = 1;
  std::vector<uint8_t> k((setup_sects + 1) * 512 + pm_size, 0);
  k[0x1f1] = setup_sects;
  put16(k, 0x1fe, 0xaa55);
  k[0x200] = 0xeb;
  k[0x201] = 0x6a;  // header runs to 0x26c, like protocol 2.15 kernels
  std::memcpy(k.data() + 0x202, "HdrS", 4);
  put16(k, 0x206, version);
  k[0x211] = 0x01;                 // LOADED_HIGH
  put32(k, 0x214, 0x100000);       // code32_start
  put32(k, 0x22c, 0x37ffffff);     // initrd_addr_max
  put32(k, 0x230, 0x1000000);      // kernel_alignment
  k[0x234] = 1;                    // relocatable
  put32(k, 0x238, 2047);           // cmdline_size
  put64(k, 0x258, 0x1000000);      // pref_address
  put32(k, 0x260, 0x800000);       // init_size
  for (uint32_t i = 0; i < pm_size; ++i) k[(setup_sects + 1) * 512 + i] = static_cast<uint8_t>(i * 7);
  return k;
}

}  // namespace btvmm::testing
