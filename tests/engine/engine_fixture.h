// Test machine for the TC engine: the real guest window (no ASan, DESIGN.md 7), guest memory with
// a flat GDT, an IDT whose handler for vector v is a `hlt` at kHandlers + 16 v, a CpuEnv over the
// guest's paging and a host that stops the run when the guest halts. Guest code is assembled with
// asmjit in 32-bit mode. Touches host memory outside the window only through GuestMemory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <asmjit/x86.h>

#include "mmu/paging.h"
#include "mmu/shadow_mmu.h"
#include "mmu/window_mapper.h"
#include "runtime/engine/dispatcher.h"
#include "tests/mmu/window_fixture.h"

namespace btvmm::engine_test {

using namespace btvmm::runtime;
using namespace btvmm::runtime::engine;

inline constexpr uint32_t kGdt = 0x1000;
inline constexpr uint32_t kIdt = 0x2000;
inline constexpr uint32_t kHandlers = 0x3000;
inline constexpr uint32_t kStackTop = 0x80000;
inline constexpr uint32_t kCode = 0x100000;
inline constexpr uint32_t kData = 0x200000;
inline constexpr uint64_t kRamBytes = 16 << 20;

inline uint32_t handler_eip(uint8_t vector) { return kHandlers + 16u * vector; }

class Machine;

class TestEnv final : public CpuEnv {
 public:
  explicit TestEnv(Machine& m) : m_(m) {}
  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override;
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override;
  uint32_t io_read(uint16_t, unsigned) override { return 0xffffffff; }
  void io_write(uint16_t port, unsigned, uint32_t value) override { last_out = {port, value}; }
  void paging_changed(PagingEvent what, uint32_t addr) override;
  uint64_t host_tsc() override { return 0; }
  std::pair<uint16_t, uint32_t> last_out{0, 0};

 private:
  std::optional<GuestException> access(uint32_t la, uint8_t* buf, unsigned size, bool user, bool write);
  Machine& m_;
};

class TestHost final : public ExecutionHost {
 public:
  bool interrupt_pending() override { return pending.has_value(); }
  uint8_t acknowledge_interrupt() override {
    const uint8_t v = *pending;
    pending.reset();
    return v;
  }
  void wait_for_interrupt() override { stop = true; }
  void service_devices() override { ++services; }
  // Asked once per dispatcher pass (devices are serviced only when they may need it): `limit`
  // passes bound a guest that never halts.
  bool stop_requested() override {
    if (++passes > limit) stop = timed_out = true;
    return stop;
  }
  std::optional<uint8_t> pending;
  bool stop = false;
  bool timed_out = false;
  uint64_t services = 0;
  uint64_t passes = 0;
  uint64_t limit = 1'000'000;
};

class Machine {
 public:
  explicit Machine(EngineConfig config = {})
      : window(mmu::testing::test_window()), user_window(mmu::testing::test_user_window()), mem(kRamBytes) {
    mapper = std::make_unique<mmu::WindowMapper>(window, mem.machine().fd());
    user_mapper = std::make_unique<mmu::WindowMapper>(user_window, mem.machine().fd());
    setup_descriptors();
    const mmu::GuestPagingState paging{vcpu.cr0, vcpu.cr3, vcpu.cr4};
    shadow = std::make_unique<mmu::ShadowMmu>(mem, *mapper, traces, paging);
    mmu::ShadowConfig user_config;
    user_config.view = mmu::ShadowView::kUser;
    user_shadow = std::make_unique<mmu::ShadowMmu>(mem, *user_mapper, traces, paging, user_config);
    make_engine(env, config);
  }

  // (Re)builds the engine over `cpu_env` with both shadows.
  void make_engine(CpuEnv& cpu_env, EngineConfig config = {}) {
    engine.reset();
    engine = std::make_unique<Engine>(vcpu, cpu_env, host, mem, WindowShadow{*shadow, *mapper, window.base()},
                                      WindowShadow{*user_shadow, *user_mapper, user_window.base()}, config);
  }

  // Paging state set up directly in vcpu reaches both shadows, as the monitor's paging hook does.
  void load_cr3(uint32_t v) { shadow->load_cr3(v), user_shadow->load_cr3(v); }
  void set_cr0(uint32_t v) { shadow->set_cr0(v), user_shadow->set_cr0(v); }
  void set_cr4(uint32_t v) { shadow->set_cr4(v), user_shadow->set_cr4(v); }

  // Assembles 32-bit code at guest-physical (= linear with paging off) address `at`.
  void code(uint32_t at, const std::function<void(asmjit::x86::Assembler&)>& body) {
    asmjit::CodeHolder holder;
    holder.init(asmjit::Environment(asmjit::Arch::kX86), at);
    asmjit::x86::Assembler a(&holder);
    body(a);
    holder.flatten();
    holder.relocateToBase(at);
    std::vector<uint8_t> bytes(holder.codeSize());
    holder.copyFlattenedData(bytes.data(), bytes.size());
    mem.write(GuestPhysAddr(at), bytes.data(), bytes.size());
  }
  void bytes(uint32_t at, std::vector<uint8_t> b) { mem.write(GuestPhysAddr(at), b.data(), b.size()); }
  uint32_t read32(uint32_t pa) {
    uint32_t v = 0;
    mem.read_obj(GuestPhysAddr(pa), v);
    return v;
  }
  void write32(uint32_t pa, uint32_t v) { mem.write_obj(GuestPhysAddr(pa), v); }

  // Runs from kCode until the guest halts; true if it halted (not timed out, no error).
  bool run(uint32_t eip = kCode) {
    vcpu.eip = eip;
    const RunResult r = engine->run();
    return r == RunResult::kStopped && !host.timed_out && vcpu.halted;
  }
  // True if the guest ended in the handler of `vector` (its hlt executed).
  bool halted_in_handler(uint8_t vector) const { return vcpu.halted && vcpu.eip == handler_eip(vector) + 1; }
  // Stack of an exception frame in the handler: [esp] = error code (if any), then EIP.
  uint32_t stack(unsigned index) { return read32(vcpu.gpr[kEsp] + 4 * index); }

  mmu::Window& window;
  mmu::Window& user_window;
  mmu::GuestMemory mem;
  mmu::WriteTraces traces;
  std::unique_ptr<mmu::WindowMapper> mapper;
  std::unique_ptr<mmu::WindowMapper> user_mapper;
  VcpuState vcpu;
  std::unique_ptr<mmu::ShadowMmu> shadow;
  std::unique_ptr<mmu::ShadowMmu> user_shadow;
  TestEnv env{*this};
  TestHost host;
  std::unique_ptr<Engine> engine;

 private:
  void setup_descriptors() {
    // Flat 4 GiB code (0x08) and data (0x10) descriptors (SDM vol. 3 3.4.5).
    const uint64_t gdt[3] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
    mem.write(GuestPhysAddr(kGdt), gdt, sizeof gdt);
    for (unsigned v = 0; v < 32; ++v) {
      // 32-bit interrupt gate, DPL 0, to a `hlt` (SDM vol. 3 6.11, figure 6-2).
      const uint32_t h = handler_eip(static_cast<uint8_t>(v));
      const uint64_t gate = (h & 0xffff) | (uint64_t(0x08) << 16) | (uint64_t(0x8E00) << 32) |
                            (uint64_t(h >> 16) << 48);
      mem.write_obj(GuestPhysAddr(kIdt + 8 * v), gate);
      mem.write_obj(GuestPhysAddr(h), uint8_t(0xF4));
    }
    vcpu.gdtr = {kGdt, 23};
    vcpu.idtr = {kIdt, 32 * 8 - 1};
    for (unsigned s = 0; s < kSegCount; ++s) {
      const bool cs = s == kCs;
      vcpu.seg[s] = SegmentCache{static_cast<uint16_t>(cs ? 0x08 : 0x10), cs ? 0xC09Bu : 0xC093u, 0, 0xffffffff};
    }
    vcpu.cr0 = mmu::kCr0Pe | 0x10;
    vcpu.eflags = kFlagFixed1;
    vcpu.gpr[kEsp] = kStackTop;
    vcpu.cpl = 0;
  }
};

struct AddressSpacePair {
  uint32_t pd1, pd2;
};
// Two address spaces, identity-mapped low 4 MiB, except linear 0x3f0000 -> 0x600000 (pd1) or
// 0x601000 (pd2), which hold `mov eax, 1; ret` and `mov eax, 2; ret`. Paging is on with pd1.
inline AddressSpacePair two_address_spaces_differing_at_0x3f0000(Machine& m) {
  const uint32_t pd1 = 0x300000, pt1 = 0x301000, pd2 = 0x302000, pt2 = 0x303000;
  m.mem.fill(GuestPhysAddr(pd1), 0, 4 * kPageSize);
  m.write32(pd1, pt1 | 3);
  m.write32(pd2, pt2 | 3);
  for (uint32_t i = 0; i < 1024; ++i) {
    m.write32(pt1 + 4 * i, (i << 12) | 3);
    m.write32(pt2 + 4 * i, (i << 12) | 3);
  }
  m.write32(pt1 + 4 * 0x3f0, 0x600000 | 3);
  m.write32(pt2 + 4 * 0x3f0, 0x601000 | 3);
  m.bytes(0x600000, {0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 1; ret
  m.bytes(0x601000, {0xB8, 0x02, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 2; ret
  m.vcpu.cr3 = pd1;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(pd1);
  m.set_cr0(m.vcpu.cr0);
  return {pd1, pd2};
}

inline std::optional<GuestException> TestEnv::access(uint32_t la, uint8_t* buf, unsigned size, bool user, bool write) {
  const mmu::GuestPagingState st{m_.vcpu.cr0, m_.vcpu.cr3, m_.vcpu.cr4};
  for (unsigned done = 0; done < size;) {
    const uint32_t at = la + done;
    const unsigned n = std::min<unsigned>(size - done, kPageSize - (at & (kPageSize - 1)));
    const mmu::WalkResult w =
        mmu::walk(m_.mem, st, LinearAddr(at), mmu::Access{write ? mmu::AccessKind::kWrite : mmu::AccessKind::kRead, user});
    if (!w.ok()) return GuestException{kPf, true, w.fault->error_code, w.fault->cr2.value};
    if (write) {
      m_.mem.write(w.translation.phys, buf + done, n);
      m_.traces.report_physical_write(w.translation.phys, n);
    } else if (!m_.mem.read(w.translation.phys, buf + done, n)) {
      std::fill(buf + done, buf + done + n, 0xff);
    }
    done += n;
  }
  return std::nullopt;
}

inline std::optional<GuestException> TestEnv::read_linear(uint32_t la, void* dst, unsigned size, bool user) {
  return access(la, static_cast<uint8_t*>(dst), size, user, false);
}
inline std::optional<GuestException> TestEnv::write_linear(uint32_t la, const void* src, unsigned size, bool user) {
  std::vector<uint8_t> copy(static_cast<const uint8_t*>(src), static_cast<const uint8_t*>(src) + size);
  return access(la, copy.data(), size, user, true);
}
inline void TestEnv::paging_changed(PagingEvent what, uint32_t addr) { m_.engine->paging_changed(what, addr); }

}  // namespace btvmm::engine_test
