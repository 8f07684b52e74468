// Test fixture of the memory-instruction emulation tests: a CpuEnv whose guest linear addresses
// are the host addresses of a buffer mapped at a fixed address below 4 GiB (so the host CPU can
// run the same instruction on the same addresses). Test helper only: never used by btvmm.
#pragma once

#include <sys/mman.h>

#include <cstring>
#include <optional>

#include <catch2/catch.hpp>

#include "core/stats.h"
#include "runtime/cpu_env.h"

namespace btvmm::runtime::test {

// Guest linear == host address: a buffer at a fixed address below 4 GiB outside ASan's shadow.
constexpr uint32_t kBase = 0x10000000;
constexpr uint32_t kPages = 4;  // the last one is treated as not present
constexpr uint32_t kAbsent = kBase + 3 * 4096;

inline uint8_t* window() {
  static uint8_t* buf = [] {
    void* p = mmap(reinterpret_cast<void*>(uintptr_t(kBase)), kPages * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    REQUIRE(p == reinterpret_cast<void*>(uintptr_t(kBase)));
    return static_cast<uint8_t*>(p);
  }();
  return buf;
}

// CpuEnv over the buffer: pages 0-2 present, everything else raises a not-present #PF.
class IdentityEnv final : public CpuEnv {
 public:
  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override {
    if (auto f = check(la, size, false, user)) return f;
    std::memcpy(dst, reinterpret_cast<void*>(uintptr_t(la)), size);
    return std::nullopt;
  }
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override {
    if (auto f = check(la, size, true, user)) return f;
    std::memcpy(reinterpret_cast<void*>(uintptr_t(la)), src, size);
    return std::nullopt;
  }
  // REP MOVS/STOS runs (cpu_env.h), as MonitorEnv does them: refused, with nothing done, when any
  // byte would fault, so the emulator falls back to single elements and faults exactly.
  bool copy_linear(uint32_t dst, uint32_t src, unsigned len, bool user) override {
    if (check(src, len, false, user) || check(dst, len, true, user)) return false;
    ++runs;
    std::memcpy(reinterpret_cast<void*>(uintptr_t(dst)), reinterpret_cast<void*>(uintptr_t(src)), len);
    return true;
  }
  bool fill_linear(uint32_t dst, uint32_t pattern, unsigned pattern_size, unsigned len, bool user) override {
    if (check(dst, len, true, user)) return false;
    ++runs;
    for (unsigned i = 0; i < len; ++i)
      reinterpret_cast<uint8_t*>(uintptr_t(dst))[i] = uint8_t(pattern >> (8 * (i % pattern_size)));
    return true;
  }
  uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
  void io_write(uint16_t, unsigned, uint32_t) override {}
  void paging_changed(PagingEvent, uint32_t) override {}
  uint64_t host_tsc() override { return 0; }

  unsigned runs = 0;  // copy_linear/fill_linear calls that did the run

 private:
  static std::optional<GuestException> check(uint32_t la, unsigned size, bool write, bool user) {
    for (uint64_t a = la; a < uint64_t(la) + size; ++a) {
      if (a < kBase || a >= kAbsent) return GuestException{kPf, true, (write ? 2u : 0u) | (user ? 4u : 0u), uint32_t(a)};
    }
    return std::nullopt;
  }
};

inline uint64_t counter(const char* name) {
  for (const auto& s : stats::snapshot())
    if (s.name == name) return s.value;
  return 0;
}

}  // namespace btvmm::runtime::test
