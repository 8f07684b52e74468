// IRET in protected mode (see iret.h): all pops and checks first, then the commit, so a faulting
// IRET leaves the vCPU as it was (SDM vol. 2 IRET pseudocode, PROTECTED-MODE).
#include "runtime/cpu/iret.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/eflags.h"
#include "runtime/cpu/far_transfer.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/segments.h"
#include "runtime/cpu/task_switch.h"

namespace btvmm::runtime {

namespace {

// SDM vol. 2 IRET, TASK-RETURN: back to the task named by the current TSS's previous-task link,
// which must be a busy TSS in the GDT (else #TS(link)).
Fault task_return(VcpuState& vcpu, CpuEnv& env, uint32_t next_eip) {
  uint16_t link = 0;
  if (auto f = read_system(env, vcpu.tr.base, &link, 2)) return f;
  const TaskSwitchOutcome r = switch_task(vcpu, env, link, TaskSwitchSource::kIret, next_eip, std::nullopt, false);
  if (r.unimplemented) {
    counters::note_unimplemented(r.unimplemented);
    return gp(0);
  }
  return r.fault;
}

}  // namespace

Fault execute_iret(VcpuState& vcpu, CpuEnv& env, unsigned operand_size, uint32_t next_eip) {
  counters::iret.inc();
  if (!(vcpu.cr0 & 1)) {
    counters::note_unimplemented("iret in real-address mode");
    return gp(0);
  }
  if (vcpu.eflags & kFlagNt) return task_return(vcpu, env, next_eip);
  const unsigned slot = operand_size / 8;
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t new_eip = 0, cs_raw = 0, popped_flags = 0;
  if (auto f = pop(env, stack, &new_eip, slot)) return f;
  if (auto f = pop(env, stack, &cs_raw, slot)) return f;
  if (auto f = pop(env, stack, &popped_flags, slot)) return f;
  if (operand_size == 16) {
    new_eip &= 0xffff;
    popped_flags = (vcpu.eflags & 0xffff0000) | (popped_flags & 0xffff);
  }
  if ((popped_flags & kFlagVm) && vcpu.cpl == 0) {
    counters::note_unimplemented("iret to virtual-8086 mode");
    return gp(0);
  }
  const uint16_t cs_sel = uint16_t(cs_raw);
  Descriptor code;
  if (auto f = check_return_code_segment(vcpu, env, cs_sel, &code)) return f;
  const uint8_t rpl = cs_sel & 3;
  const uint32_t new_flags = iret_result(vcpu.eflags, popped_flags, vcpu.cpl, operand_size);

  if (rpl == vcpu.cpl) {
    if (new_eip > code.limit()) return gp(0);
    if (auto f = mark_accessed(vcpu, env, cs_sel, &code)) return f;
    set_segment(vcpu, kCs, make_segment_cache(cs_sel, code));
    vcpu.gpr[kEsp] = stack.esp;
    vcpu.eip = new_eip;
    vcpu.eflags = new_flags;
    return std::nullopt;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL: ESP and SS follow EFLAGS on the stack.
  uint32_t new_esp = 0, ss_raw = 0;
  if (auto f = pop(env, stack, &new_esp, slot)) return f;
  if (auto f = pop(env, stack, &ss_raw, slot)) return f;
  SegmentCache new_ss;
  if (auto f = check_stack_segment(vcpu, env, uint16_t(ss_raw), rpl, kGp, false, &new_ss)) return f;
  if (new_eip > code.limit()) return gp(0);
  if (auto f = mark_accessed(vcpu, env, cs_sel, &code)) return f;
  set_segment(vcpu, kCs, make_segment_cache(cs_sel, code));
  set_segment(vcpu, kSs, new_ss);
  vcpu.cpl = rpl;
  vcpu.gpr[kEsp] = operand_size == 16 ? (vcpu.gpr[kEsp] & 0xffff0000) | (new_esp & 0xffff) : new_esp;
  vcpu.eip = new_eip;
  vcpu.eflags = new_flags;
  null_inaccessible_data_segments(vcpu);
  return std::nullopt;
}

}  // namespace btvmm::runtime
