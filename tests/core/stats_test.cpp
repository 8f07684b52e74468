#include <catch2/catch.hpp>

#include "core/stats.h"

using namespace btvmm;

static stats::Counter c_test_a{"zz_test.alpha", "test counter a"};
static stats::Counter c_test_b{"zz_test.beta", "test counter b"};

TEST_CASE("stats_counters_register_and_print_by_name") {
  stats::reset_all();
  c_test_a.inc();
  c_test_a.inc(2);
  auto snap = stats::snapshot();
  bool found_a = false, found_b = false;
  for (auto& s : snap) {
    if (s.name == "zz_test.alpha") { found_a = true; CHECK(s.value == 3); }
    if (s.name == "zz_test.beta") { found_b = true; CHECK(s.value == 0); }
  }
  CHECK(found_a);
  CHECK(found_b);
  std::string table = stats::format_table(false);
  CHECK(table.find("zz_test.alpha") != std::string::npos);
  CHECK(table.find("zz_test.beta") == std::string::npos);
}
