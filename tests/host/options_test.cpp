// Command-line parsing (host/options.h): the accelerator property list (QEMU's `-accel
// name,prop=value` form) and its errors. Parsing only; nothing here runs a guest.
#include <catch2/catch.hpp>

#include <vector>

#include "core/error.h"
#include "host/options.h"

using namespace btvmm;
using namespace btvmm::host;

namespace {

Command parse(std::vector<const char*> args) {
  args.insert(args.begin(), "btvmm");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

ExitCode usage_code(std::vector<const char*> args) {
  try {
    parse(std::move(args));
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::kOk;
}

}  // namespace

TEST_CASE("accel_bt_adaptive_property_switches_adaptive_retranslation") {
  const auto on = std::get<RunOptions>(parse({"run", "--kernel", "k"}));
  CHECK(on.accel == Accel::kBt);
  CHECK(on.adaptive);
  const auto off = std::get<RunOptions>(parse({"run", "--kernel", "k", "--accel", "bt,adaptive=off"}));
  CHECK(off.accel == Accel::kBt);
  CHECK_FALSE(off.adaptive);
  const auto qemu_style = std::get<RunOptions>(parse({"run", "-kernel", "k", "-accel", "bt,adaptive=on"}));
  CHECK(qemu_style.adaptive);
}

TEST_CASE("accel_bt_direct_property_runs_guest_user_code_directly_and_is_off_by_default") {
  CHECK_FALSE(std::get<RunOptions>(parse({"run", "--kernel", "k"})).direct);
  const auto on = std::get<RunOptions>(parse({"run", "--kernel", "k", "--accel", "bt,direct=on,adaptive=off"}));
  CHECK(on.direct);
  CHECK_FALSE(on.adaptive);
  CHECK_FALSE(std::get<RunOptions>(parse({"run", "--kernel", "k", "--accel", "bt,direct=off"})).direct);
  CHECK(usage_code({"run", "--kernel", "k", "--accel", "kvm,direct=on"}) == ExitCode::kUsage);
  CHECK(usage_code({"run", "--kernel", "k", "--accel", "bt,direct=yes"}) == ExitCode::kUsage);
}

TEST_CASE("accel_rejects_unknown_names_and_properties_as_usage_errors") {
  CHECK(usage_code({"run", "--kernel", "k", "--accel", "tcg"}) == ExitCode::kUsage);
  CHECK(usage_code({"run", "--kernel", "k", "--accel", "bt,adaptive=maybe"}) == ExitCode::kUsage);
  CHECK(usage_code({"run", "--kernel", "k", "--accel", "kvm,adaptive=off"}) == ExitCode::kUsage);
  CHECK(usage_code({"run", "--kernel", "k", "--accel", ",adaptive=off"}) == ExitCode::kUsage);
}
