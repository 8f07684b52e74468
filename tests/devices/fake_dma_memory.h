// A fake guest RAM for DMA tests: a byte vector with bounds-checked copies, as host/'s
// GuestMemory-backed DmaMemory behaves. It counts refused accesses; it never grows or wraps.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "devices/dma_memory.h"

namespace btvmm::devices::testing {

class FakeDmaMemory : public DmaMemory {
 public:
  explicit FakeDmaMemory(uint64_t bytes) : ram(bytes, 0) {}
  bool read(uint64_t gpa, void* dst, uint64_t len) override {
    if (!inside(gpa, len)) return ++refused, false;
    std::memcpy(dst, ram.data() + gpa, len);
    return true;
  }
  bool write(uint64_t gpa, const void* src, uint64_t len) override {
    if (!inside(gpa, len)) return ++refused, false;
    std::memcpy(ram.data() + gpa, src, len);
    writes += 1;
    return true;
  }
  template <typename T>
  void put(uint64_t gpa, T v) { std::memcpy(ram.data() + gpa, &v, sizeof v); }
  template <typename T>
  T get(uint64_t gpa) const {
    T v;
    std::memcpy(&v, ram.data() + gpa, sizeof v);
    return v;
  }

  std::vector<uint8_t> ram;
  uint64_t refused = 0;
  uint64_t writes = 0;

 private:
  bool inside(uint64_t gpa, uint64_t len) const { return gpa <= ram.size() && len <= ram.size() - gpa; }
};

}  // namespace btvmm::devices::testing
