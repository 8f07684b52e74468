// Far control transfers (see far_transfer.h). Follows the protected-mode pseudocode of Intel
// SDM vol. 2 JMP, CALL and RET; real-address mode only reloads CS.base = selector * 16.
#include "runtime/cpu/far_transfer.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/segments.h"
#include "runtime/cpu/task_switch.h"

namespace btvmm::runtime {
namespace {

bool is_null(uint16_t selector) { return (selector & 0xfffc) == 0; }

uint32_t truncate(uint32_t v, unsigned operand_size) { return operand_size == 16 ? v & 0xffff : v; }

void load_cs(VcpuState& vcpu, uint16_t selector, const Descriptor& d, uint8_t cpl) {
  set_segment(vcpu, kCs, make_segment_cache(uint16_t((selector & 0xfffc) | cpl), d));
  vcpu.cpl = cpl;
}

void real_mode_jump(VcpuState& vcpu, uint16_t selector, uint32_t offset) {
  SegmentCache c = vcpu.seg[kCs];
  c.selector = selector;
  c.base = uint32_t(selector) << 4;
  set_segment(vcpu, kCs, c);
  vcpu.eip = offset;
}

// Direct target of JMP/CALL: a code segment the current ring may execute without a gate.
Fault check_direct_code(const VcpuState& vcpu, uint16_t selector, const Descriptor& d) {
  if (d.conforming()) {
    if (d.dpl() > vcpu.cpl) return gp_sel(selector);
  } else if ((selector & 3) > vcpu.cpl || d.dpl() != vcpu.cpl) {
    return gp_sel(selector);
  }
  if (!d.present()) return np_sel(selector);
  return std::nullopt;
}

// Resolves the target of JMP/CALL: a code segment directly, or through a call gate that stays
// in the current ring. Outputs the code descriptor, its selector, the offset and operand size.
struct Target {
  Descriptor code;
  uint16_t selector = 0;
  uint32_t offset = 0;
  unsigned operand_size = 32;
  bool inner = false;          // CALL through a gate to a more privileged ring (stack switch)
  uint8_t param_count = 0;     // gate's parameter count (dwords or words per its size)
  bool task = false;           // a TSS or task gate: switch to the task whose TSS is `selector`
};

Fault resolve_target(VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t offset, unsigned operand_size,
                     bool is_call, Target* t) {
  if (is_null(selector)) return gp(0);
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d)) return f;
  if (d.is_code()) {
    if (auto f = check_direct_code(vcpu, selector, d)) return f;
    *t = {d, selector, truncate(offset, operand_size), operand_size};
    return std::nullopt;
  }
  if (d.s()) return gp_sel(selector);
  switch (d.type()) {
    case kCallGate16: case kCallGate32: break;
    case kTss16Avail: case kTss32Avail: case kTss16Busy: case kTss32Busy:
      // SDM vol. 2 JMP/CALL, TASK-STATE-SEGMENT: DPL admits CPL and RPL (busy: switch_task's #GP).
      if (d.dpl() < vcpu.cpl || d.dpl() < (selector & 3)) return gp_sel(selector);
      t->task = true;
      t->selector = selector;
      return std::nullopt;
    case kTaskGate:
      // TASK-GATE: the gate's DPL admits CPL and RPL, the gate is present; its TSS is checked next.
      if (d.dpl() < vcpu.cpl || d.dpl() < (selector & 3)) return gp_sel(selector);
      if (!d.present()) return np_sel(selector);
      t->task = true;
      t->selector = d.gate_selector();
      return std::nullopt;
    default: return gp_sel(selector);
  }
  // SDM vol. 3 5.8.4: the gate's DPL must admit both CPL and RPL.
  if (d.dpl() < vcpu.cpl || d.dpl() < (selector & 3)) return gp_sel(selector);
  if (!d.present()) return np_sel(selector);
  const uint16_t code_sel = d.gate_selector();
  if (is_null(code_sel)) return gp(0);
  Descriptor code;
  if (auto f = fetch_descriptor(vcpu, env, code_sel, &code)) return f;
  if (!code.is_code() || code.dpl() > vcpu.cpl) return gp_sel(code_sel);
  if (!code.conforming() && code.dpl() != vcpu.cpl) {
    // JMP through a gate never changes CPL; CALL to an inner ring needs a TSS stack switch.
    if (!is_call || code.dpl() > vcpu.cpl) return gp_sel(code_sel);
  }
  if (!code.present()) return np_sel(code_sel);
  const unsigned gate_size = d.type() == kCallGate32 ? 32 : 16;
  const bool inner = !code.conforming() && code.dpl() < vcpu.cpl;
  *t = {code, code_sel, truncate(d.gate_offset(), gate_size), gate_size, inner, d.gate_param_count()};
  return std::nullopt;
}

// A far JMP/CALL to a task: the switch saves `next_eip` in the old TSS. A fault after the switch
// is returned with the vCPU in the new task, so it is delivered there (SDM vol. 3 7.3 step 13).
Fault task_transfer(VcpuState& vcpu, CpuEnv& env, uint16_t tss_selector, TaskSwitchSource source,
                    uint32_t next_eip) {
  const TaskSwitchOutcome r = switch_task(vcpu, env, tss_selector, source, next_eip, std::nullopt, false);
  if (r.unimplemented) {
    counters::note_unimplemented(r.unimplemented);
    return gp_sel(tss_selector);
  }
  return r.fault;
}

}  // namespace

Fault check_return_code_segment(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* out) {
  if (is_null(selector)) return gp(0);
  if (auto f = fetch_descriptor(vcpu, env, selector, out)) return f;
  const uint8_t rpl = selector & 3;
  if (!out->is_code() || rpl < vcpu.cpl) return gp_sel(selector);
  if (out->conforming() ? out->dpl() > rpl : out->dpl() != rpl) return gp_sel(selector);
  if (!out->present()) return np_sel(selector);
  return std::nullopt;
}

void null_inaccessible_data_segments(VcpuState& vcpu) {
  for (SegReg r : {kEs, kFs, kGs, kDs}) {
    const SegmentCache& c = vcpu.seg[r];
    if (c.unusable()) continue;
    const bool data_or_nonconforming = !cache_is_code(c) || !cache_conforming(c);
    if (data_or_nonconforming && c.dpl() < vcpu.cpl) set_segment(vcpu, r, null_segment_cache(0));
  }
}

Fault far_jump(VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t offset, unsigned operand_size,
               uint32_t next_eip) {
  counters::far_transfers.inc();
  if (!(vcpu.cr0 & 1)) {
    real_mode_jump(vcpu, selector, truncate(offset, operand_size));
    return std::nullopt;
  }
  Target t;
  if (auto f = resolve_target(vcpu, env, selector, offset, operand_size, false, &t)) return f;
  if (t.task) return task_transfer(vcpu, env, t.selector, TaskSwitchSource::kJmp, next_eip);
  if (t.offset > t.code.limit()) return gp(0);
  if (auto f = mark_accessed(vcpu, env, t.selector, &t.code)) return f;
  load_cs(vcpu, t.selector, t.code, vcpu.cpl);
  vcpu.eip = t.offset;
  return std::nullopt;
}

Fault far_call(VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t offset, unsigned operand_size,
               uint32_t return_eip) {
  counters::far_transfers.inc();
  StackCursor stack = StackCursor::current(vcpu);
  const unsigned slot = operand_size / 8;
  if (!(vcpu.cr0 & 1)) {
    if (auto f = push(env, stack, vcpu.seg[kCs].selector, slot)) return f;
    if (auto f = push(env, stack, return_eip, slot)) return f;
    vcpu.gpr[kEsp] = stack.esp;
    real_mode_jump(vcpu, selector, truncate(offset, operand_size));
    return std::nullopt;
  }
  Target t;
  if (auto f = resolve_target(vcpu, env, selector, offset, operand_size, true, &t)) return f;
  if (t.task) return task_transfer(vcpu, env, t.selector, TaskSwitchSource::kCall, return_eip);
  if (t.offset > t.code.limit()) return gp(0);
  // A call gate's size decides the push size (SDM vol. 3 5.8.5); P6 and later write only the
  // selector's 16 bits into the 32-bit slot (SDM vol. 2 CALL).
  const unsigned push_size = t.operand_size / 8;
  if (t.inner) {
    // SDM vol. 2 CALL, MORE-PRIVILEGE: switch to the TSS stack of the target ring, push the
    // caller's SS:ESP, copy the gate's parameters (same order), then CS:EIP.
    const uint8_t new_cpl = t.code.dpl();
    StackCursor inner;
    bool unsupported = false;
    if (auto f = inner_stack_from_tss(vcpu, env, new_cpl, false, &inner, &unsupported)) return f;
    if (unsupported) {
      counters::note_unimplemented("call-gate stack switch through a 16-bit TSS");
      return gp_sel(selector);
    }
    if (auto f = push(env, inner, vcpu.seg[kSs].selector, push_size, push_size == 4)) return f;
    if (auto f = push(env, inner, vcpu.gpr[kEsp], push_size)) return f;
    for (unsigned i = t.param_count; i-- > 0;) {
      uint32_t param = 0;
      if (auto f = peek(env, stack, i * push_size, &param, push_size)) return f;
      if (auto f = push(env, inner, param, push_size)) return f;
    }
    if (auto f = push(env, inner, vcpu.seg[kCs].selector, push_size, push_size == 4)) return f;
    if (auto f = push(env, inner, return_eip, push_size)) return f;
    if (auto f = mark_accessed(vcpu, env, t.selector, &t.code)) return f;
    set_segment(vcpu, kSs, inner.ss);
    vcpu.gpr[kEsp] = inner.esp;
    load_cs(vcpu, t.selector, t.code, new_cpl);
    vcpu.eip = t.offset;
    return std::nullopt;
  }
  if (auto f = push(env, stack, vcpu.seg[kCs].selector, push_size, push_size == 4)) return f;
  if (auto f = push(env, stack, return_eip, push_size)) return f;
  if (auto f = mark_accessed(vcpu, env, t.selector, &t.code)) return f;
  vcpu.gpr[kEsp] = stack.esp;
  load_cs(vcpu, t.selector, t.code, vcpu.cpl);
  vcpu.eip = t.offset;
  return std::nullopt;
}

Fault far_return(VcpuState& vcpu, CpuEnv& env, unsigned operand_size, uint16_t release_bytes) {
  counters::far_transfers.inc();
  const unsigned slot = operand_size / 8;
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t new_eip = 0, cs_raw = 0;
  if (auto f = pop(env, stack, &new_eip, slot)) return f;
  if (auto f = pop(env, stack, &cs_raw, slot)) return f;
  const uint16_t cs_sel = uint16_t(cs_raw);
  if (!(vcpu.cr0 & 1)) {
    stack.set_sp(stack.sp() + release_bytes);
    vcpu.gpr[kEsp] = stack.esp;
    real_mode_jump(vcpu, cs_sel, new_eip);
    return std::nullopt;
  }
  Descriptor code;
  if (auto f = check_return_code_segment(vcpu, env, cs_sel, &code)) return f;
  const uint8_t rpl = cs_sel & 3;
  new_eip = truncate(new_eip, operand_size);
  stack.set_sp(stack.sp() + release_bytes);
  if (rpl == vcpu.cpl) {
    if (new_eip > code.limit()) return gp(0);
    if (auto f = mark_accessed(vcpu, env, cs_sel, &code)) return f;
    vcpu.gpr[kEsp] = stack.esp;
    load_cs(vcpu, cs_sel, code, rpl);
    vcpu.eip = new_eip;
    return std::nullopt;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL (SDM vol. 2 RET): ESP and SS follow the released bytes.
  uint32_t new_esp = 0, ss_raw = 0;
  if (auto f = pop(env, stack, &new_esp, slot)) return f;
  if (auto f = pop(env, stack, &ss_raw, slot)) return f;
  SegmentCache new_ss;
  if (auto f = check_stack_segment(vcpu, env, uint16_t(ss_raw), rpl, kGp, false, &new_ss)) return f;
  if (new_eip > code.limit()) return gp(0);
  if (auto f = mark_accessed(vcpu, env, cs_sel, &code)) return f;
  load_cs(vcpu, cs_sel, code, rpl);
  set_segment(vcpu, kSs, new_ss);
  StackCursor outer{new_ss, new_esp, rpl == 3, 0};
  outer.set_sp(outer.sp() + release_bytes);
  vcpu.gpr[kEsp] = outer.esp;
  vcpu.eip = new_eip;
  null_inaccessible_data_segments(vcpu);
  return std::nullopt;
}

}  // namespace btvmm::runtime
