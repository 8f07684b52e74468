// Function symbols of an ELF32 guest kernel (the test guest, any multiboot ELF with a symbol
// table), so --stats can name its hottest translations. A bzImage, a stripped ELF or a corrupt
// table gives an empty set: names are a convenience, never a reason to refuse a kernel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace btvmm::host {

class GuestSymbols {
 public:
  // Reads the STT_FUNC and STT_NOTYPE symbols of SHT_SYMTAB that lie in executable sections;
  // every offset and size is checked against the file, so any bytes are safe input.
  static GuestSymbols from_elf(std::span<const uint8_t> file);

  bool empty() const { return symbols_.empty(); }
  size_t size() const { return symbols_.size(); }
  // "name+0xoff" for the symbol at or below `address` (within its size when it has one), else "".
  std::string name(uint32_t address) const;
  // The address of symbol `symbol`, or 0 when there is none.
  uint32_t address_of(const std::string& symbol) const;

 private:
  struct Symbol {
    uint32_t address;
    uint32_t size;  // a label's reaches to the end of its section
    bool label;     // STT_NOTYPE, or a symbol without a size
    std::string name;
  };
  std::vector<Symbol> symbols_;  // by address
};

}  // namespace btvmm::host
