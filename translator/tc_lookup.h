// The inline indirect-branch table (DESIGN.md 3): guest EIP -> host entry of its CCF, direct
// mapped on the low 16 bits of the EIP, read by translated code through absolute addresses baked
// into each CCF. A miss goes to the dispatcher. Holds host code addresses only, never guest data.
#pragma once

#include <cstdint>
#include <memory>

namespace btvmm::translator {

struct LookupEntry {
  uint64_t key;   // guest EIP + 1 (64-bit, so 0 means empty and never equals a valid key)
  uint64_t host;  // CCF entry
};

class TcLookup {
 public:
  static constexpr unsigned kBits = 16;
  static constexpr unsigned kEntries = 1u << kBits;

  TcLookup();
  LookupEntry* table() { return table_.get(); }
  // Hits are counted by translated code itself (a flag-free add, see emit_branch.cpp).
  uint64_t* hit_counter() { return &hits_; }
  uint64_t hits() const { return hits_; }

  void insert(uint32_t eip, const void* host);
  // Removes the entry for eip if it still points at host.
  void remove(uint32_t eip, const void* host);
  const void* find(uint32_t eip) const;
  void clear();

 private:
  std::unique_ptr<LookupEntry[]> table_;
  uint64_t hits_ = 0;
};

}  // namespace btvmm::translator
