// Translation-cache memory (see tc.h). The region is RWX because chaining patches jumps in place
// while the vCPU thread runs; nothing but the translator writes into it.
#include "translator/tc.h"

#include <sys/mman.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/stats.h"

namespace btvmm::translator {

namespace {
stats::Counter c_flushes{"tc.flushes", "whole translation-cache flushes (TC full)"};
constexpr uint64_t kFirstAllowed = uint64_t(8) << 30;  // above window + guard (DESIGN.md 2)
size_t align16(size_t n) { return (n + 15) & ~size_t(15); }
}  // namespace

TcMemory::TcMemory(size_t size) : size_(size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw_errno(fmt::format("mmap(translation cache, {} bytes RWX)", size));
  if (reinterpret_cast<uint64_t>(p) < kFirstAllowed) {
    munmap(p, size);
    fail(ExitCode::kInternal, "translation cache: kernel placed it at {} (below 8 GiB, inside the guest window)", p);
  }
  base_ = static_cast<uint8_t*>(p);
}

TcMemory::~TcMemory() {
  if (base_) munmap(base_, size_);
}

uint8_t* TcMemory::allocate_permanent(size_t bytes) {
  if (used_ != permanent_ || align16(bytes) > available())
    fail(ExitCode::kInternal, "translation cache: permanent allocation of {} bytes after fragments or too large", bytes);
  uint8_t* p = base_ + permanent_;
  permanent_ += align16(bytes);
  used_ = permanent_;
  return p;
}

bool TcMemory::commit(size_t bytes) {
  if (align16(bytes) > available()) return false;
  used_ += align16(bytes);
  return true;
}

void TcMemory::flush() {
  used_ = permanent_;
  c_flushes.inc();
}

}  // namespace btvmm::translator
