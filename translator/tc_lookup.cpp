// The indirect-branch table (see tc_lookup.h).
#include "translator/tc_lookup.h"

#include <algorithm>

namespace btvmm::translator {

TcLookup::TcLookup() : table_(new LookupEntry[kEntries]) { clear(); }

void TcLookup::insert(uint32_t eip, const void* host) {
  table_[eip & (kEntries - 1)] = {uint64_t(eip) + 1, reinterpret_cast<uint64_t>(host)};
}

void TcLookup::remove(uint32_t eip, const void* host) {
  LookupEntry& e = table_[eip & (kEntries - 1)];
  if (e.key == uint64_t(eip) + 1 && e.host == reinterpret_cast<uint64_t>(host)) e = {0, 0};
}

const void* TcLookup::find(uint32_t eip) const {
  const LookupEntry& e = table_[eip & (kEntries - 1)];
  return e.key == uint64_t(eip) + 1 ? reinterpret_cast<const void*>(e.host) : nullptr;
}

void TcLookup::clear() { std::fill(table_.get(), table_.get() + kEntries, LookupEntry{0, 0}); }

}  // namespace btvmm::translator
