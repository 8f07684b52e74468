// Task switch (see task_switch.h), in the order of Intel SDM vol. 3 7.3: every check and every
// read of the new TSS first, then the old task's state is saved, then the new one is loaded and
// its segments qualified. 32-bit TSS layout: SDM vol. 3 figure 7-2.
#include "runtime/cpu/task_switch.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/segments.h"
#include "runtime/cpu/system_instructions.h"

namespace btvmm::runtime {
namespace {

// Dword indexes into a 32-bit TSS image.
constexpr unsigned kCr3Word = 7, kEipWord = 8, kEflagsWord = 9, kGprWord = 10, kSegWord = 18,
                   kLdtWord = 24;
constexpr unsigned kTssWords = 26;             // 104 bytes: the minimum 32-bit TSS
constexpr uint32_t kMinTss32Limit = 0x67;      // SDM vol. 3 7.2.2
constexpr uint32_t kDynamicOffset = 0x20;      // EIP .. GS: the fields a switch saves
constexpr unsigned kDynamicBytes = 0x40;
constexpr uint32_t kBusyBit = 1u << 9;         // type bit 1 of a TSS descriptor
// DR7 L0-L3 and LE are cleared by every task switch (SDM vol. 3 17.2.4).
constexpr uint32_t kDr7LocalEnables = 0x155;

bool is_null(uint16_t selector) { return (selector & 0xfffc) == 0; }

GuestException ts(uint16_t selector, bool ext) { return fault_with_selector(kTs, selector, ext); }

// LDTR of the new task: null, or an LDT descriptor in the GDT that is present (else #TS(sel)).
Fault load_task_ldt(VcpuState& vcpu, CpuEnv& env, uint16_t selector, bool ext) {
  if (is_null(selector)) {
    vcpu.ldtr = null_segment_cache(selector);
    return std::nullopt;
  }
  if (selector & 4) return ts(selector, ext);
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d, kTs, ext)) return f;
  if (d.s() || d.type() != kLdt || !d.present()) return ts(selector, ext);
  vcpu.ldtr = make_segment_cache(selector, d);
  return std::nullopt;
}

// CS of the new task (SDM vol. 3 table 7-1): a present code segment whose DPL matches its RPL
// (non-conforming) or does not exceed it (conforming).
Fault load_task_cs(VcpuState& vcpu, CpuEnv& env, uint16_t selector, bool ext) {
  if (is_null(selector)) return ts(selector, ext);
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d, kTs, ext)) return f;
  const uint8_t rpl = selector & 3;
  if (!d.is_code() || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl)) return ts(selector, ext);
  if (!d.present()) return fault_with_selector(kNp, selector, ext);
  if (auto f = mark_accessed(vcpu, env, selector, &d)) return f;
  set_segment(vcpu, kCs, make_segment_cache(selector, d));
  return std::nullopt;
}

// DS/ES/FS/GS of the new task: null, or readable, with RPL and CPL <= DPL unless conforming code.
Fault load_task_data(VcpuState& vcpu, CpuEnv& env, SegReg reg, uint16_t selector, bool ext) {
  if (is_null(selector)) {
    set_segment(vcpu, reg, null_segment_cache(selector));
    return std::nullopt;
  }
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d, kTs, ext)) return f;
  if (!d.s() || !d.readable()) return ts(selector, ext);
  if (!d.conforming() && ((selector & 3) > d.dpl() || vcpu.cpl > d.dpl())) return ts(selector, ext);
  if (!d.present()) return fault_with_selector(kNp, selector, ext);
  if (auto f = mark_accessed(vcpu, env, selector, &d)) return f;
  set_segment(vcpu, reg, make_segment_cache(selector, d));
  return std::nullopt;
}

// Step 13: the new task's LDTR and segment registers, qualified in the SDM's order. Registers not
// reached yet hold their selector with an unusable cache, as after a fault in this step.
Fault load_task_segments(VcpuState& vcpu, CpuEnv& env, const uint32_t* image, bool ext) {
  for (unsigned r = 0; r < kSegCount; ++r) {
    set_segment(vcpu, SegReg(r), null_segment_cache(uint16_t(image[kSegWord + r])));
  }
  vcpu.ldtr = null_segment_cache(uint16_t(image[kLdtWord]));
  if (auto f = load_task_ldt(vcpu, env, uint16_t(image[kLdtWord]), ext)) return f;
  const uint16_t cs = uint16_t(image[kSegWord + kCs]);
  vcpu.cpl = cs & 3;  // protected mode: CPL is the RPL of the new CS
  if (auto f = load_task_cs(vcpu, env, cs, ext)) return f;
  SegmentCache ss;
  if (auto f = check_stack_segment(vcpu, env, uint16_t(image[kSegWord + kSs]), vcpu.cpl, kTs, ext, &ss)) return f;
  set_segment(vcpu, kSs, ss);
  for (SegReg r : {kDs, kEs, kFs, kGs}) {
    if (auto f = load_task_data(vcpu, env, r, uint16_t(image[kSegWord + r]), ext)) return f;
  }
  return std::nullopt;
}

// Step 3-4 checks of the new TSS descriptor (SDM vol. 2 JMP/CALL/IRET/INT n, TASK-GATE and
// TASK-STATE-SEGMENT cases).
Fault check_new_tss(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, bool want_busy, bool ext,
                    Descriptor* out) {
  const uint8_t bad = want_busy ? kTs : kGp;
  if (selector & 4) return fault_with_selector(bad, selector, ext);  // TSS descriptors live in the GDT only
  if (auto f = fetch_descriptor(vcpu, env, selector, out, bad, ext)) return f;
  const uint8_t type = out->type();
  const bool tss = !out->s() && (type == kTss16Avail || type == kTss16Busy || type == kTss32Avail ||
                                 type == kTss32Busy);
  if (!tss || bool(type & 2) != want_busy) return fault_with_selector(bad, selector, ext);
  if (!out->present()) return fault_with_selector(kNp, selector, ext);
  return std::nullopt;
}

}  // namespace

TaskSwitchOutcome switch_task(VcpuState& vcpu, CpuEnv& env, uint16_t tss_selector, TaskSwitchSource source,
                              uint32_t saved_eip, std::optional<uint32_t> error_code, bool ext) {
  const bool nesting = source == TaskSwitchSource::kCall || source == TaskSwitchSource::kInterrupt;
  const bool leaving = source == TaskSwitchSource::kJmp || source == TaskSwitchSource::kIret;
  Descriptor nd;
  if (auto f = check_new_tss(vcpu, env, tss_selector, source == TaskSwitchSource::kIret, ext, &nd)) return {f};
  if (nd.type() == kTss16Avail || nd.type() == kTss16Busy) return {std::nullopt, false, "task switch to a 16-bit TSS"};
  if (vcpu.tr.type() != kTss32Busy) return {std::nullopt, false, "task switch from a 16-bit or unloaded TSS"};
  if (nd.limit() < kMinTss32Limit) return {ts(tss_selector, ext)};

  // Step 5: everything the switch reads or writes is checked reachable before anything changes.
  uint32_t image[kTssWords];
  if (auto f = read_system(env, nd.base(), image, sizeof image)) return {f};
  if (image[kEflagsWord] & kFlagVm) return {std::nullopt, false, "task switch into virtual-8086 mode"};
  uint32_t old_state[kDynamicBytes / 4];
  if (auto f = read_system(env, vcpu.tr.base + kDynamicOffset, old_state, kDynamicBytes)) return {f};

  // Steps 6-8: save the current task (NT cleared in the saved EFLAGS for IRET).
  old_state[0] = saved_eip;
  old_state[1] = source == TaskSwitchSource::kIret ? vcpu.eflags & ~kFlagNt : vcpu.eflags;
  for (unsigned i = 0; i < kGprCount; ++i) old_state[2 + i] = vcpu.gpr[i];
  for (unsigned r = 0; r < kSegCount; ++r) {
    old_state[10 + r] = (old_state[10 + r] & 0xffff0000) | vcpu.seg[r].selector;
  }
  if (auto f = write_system(env, vcpu.tr.base + kDynamicOffset, old_state, kDynamicBytes)) return {f};
  const uint16_t old_tr = vcpu.tr.selector;
  if (leaving) {
    Descriptor od;
    if (auto f = fetch_descriptor(vcpu, env, old_tr, &od)) return {f};
    if (auto f = store_descriptor_high(vcpu, env, old_tr, od.hi & ~kBusyBit)) return {f};
  }
  if (nesting) {
    const uint16_t link = old_tr;
    if (auto f = write_system(env, nd.base(), &link, 2)) return {f};
  }
  if (source != TaskSwitchSource::kIret) {
    nd.hi |= kBusyBit;
    if (auto f = store_descriptor_high(vcpu, env, tss_selector, nd.hi)) return {f};
  }

  // Steps 9-12: the new task's state. CR3 is loaded only with paging on (the PDBR field is static:
  // never saved, SDM vol. 3 7.2.1).
  counters::task_switches.inc();
  vcpu.tr = make_segment_cache(tss_selector, nd);
  vcpu.cr0 |= kCr0Ts;
  vcpu.dr[7] &= ~kDr7LocalEnables;
  if (vcpu.cr0 & kCr0Pg) write_cr3(vcpu, env, image[kCr3Word]);
  vcpu.eflags = (image[kEflagsWord] | kFlagFixed1) | (nesting ? kFlagNt : 0);
  vcpu.eip = image[kEipWord];
  for (unsigned i = 0; i < kGprCount; ++i) vcpu.gpr[i] = image[kGprWord + i];
  vcpu.halted = false;
  vcpu.interrupt_shadow = false;

  TaskSwitchOutcome done;
  done.switched = true;
  if (auto f = load_task_segments(vcpu, env, image, ext)) {
    done.fault = f;
    return done;
  }
  // SDM vol. 2 INT n, TASK-GATE: an exception's error code goes on the new task's stack.
  if (error_code) {
    StackCursor stack = StackCursor::current(vcpu);
    if (auto f = push(env, stack, *error_code, 4)) {
      done.fault = f;
      return done;
    }
    vcpu.gpr[kEsp] = stack.esp;
  }
  if (vcpu.eip > vcpu.seg[kCs].limit) done.fault = gp(ext ? 1 : 0);
  return done;
}

}  // namespace btvmm::runtime
