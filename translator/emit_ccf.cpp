// Translation of a TU into a CCF (see emit_ccf.h). Layout of a CCF:
//   head:   the attention check's exit (mov rcx, r12; jmp to its stub)
//   entry:  attention check (flag-free: a jrcxz back to the head, not taken while attention is 0)
//   body:   run counter (exec_profile.h), then one host sequence per guest instruction, recorded in Ccf::map; after the instruction
//           that follows an in-TC sti (its interrupt shadow), another attention check
//   tail:   chaining jump for a fall-through end, then the exit stubs.
#include "translator/emit_ccf.h"

#include <cstring>

#include "core/stats.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;
using runtime::TcExit;

namespace {
stats::Counter c_translations{"tc.translations", "translation units emitted as CCFs"};
stats::Counter c_ccf_bytes{"tc.ccf_bytes", "host bytes of CCFs emitted"};
stats::Counter c_guest_insns{"tc.guest_instructions", "guest instructions translated"};
stats::Counter c_ident{"tc.ident_instructions", "guest instructions translated as IDENT or IDENT+0x67 copies"};
stats::Counter c_simulated{"tc.simulated_instructions", "guest instructions translated as SIMULATE (monitor exits) after trapping"};
stats::Counter c_monitor{"tc.monitor_exit_instructions", "guest instructions translated as exits to the monitor"};

// SDM vol. 2 LEA and MOV write no flags: the guest's arithmetic flags are live here. Clobbers r12, r13.
void emit_run_count(EmitContext& c, uint64_t* runs) {
  c.a.mov(x86::r12, reinterpret_cast<uint64_t>(runs));
  c.a.mov(x86::r13, x86::qword_ptr(x86::r12));
  c.a.lea(x86::r13, x86::ptr(x86::r13, 1));
  c.a.mov(x86::qword_ptr(x86::r12), x86::r13);
}

// Emits one instruction and says how (`how`); returns false when it ended the CCF (branch or
// monitor exit).
bool emit_one(EmitContext& c, const TuInstruction& ti, ExecKind& how) {
  const DecodedInstruction& insn = ti.insn;
  // SIMULATE (adaptive retranslation): a copied instruction that kept trapping on traced pages
  // becomes a monitor exit, and the monitor performs it through CpuEnv, which reports the write.
  // Not only MOV: Linux also changes PTEs with xchg (ptep_get_and_clear) and locked bit operations
  // (ptep_set_wrprotect), and clears new tables with rep stos.
  const bool copied = ti.kind() == Kind::kIdent || ti.kind() == Kind::kIdentAddr32;
  if (copied && insn.has_memory_operand() && c.layout.simulate && c.layout.simulate->count(insn.eip())) {
    c_simulated.inc();
    how = ExecKind::kSimulate;
    c.a.jmp(c.exit_to(insn.eip(), TcExit::kMonitor));
    return false;
  }
  switch (ti.kind()) {
    case Kind::kIdent:
    case Kind::kIdentAddr32:
      if (c.cpl == 3 && insn.zydis().meta.category == ZYDIS_CATEGORY_STRINGOP) {
        how = ExecKind::kIdent;
        if (emit_user_string(c, insn)) return true;
        break;
      }
      if (emit_ident(c.a, insn, ti.cls, c.cpl == 3)) {
        c_ident.inc();
        how = ExecKind::kIdent;
        return true;
      }
      break;
    case Kind::kReencode32:
      how = ExecKind::kReencode;
      if (emit_reencode(c, insn) || emit_segment_override(c, insn)) return true;
      break;
    case Kind::kBranchDirect:
      how = ExecKind::kBranchDirect;
      if (emit_branch_direct(c, insn)) return false;
      break;
    case Kind::kBranchIndirect:
      how = ExecKind::kBranchIndirect;
      if (emit_branch_indirect(c, insn)) return false;
      break;
    case Kind::kReturn:
      how = ExecKind::kBranchIndirect;
      if (emit_return(c, insn)) return false;
      break;
    case Kind::kVirtualCpu:
      how = ExecKind::kVirtualCpu;
      switch (emit_virtual_cpu(c, insn)) {
        case VcpuEmit::kContinues: return true;
        case VcpuEmit::kEndsCcf: return false;
        case VcpuEmit::kNotEmitted: break;
      }
      break;
    case Kind::kCallout:
    case Kind::kUnsupported:
      break;
  }
  // The monitor executes it (runtime::execute_instruction) with the full guest state.
  c_monitor.inc();
  how = ExecKind::kMonitor;
  c.a.jmp(c.exit_to(insn.eip(), TcExit::kMonitor));
  return false;
}

// Gives a counter to each body stub that leaves before its instruction finishes in the TC: an
// interrupt check in front of an instruction of this CCF (after an sti shadow or a popfd), or a
// monitor exit at an instruction the TC normally runs (popfd's slow path). Branch exits and an
// instruction's own callout end the CCF normally and count nothing.
void count_early_exits(EmitContext& c, size_t body_stubs, const TranslationUnit& tu, Ccf& ccf) {
  for (size_t s = body_stubs; s < c.stubs.size(); ++s) {
    EmitContext::Stub& stub = c.stubs[s];
    if (stub.slot || stub.reason == TcExit::kBranch) continue;
    for (unsigned i = 0; i < ccf.map.size() && i < ccf.profile.size(); ++i) {
      if (ccf.map[i].guest_eip != stub.eip) continue;
      const ExecKind k = ccf.profile.kind_at(i);
      const bool monitor = stub.reason == TcExit::kMonitor;
      if (monitor && (k == ExecKind::kMonitor || k == ExecKind::kSimulate)) break;
      stub.counter = ccf.profile.early_exit_counter(i, monitor ? EarlyExit::kMonitorRuns : EarlyExit::kSkipped,
                                                    monitor ? callout_kind(tu.instructions[i].insn) : CalloutKind::kNone);
      break;
    }
  }
}

}  // namespace

std::unique_ptr<Ccf> emit_ccf(const TranslationUnit& tu, TcMemory& tc, const TcLayout& layout, uint8_t cpl) {
  if (tu.instructions.empty()) return nullptr;
  asmjit::CodeHolder code;
  const uint64_t base = reinterpret_cast<uint64_t>(tc.cursor());
  code.init(asmjit::Environment::host(), base);
  x86::Assembler a(&code);
  EmitContext c(a, layout);
  c.cpl = cpl;

  auto ccf = std::make_unique<Ccf>();
  ccf->key = {tu.start_eip, cpl};
  const asmjit::Label entry = c.entry_attention_check(tu.start_eip);
  const size_t body_stubs = c.stubs.size();  // the entry check's stub exits before the run is counted
  ccf->body_offset = a.offset();
  ccf->profile.set_cpl(cpl);
  ccf->profile.set_guest_eip(tu.start_eip);
  // After the attention check, so entries that skip it (interrupt shadow) count, and exits at it don't.
  if (layout.count_executions) emit_run_count(c, ccf->profile.runs_address());
  bool open = true;
  for (const TuInstruction& ti : tu.instructions) {
    const size_t at = a.offset();
    const bool shadowed = c.check_after_next;
    c.check_after_next = false;
    c.last_in_tu = &ti == &tu.instructions.back();
    ExecKind how = ExecKind::kMonitor;
    open = emit_one(c, ti, how);
    ccf->profile.add(how);
    if (how == ExecKind::kMonitor) ccf->profile.set_callout(callout_kind(ti.insn));
    ccf->map.push_back(EmittedRange{ti.eip(), at, a.offset() - at, c.based_rsi_rdi});
    c.based_rsi_rdi = false;
    ccf->guest_bytes += ti.length();
    if (!open) break;
    // The instruction after an in-TC sti ran in its shadow: an interrupt may be taken now, unless
    // it cleared IF again (`sti; cli` takes none, SDM vol. 3 6.8.3).
    if (shadowed && ti.insn.mnemonic() != ZYDIS_MNEMONIC_CLI) c.interrupt_check(ti.insn.next_eip());
  }
  if (open) c.chain_jump(tu.fallthrough_eip());
  if (layout.count_executions) count_early_exits(c, body_stubs, tu, *ccf);
  c.finish();

  if (code.flatten() != asmjit::kErrorOk || code.resolveUnresolvedLinks() != asmjit::kErrorOk) return nullptr;
  const size_t size = code.codeSize();
  if (size > tc.available()) return nullptr;
  if (code.relocateToBase(base) != asmjit::kErrorOk) return nullptr;
  code.copyFlattenedData(tc.cursor(), size, asmjit::CopySectionFlags::kPadTargetBuffer);
  ccf->host = tc.cursor();
  ccf->host_size = size;
  ccf->entry_offset = code.labelOffsetFromBase(entry);
  tc.commit(size);
  for (const EmitContext::Slot& s : c.slots)
    ccf->slots.push_back(ChainSlot{code.labelOffsetFromBase(s.jmp), code.labelOffsetFromBase(s.stub), s.target, nullptr});

  c_translations.inc();
  c_ccf_bytes.inc(size);
  c_guest_insns.inc(ccf->map.size());
  return ccf;
}

}  // namespace btvmm::translator
