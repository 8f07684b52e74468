// In-TC segment loads and rdtsc (translator/emit_segment_load.cpp, emit_rdtsc.cpp): guest kernel code
// that reloads DS/ES/FS/GS the way Linux's entry code does, checked against the monitor's own load
// (runtime/cpu/segments.h) and the SDM: a rewritten descriptor is read again, faults stay exact, the
// accessed bit is written by the first load, and rdtsc includes the vCPU's TSC offset.
#include <catch2/catch.hpp>

#include <functional>

#include <x86intrin.h>

#include "core/stats.h"
#include "engine_fixture.h"
#include "runtime/cpu/segments.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {

// SDM vol. 3 3.4.5: a segment descriptor from base, 20-bit limit, access byte (P, DPL, S, type) and
// flags nibble (G, D/B, L, AVL).
uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags = 0xC) {
  const uint32_t lo = (limit & 0xffff) | (base << 16);
  const uint32_t hi = ((base >> 16) & 0xff) | (uint32_t(access) << 8) | (limit & 0xf0000) | (uint32_t(flags) << 20) |
                      (base & 0xff000000);
  return uint64_t(lo) | (uint64_t(hi) << 32);
}

constexpr uint32_t kFsBase = 0x00212000;
constexpr uint16_t kFlatData = 0x10;
constexpr uint16_t kPerCpu = 0x18;      // data with a base, like Linux's __KERNEL_PERCPU
constexpr uint16_t kSpare = 0x20;       // flat data the tests rewrite
constexpr uint16_t kUnaccessed = 0x28;  // flat data whose accessed bit starts clear
constexpr uint16_t kExecOnly = 0x30;    // execute-only code: not loadable into a data register

void add_descriptors(Machine& m) {
  const uint64_t more[] = {descriptor(kFsBase, 0xfffff, 0x93), descriptor(0, 0xfffff, 0x93),
                           descriptor(0, 0xfffff, 0x92), descriptor(0, 0xfffff, 0x99)};
  m.mem.write(GuestPhysAddr(kGdt + 0x18), more, sizeof more);
  m.vcpu.gdtr.limit = 0x37;
}

uint64_t counter(const char* name) { return stats::value_of(name); }

uint8_t access_byte(Machine& m, uint16_t selector) {
  uint8_t b = 0;
  m.mem.read_obj(GuestPhysAddr(kGdt + (selector & ~7u) + 5), b);
  return b;
}

bool same_segment(const SegmentCache& a, const SegmentCache& b) {
  return a.selector == b.selector && a.attrs == b.attrs && a.base == b.base && a.limit == b.limit;
}

}  // namespace

TEST_CASE("segment_loads_of_ds_es_fs_gs_run_in_the_tc_and_leave_what_the_monitor_leaves", "[engine]") {
  Machine m;
  add_descriptors(m);
  constexpr uint32_t kIterations = 100;
  m.write32(kData, kPerCpu);
  m.write32(kFsBase + 8, 0x5eed5eed);
  m.code(kCode, [&](x86::Assembler& a) {
    const asmjit::Label loop = a.newLabel();
    a.mov(x86::ebx, kIterations);
    a.bind(loop);
    a.mov(x86::eax, kFlatData);  // SAVE_ALL: mov %edx,%ds; mov %edx,%es; mov %edx,%fs
    a.mov(x86::ds, x86::ax);
    a.mov(x86::es, x86::ax);
    a.mov(x86::ecx, kPerCpu);
    a.mov(x86::fs, x86::cx);
    a.push(kFlatData);  // RESTORE_REGS: pop %ds; pop %fs (a null user FS too)
    a.pop(x86::ds);
    a.push(0);
    a.pop(x86::fs);
    a.xor_(x86::edx, x86::edx);
    a.mov(x86::gs, x86::dx);
    a.mov(x86::fs, x86::word_ptr(kData));
    a.dec(x86::ebx);
    a.jnz(loop);
    // Flags survive hits: ZF = 1 from xor, CF = 1 from stc.
    a.xor_(x86::esi, x86::esi);
    a.stc();
    a.mov(x86::ds, x86::ax);
    a.push(kPerCpu);
    a.pop(x86::fs);
    a.mov(x86::gs, x86::dx);
    a.setc(x86::cl);
    a.setz(x86::ch);
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.segment_loads_inline");
  const uint64_t miss0 = counter("tc.segment_load_misses");
  const uint64_t monitor0 = counter("cpu.segment_loads");
  REQUIRE(m.run());
  CHECK(counter("cpu.segment_loads") - monitor0 == 3);
  // 7 loads an iteration, then 3; the first mov ds, mov es and mov fs find an empty cache.
  CHECK(counter("tc.segment_load_misses") - miss0 == 3);
  CHECK(counter("tc.segment_loads_inline") - inline0 == 7 * kIterations + 3 - 3);
  CHECK((m.vcpu.gpr[kEcx] & 0xffff) == 0x0101);  // setc cl, setz ch
  CHECK(m.vcpu.gpr[kEsp] == kStackTop);

  VcpuState monitor = m.vcpu;
  for (auto [reg, sel] : {std::pair{kDs, kFlatData}, {kEs, kFlatData}, {kFs, kPerCpu}, {kGs, uint16_t(0)}}) {
    monitor.seg[reg] = SegmentCache{};
    REQUIRE_FALSE(load_segment(monitor, m.env, reg, sel));
    INFO("segment register " << int(reg));
    CHECK(same_segment(m.vcpu.seg[reg], monitor.seg[reg]));
    CHECK(m.vcpu.seg_base_cache[reg] == monitor.seg_base_cache[reg]);
  }
  CHECK(m.vcpu.seg[kFs].base == kFsBase);
  CHECK(m.vcpu.seg[kGs].unusable());
}

TEST_CASE("a_descriptor_the_guest_rewrites_in_the_gdt_is_read_again_at_the_next_load", "[engine]") {
  Machine m;
  add_descriptors(m);
  constexpr uint32_t kNewBase = 0x00234000;
  const uint64_t updated = descriptor(kNewBase, 0xfffff, 0x93);
  m.write32(kFsBase, 0x1111);
  m.write32(kNewBase, 0x2222);
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::ecx, kPerCpu);
    a.mov(x86::fs, x86::cx);  // monitor: fills the cache
    a.mov(x86::fs, x86::cx);  // TC
    a.db(0x64); a.db(0xA1); a.dd(0);  // mov eax, fs:[0]
    // A plain store into the GDT, as Linux's load_TLS writes descriptors.
    a.mov(x86::dword_ptr(kGdt + kPerCpu), uint32_t(updated));
    a.mov(x86::dword_ptr(kGdt + kPerCpu + 4), uint32_t(updated >> 32));
    a.mov(x86::fs, x86::cx);
    a.db(0x64); a.db(0x8B); a.db(0x15); a.dd(0);  // mov edx, fs:[0]
    a.mov(x86::fs, x86::cx);  // the new descriptor is cached now
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.segment_loads_inline");
  const uint64_t miss0 = counter("tc.segment_load_misses");
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 0x1111);
  CHECK(m.vcpu.gpr[kEdx] == 0x2222);
  CHECK(m.vcpu.seg[kFs].base == kNewBase);
  CHECK(m.vcpu.seg_base_cache[kFs] == kNewBase);
  CHECK(counter("tc.segment_load_misses") - miss0 == 2);
  CHECK(counter("tc.segment_loads_inline") - inline0 == 2);
}

TEST_CASE("the_first_load_sets_the_accessed_bit_in_guest_memory_and_later_loads_keep_it", "[engine]") {
  Machine m;
  add_descriptors(m);
  REQUIRE(access_byte(m, kUnaccessed) == 0x92);
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::eax, kUnaccessed);
    a.mov(x86::es, x86::ax);  // monitor: sets the accessed bit, fills the cache
    a.mov(x86::es, x86::ax);  // TC
    // The guest clears the bit again: the next load must set it again, so it cannot be a TC hit.
    a.mov(x86::byte_ptr(kGdt + kUnaccessed + 5), 0x92);
    a.mov(x86::es, x86::ax);
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.segment_loads_inline");
  const uint64_t miss0 = counter("tc.segment_load_misses");
  REQUIRE(m.run());
  CHECK(access_byte(m, kUnaccessed) == 0x93);
  CHECK(m.vcpu.seg[kEs].type() == 3);
  CHECK(counter("tc.segment_loads_inline") - inline0 == 1);
  CHECK(counter("tc.segment_load_misses") - miss0 == 2);
}

TEST_CASE("segment_loads_that_fault_raise_the_exact_exception_with_a_warm_cache", "[engine]") {
  struct Case {
    const char* what;
    std::function<void(x86::Assembler&)> fault;
    uint8_t vector;
    uint32_t error_code;
    uint32_t pushed = 0;  // bytes the guest pushed before the faulting instruction
  };
  const Case cases[] = {
      {"descriptor made not present after it was cached", [](x86::Assembler& a) {
         a.mov(x86::eax, kSpare);
         a.mov(x86::ds, x86::ax);
         a.mov(x86::ds, x86::ax);
         a.mov(x86::ebx, kFlatData);
         a.mov(x86::ds, x86::bx);
         a.mov(x86::byte_ptr(kGdt + kSpare + 5), 0x13);  // P = 0
         a.mov(x86::ds, x86::ax);
       }, kNp, kSpare},
      {"execute-only code segment", [](x86::Assembler& a) {
         a.mov(x86::eax, kExecOnly);
         a.mov(x86::ds, x86::ax);
       }, kGp, kExecOnly},
      {"RPL 3 on a DPL 0 data segment whose RPL 0 form is cached", [](x86::Assembler& a) {
         a.mov(x86::eax, kFlatData);
         a.mov(x86::es, x86::ax);
         a.mov(x86::es, x86::ax);
         a.mov(x86::eax, kFlatData | 3);
         a.push(x86::eax);
         a.pop(x86::es);
       }, kGp, kFlatData, 4},
      {"null selector into SS", [](x86::Assembler& a) {
         a.xor_(x86::eax, x86::eax);
         a.mov(x86::ds, x86::ax);  // allowed: DS becomes unusable
         a.mov(x86::ss, x86::ax);
       }, kGp, 0},
      {"selector beyond the GDT limit", [](x86::Assembler& a) {
         a.mov(x86::eax, 0x40);
         a.mov(x86::fs, x86::ax);
       }, kGp, 0x40},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Machine m;
    add_descriptors(m);
    m.code(kCode, [&](x86::Assembler& a) {
      c.fault(a);
      a.hlt();
    });
    const uint32_t esp = m.vcpu.gpr[kEsp];
    REQUIRE(m.run());
    CHECK(m.halted_in_handler(c.vector));
    CHECK(m.stack(0) == c.error_code);
    // A faulting pop leaves ESP where it was; the frame below it holds error code, EIP, CS, EFLAGS.
    CHECK(m.vcpu.gpr[kEsp] + 16 == esp - c.pushed);
  }
}

TEST_CASE("rdtsc_in_the_tc_is_monotonic_and_adds_the_tsc_offset", "[engine]") {
  EngineConfig config;
  config.inline_rdtsc = true;
  Machine m(config);
  const uint64_t offset = uint64_t(1) << 44;
  m.vcpu.tsc_offset = offset;
  m.code(kCode, [&](x86::Assembler& a) {
    a.xor_(x86::ebx, x86::ebx);
    a.stc();
    a.rdtsc();
    a.mov(x86::dword_ptr(kData), x86::eax);
    a.mov(x86::dword_ptr(kData + 4), x86::edx);
    a.rdtsc();
    a.mov(x86::dword_ptr(kData + 8), x86::eax);
    a.mov(x86::dword_ptr(kData + 12), x86::edx);
    a.setc(x86::bl);
    a.setz(x86::bh);
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.rdtsc_inline");
  const uint64_t t0 = __rdtsc();
  REQUIRE(m.run());
  const uint64_t t1 = __rdtsc();
  const uint64_t first = m.read32(kData) | (uint64_t(m.read32(kData + 4)) << 32);
  const uint64_t second = m.read32(kData + 8) | (uint64_t(m.read32(kData + 12)) << 32);
  CHECK(counter("tc.rdtsc_inline") - inline0 == 2);
  CHECK(first >= t0 + offset);
  CHECK(second > first);
  CHECK(second <= t1 + offset);
  CHECK((m.vcpu.gpr[kEbx] & 0xffff) == 0x0101);  // CF and ZF survive
  CHECK(m.vcpu.gpr[kEdx] == uint32_t(second >> 32));
}

TEST_CASE("rdtsc_stays_a_monitor_exit_when_the_environment_has_its_own_tsc", "[engine]") {
  Machine m;  // TestEnv::host_tsc() is 0
  m.vcpu.tsc_offset = 0x123456789aull;
  m.code(kCode, [&](x86::Assembler& a) {
    a.rdtsc();
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.rdtsc_inline");
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 0x3456789a);
  CHECK(m.vcpu.gpr[kEdx] == 0x12);
  CHECK(counter("tc.rdtsc_inline") == inline0);
}

TEST_CASE("a_cached_descriptor_on_a_page_the_guest_unmapped_raises_the_descriptor_read_pf_with_guest_registers",
          "[engine]") {
  Machine m;
  two_address_spaces_differing_at_0x3f0000(m);  // paging on, low 4 MiB identity-mapped through pt1
  constexpr uint32_t kPt1 = 0x301000;
  // A GDT whose entry 0x20 starts a page of its own, so unmapping that page leaves the code and data
  // descriptors (and with them exception delivery) reachable.
  constexpr uint32_t kGdtBase = 0x5000 - 0x20;
  const uint64_t gdt[5] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull, 0, descriptor(kFsBase, 0xfffff, 0x93)};
  m.mem.write(GuestPhysAddr(kGdtBase), gdt, sizeof gdt);
  m.vcpu.gdtr = {kGdtBase, 0x27};
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::eax, 0x20);
    a.mov(x86::fs, x86::ax);  // monitor, fills the cache
    a.mov(x86::fs, x86::ax);  // TC
    a.mov(x86::dword_ptr(kPt1 + 4 * 5), 0);  // PTE of linear 0x5000: not present
    a.invlpg(x86::ptr(0x5000));
    a.xor_(x86::edx, x86::edx);
    a.mov(x86::fs, x86::dx);  // the null load reads no descriptor
    a.mov(x86::ecx, 0xdeadbeef);
    a.mov(x86::fs, x86::ax);
    a.hlt();
  });
  const uint64_t inline0 = counter("tc.segment_loads_inline");
  REQUIRE(m.run());
  CHECK(m.halted_in_handler(kPf));
  CHECK(m.vcpu.cr2 == 0x5000);
  CHECK(m.stack(0) == 0);  // not present, read, supervisor (SDM vol. 3 4.7)
  CHECK(m.vcpu.gpr[kEcx] == 0xdeadbeef);
  CHECK(m.vcpu.seg[kFs].unusable());
  CHECK(counter("tc.segment_loads_inline") - inline0 == 2);
}
