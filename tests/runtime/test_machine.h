// Test fixture for runtime/cpu: a FakeCpuEnv over flat "linear memory" (paging off), an
// in-memory port map and TSC, and a protected-mode machine with a hand-built GDT, IDT and 32-bit
// TSS in that memory. Test helper only: never used by btvmm itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/execute.h"
#include "runtime/cpu/segments.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime::test {

class FakeCpuEnv final : public CpuEnv {
 public:
  std::vector<uint8_t> mem = std::vector<uint8_t>(1u << 20);
  std::set<uint32_t> absent_pages;                    // linear pages that raise #PF
  std::map<uint16_t, uint32_t> port_values;          // what io_read returns (0xff.. otherwise)
  std::vector<std::pair<uint16_t, uint32_t>> writes;  // io_write log (port, value)
  std::vector<uint16_t> reads;                        // io_read log
  std::vector<std::pair<PagingEvent, uint32_t>> paging_events;
  uint64_t tsc = 1000000;
  uint32_t khz = 0;  // tsc_khz(): 0 = rate unknown

  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override {
    if (auto f = check(la, size, false, user)) return f;
    std::memcpy(dst, &mem[la], size);
    return std::nullopt;
  }
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override {
    if (auto f = check(la, size, true, user)) return f;
    std::memcpy(&mem[la], src, size);
    return std::nullopt;
  }
  uint32_t io_read(uint16_t port, unsigned size) override {
    reads.push_back(port);
    auto it = port_values.find(port);
    if (it != port_values.end()) return it->second;
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
  }
  void io_write(uint16_t port, unsigned, uint32_t value) override { writes.emplace_back(port, value); }
  void paging_changed(PagingEvent what, uint32_t addr) override { paging_events.emplace_back(what, addr); }
  uint64_t host_tsc() override { return tsc; }
  uint32_t tsc_khz() override { return khz; }
  uint64_t caps = 0;  // arch_capabilities(): 0 = no IA32_ARCH_CAPABILITIES
  uint64_t arch_capabilities() override { return caps; }

  uint32_t read32(uint32_t la) const { uint32_t v; std::memcpy(&v, &mem[la], 4); return v; }
  uint16_t read16(uint32_t la) const { uint16_t v; std::memcpy(&v, &mem[la], 2); return v; }
  void write32(uint32_t la, uint32_t v) { std::memcpy(&mem[la], &v, 4); }
  void write16(uint32_t la, uint16_t v) { std::memcpy(&mem[la], &v, 2); }

 private:
  std::optional<GuestException> check(uint32_t la, unsigned size, bool write, bool user) const {
    for (uint64_t a = la; a < uint64_t(la) + size; ++a) {
      if (absent_pages.count(uint32_t(a >> 12)) || a >= mem.size()) {
        // Not-present #PF error code (SDM vol. 3 4.7): W/R bit 1, U/S bit 2.
        return GuestException{kPf, true, (write ? 2u : 0u) | (user ? 4u : 0u), uint32_t(a)};
      }
    }
    return std::nullopt;
  }
};

// Selectors of the test GDT.
inline constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kUserCode = 0x1b, kUserData = 0x23,
                          kTssSel = 0x28, kSmallData = 0x30, kExpandDown = 0x38, kAbsentData = 0x40,
                          kConformingCode = 0x48, kLdtSel = 0x50, kCallGate = 0x58, kLdtData = 0x04;
inline constexpr uint32_t kGdtBase = 0x1000, kIdtBase = 0x2000, kTssBase = 0x3000, kLdtBase = 0x4000;
inline constexpr uint32_t kKernelStackTop = 0x9000, kUserStackTop = 0x8000, kCodeBase = 0x10000;
inline constexpr uint16_t kIoBitmapOffset = 0x68;
inline constexpr uint32_t kTssLimit = kIoBitmapOffset + 8192 / 8;  // bitmap for ports 0..8191 + 0xff byte

inline Descriptor make_descriptor(uint32_t base, uint32_t limit, uint8_t type, bool s, uint8_t dpl, bool present,
                                  bool db, bool g) {
  Descriptor d;
  d.lo = (limit & 0xffff) | (base << 16);
  d.hi = ((base >> 16) & 0xff) | (uint32_t(type) << 8) | (s ? 1u << 12 : 0) | (uint32_t(dpl) << 13) |
         (present ? 1u << 15 : 0) | (limit & 0xf0000) | (db ? 1u << 22 : 0) | (g ? 1u << 23 : 0) |
         (base & 0xff000000);
  return d;
}
inline Descriptor make_gate(uint16_t selector, uint32_t offset, uint8_t type, uint8_t dpl, bool present = true) {
  Descriptor d;
  d.lo = (offset & 0xffff) | (uint32_t(selector) << 16);
  d.hi = (offset & 0xffff0000) | (uint32_t(type) << 8) | (uint32_t(dpl) << 13) | (present ? 1u << 15 : 0);
  return d;
}

struct Machine {
  FakeCpuEnv env;
  VcpuState vcpu;

  Machine() {
    set_gdt(kKernelCode, make_descriptor(0, 0xfffff, 0xb, true, 0, true, true, true));
    set_gdt(kKernelData, make_descriptor(0, 0xfffff, 0x3, true, 0, true, true, true));
    set_gdt(kUserCode, make_descriptor(0, 0xfffff, 0xb, true, 3, true, true, true));
    set_gdt(kUserData, make_descriptor(0, 0xfffff, 0x3, true, 3, true, true, true));
    set_gdt(kTssSel, make_descriptor(kTssBase, kTssLimit, kTss32Avail, false, 0, true, false, false));
    set_gdt(kSmallData, make_descriptor(0x20000, 0xfff, 0x2, true, 0, true, true, false));
    set_gdt(kExpandDown, make_descriptor(0x20000, 0xfff, 0x6, true, 0, true, true, false));
    set_gdt(kAbsentData, make_descriptor(0, 0xfffff, 0x2, true, 0, false, true, true));
    set_gdt(kConformingCode, make_descriptor(0, 0xfffff, 0xe, true, 0, true, true, true));
    set_gdt(kLdtSel, make_descriptor(kLdtBase, 0xf, kLdt, false, 0, true, false, false));
    set_gdt(kCallGate, make_gate(kKernelCode, 0x5000, kCallGate32, 3));
    // LDT entry 0 (selector 0x04 | RPL): a DPL 0 data segment.
    set_desc(kLdtBase, make_descriptor(0x30000, 0xffff, 0x3, true, 0, true, true, false));
    vcpu.gdtr = {kGdtBase, 0x5f};
    vcpu.idtr = {kIdtBase, 0x7ff};
    vcpu.cr0 = 0x11;  // PE | ET
    // TSS: ESP0/SS0, I/O bitmap base, bitmap all ones (deny) followed by the 0xff terminator.
    env.write32(kTssBase + 4, kKernelStackTop);
    env.write16(kTssBase + 8, kKernelData);
    env.write16(kTssBase + 102, kIoBitmapOffset);
    std::memset(&env.mem[kTssBase + kIoBitmapOffset], 0xff, 8192 / 8 + 1);
    vcpu.tr = make_segment_cache(kTssSel, make_descriptor(kTssBase, kTssLimit, kTss32Busy, false, 0, true, false, false));
    vcpu.ldtr = null_segment_cache(0);
    enter_kernel();
  }

  void set_desc(uint32_t la, const Descriptor& d) {
    env.write32(la, d.lo);
    env.write32(la + 4, d.hi);
  }
  void set_gdt(uint16_t selector, const Descriptor& d) { set_desc(kGdtBase + (selector & 0xfff8), d); }
  Descriptor gdt(uint16_t selector) const {
    return {env.read32(kGdtBase + (selector & 0xfff8)), env.read32(kGdtBase + (selector & 0xfff8) + 4)};
  }
  void set_gate(uint8_t vector, uint32_t offset, uint8_t type = kIntGate32, uint8_t dpl = 0,
                uint16_t selector = kKernelCode) {
    set_desc(kIdtBase + vector * 8u, make_gate(selector, offset, type, dpl));
  }
  SegmentCache cache_of(uint16_t selector) const { return make_segment_cache(selector, gdt(selector)); }

  void enter_kernel() {
    set_segment(vcpu, kCs, cache_of(kKernelCode));
    for (SegReg r : {kSs, kDs, kEs, kFs, kGs}) set_segment(vcpu, r, cache_of(kKernelData));
    vcpu.cpl = 0;
    vcpu.gpr[kEsp] = kKernelStackTop - 0x100;
    vcpu.eip = kCodeBase;
  }
  void enter_user() {
    set_segment(vcpu, kCs, cache_of(kUserCode));
    for (SegReg r : {kSs, kDs, kEs, kFs, kGs}) set_segment(vcpu, r, cache_of(kUserData));
    vcpu.cpl = 3;
    vcpu.gpr[kEsp] = kUserStackTop;
    vcpu.eip = 0x40000;
  }

  // Decodes `bytes` at the current EIP and executes it.
  StepResult run(std::vector<uint8_t> bytes) {
    const auto d = translator::decode(bytes, vcpu.eip);
    REQUIRE(d.ok());
    return execute_instruction(vcpu, env, d.instruction);
  }
  uint32_t stack(unsigned index) const { return env.read32(vcpu.gpr[kEsp] + 4 * index); }
  void push32(uint32_t v) {
    vcpu.gpr[kEsp] -= 4;
    env.write32(vcpu.gpr[kEsp], v);
  }
};

inline bool is_fault(const StepResult& r, uint8_t vector, uint32_t error_code) {
  return r.kind == StepResult::kException && r.exception.vector == vector &&
         (!r.exception.has_error_code || r.exception.error_code == error_code);
}

}  // namespace btvmm::runtime::test
