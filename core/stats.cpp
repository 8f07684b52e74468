#include "core/stats.h"

#include <algorithm>

#include <fmt/format.h>

namespace btvmm::stats {

struct Registry {
  static Counter*& head() {
    static Counter* h = nullptr;
    return h;
  }
};

Counter::Counter(const char* name, const char* help) : name_(name), help_(help) {
  next_ = Registry::head();
  Registry::head() = this;
}

std::vector<Snapshot> snapshot() {
  std::vector<Snapshot> out;
  for (const Counter* c = Registry::head(); c; c = c->next()) out.push_back({c->name(), c->help(), c->value()});
  std::sort(out.begin(), out.end(), [](const Snapshot& a, const Snapshot& b) { return a.name < b.name; });
  return out;
}

uint64_t value_of(std::string_view name) {
  for (const Counter* c = Registry::head(); c; c = c->next())
    if (name == c->name()) return c->value();
  return 0;
}

void reset_all() {
  for (Counter* c = Registry::head(); c; c = const_cast<Counter*>(c->next())) c->set(0);
}

std::string format_table(bool include_zero) {
  std::string out;
  std::string group;
  for (const auto& s : snapshot()) {
    if (!include_zero && s.value == 0) continue;
    std::string g = s.name.substr(0, s.name.find('.'));
    if (g != group) {
      group = g;
      out += fmt::format("[{}]\n", g);
    }
    out += fmt::format("  {:<36} {:>14}  {}\n", s.name, s.value, s.help);
  }
  return out;
}

}  // namespace btvmm::stats
