// The monitor-exit path of the TC engine (runtime/engine/trampolines.cpp, dispatcher.cpp): what a
// round trip from translated code to the monitor and back must keep for the guest (its x87/SSE
// state, whatever host code ran meanwhile) and give back to the host (psABI FPU control state).
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "core/stats.h"
#include "engine_fixture.h"
#include "runtime/engine/exit_decode_cache.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {

// Rebuilds m's engine over `env` (the test's CpuEnv) instead of the fixture's TestEnv.
void use_env(Machine& m, CpuEnv& env) {
  m.make_engine(env);
}


// A CpuEnv that wrecks every caller-saved FPU/SSE register at each port write, as any monitor
// code is allowed to (x86-64 psABI 3.2.1): the guest must not notice.
class ClobberingEnv final : public CpuEnv {
 public:
  explicit ClobberingEnv(CpuEnv& inner) : inner_(inner) {}
  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override {
    return inner_.read_linear(la, dst, size, user);
  }
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override {
    return inner_.write_linear(la, src, size, user);
  }
  uint32_t io_read(uint16_t port, unsigned size) override { return inner_.io_read(port, size); }
  void io_write(uint16_t port, unsigned size, uint32_t value) override {
    ++writes;
    inner_.io_write(port, size, value);
    // Leaves the x87 stack empty again (fstp) as a call must, but with other register contents.
    __asm__ volatile(
        "fninit\n fldpi\n fldpi\n fstp %%st(0)\n fstp %%st(0)\n"
        "pcmpeqb %%xmm0, %%xmm0\n pcmpeqb %%xmm1, %%xmm1\n pcmpeqb %%xmm2, %%xmm2\n pcmpeqb %%xmm3, %%xmm3\n"
        "pcmpeqb %%xmm4, %%xmm4\n pcmpeqb %%xmm5, %%xmm5\n pcmpeqb %%xmm6, %%xmm6\n pcmpeqb %%xmm7, %%xmm7\n" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "st", "st(1)", "memory");
  }
  void paging_changed(PagingEvent what, uint32_t addr) override { inner_.paging_changed(what, addr); }
  uint64_t host_tsc() override { return inner_.host_tsc(); }
  unsigned writes = 0;

 private:
  CpuEnv& inner_;
};

struct HostFpuControl {
  uint16_t fcw = 0;
  uint16_t fsw = 0;
  uint16_t ftw = 0;  // full tag word from fnstenv: 0xffff = every register empty
  uint32_t mxcsr = 0;
};

HostFpuControl host_fpu_control() {
  HostFpuControl c;
  uint16_t env[14] = {};  // 28-byte protected-mode FNSTENV image (SDM vol. 1 8.1.10, figure 8-9)
  __asm__ volatile("fnstenv %0\n fldenv %0\n stmxcsr %1" : "=m"(env), "=m"(c.mxcsr));
  c.fcw = env[0];
  c.fsw = env[2];
  c.ftw = env[4];
  return c;
}

constexpr uint32_t kPi = 0x40490fdb;   // (float)M_PI
constexpr uint32_t kOne = 0x3f800000;  // 1.0f
// Round toward zero, every SSE exception unmasked (SDM vol. 1 10.2.3).
constexpr uint32_t kGuestMxcsr = 0x6000;
// Round toward zero, precision 53 bits, every x87 exception unmasked (SDM vol. 1 8.1.5).
constexpr uint16_t kGuestFcw = 0x0e40;

}  // namespace

TEST_CASE("engine_keeps_guest_x87_and_sse_registers_across_monitor_exits_that_clobber_the_host_fpu", "[engine]") {
  Machine m;
  ClobberingEnv env(m.env);
  use_env(m, env);
  const uint8_t pattern[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  m.mem.write(GuestPhysAddr(kData), pattern, sizeof pattern);
  m.write32(kData + 16, kGuestMxcsr);
  m.code(kCode, [](x86::Assembler& a) {
    a.fld1();
    a.fldpi();
    a.movups(x86::xmm7, x86::ptr(kData));
    a.movups(x86::xmm0, x86::ptr(kData));
    a.ldmxcsr(x86::dword_ptr(kData + 16));
    a.out(0x80, x86::al);  // monitor exits: the host FPU is clobbered in between
    a.out(0x80, x86::al);
    a.fstp(x86::dword_ptr(kData + 32));
    a.fstp(x86::dword_ptr(kData + 36));
    a.movups(x86::ptr(kData + 48), x86::xmm7);
    a.movups(x86::ptr(kData + 64), x86::xmm0);
    a.stmxcsr(x86::dword_ptr(kData + 80));
    a.hlt();
  });
  const HostFpuControl before = host_fpu_control();
  REQUIRE(m.run());
  CHECK(env.writes == 2);
  CHECK(m.read32(kData + 32) == kPi);
  CHECK(m.read32(kData + 36) == kOne);
  uint8_t xmm7[16] = {}, xmm0[16] = {};
  m.mem.read(GuestPhysAddr(kData + 48), xmm7, sizeof xmm7);
  m.mem.read(GuestPhysAddr(kData + 64), xmm0, sizeof xmm0);
  CHECK(std::memcmp(xmm7, pattern, sizeof pattern) == 0);
  CHECK(std::memcmp(xmm0, pattern, sizeof pattern) == 0);
  CHECK(m.read32(kData + 80) == kGuestMxcsr);
  const HostFpuControl after = host_fpu_control();
  CHECK(after.mxcsr == before.mxcsr);
  CHECK(after.fcw == before.fcw);
}

TEST_CASE("engine_returns_host_fpu_control_state_and_an_empty_x87_stack_whatever_the_guest_left", "[engine]") {
  Machine m;
  m.write32(kData, kGuestMxcsr);
  m.write32(kData + 4, kGuestFcw);
  m.code(kCode, [](x86::Assembler& a) {
    a.ldmxcsr(x86::dword_ptr(kData));
    a.fldcw(x86::word_ptr(kData + 4));
    a.fld1();
    a.fldpi();
    a.fldz();
    a.hlt();  // three x87 registers still in use
  });
  const HostFpuControl before = host_fpu_control();
  REQUIRE(before.ftw == 0xffff);
  REQUIRE(m.run());
  const HostFpuControl after = host_fpu_control();
  CHECK(after.mxcsr == before.mxcsr);
  CHECK(after.fcw == before.fcw);
  CHECK(after.ftw == 0xffff);
  // The guest's own state is kept in its FXSAVE image (SDM vol. 1 10.5.1): its control words and
  // three valid registers (abridged tag bits for physical registers 5, 6, 7 after three pushes).
  uint16_t fcw = 0;
  uint32_t mxcsr = 0;
  std::memcpy(&fcw, m.vcpu.fxsave, 2);
  std::memcpy(&mxcsr, m.vcpu.fxsave + 24, 4);
  CHECK(fcw == kGuestFcw);
  CHECK(mxcsr == kGuestMxcsr);
  CHECK(m.vcpu.fxsave[4] == 0xe0);
}

TEST_CASE("engine_clears_a_pending_guest_x87_exception_before_returning_to_the_host", "[engine]") {
  Machine m;
  m.write32(kData, kGuestFcw);
  m.code(kCode, [](x86::Assembler& a) {
    a.fldcw(x86::word_ptr(kData));
    a.fldz();
    a.fld1();
    a.fdivrp(x86::st1);  // 1 / 0 with #Z unmasked: pending until the next waiting x87 instruction
    a.hlt();
  });
  REQUIRE(m.run());
  const HostFpuControl after = host_fpu_control();
  CHECK((after.fsw & 0x80) == 0);  // FSW.ES
  CHECK(after.ftw == 0xffff);
  // A waiting x87 instruction in the host would raise #MF (SIGFPE) were the exception still pending.
  double d = 1.0;
  __asm__ volatile("fldl %0\n fstpl %0\n fwait" : "+m"(d));
  CHECK(d == 1.0);
  uint16_t fsw = 0;
  std::memcpy(&fsw, m.vcpu.fxsave + 2, 2);
  CHECK((fsw & 0x84) == 0x84);  // the guest keeps ZE and ES pending (SDM vol. 1 8.1.3)
}

namespace {

// Runs `iterations` times a loop whose body is `body` (ESI is the loop counter) and reports the
// time per iteration. Figures only: speed is never asserted.
void measure_loop(const char* what, const std::function<void(x86::Assembler&)>& body,
                  const std::function<void(Machine&)>& setup = {}) {
  static constexpr uint32_t kIterations = 20000;
  stats::reset_all();
  Machine m;
  if (setup) setup(m);
  m.code(kCode, [&](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::esi, kIterations);
    a.bind(loop);
    body(a);
    a.dec(x86::esi);
    a.jnz(loop);
    a.hlt();
  });
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(m.run());
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  CHECK(m.vcpu.gpr[kEsi] == 0);
  WARN(fmt::format("{}: {:.0f} ns per iteration", what, ns / kIterations));
}

constexpr uint8_t kIretVector = 0x40;
constexpr uint32_t kIretHandler = kHandlers + 0x800;

// Vector 0x40: a 32-bit interrupt gate, DPL 3, to an `iret` (SDM vol. 3 6.11).
void iret_gate(Machine& m) {
  const uint64_t gate = (kIretHandler & 0xffff) | (uint64_t(0x08) << 16) | (uint64_t(0xEE00) << 32) |
                        (uint64_t(kIretHandler >> 16) << 48);
  m.mem.write_obj(GuestPhysAddr(kIdt + 8 * kIretVector), gate);
  m.mem.write_obj(GuestPhysAddr(kIretHandler), uint8_t(0xCF));
  m.vcpu.idtr.limit = 256 * 8 - 1;
}

}  // namespace

TEST_CASE("engine_measures_monitor_exit_round_trips_by_callout", "[engine][measure]") {
  measure_loop("out 0x80, al", [](x86::Assembler& a) { a.out(0x80, x86::al); });
  measure_loop("in al, 0x80", [](x86::Assembler& a) { a.in(x86::al, 0x80); });
  measure_loop("mov ds, ax (flat data selector)", [](x86::Assembler& a) {
    a.mov(x86::eax, 0x10);
    a.mov(x86::ds, x86::ax);
  });
  measure_loop("cpuid (leaf 0)", [](x86::Assembler& a) {
    a.xor_(x86::eax, x86::eax);
    a.cpuid();
  });
  measure_loop("int 0x40 + iret", [](x86::Assembler& a) { a.int_(kIretVector); }, iret_gate);
}

TEST_CASE("exit_decode_cache_answers_only_while_its_ccf_vouches_for_the_bytes", "[engine]") {
  const uint8_t out_80[] = {0xE6, 0x80};  // out 0x80, al
  const translator::DecodeResult d = translator::decode(out_80, 0x1000);
  REQUIRE(d.ok());
  translator::Ccf owner;
  owner.key = {0xff0, 0};
  ExitDecodeCache cache;
  cache.remember(d.instruction, translator::Kind::kCallout, owner, 7);
  const ExitDecodeCache::Entry* e = cache.find(0x1000, 0, 7);
  REQUIRE(e);
  CHECK(e->insn.mnemonic() == ZYDIS_MNEMONIC_OUT);
  CHECK(e->kind == translator::Kind::kCallout);
  CHECK(!cache.find(0x1000, 3, 7));  // other CPL
  CHECK(!cache.find(0x1001, 0, 7));
  CHECK(!cache.find(0x1000, 0, 8));  // TC flushed since
  owner.stale = true;
  CHECK(!cache.find(0x1000, 0, 7));
  owner.stale = false;
  CHECK(cache.find(0x1000, 0, 7));
  owner.valid = false;
  CHECK(!cache.find(0x1000, 0, 7));
}

TEST_CASE("exit_decode_cache_stays_bounded", "[engine]") {
  const uint8_t out_80[] = {0xE6, 0x80};
  translator::Ccf owner;
  ExitDecodeCache cache;
  for (uint32_t i = 0; i < ExitDecodeCache::kMaxEntries + 10; ++i) {
    const translator::DecodeResult d = translator::decode(out_80, 0x1000 + 2 * i);
    cache.remember(d.instruction, translator::Kind::kCallout, owner, 1);
    if (i == 0) CHECK(cache.find(0x1000, 0, 1));  // now also in the direct-mapped front
  }
  CHECK(cache.size() <= ExitDecodeCache::kMaxEntries);
  CHECK(!cache.find(0x1000, 0, 1));  // dropped when the bound was reached, front included
  CHECK(cache.find(0x1000 + 2 * (ExitDecodeCache::kMaxEntries + 9), 0, 1));
}

TEST_CASE("engine_runs_a_rewritten_callout_as_its_new_bytes_say", "[engine]") {
  stats::reset_all();
  Machine m;
  static constexpr uint32_t kCallee = kCode + 0x1000;  // own page: the rewrite invalidates only the callee
  m.code(kCallee, [](x86::Assembler& a) {
    a.out(0x80, x86::al);
    a.ret();
  });
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, 0x11);
    a.mov(x86::ecx, 3);
    asmjit::Label loop = a.newLabel();
    a.bind(loop);
    a.call(kCallee);  // out 0x80 three times: translated once, decoded at translation only
    a.dec(x86::ecx);
    a.jnz(loop);
    a.mov(x86::byte_ptr(kCallee + 1), 0x81);  // the port byte of `out imm8, al` (SDM vol. 2 OUT: E6 ib)
    a.mov(x86::eax, 0x22);
    a.call(kCallee);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.env.last_out.first == 0x81);
  CHECK(m.env.last_out.second == 0x22);
  CHECK(stats::value_of("tc.exit_decode_hits") >= 4);
  CHECK(stats::value_of("tc.exit_decodes") == 0);
}

namespace {

// Stands in for the host's timer signal: every RDTSC the monitor executes raises `attention`.
class AttentionAtRdtscEnv final : public CpuEnv {
 public:
  AttentionAtRdtscEnv(CpuEnv& inner, VcpuState& vcpu) : inner_(inner), vcpu_(vcpu) {}
  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override {
    return inner_.read_linear(la, dst, size, user);
  }
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override {
    return inner_.write_linear(la, src, size, user);
  }
  uint32_t io_read(uint16_t port, unsigned size) override { return inner_.io_read(port, size); }
  void io_write(uint16_t port, unsigned size, uint32_t value) override { inner_.io_write(port, size, value); }
  void paging_changed(PagingEvent what, uint32_t addr) override { inner_.paging_changed(what, addr); }
  uint64_t host_tsc() override {
    ++attentions;
    vcpu_.attention = 1;
    return inner_.host_tsc();
  }
  unsigned attentions = 0;

 private:
  CpuEnv& inner_;
  VcpuState& vcpu_;
};

uint64_t services_for_loop(const std::function<void(x86::Assembler&)>& body, unsigned* attentions = nullptr) {
  Machine m;
  AttentionAtRdtscEnv env(m.env, m.vcpu);
  use_env(m, env);
  m.code(kCode, [&](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::esi, 100);
    a.bind(loop);
    body(a);
    a.dec(x86::esi);
    a.jnz(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  if (attentions) *attentions = env.attentions;
  return m.host.services;
}

}  // namespace

TEST_CASE("engine_services_devices_after_each_port_access_and_each_attention", "[engine]") {
  CHECK(services_for_loop([](x86::Assembler& a) { a.out(0x80, x86::al); }) >= 100);
  CHECK(services_for_loop([](x86::Assembler& a) { a.in(x86::al, 0x80); }) >= 100);
  CHECK(services_for_loop([](x86::Assembler& a) {
          a.mov(x86::ecx, 0x17);  // IA32_PLATFORM_ID (SDM vol. 4 table 2-2)
          a.rdmsr();
        }) >= 100);
  unsigned attentions = 0;
  CHECK(services_for_loop([](x86::Assembler& a) { a.rdtsc(); }, &attentions) >= 100);
  CHECK(attentions == 100);
  // A system instruction that reaches no device leaves devices alone (the pass costs no host call).
  CHECK(services_for_loop([](x86::Assembler& a) {
          a.xor_(x86::eax, x86::eax);
          a.cpuid();
        }) < 10);
}

TEST_CASE("engine_puts_an_indirect_target_evicted_from_the_inline_lookup_back", "[engine]") {
  stats::reset_all();
  Machine m;
  // Same low 16 bits: one slot of the direct-mapped inline lookup (translator/tc_lookup.h).
  static constexpr uint32_t kTarget = 0x400800, kRival = 0x410800;
  m.code(kTarget, [](x86::Assembler& a) { a.ret(); });
  m.code(kRival, [](x86::Assembler& a) { a.ret(); });
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, kTarget);
    a.call(x86::eax);
    a.mov(x86::eax, kRival);  // translating the rival evicts the target from the slot
    a.call(x86::eax);
    a.mov(x86::ecx, 100);
    asmjit::Label loop = a.newLabel();
    a.bind(loop);
    a.mov(x86::eax, kTarget);
    a.call(x86::eax);
    a.dec(x86::ecx);
    a.jnz(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK(stats::value_of("tc.indirect_misses") < 10);
}
