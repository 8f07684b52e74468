// Dispatch of monitor-executed instructions by mnemonic and operands (see execute.h). Deciding
// which handler runs is all this file does; the semantics live in the per-concept files.
#include "runtime/cpu/execute.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/cpu_model.h"
#include "runtime/cpu/far_transfer.h"
#include "runtime/cpu/flags_instructions.h"
#include "runtime/cpu/io_instructions.h"
#include "runtime/cpu/iret.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"
#include "runtime/cpu/system_instructions.h"

namespace btvmm::runtime {
namespace {

using translator::DecodedInstruction;

// Result of a handler that falls through to the next instruction.
StepResult step(VcpuState& vcpu, const DecodedInstruction& insn, Fault f) {
  if (f) return StepResult::fault(*f);
  vcpu.eip = insn.next_eip();
  return StepResult::cont();
}

// Result of a control transfer: the handler set eip.
StepResult transfer(Fault f) { return f ? StepResult::fault(*f) : StepResult::cont(); }

StepResult unimplemented(const DecodedInstruction& insn) {
  counters::note_unimplemented(ZydisMnemonicGetString(insn.mnemonic()));
  return StepResult::fault(ud());
}

bool is_far(const DecodedInstruction& insn) { return insn.zydis().meta.branch_type == ZYDIS_BRANCH_TYPE_FAR; }

// JMP/CALL far: ptr16:16/32 operand or m16:16/32 (offset first, then the selector).
StepResult far_jmp_call(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& target = insn.operands()[0];
  const unsigned size = insn.operand_width() == 16 ? 16 : 32;
  uint16_t selector = 0;
  uint32_t offset = 0;
  if (target.type == ZYDIS_OPERAND_TYPE_POINTER) {
    selector = target.ptr.segment;
    offset = target.ptr.offset;
  } else if (target.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    if (auto f = read_memory_operand(vcpu, env, insn, target, 0, &offset, size / 8)) return StepResult::fault(*f);
    if (auto f = read_memory_operand(vcpu, env, insn, target, size / 8, &selector, 2)) return StepResult::fault(*f);
  } else {
    return StepResult::fault(ud());  // FF /3, FF /5 with a register operand (SDM vol. 2 CALL/JMP)
  }
  if (insn.mnemonic() == ZYDIS_MNEMONIC_JMP) return transfer(far_jump(vcpu, env, selector, offset, size, insn.next_eip()));
  return transfer(far_call(vcpu, env, selector, offset, size, insn.next_eip()));
}

StepResult mov(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  auto reg_class = [](const ZydisDecodedOperand& o) {
    return o.type == ZYDIS_OPERAND_TYPE_REGISTER ? ZydisRegisterGetClass(o.reg.value) : ZYDIS_REGCLASS_INVALID;
  };
  const auto d = reg_class(dst), s = reg_class(src);
  if (d == ZYDIS_REGCLASS_CONTROL || s == ZYDIS_REGCLASS_CONTROL) return step(vcpu, insn, exec_mov_control(vcpu, env, insn));
  if (d == ZYDIS_REGCLASS_DEBUG || s == ZYDIS_REGCLASS_DEBUG) return step(vcpu, insn, exec_mov_debug(vcpu, env, insn));
  if (d == ZYDIS_REGCLASS_SEGMENT) return step(vcpu, insn, exec_mov_to_sreg(vcpu, env, insn));
  if (s == ZYDIS_REGCLASS_SEGMENT) return step(vcpu, insn, exec_mov_from_sreg(vcpu, env, insn));
  return unimplemented(insn);  // ordinary moves run in the TC, never here
}

bool pops_or_pushes_sreg(const DecodedInstruction& insn) {
  for (const auto& op : insn.operands()) {
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
      return true;
    }
  }
  return false;
}

Fault require_cpl0(const VcpuState& vcpu) { return vcpu.cpl == 0 ? Fault{} : Fault{gp(0)}; }

// LAR/LSL/VERR/VERW/SLDT/STR/LLDT/LTR are #UD outside protected mode (SDM vol. 2).
Fault require_protected(const VcpuState& vcpu) { return (vcpu.cr0 & 1) ? Fault{} : Fault{ud()}; }

}  // namespace

StepResult execute_instruction(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  vcpu.interrupt_shadow = false;
  const uint32_t next = insn.next_eip();
  switch (insn.mnemonic()) {
    // --- moves and segment registers ---
    case ZYDIS_MNEMONIC_MOV: return mov(vcpu, env, insn);
    case ZYDIS_MNEMONIC_PUSH:
      if (!pops_or_pushes_sreg(insn)) return unimplemented(insn);
      return step(vcpu, insn, exec_push_sreg(vcpu, env, insn));
    case ZYDIS_MNEMONIC_POP:
      if (!pops_or_pushes_sreg(insn)) return unimplemented(insn);
      return step(vcpu, insn, exec_pop_sreg(vcpu, env, insn));
    case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
      return step(vcpu, insn, exec_load_far_pointer(vcpu, env, insn));

    // --- flags ---
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: return step(vcpu, insn, exec_pushf(vcpu, env, insn));
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: return step(vcpu, insn, exec_popf(vcpu, env, insn));
    case ZYDIS_MNEMONIC_CLI: return step(vcpu, insn, exec_cli(vcpu));
    case ZYDIS_MNEMONIC_STI: return step(vcpu, insn, exec_sti(vcpu));

    // --- control transfers and interrupts ---
    case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL:
      if (!is_far(insn)) return unimplemented(insn);
      return far_jmp_call(vcpu, env, insn);
    case ZYDIS_MNEMONIC_RET: {
      if (!is_far(insn)) return unimplemented(insn);
      const auto* imm = find_operand(insn, ZYDIS_OPERAND_TYPE_IMMEDIATE);
      const uint16_t release = imm ? uint16_t(imm->imm.value.u) : 0;
      return transfer(far_return(vcpu, env, insn.operand_width() == 16 ? 16 : 32, release));
    }
    case ZYDIS_MNEMONIC_IRET: return transfer(execute_iret(vcpu, env, 16, next));
    case ZYDIS_MNEMONIC_IRETD: return transfer(execute_iret(vcpu, env, 32, next));
    case ZYDIS_MNEMONIC_INT:
      return deliver_interrupt(vcpu, env, uint8_t(find_operand(insn, ZYDIS_OPERAND_TYPE_IMMEDIATE)->imm.value.u), true,
                               next);
    case ZYDIS_MNEMONIC_INT3: return deliver_interrupt(vcpu, env, kBp, true, next);
    case ZYDIS_MNEMONIC_INTO:
      if (!(vcpu.eflags & kFlagOf)) return step(vcpu, insn, std::nullopt);
      return deliver_interrupt(vcpu, env, kOf, true, next);
    case ZYDIS_MNEMONIC_INT1: {
      // ICEBP: a #DB trap delivered without the gate-DPL check (SDM vol. 3 6.12.1.1).
      Event ev;
      ev.vector = kDb;
      ev.kind = EventKind::kException;
      ev.return_eip = next;
      return deliver_event(vcpu, env, ev);
    }
    case ZYDIS_MNEMONIC_SYSENTER: return transfer(exec_sysenter(vcpu));
    case ZYDIS_MNEMONIC_SYSEXIT: return transfer(exec_sysexit(vcpu, insn));

    // --- system instructions ---
    case ZYDIS_MNEMONIC_HLT:
      if (vcpu.cpl != 0) return StepResult::fault(gp(0));
      vcpu.halted = true;
      vcpu.eip = next;
      return StepResult::halt();
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT:
      return step(vcpu, insn, exec_load_table_register(vcpu, env, insn));
    case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
      return step(vcpu, insn, exec_store_table_register(vcpu, env, insn));
    case ZYDIS_MNEMONIC_LLDT:
      if (auto f = require_protected(vcpu)) return StepResult::fault(*f);
      return step(vcpu, insn, exec_lldt(vcpu, env, insn));
    case ZYDIS_MNEMONIC_LTR:
      if (auto f = require_protected(vcpu)) return StepResult::fault(*f);
      return step(vcpu, insn, exec_ltr(vcpu, env, insn));
    case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR:
      if (auto f = require_protected(vcpu)) return StepResult::fault(*f);
      return step(vcpu, insn, exec_store_selector(vcpu, env, insn));
    case ZYDIS_MNEMONIC_SMSW: return step(vcpu, insn, exec_smsw(vcpu, env, insn));
    case ZYDIS_MNEMONIC_LMSW: return step(vcpu, insn, exec_lmsw(vcpu, env, insn));
    case ZYDIS_MNEMONIC_CLTS: return step(vcpu, insn, exec_clts(vcpu, env));
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
      if (auto f = require_protected(vcpu)) return StepResult::fault(*f);
      return step(vcpu, insn, exec_selector_query(vcpu, env, insn));
    case ZYDIS_MNEMONIC_INVLPG: return step(vcpu, insn, exec_invlpg(vcpu, env, insn));
    case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_WBINVD: return step(vcpu, insn, require_cpl0(vcpu));
    case ZYDIS_MNEMONIC_CPUID: exec_cpuid(vcpu, env); return step(vcpu, insn, std::nullopt);
    case ZYDIS_MNEMONIC_RDMSR: return step(vcpu, insn, exec_rdmsr(vcpu, env));
    case ZYDIS_MNEMONIC_WRMSR: return step(vcpu, insn, exec_wrmsr(vcpu, env));
    case ZYDIS_MNEMONIC_RDTSC: return step(vcpu, insn, exec_rdtsc(vcpu, env));
    // The model has no performance counters: every RDPMC index is invalid, #GP(0) (SDM vol. 2).
    case ZYDIS_MNEMONIC_RDPMC: return StepResult::fault(gp(0));
    // Not in the model: RDTSCP (CPUID.80000001H:EDX.RDTSCP = 0), SYSCALL/SYSRET (no EFER.SCE),
    // UD0/UD1/UD2: #UD as hardware raises it.
    case ZYDIS_MNEMONIC_RDTSCP: case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
      return StepResult::fault(ud());

    // --- port I/O ---
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: return step(vcpu, insn, exec_in_out(vcpu, env, insn));
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
      return step(vcpu, insn, exec_string_io(vcpu, env, insn));

    default: return unimplemented(insn);
  }
}

}  // namespace btvmm::runtime
