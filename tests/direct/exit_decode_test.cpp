// Stub exit records -> guest events, without a stub: Linux's signal/trapno/error-code facts as
// arch/x86/kernel/traps.c reports them, mapped to IA-32 exceptions (SDM vol. 3 6.15).
#include <catch2/catch.hpp>

#include <csignal>
#include <cstring>
#include <initializer_list>

#include "runtime/direct/exit_decode.h"

using namespace btvmm;
using namespace btvmm::direct;

namespace {

constexpr uint16_t kCs = 0x77;

btvmm_stub_exit make_exit(int signo, uint32_t trapno, uint32_t err, std::initializer_list<uint8_t> insn = {}) {
  btvmm_stub_exit e{};
  e.signo = uint32_t(signo);
  e.trapno = trapno;
  e.err = err;
  e.rip = 0x401000;
  e.arch = signo == SIGSYS ? 0x40000003u : 0;
  e.insn_len = uint32_t(insn.size());
  if (insn.size() != 0) std::memcpy(e.insn, insn.begin(), insn.size());
  return e;
}

btvmm_stub_regs regs(uint16_t cs = kCs) {
  btvmm_stub_regs r{};
  r.eip = 0x401000;
  r.cs = cs;
  return r;
}

}  // namespace

TEST_CASE("decode_gp_with_idt_error_code_is_int_n_returning_after_prefixes") {
  const UserExit x = decode_exit(make_exit(SIGSEGV, 13, 0x21 * 8 + 2, {0x3e, 0xcd, 0x21}), regs(), kCs);
  REQUIRE(x.kind == UserExit::kSoftwareInterrupt);
  CHECK(x.vector == 0x21);
  CHECK(x.eip == 0x401000);
  CHECK(x.return_eip == 0x401003);
}

TEST_CASE("decode_gp0_is_guest_gp0_at_the_instruction") {
  const UserExit x = decode_exit(make_exit(SIGSEGV, 13, 0, {0xfa}), regs(), kCs);
  REQUIRE(x.kind == UserExit::kException);
  CHECK(x.exception.vector == runtime::kGp);
  CHECK(x.exception.has_error_code);
  CHECK(x.exception.error_code == 0);
  CHECK(x.eip == 0x401000);
}

TEST_CASE("decode_gp_with_selector_on_a_segment_load_asks_for_emulation_otherwise_stays_gp") {
  for (auto insn : {std::vector<uint8_t>{0x8e, 0xe8}, {0x0f, 0xa9}, {0x1f}, {0x66, 0x8e, 0xd8}, {0xea, 0, 0, 0, 0, 0x3b, 0}}) {
    btvmm_stub_exit e = make_exit(SIGSEGV, 13, 0x38);
    e.insn_len = uint32_t(insn.size());
    std::memcpy(e.insn, insn.data(), insn.size());
    CHECK(decode_exit(e, regs(), kCs).kind == UserExit::kEmulate);
  }
  const UserExit x = decode_exit(make_exit(SIGSEGV, 13, 0x38, {0x8b, 0x00}), regs(), kCs);
  CHECK(x.kind == UserExit::kException);
  CHECK(x.exception.error_code == 0x38);
}

TEST_CASE("decode_int80_sigsys_is_software_interrupt_at_the_int_instruction") {
  const UserExit x = decode_exit(make_exit(SIGSYS, 0, 0, {0xcd, 0x80}), regs(), kCs);
  REQUIRE(x.kind == UserExit::kSoftwareInterrupt);
  CHECK(x.vector == 0x80);
  CHECK(x.eip == 0x400ffe);
  CHECK(x.return_eip == 0x401000);
}

TEST_CASE("decode_compat_syscall_sigsys_is_ud_at_the_instruction") {
  const UserExit x = decode_exit(make_exit(SIGSYS, 0, 0, {0x0f, 0x05}), regs(), kCs);
  REQUIRE(x.kind == UserExit::kException);
  CHECK(x.exception.vector == runtime::kUd);
  CHECK(x.eip == 0x400ffe);
}

TEST_CASE("decode_page_fault_access_kind_from_host_error_code") {
  btvmm_stub_exit e = make_exit(SIGSEGV, 14, 6);
  e.addr = 0x500000;
  UserExit x = decode_exit(e, regs(), kCs);
  REQUIRE(x.kind == UserExit::kPageFault);
  CHECK(x.fault_addr.value == 0x500000);
  CHECK(x.access == mmu::AccessKind::kWrite);
  e.err = 0x14;
  CHECK(decode_exit(e, regs(), kCs).access == mmu::AccessKind::kFetch);
  e.err = 4;
  CHECK(decode_exit(e, regs(), kCs).access == mmu::AccessKind::kRead);
}

TEST_CASE("decode_signals_without_error_codes_map_to_their_vectors") {
  CHECK(decode_exit(make_exit(SIGFPE, 0, 0), regs(), kCs).exception.vector == runtime::kDe);
  CHECK(decode_exit(make_exit(SIGILL, 6, 0), regs(), kCs).exception.vector == runtime::kUd);
  CHECK(decode_exit(make_exit(SIGTRAP, 3, 0), regs(), kCs).exception.vector == runtime::kBp);
  CHECK(decode_exit(make_exit(SIGTRAP, 1, 0), regs(), kCs).exception.vector == runtime::kDb);
  CHECK(decode_exit(make_exit(SIGBUS, 11, 0x40), regs(), kCs).exception.error_code == 0x40);
  CHECK(decode_exit(make_exit(SIGALRM, 0, 0), regs(), kCs).kind == UserExit::kInterrupt);
}

TEST_CASE("decode_any_exit_outside_compat_mode_is_an_escape_reported_as_gp0") {
  // CS 0x33 (host 64-bit code), a 64-bit syscall, a fault address above 4 GiB.
  UserExit x = decode_exit(make_exit(SIGSEGV, 14, 4), regs(0x33), kCs);
  CHECK(x.escaped);
  CHECK(x.kind == UserExit::kException);
  CHECK(x.exception.vector == runtime::kGp);
  btvmm_stub_exit sys = make_exit(SIGSYS, 0, 0, {0x0f, 0x05});
  sys.arch = 0xc000003eu;
  CHECK(decode_exit(sys, regs(), kCs).escaped);
  btvmm_stub_exit far = make_exit(SIGSEGV, 14, 4);
  far.addr = 0x7f0000001000ull;
  CHECK(decode_exit(far, regs(), kCs).escaped);
}

TEST_CASE("decode_buckets_follow_the_direct_exit_counters") {
  CHECK(bucket_of(make_exit(SIGSYS, 0, 0)) == ExitBucket::kSyscall);
  CHECK(bucket_of(make_exit(SIGSEGV, 14, 0)) == ExitBucket::kPageFault);
  CHECK(bucket_of(make_exit(SIGSEGV, 13, 0)) == ExitBucket::kGp);
  CHECK(bucket_of(make_exit(SIGALRM, 0, 0)) == ExitBucket::kTimer);
  CHECK(bucket_of(make_exit(SIGFPE, 0, 0)) == ExitBucket::kOther);
}
