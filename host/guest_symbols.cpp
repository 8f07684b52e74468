#include "host/guest_symbols.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace btvmm::host {

namespace {

// The T at `offset`, if the file holds all of it.
template <typename T>
bool read_at(std::span<const uint8_t> file, uint64_t offset, T& out) {
  if (offset > file.size() || sizeof(T) > file.size() - offset) return false;
  std::memcpy(&out, file.data() + offset, sizeof(T));
  return true;
}

}  // namespace

GuestSymbols GuestSymbols::from_elf(std::span<const uint8_t> file) {
  GuestSymbols out;
  Elf32_Ehdr eh;
  if (!read_at(file, 0, eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 ||
      eh.e_shentsize != sizeof(Elf32_Shdr))
    return out;
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf32_Shdr sh, strings;
    if (!read_at(file, eh.e_shoff + uint64_t(i) * sizeof(Elf32_Shdr), sh)) return out;
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf32_Sym)) continue;
    if (sh.sh_link >= eh.e_shnum || !read_at(file, eh.e_shoff + uint64_t(sh.sh_link) * sizeof(Elf32_Shdr), strings))
      continue;
    if (strings.sh_offset > file.size() || strings.sh_size > file.size() - strings.sh_offset) continue;
    const auto* names = reinterpret_cast<const char*>(file.data() + strings.sh_offset);
    for (uint64_t off = 0; off + sizeof(Elf32_Sym) <= sh.sh_size; off += sizeof(Elf32_Sym)) {
      Elf32_Sym s;
      if (!read_at(file, uint64_t(sh.sh_offset) + off, s)) break;
      const unsigned type = ELF32_ST_TYPE(s.st_info);
      if ((type != STT_FUNC && type != STT_NOTYPE) || s.st_value == 0 || s.st_shndx == SHN_UNDEF ||
          s.st_name >= strings.sh_size)
        continue;
      const size_t len = strnlen(names + s.st_name, strings.sh_size - s.st_name);
      if (len == 0 || len == strings.sh_size - s.st_name) continue;  // empty or unterminated
      // Only code: a symbol of an allocated, executable section, within it. A label (no size)
      // reaches to its section's end, never into data or past the image (_end and the like).
      Elf32_Shdr code;
      if (s.st_shndx >= eh.e_shnum || !read_at(file, eh.e_shoff + uint64_t(s.st_shndx) * sizeof(Elf32_Shdr), code) ||
          (code.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR) || s.st_value < code.sh_addr ||
          s.st_value - code.sh_addr >= code.sh_size)
        continue;
      const uint32_t to_section_end = code.sh_size - (s.st_value - code.sh_addr);
      const uint32_t size = s.st_size != 0 ? std::min(s.st_size, to_section_end) : to_section_end;
      out.symbols_.push_back(Symbol{s.st_value, size, s.st_size == 0, std::string(names + s.st_name, len)});
    }
  }
  // By address; at one address a label sorts before a function, so name(), which takes the
  // last one at or below, prefers the function.
  std::sort(out.symbols_.begin(), out.symbols_.end(), [](const Symbol& a, const Symbol& b) {
    if (a.address != b.address) return a.address < b.address;
    return a.label > b.label;
  });
  return out;
}

std::string GuestSymbols::name(uint32_t address) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                             [](uint32_t a, const Symbol& s) { return a < s.address; });
  // The nearest symbol below that reaches the address: past a function's end an enclosing one
  // further down may still (a label inside a function), so look on while they are labels or end early.
  while (it != symbols_.begin()) {
    --it;
    const uint32_t off = address - it->address;
    if (off < it->size) return off ? fmt::format("{}+{:#x}", it->name, off) : it->name;
  }
  return {};
}

uint32_t GuestSymbols::address_of(const std::string& symbol) const {
  for (const Symbol& s : symbols_)
    if (s.name == symbol) return s.address;
  return 0;
}

}  // namespace btvmm::host
