// Event counters: every trap, translation, retranslation, flush and exit is counted here and
// printed by --stats / written by --metrics. A counter's name is the same string in code, in
// --stats and in JSON (STYLE.md, Names), e.g. "traps.int80", "tc.flushes".
//
// Counters are plain objects with static storage, defined next to the code that counts:
//   static stats::Counter c_flushes{"tc.flushes", "whole translation-cache flushes"};
// They register themselves; counting is one non-atomic add (the vCPU thread owns them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btvmm::stats {

class Counter {
 public:
  Counter(const char* name, const char* help);
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc(uint64_t n = 1) { value_ += n; }
  void set(uint64_t v) { value_ = v; }
  uint64_t value() const { return value_; }
  const char* name() const { return name_; }
  const char* help() const { return help_; }
  // Next counter in the registration list (registry walk).
  const Counter* next() const { return next_; }

 private:
  const char* name_;
  const char* help_;
  uint64_t value_ = 0;
  Counter* next_ = nullptr;
  friend struct Registry;
};

struct Snapshot {
  std::string name;
  std::string help;
  uint64_t value;
};

// All counters, sorted by name.
std::vector<Snapshot> snapshot();
// One counter's value by name; 0 for a name no counter has (tests, --metrics readers).
uint64_t value_of(std::string_view name);
// Resets every counter to zero (tests).
void reset_all();
// Human-readable table, one counter a line, grouped by the prefix before the first '.'.
std::string format_table(bool include_zero);

}  // namespace btvmm::stats
