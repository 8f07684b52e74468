#include "translator/hot_translations.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "translator/ccf.h"
#include "translator/exec_profile.h"

namespace btvmm::translator {

namespace {

struct Table {
  std::mutex lock;  // folds happen where CCFs die: the vCPU thread, and engine teardown
  std::unordered_map<uint64_t, HotTranslation> by_tu;  // by CcfKey::packed()
};

Table& table() {
  static Table t;
  return t;
}

}  // namespace

void note_executed(uint32_t eip, uint8_t cpl, uint64_t runs, uint64_t instructions, uint64_t ident,
                   unsigned tu_instructions) {
  if (runs == 0 && instructions == 0) return;
  Table& t = table();
  std::lock_guard<std::mutex> g(t.lock);
  HotTranslation& h = t.by_tu[CcfKey{eip, cpl}.packed()];
  h.eip = eip;
  h.cpl = cpl;
  h.runs += runs;
  h.instructions += instructions;
  h.ident += ident;
  h.tu_instructions = tu_instructions;
}

std::vector<HotTranslation> hottest_translations(size_t n) {
  Table& t = table();
  std::vector<HotTranslation> all;
  {
    std::lock_guard<std::mutex> g(t.lock);
    all.reserve(t.by_tu.size());
    for (const auto& [key, h] : t.by_tu) all.push_back(h);
  }
  const auto hotter = [](const HotTranslation& a, const HotTranslation& b) {
    if (a.instructions != b.instructions) return a.instructions > b.instructions;
    return a.eip != b.eip ? a.eip < b.eip : a.cpl < b.cpl;
  };
  const size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), hotter);
  all.resize(keep);
  return all;
}

std::string format_hottest_translations(size_t n, const GuestCodeNamer& name) {
  const std::vector<HotTranslation> hot = hottest_translations(n);
  if (hot.empty()) return {};
  std::string out = fmt::format("hottest translations (guest instructions executed from the TC, by TU start):\n");
  out += fmt::format("  {:>10}  {:>3}  {:>14}  {:>6}  {:>12}  {:>6}  {:>3}{}\n", "guest EIP", "cpl", "instructions",
                     "of cpl", "runs", "ident", "tu", name ? "  code" : "");
  for (const HotTranslation& h : hot) {
    const uint64_t all = executed_instructions(h.cpl);
    const std::string code = name ? name(h.eip, h.cpl) : std::string();
    out += fmt::format("  {:#010x}  {:>3}  {:>14}  {:>5.1f}%  {:>12}  {:>5.1f}%  {:>3}{}{}\n", h.eip, h.cpl, h.instructions,
                       all ? 100.0 * double(h.instructions) / double(all) : 0.0, h.runs,
                       h.instructions ? 100.0 * double(h.ident) / double(h.instructions) : 0.0, h.tu_instructions,
                       code.empty() ? "" : "  ", code);
  }
  return out;
}

void reset_hot_translations() {
  Table& t = table();
  std::lock_guard<std::mutex> g(t.lock);
  t.by_tu.clear();
}

}  // namespace btvmm::translator
