// Fuzz test (issue 5, "Must show at the end", third bullet): random and mutated byte sequences run
// as guest kernel code (CPL 0, paging on) from the TC. btvmm must survive every one, and each run
// must end the way hardware could end it: a halt, a guest exception through the IDT (#UD, #GP,
// #PF, #DE...), a triple fault, or the time limit of the run. Seeded and bounded in time; set
// BTVMM_SEED to reproduce. A host fault the engine cannot take (an emulated-page access) is
// reported separately, never as a crash.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "engine_fixture.h"

using namespace btvmm;
using namespace btvmm::engine_test;

namespace {

constexpr uint32_t kPd = 0x400000;
constexpr uint32_t kMappedFrom = 0x100000;
constexpr uint32_t kMappedTo = 0x400000;  // page tables above stay unmapped

void page_tables(Machine& m) {
  m.mem.fill(GuestPhysAddr(kPd), 0, 2 * kPageSize);
  m.write32(kPd, (kPd + 0x1000) | 3);
  for (uint32_t la = 0; la < 0x400000; la += kPageSize) {
    // The IDT, GDT, handlers and stack pages below 1 MiB are mapped for the monitor's accesses.
    const bool low = la < 0x100000;
    if (low || (la >= kMappedFrom && la < kMappedTo)) m.write32(kPd + 0x1000 + 4 * (la >> 12), la | 3);
  }
  m.vcpu.cr3 = kPd;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(kPd);
  m.set_cr0(m.vcpu.cr0);
}

}  // namespace

TEST_CASE("fuzz_random_guest_kernel_code_never_crashes_btvmm_and_ends_in_a_guest_event", "[engine][fuzz]") {
  const char* env_seed = std::getenv("BTVMM_SEED");
  const uint32_t seed = env_seed ? static_cast<uint32_t>(std::strtoul(env_seed, nullptr, 0)) : std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  // A fixed number of sequences, not a time budget: a seed then reproduces the whole run, and a
  // loaded machine cannot shrink the coverage (speed is for benchmarks, not tests).
  constexpr unsigned kRuns = 2000;
  std::map<std::string, unsigned> outcomes;
  unsigned runs = 0;
  std::vector<uint8_t> previous;
  for (; runs < kRuns; ++runs) {
    Machine m(EngineConfig{.tc_size = size_t(4) << 20});
    page_tables(m);
    std::vector<uint8_t> code(64);
    if (!previous.empty() && rng() % 2) {
      code = previous;  // mutate the last sequence
      for (unsigned k = 0; k < 1 + rng() % 4; ++k) code[rng() % code.size()] = static_cast<uint8_t>(rng());
    } else {
      for (auto& b : code) b = static_cast<uint8_t>(rng());
    }
    previous = code;
    m.bytes(kCode, code);
    for (unsigned r = 0; r < 8; ++r)
      if (r != kEsp) m.vcpu.gpr[r] = rng() % 2 ? static_cast<uint32_t>(rng()) : kCode + 0x1000 + rng() % 0x2000;
    m.host.limit = 2000;
    std::atomic<bool> done{false};
    std::thread kicker([&] {
      while (!done) {
        m.vcpu.attention = 1;  // stands in for the timer signal: loops in the TC must come out
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    m.vcpu.eip = kCode;
    const RunResult r = m.engine->run();
    done = true;
    kicker.join();
    std::string outcome;
    if (r == RunResult::kTripleFault) {
      outcome = "triple fault";
    } else if (r == RunResult::kUnsupported) {
      outcome = "engine: unsupported host fault";
    } else if (m.host.timed_out) {
      outcome = "time limit";
    } else if (m.vcpu.halted && m.vcpu.eip >= kHandlers && m.vcpu.eip < kHandlers + 32 * 16) {
      outcome = fmt::format("exception {}", (m.vcpu.eip - kHandlers) / 16);
    } else if (m.vcpu.halted) {
      outcome = "hlt";
    } else {
      outcome = "other";
    }
    ++outcomes[outcome];
  }
  std::string summary = fmt::format("seed {}: {} runs\n", seed, runs);
  for (const auto& [k, v] : outcomes) summary += fmt::format("  {:32} {}\n", k, v);
  WARN(summary);
  CHECK(outcomes["other"] == 0);
}
