// Translation of a TU into a CCF (see emit_ccf.h). Layout of a CCF:
//   entry:  attention check (flag-free: jrcxz on a copy of vcpu.attention)
//   body:   one host sequence per guest instruction, recorded in Ccf::map
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

// SDM vol. 2 JRCXZ: tests RCX without touching flags; RCX's upper half is zero in the TC.
void emit_attention_check(EmitContext& c, uint32_t eip) {
  const asmjit::Label quiet = c.a.newLabel();
  const asmjit::Label busy = c.exit_to(eip, TcExit::kInterrupt);
  c.a.mov(x86::r12, x86::rcx);
  c.a.mov(x86::ecx, x86::dword_ptr(x86::r15, vcpu_off::kAttention));
  c.a.jecxz(x86::rcx, quiet);
  c.a.mov(x86::rcx, x86::r12);
  c.a.jmp(busy);
  c.a.bind(quiet);
  c.a.mov(x86::rcx, x86::r12);
}

// Emits one instruction; returns false when it ended the CCF (branch or monitor exit).
bool emit_one(EmitContext& c, const TuInstruction& ti) {
  const DecodedInstruction& insn = ti.insn;
  const auto ops = insn.visible_operands();
  const bool store = insn.mnemonic() == ZYDIS_MNEMONIC_MOV && !ops.empty() && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY;
  if (store && c.layout.simulate && c.layout.simulate->count(insn.eip())) {
    c_simulated.inc();
    c.a.jmp(c.exit_to(insn.eip(), TcExit::kMonitor));
    return false;
  }
  switch (ti.kind()) {
    case Kind::kIdent:
    case Kind::kIdentAddr32:
      if (emit_ident(c.a, insn, ti.cls)) {
        c_ident.inc();
        return true;
      }
      break;
    case Kind::kReencode32:
      if (emit_reencode(c, insn) || emit_segment_override(c, insn)) return true;
      break;
    case Kind::kBranchDirect:
      if (emit_branch_direct(c, insn)) return false;
      break;
    case Kind::kBranchIndirect:
      if (emit_branch_indirect(c, insn)) return false;
      break;
    case Kind::kReturn:
      if (emit_return(c, insn)) return false;
      break;
    case Kind::kVirtualCpu:
      if (emit_virtual_cpu(c, insn)) return ti.cls.flow == Flow::kFallsThrough;
      break;
    case Kind::kCallout:
    case Kind::kUnsupported:
      break;
  }
  // The monitor executes it (runtime::execute_instruction) with the full guest state.
  c_monitor.inc();
  c.a.jmp(c.exit_to(insn.eip(), TcExit::kMonitor));
  return false;
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
  emit_attention_check(c, tu.start_eip);
  ccf->body_offset = a.offset();
  bool open = true;
  for (const TuInstruction& ti : tu.instructions) {
    const size_t at = a.offset();
    open = emit_one(c, ti);
    ccf->map.push_back(EmittedRange{ti.eip(), at, a.offset() - at});
    ccf->guest_bytes += ti.length();
    if (!open) break;
  }
  if (open) c.chain_jump(tu.fallthrough_eip());
  c.finish();

  if (code.flatten() != asmjit::kErrorOk || code.resolveUnresolvedLinks() != asmjit::kErrorOk) return nullptr;
  const size_t size = code.codeSize();
  if (size > tc.available()) return nullptr;
  if (code.relocateToBase(base) != asmjit::kErrorOk) return nullptr;
  code.copyFlattenedData(tc.cursor(), size, asmjit::CopySectionFlags::kPadTargetBuffer);
  ccf->host = tc.cursor();
  ccf->host_size = size;
  tc.commit(size);
  for (const EmitContext::Slot& s : c.slots)
    ccf->slots.push_back(ChainSlot{code.labelOffsetFromBase(s.jmp), code.labelOffsetFromBase(s.stub), s.target, nullptr});

  c_translations.inc();
  c_ccf_bytes.inc(size);
  c_guest_insns.inc(ccf->map.size());
  return ccf;
}

}  // namespace btvmm::translator
