// Tests of translator/exec_profile (executed-instruction counters) and translator/perf_map: the
// folding arithmetic, the callout kinds, and the perf map's line format and file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/stats.h"
#include "translator/exec_profile.h"
#include "translator/hot_translations.h"
#include "translator/perf_map.h"

using namespace btvmm;
using namespace btvmm::translator;

namespace {


DecodedInstruction decoded(std::vector<uint8_t> bytes) {
  const DecodeResult r = decode(bytes, 0x1000);
  REQUIRE(r.ok());
  return r.instruction;
}

}  // namespace

TEST_CASE("exec_profile_folds_runs_times_instructions_per_cpl_and_once") {
  stats::reset_all();
  {
    ExecProfile kernel;
    kernel.set_cpl(0);
    kernel.add(ExecKind::kIdent);
    kernel.add(ExecKind::kIdent);
    kernel.add(ExecKind::kIdent);
    kernel.add(ExecKind::kMonitor);
    kernel.set_callout(CalloutKind::kIo);
    *kernel.runs_address() += 10;
    kernel.fold();
    kernel.fold();  // nothing new: adds nothing
    *kernel.runs_address() += 2;

    ExecProfile user;
    user.set_cpl(3);
    user.add(ExecKind::kBranchDirect);
    *user.runs_address() += 5;
  }  // destruction folds what is left
  CHECK(stats::value_of("exec.ccf_runs") == 17);
  CHECK(stats::value_of("exec.cpl0.ident") == 36);
  CHECK(stats::value_of("exec.cpl0.monitor") == 12);
  CHECK(stats::value_of("exec.cpl0.instructions") == 48);
  CHECK(stats::value_of("exec.callouts.io") == 12);
  CHECK(stats::value_of("exec.cpl0.ident_percent") == 75);
  CHECK(stats::value_of("exec.cpl0.in_tc_percent") == 75);
  CHECK(stats::value_of("exec.cpl3.branch_direct") == 5);
  CHECK(stats::value_of("exec.cpl3.instructions") == 5);
  CHECK(stats::value_of("exec.cpl3.ident") == 0);
}

TEST_CASE("exec_profile_subtracts_the_instructions_early_exits_did_not_run") {
  stats::reset_all();
  {
    ExecProfile p;
    p.set_cpl(0);
    p.add(ExecKind::kIdent);       // 0
    p.add(ExecKind::kVirtualCpu);  // 1: popfd, finished by the monitor in 3 runs
    p.add(ExecKind::kIdent);       // 2: faults in 2 runs
    p.add(ExecKind::kReencode);    // 3
    p.add(ExecKind::kMonitor);     // 4: the CCF's own callout
    p.set_callout(CalloutKind::kIo);
    *p.runs_address() = 10;
    *p.early_exit_counter(1, EarlyExit::kMonitorRuns, CalloutKind::kFlags) += 3;
    p.note_early_exit(2, EarlyExit::kSkipped);
    p.note_early_exit(2, EarlyExit::kSkipped);
    p.fold();
    p.fold();  // the exits were folded with their runs: nothing more
  }
  // 10 runs: 5 complete, 3 leave at 1 (the monitor runs it), 2 leave before 2.
  CHECK(stats::value_of("exec.cpl0.ident") == 10 + 5);
  CHECK(stats::value_of("exec.cpl0.virtual_cpu") == 7);
  CHECK(stats::value_of("exec.cpl0.reencode") == 5);
  CHECK(stats::value_of("exec.cpl0.monitor") == 5 + 3);
  CHECK(stats::value_of("exec.cpl0.instructions") == 15 + 7 + 5 + 8);
  CHECK(stats::value_of("exec.callouts.io") == 5);
  CHECK(stats::value_of("exec.callouts.flags") == 3);
  CHECK(stats::value_of("exec.ccf_runs") == 10);
}

TEST_CASE("exec_chained_transfers_are_runs_not_entered_by_the_dispatcher_or_the_inline_lookup") {
  stats::reset_all();
  {
    ExecProfile p;
    *p.runs_address() = 100;
  }
  publish_derived_exec_counters();  // tc.entries and tc.indirect_hits are 0 in this test binary
  CHECK(stats::value_of("exec.transfers_chained") == 100);
}

TEST_CASE("callout_kinds_tell_control_registers_from_segment_loads_and_io") {
  CHECK(callout_kind(decoded({0x0f, 0x22, 0xd8})) == CalloutKind::kControlRegister);  // mov cr3, eax
  CHECK(callout_kind(decoded({0x8e, 0xd8})) == CalloutKind::kSegmentLoad);            // mov ds, eax
  CHECK(callout_kind(decoded({0xe6, 0x80})) == CalloutKind::kIo);                     // out 0x80, al
  CHECK(callout_kind(decoded({0xcf})) == CalloutKind::kIret);
  CHECK(callout_kind(decoded({0xcd, 0x80})) == CalloutKind::kInterrupt);
  CHECK(callout_kind(decoded({0x0f, 0x01, 0x38})) == CalloutKind::kInvlpg);
  CHECK(std::string(to_string(CalloutKind::kIo)) == "io");
}

TEST_CASE("perf_map_lines_are_hex_start_size_and_guest_eip_with_cpl") {
  CHECK(perf_map_line(0x7f12a0001000, 0x9c, 0xc0101234, 0) == "7f12a0001000 9c g:0xc0101234_cpl0\n");
  CHECK(perf_map_line(0x1000, 16, 0x8048000, 3) == "1000 10 g:0x08048000_cpl3\n");
  CHECK(perf_map_path() == "/tmp/perf-" + std::to_string(getpid()) + ".map");
}

TEST_CASE("perf_map_writes_one_line_per_ccf_to_its_file") {
  const std::string path = "/tmp/btvmm-perf-map-test-" + std::to_string(getpid()) + ".map";
  uint8_t code[32] = {};
  {
    PerfMap map(path);
    Ccf a;
    a.host = code;
    a.host_size = 16;
    a.key = {0xc0100000, 0};
    Ccf b;
    b.host = code + 16;
    b.host_size = 16;
    b.key = {0x08048000, 3};
    map.add(a);
    map.add(b);
  }
  std::ifstream in(path);
  std::stringstream got;
  got << in.rdbuf();
  std::ostringstream want;
  want << perf_map_line(reinterpret_cast<uint64_t>(code), 16, 0xc0100000, 0)
       << perf_map_line(reinterpret_cast<uint64_t>(code + 16), 16, 0x08048000, 3);
  CHECK(got.str() == want.str());
  unlink(path.c_str());
}

TEST_CASE("hot_translations_add_up_folds_of_the_same_tu_and_list_the_most_executed_first") {
  stats::reset_all();
  reset_hot_translations();
  {
    ExecProfile loop;  // 3 instructions, 2 IDENT, run 100 times, in two folds (a retranslation)
    loop.set_cpl(0);
    loop.set_guest_eip(0xc0102a00);
    loop.add(ExecKind::kIdent);
    loop.add(ExecKind::kIdent);
    loop.add(ExecKind::kBranchDirect);
    *loop.runs_address() += 60;
    loop.fold();
    *loop.runs_address() += 40;
  }
  {
    ExecProfile cold;
    cold.set_cpl(0);
    cold.set_guest_eip(0xc0100000);
    cold.add(ExecKind::kMonitor);
    *cold.runs_address() += 7;
  }
  {
    ExecProfile user;  // same EIP at CPL 3: another TU
    user.set_cpl(3);
    user.set_guest_eip(0xc0102a00);
    user.add(ExecKind::kIdent);
    *user.runs_address() += 5;
  }
  const std::vector<HotTranslation> hot = hottest_translations(10);
  REQUIRE(hot.size() == 3);
  CHECK(hot[0].eip == 0xc0102a00);
  CHECK(hot[0].cpl == 0);
  CHECK(hot[0].runs == 100);
  CHECK(hot[0].instructions == 300);
  CHECK(hot[0].ident == 200);
  CHECK(hot[0].tu_instructions == 3);
  CHECK(hot[1].instructions == 7);
  CHECK(hot[2].cpl == 3);
  CHECK(hottest_translations(1).size() == 1);

  const std::string table = format_hottest_translations(2);
  CHECK(table.find("0xc0102a00") != std::string::npos);
  CHECK(table.find("97.7%") != std::string::npos);  // 300 of the 307 CPL 0 instructions
  CHECK(table.find("66.7%") != std::string::npos);  // its IDENT share
  CHECK(table.find("0xc0100000") != std::string::npos);
  CHECK(format_hottest_translations(0).empty());
  reset_hot_translations();
  CHECK(format_hottest_translations(10).empty());
}
