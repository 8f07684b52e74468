// IDT delivery in protected mode (see interrupts.h). Follows the INT n/INTO/INT3 pseudocode of
// Intel SDM vol. 2 and vol. 3 6.12: all checks and pushes first, vCPU state changed last, so a
// fault during delivery leaves the interrupted state intact for the nested exception.
#include "runtime/cpu/interrupts.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/segments.h"
#include "runtime/cpu/task_switch.h"

namespace btvmm::runtime {
namespace {

// Either a fault raised during delivery, or a request btvmm cannot serve.
struct Outcome {
  Fault fault;
  const char* unimplemented = nullptr;
  bool in_new_task = false;  // `fault` came after a task switch: a new event of the new task
};

enum class Class { kBenign, kContributory, kPageFault };

// SDM vol. 3 table 6-4/6-5.
Class class_of(uint8_t vector) {
  switch (vector) {
    case kDe: case kTs: case kNp: case kSsFault: case kGp: return Class::kContributory;
    case kPf: return Class::kPageFault;
    default: return Class::kBenign;
  }
}

// SDM vol. 2 INT n, TASK-GATE: gate checks, then a nesting task switch that saves the interrupted
// EIP in the old TSS and pushes an exception's error code on the new task's stack.
Outcome through_task_gate(VcpuState& vcpu, CpuEnv& env, const Event& ev, const Descriptor& gate, bool ext,
                          uint32_t idt_error) {
  if (ev.kind == EventKind::kSoftware && gate.dpl() < vcpu.cpl) return {gp(uint32_t(ev.vector) * 8 + 2)};
  if (!gate.present()) return {GuestException{kNp, true, idt_error, 0}};
  std::optional<uint32_t> code;
  if (ev.has_error_code) code = ev.error_code;
  const TaskSwitchOutcome t =
      switch_task(vcpu, env, gate.gate_selector(), TaskSwitchSource::kInterrupt, ev.return_eip, code, ext);
  if (t.unimplemented) return {std::nullopt, t.unimplemented};
  return {t.fault, nullptr, t.switched};
}

Outcome try_deliver(VcpuState& vcpu, CpuEnv& env, const Event& ev) {
  const bool ext = ev.kind != EventKind::kSoftware;
  const uint32_t idt_error = uint32_t(ev.vector) * 8 + 2 + (ext ? 1 : 0);  // IDT bit set (SDM 6.13)
  const GuestException idt_gp{kGp, true, idt_error, 0};
  if (!(vcpu.cr0 & 1)) return {std::nullopt, "real-mode (IVT) interrupt delivery"};
  if (vcpu.eflags & kFlagVm) return {std::nullopt, "interrupt delivery from virtual-8086 mode"};
  if (uint32_t(ev.vector) * 8 + 7 > vcpu.idtr.limit) return {idt_gp};
  uint32_t raw[2];
  if (auto f = read_system(env, vcpu.idtr.base + ev.vector * 8u, raw, 8)) return {f};
  const Descriptor gate{raw[0], raw[1]};
  if (gate.s()) return {idt_gp};
  switch (gate.type()) {
    case kIntGate32: case kTrapGate32: case kIntGate16: case kTrapGate16: break;
    case kTaskGate: return through_task_gate(vcpu, env, ev, gate, ext, idt_error);
    default: return {idt_gp};
  }
  // SDM vol. 3 6.12.1.1: software interrupts check the gate DPL against CPL (EXT = 0).
  if (ev.kind == EventKind::kSoftware && gate.dpl() < vcpu.cpl) return {gp(uint32_t(ev.vector) * 8 + 2)};
  if (!gate.present()) return {GuestException{kNp, true, idt_error, 0}};

  const uint16_t cs_sel = gate.gate_selector();
  if ((cs_sel & 0xfffc) == 0) return {gp(ext ? 1 : 0)};
  Descriptor code;
  if (auto f = fetch_descriptor(vcpu, env, cs_sel, &code, kGp, ext)) return {f};
  if (!code.is_code() || code.dpl() > vcpu.cpl) return {fault_with_selector(kGp, cs_sel, ext)};
  if (!code.present()) return {fault_with_selector(kNp, cs_sel, ext)};

  const bool gate32 = gate.type() & 8;
  const unsigned slot = gate32 ? 4 : 2;
  const bool inner = !code.conforming() && code.dpl() < vcpu.cpl;
  const uint8_t new_cpl = inner ? code.dpl() : vcpu.cpl;

  StackCursor stack = StackCursor::current(vcpu);
  stack.user = new_cpl == 3;
  SegmentCache new_ss;
  if (inner) {
    bool unsupported = false;
    if (auto f = inner_stack_from_tss(vcpu, env, new_cpl, ext, &stack, &unsupported)) return {f};
    if (unsupported) return {std::nullopt, "interrupt stack switch through a 16-bit TSS"};
    new_ss = stack.ss;
    if (auto f = push(env, stack, vcpu.seg[kSs].selector, slot)) return {f};
    if (auto f = push(env, stack, vcpu.gpr[kEsp], slot)) return {f};
  }
  if (auto f = push(env, stack, vcpu.eflags, slot)) return {f};
  if (auto f = push(env, stack, vcpu.seg[kCs].selector, slot)) return {f};
  if (auto f = push(env, stack, ev.return_eip, slot)) return {f};
  if (ev.has_error_code) {
    if (auto f = push(env, stack, ev.error_code, slot)) return {f};
  }
  const uint32_t new_eip = gate32 ? gate.gate_offset() : gate.gate_offset() & 0xffff;
  if (new_eip > code.limit()) return {gp(ext ? 1 : 0)};
  if (auto f = mark_accessed(vcpu, env, cs_sel, &code)) return {f};

  // Commit (SDM vol. 2 INT n, "INTER-PRIVILEGE-LEVEL-INTERRUPT" / "INTRA-...").
  if (inner) set_segment(vcpu, kSs, new_ss);
  vcpu.gpr[kEsp] = stack.esp;
  set_segment(vcpu, kCs, make_segment_cache(uint16_t((cs_sel & 0xfffc) | new_cpl), code));
  vcpu.cpl = new_cpl;
  vcpu.eip = new_eip;
  vcpu.eflags &= ~(kFlagTf | kFlagNt | kFlagRf | kFlagVm);
  if (!(gate.type() & 1)) vcpu.eflags &= ~kFlagIf;  // interrupt gate (SDM vol. 3 6.12.1.3)
  vcpu.halted = false;
  vcpu.interrupt_shadow = false;
  return {};
}

}  // namespace

bool vector_has_error_code(uint8_t vector) {
  switch (vector) {
    case kDf: case kTs: case kNp: case kSsFault: case kGp: case kPf: case kAc: return true;
    default: return false;
  }
}

StepResult deliver_event(VcpuState& vcpu, CpuEnv& env, const Event& first) {
  Event ev = first;
  // Each round either succeeds, escalates (benign -> serial, contributory -> #DF, #DF -> shutdown),
  // so a handful of rounds always suffice; the bound only guards against a logic error.
  for (int round = 0; round < 8; ++round) {
    if (ev.vector == kPf && ev.kind == EventKind::kException) vcpu.cr2 = ev.cr2;
    const Outcome out = try_deliver(vcpu, env, ev);
    if (out.unimplemented) {
      counters::note_unimplemented(out.unimplemented);
      return StepResult::shutdown();
    }
    if (!out.fault) {
      (ev.kind == EventKind::kException ? counters::exceptions : counters::interrupts).inc();
      return StepResult::cont();
    }
    const GuestException& f = *out.fault;
    if (out.in_new_task) {
      // The switch is done; the fault belongs to the new task, at its first instruction.
      ev = Event{f.vector, EventKind::kException, f.has_error_code, f.error_code, vcpu.eip, f.cr2};
      continue;
    }
    // CR2 is loaded when the page fault is detected, even if it then becomes a #DF.
    if (f.vector == kPf) vcpu.cr2 = f.cr2;
    const bool first_is_exception = ev.kind == EventKind::kException;
    if (first_is_exception && ev.vector == kDf) {
      // SDM vol. 3 6.15 (#DF): a fault while delivering #DF is a triple fault: shutdown.
      counters::triple_faults.inc();
      return StepResult::shutdown();
    }
    const Class a = first_is_exception ? class_of(ev.vector) : Class::kBenign;
    const Class b = class_of(f.vector);
    const bool doubles = (a == Class::kContributory && b == Class::kContributory) ||
                         (a == Class::kPageFault && b != Class::kBenign);
    Event next;
    next.kind = EventKind::kException;
    next.return_eip = vcpu.eip;
    if (doubles) {
      counters::double_faults.inc();
      next.vector = kDf;
      next.has_error_code = true;
      next.error_code = 0;
    } else {
      next.vector = f.vector;
      next.has_error_code = f.has_error_code;
      next.error_code = f.error_code;
      next.cr2 = f.cr2;
    }
    ev = next;
  }
  counters::triple_faults.inc();
  return StepResult::shutdown();
}

StepResult deliver_exception(VcpuState& vcpu, CpuEnv& env, const GuestException& e) {
  Event ev;
  ev.vector = e.vector;
  ev.kind = EventKind::kException;
  ev.has_error_code = e.has_error_code;
  ev.error_code = e.error_code;
  ev.return_eip = vcpu.eip;
  ev.cr2 = e.cr2;
  return deliver_event(vcpu, env, ev);
}

StepResult deliver_interrupt(VcpuState& vcpu, CpuEnv& env, uint8_t vector, bool software, uint32_t return_eip) {
  Event ev;
  ev.vector = vector;
  ev.kind = software ? EventKind::kSoftware : EventKind::kExternal;
  ev.return_eip = return_eip;
  return deliver_event(vcpu, env, ev);
}

}  // namespace btvmm::runtime
