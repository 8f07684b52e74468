// Tests of the guest window reservation (mmu/window.h) in a real process. Not built with ASan:
// ASan's shadow lies inside the window (DESIGN.md 7).
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"
#include "tests/mmu/window_fixture.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

// Lines of /proc/self/maps starting inside [lo, hi).
std::vector<std::string> maps_in(uint64_t lo, uint64_t hi) {
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &start, &end) == 2 && start < hi && end > lo) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("window_starts_at_mmap_min_addr_and_marks_lower_pages_emulated") {
  Window& w = test_window();
  uint64_t min = 0;
  std::ifstream("/proc/sys/vm/mmap_min_addr") >> min;
  const uint64_t expect = std::max<uint64_t>((min + kPageSize - 1) & ~(kPageSize - 1), kPageSize);
  CHECK(w.first_mappable().value == expect);
  CHECK(w.emulated(LinearAddr(0)));
  CHECK(w.emulated(LinearAddr(static_cast<uint32_t>(expect - 1))));
  CHECK_FALSE(w.emulated(w.first_mappable()));
  CHECK(reinterpret_cast<uintptr_t>(w.host(LinearAddr(0xC0000000))) == 0xC0000000u);
}

TEST_CASE("window_and_guard_are_reserved_inaccessible_up_to_8_gib") {
  Window& w = test_window();
  auto lines = maps_in(w.first_mappable().value, kWindowSize + kGuardSize);
  REQUIRE_FALSE(lines.empty());
  uint64_t covered = 0;
  for (const auto& l : lines) {
    unsigned long long start = 0, end = 0;
    char perms[5] = {};
    REQUIRE(std::sscanf(l.c_str(), "%llx-%llx %4s", &start, &end, perms) == 3);
    INFO(l);
    CHECK(std::string(perms) == "---p");
    covered += end - start;
  }
  CHECK(covered == kWindowSize + kGuardSize - w.first_mappable().value);
  uint32_t v = 0;
  for (uint64_t a : {uint64_t(w.first_mappable().value), uint64_t(0x7fff8000), uint64_t(0xFFFFFFFC),
                     kWindowSize, kWindowSize + kGuardSize - 4}) {
    INFO(std::hex << a);
    CHECK_FALSE(host_access(reinterpret_cast<volatile uint8_t*>(a), false, v));
  }
  // Nothing else can be placed there without MAP_FIXED.
  void* p = mmap(reinterpret_cast<void*>(0x40000000), kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(p == MAP_FAILED);
}

TEST_CASE("second_window_in_one_process_is_refused") {
  test_window();
  try {
    Window again;
    FAIL("a second window was reserved");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("already holds one") != std::string::npos);
    CHECK(e.code() == ExitCode::kInternal);
  }
}

TEST_CASE("window_reservation_names_what_already_sits_in_the_range") {
  // In a child, so the reservation runs with no window in the process and a mapping in the way.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    window_holder().reset();
    void* squat = mmap(reinterpret_cast<void*>(0x50000000), kPageSize, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (squat == MAP_FAILED) _exit(3);
    try {
      Window w;
      _exit(1);
    } catch (const Error& e) {
      const std::string m = e.what();
      _exit(m.find("already occupied by: 50000000-50001000") != std::string::npos ? 0 : 2);
    }
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
