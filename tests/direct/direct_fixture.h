// Test machine for direct execution: guest RAM, hand-built page tables, a kUser shadow over a
// stub's StubMapper, and a vCPU at CPL 3 with flat Linux-like segments. Tests write guest user
// code into guest memory and run it; nothing here runs guest code in the test process.
#pragma once

#include <cstdint>
#include <vector>

#include "mmu/shadow_mmu.h"
#include "runtime/direct/direct_executor.h"
#include "tests/mmu/guest_page_tables.h"

namespace btvmm::direct::testing {

inline constexpr uint32_t kCodeLa = 0x400000, kCodePa = 0x100000;
inline constexpr uint32_t kStackLa = 0x800000, kStackPa = 0x110000;
inline constexpr uint32_t kUnmappedLa = 0x500000;
inline constexpr uint32_t kReadOnlyLa = 0x600000, kReadOnlyPa = 0x120000;
inline constexpr uint32_t kSupervisorLa = 0xC0000000, kSupervisorPa = 0x130000;
inline constexpr uint32_t kTlsLa = 0x810000, kTlsPa = 0x140000;
inline constexpr uint32_t kGdtLa = 0xC0002000, kGdtPa = 0x150000;
// Linux i386 selectors (arch/x86/include/asm/segment.h): user CS 0x73, user DS 0x7b, TLS 0x33.
inline constexpr uint16_t kUserCs = 0x73, kUserDs = 0x7b, kTlsSel = 0x33;
inline constexpr uint32_t kCodeAttrs = 0xc0fb, kDataAttrs = 0xc0f3;

inline mmu::ShadowConfig user_view() {
  mmu::ShadowConfig c;
  c.view = mmu::ShadowView::kUser;
  return c;
}

// Compat mode where the host can run it; otherwise the stub's plumbing is exercised with the
// same instruction bytes run as 64-bit code (every encoding the tests use means the same there).
inline DirectConfig test_config(DirectConfig c = {}) {
  c.long_mode_for_tests = !host_runs_compat_code();
  return c;
}

struct DirectMachine {
  explicit DirectMachine(DirectConfig config = test_config())
      : exec(mem, config), shadow(mem, exec.mapper(), traces, paging(), user_view()) {
    pt.map4k(kCodeLa, kCodePa, mmu::kPteUser | mmu::kPteWritable);
    pt.map4k(kCodeLa + 0x1000, kCodePa + 0x1000, mmu::kPteUser | mmu::kPteWritable);
    pt.map4k(kStackLa, kStackPa, mmu::kPteUser | mmu::kPteWritable);
    pt.map4k(kReadOnlyLa, kReadOnlyPa, mmu::kPteUser);
    pt.map4k(kSupervisorLa, kSupervisorPa, mmu::kPteWritable);
    pt.map4k(kTlsLa, kTlsPa, mmu::kPteUser | mmu::kPteWritable);
    pt.map4k(kGdtLa, kGdtPa, mmu::kPteWritable);
    // Guest GDT: 6 = TLS (base kTlsLa + 0x100), 14 = user code, 15 = user data (Linux i386 layout).
    write_gdt(6, kTlsLa + 0x100, 0xfffff, 0xc0f3);
    write_gdt(14, 0, 0xfffff, kCodeAttrs);
    write_gdt(15, 0, 0xfffff, kDataAttrs);
    vcpu.cr0 = mmu::kCr0Pe | mmu::kCr0Pg | mmu::kCr0Wp;
    vcpu.cr3 = pt.cr3();
    vcpu.cpl = 3;
    vcpu.gdtr = {kGdtLa, 0xff};
    vcpu.eflags = runtime::kFlagFixed1 | runtime::kFlagIf;
    set_seg(runtime::kCs, kUserCs, kCodeAttrs, 0);
    for (auto r : {runtime::kDs, runtime::kEs, runtime::kSs}) set_seg(r, kUserDs, kDataAttrs, 0);
    vcpu.seg[runtime::kFs] = {0, 0x10000, 0, 0};
    vcpu.seg[runtime::kGs] = {0, 0x10000, 0, 0};
  }

  mmu::GuestPagingState paging() const { return {mmu::kCr0Pe | mmu::kCr0Pg | mmu::kCr0Wp, pt.cr3(), 0}; }

  void set_seg(runtime::SegReg r, uint16_t sel, uint32_t attrs, uint32_t base, uint32_t limit = 0xffffffff) {
    vcpu.seg[r] = {sel, attrs, base, limit};
  }
  void write_gdt(unsigned index, uint32_t base, uint32_t limit20, uint32_t attrs) {
    const uint32_t lo = (limit20 & 0xffff) | (base << 16);
    const uint32_t hi = ((base >> 16) & 0xff) | ((attrs & 0xff) << 8) | (limit20 & 0xf0000) | ((attrs & 0xf000) << 8) |
                        (base & 0xff000000);
    mem.write_obj(GuestPhysAddr(kGdtPa + index * 8), lo);
    mem.write_obj(GuestPhysAddr(kGdtPa + index * 8 + 4), hi);
  }
  // Places `code` at kCodeLa + offset, points EIP at it and resets the stack.
  void load(const std::vector<uint8_t>& code, uint32_t offset = 0) {
    mem.write(GuestPhysAddr(kCodePa + offset), code.data(), code.size());
    vcpu.eip = kCodeLa + offset;
    vcpu.esp() = kStackLa + 0x1000;
  }
  UserExit run() { return run_user_resolving(exec, vcpu, shadow); }
  uint32_t phys32(uint32_t pa) const {
    uint32_t v = 0;
    mem.read_obj(GuestPhysAddr(pa), v);
    return v;
  }

  mmu::GuestMemory mem{32u << 20};
  mmu::testing::GuestPageTables pt{mem, 0x1000, 0x2000};
  mmu::WriteTraces traces;
  DirectExecutor exec;
  bool long_mode() const { return !host_runs_compat_code(); }
  mmu::ShadowMmu shadow;
  runtime::VcpuState vcpu;
};

}  // namespace btvmm::direct::testing
