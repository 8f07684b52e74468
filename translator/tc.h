// Translation-cache memory (DESIGN.md 2, 3): one fixed-size RWX region above the 8 GiB guard,
// bump-allocated, flushed whole when full. A reserved head holds code that survives flushes (the
// entry/exit trampolines). Owns memory only; never decides what goes into it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace btvmm::translator {

inline constexpr size_t kDefaultTcSize = size_t(64) << 20;

class TcMemory {
 public:
  // Maps `size` bytes RWX wherever the kernel chooses and checks the region lies at or above
  // 8 GiB (outside the guest window and its guard). Throws Error(kInternal) otherwise.
  explicit TcMemory(size_t size = kDefaultTcSize);
  ~TcMemory();
  TcMemory(const TcMemory&) = delete;
  TcMemory& operator=(const TcMemory&) = delete;

  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  bool contains(uint64_t host) const {
    return host >= reinterpret_cast<uint64_t>(base_) && host < reinterpret_cast<uint64_t>(base_) + size_;
  }

  // Allocates from the permanent head; only legal before the first allocate().
  uint8_t* allocate_permanent(size_t bytes);
  // Next free byte (16-byte aligned), and how much is left after it.
  uint8_t* cursor() const { return base_ + used_; }
  size_t available() const { return size_ - used_; }
  // Claims `bytes` at cursor(). Returns false (nothing claimed) if they do not fit.
  bool commit(size_t bytes);
  // Forgets every fragment (counts "tc.flushes"); the permanent head stays.
  void flush();
  size_t used() const { return used_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t permanent_ = 0;
  size_t used_ = 0;
};

}  // namespace btvmm::translator
