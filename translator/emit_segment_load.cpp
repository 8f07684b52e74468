// mov Sreg, r/m16 and pop Sreg for DS/ES/FS/GS at CPL 0 inside the TC, repeated from the vCPU's cache
// of loads the monitor completed (runtime/cpu/segment_load_cache.h); a miss leaves for the monitor
// before any state changes. Never writes the guest's RFLAGS: comparisons are differences tested by jrcxz.
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;
using runtime::SegmentLoadCache;
using runtime::SegmentLoadEntry;

namespace {

std::optional<runtime::SegReg> data_segment(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_DS: return runtime::kDs;
    case ZYDIS_REGISTER_ES: return runtime::kEs;
    case ZYDIS_REGISTER_FS: return runtime::kFs;
    case ZYDIS_REGISTER_GS: return runtime::kGs;
    default: return std::nullopt;
  }
}

int32_t entry_offset(runtime::SegReg reg, unsigned way) {
  return static_cast<int32_t>(vcpu_off::kSegLoads + offsetof(SegmentLoadCache, entries) +
                              (reg * runtime::kSegmentLoadWays + way) * sizeof(SegmentLoadEntry));
}
int32_t seg_offset(runtime::SegReg reg) {
  return static_cast<int32_t>(offsetof(runtime::VcpuState, seg) + reg * sizeof(runtime::SegmentCache));
}
int32_t seg_base_cache_offset(runtime::SegReg reg) {
  return static_cast<int32_t>(offsetof(runtime::VcpuState, seg_base_cache) + reg * sizeof(uint32_t));
}
constexpr int32_t kLoadedOffset = offsetof(SegmentLoadEntry, loaded);

// [r15 + off] += 1 without flags. Clobbers r10.
void count(EmitContext& c, int32_t off) {
  c.a.mov(x86::r10, x86::qword_ptr(x86::r15, off));
  c.a.lea(x86::r10, x86::ptr(x86::r10, 1));
  c.a.mov(x86::qword_ptr(x86::r15, off), x86::r10);
}

// Linux's entry code reloads DS, ES and FS on every system call and interrupt (arch/x86/entry/
// entry_32.S SAVE_ALL/RESTORE_REGS), almost always with an unchanged descriptor. A cached load is
// repeated only when its outcome is what the monitor would compute: every check of SDM vol. 2 MOV/POP
// and vol. 3 5.5-5.6 depends only on the selector, the CPL (0 here and at the fill), the descriptor
// tables (the dispatcher empties the cache when they change) and the descriptor's 8 bytes, which are
// compared with guest memory on every use. Those bytes include the accessed bit, set when cached, so
// the CPU would write nothing (SDM vol. 3 3.4.5.1).
//
// r12d holds the new selector (zero-extended); guest registers are intact. Installs the segment or
// jumps to `miss` with guest registers intact. R8 keeps the guest RCX while RCX serves jrcxz; it is
// back in RCX before every guest memory access, so a fault there reports the guest's registers.
void emit_lookup(EmitContext& c, runtime::SegReg reg, asmjit::Label miss) {
  x86::Assembler& a = c.a;
  const asmjit::Label null_sel = a.newLabel();
  const asmjit::Label check = a.newLabel();
  const asmjit::Label ok = a.newLabel();
  const asmjit::Label done = a.newLabel();
  const asmjit::Label restore_miss = a.newLabel();
  asmjit::Label hit[runtime::kSegmentLoadWays];
  for (asmjit::Label& l : hit) l = a.newLabel();

  a.mov(x86::r8, x86::rcx);
  // SDM vol. 3 3.4.2: selectors 0-3 are null whatever their RPL.
  a.mov(x86::r9d, 2);
  a.shrx(x86::ecx, x86::r12d, x86::r9d);
  a.jecxz(x86::rcx, null_sel);
  for (unsigned w = 0; w < runtime::kSegmentLoadWays; ++w) {
    // ecx = selector - entry.selector (32-bit): zero on a hit; an empty entry (0) never matches.
    a.mov(x86::ecx, x86::dword_ptr(x86::r15, entry_offset(reg, w) + offsetof(SegmentLoadEntry, selector)));
    a.not_(x86::ecx);
    a.lea(x86::ecx, x86::ptr(x86::rcx, x86::r12, 0, 1));
    a.jecxz(x86::rcx, hit[w]);
  }
  // jrcxz reaches only 127 bytes: the miss and null paths sit between the tests and the hits.
  a.bind(restore_miss);
  a.mov(x86::rcx, x86::r8);
  count(c, vcpu_off::kSegLoads + offsetof(SegmentLoadCache, inline_misses));
  a.jmp(miss);

  // A null selector loads an unusable segment with no descriptor read, in protected mode only
  // (runtime/cpu/descriptor.h null_segment_cache, what the monitor installs).
  a.bind(null_sel);
  a.mov(x86::ecx, x86::dword_ptr(x86::r15, vcpu_off::kSegLoads + offsetof(SegmentLoadCache, protected_mode)));
  a.jecxz(x86::rcx, restore_miss);
  a.mov(x86::rcx, x86::r8);
  a.mov(x86::dword_ptr(x86::r15, seg_offset(reg)), x86::r12d);  // selector, and zero padding
  a.mov(x86::dword_ptr(x86::r15, seg_offset(reg) + offsetof(runtime::SegmentCache, attrs)), 0x10000);
  a.mov(x86::qword_ptr(x86::r15, seg_offset(reg) + offsetof(runtime::SegmentCache, base)), 0);
  a.mov(x86::dword_ptr(x86::r15, seg_base_cache_offset(reg)), 0);
  a.jmp(done);

  for (unsigned w = 0; w < runtime::kSegmentLoadWays; ++w) {
    a.bind(hit[w]);
    a.lea(x86::r9, x86::ptr(x86::r15, entry_offset(reg, w)));
    if (w + 1 < runtime::kSegmentLoadWays) a.jmp(check);
  }
  a.bind(check);
  a.mov(x86::rcx, x86::r8);
  // The descriptor as guest memory holds it now: an implicit supervisor read at its linear address
  // through the supervisor window (host address = linear address at CPL 0, DESIGN.md 2). A #PF here
  // is the one the CPU raises for the descriptor read (SDM vol. 3 5.4 / 6.15 interrupt 14).
  a.mov(x86::r10d, x86::dword_ptr(x86::r9, offsetof(SegmentLoadEntry, descriptor_la)));
  a.mov(x86::r10, x86::qword_ptr(x86::r10));
  a.mov(x86::r8, x86::rcx);
  a.mov(x86::rcx, x86::qword_ptr(x86::r9, offsetof(SegmentLoadEntry, descriptor)));
  a.not_(x86::rcx);
  a.lea(x86::rcx, x86::ptr(x86::rcx, x86::r10, 0, 1));
  a.jecxz(x86::rcx, ok);
  a.jmp(restore_miss);
  a.bind(ok);
  a.mov(x86::rcx, x86::r8);
  a.mov(x86::r10, x86::qword_ptr(x86::r9, kLoadedOffset));
  a.mov(x86::qword_ptr(x86::r15, seg_offset(reg)), x86::r10);
  a.mov(x86::r10, x86::qword_ptr(x86::r9, kLoadedOffset + 8));
  a.mov(x86::qword_ptr(x86::r15, seg_offset(reg) + 8), x86::r10);
  a.mov(x86::r10d, x86::dword_ptr(x86::r9, kLoadedOffset + offsetof(runtime::SegmentCache, base)));
  a.mov(x86::dword_ptr(x86::r15, seg_base_cache_offset(reg)), x86::r10d);
  a.bind(done);
}

}  // namespace

bool emit_segment_load(EmitContext& c, const DecodedInstruction& insn) {
  if (c.cpl != 0 || !host_has_bmi2()) return false;
  const auto ops = insn.operands();
  if (ops.empty() || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
  const std::optional<runtime::SegReg> reg = data_segment(ops[0].reg.value);
  if (!reg) return false;
  const bool pop = insn.mnemonic() == ZYDIS_MNEMONIC_POP;
  if (pop) {
    // SDM vol. 2 POP: a 32-bit pop reads 4 bytes and uses the low 16 as the selector.
    if (insn.operand_width() != 32) return false;
    c.a.movzx(x86::r12d, c.guest(x86::word_ptr(x86::esp)));
  } else {
    if (insn.mnemonic() != ZYDIS_MNEMONIC_MOV || insn.visible_operands().size() != 2) return false;
    const ZydisDecodedOperand& src = insn.visible_operands()[1];
    if (src.type == ZYDIS_OPERAND_TYPE_REGISTER) {
      const x86::Gp r = host_gpr(src.reg.value);
      if (!r.isValid() || (r.size() != 4 && r.size() != 2)) return false;
      c.a.movzx(x86::r12d, x86::gpw(r.id()));
    } else if (simple_memory(insn, src)) {
      c.a.movzx(x86::r12d, guest_memory(c, insn, src, 2));
    } else {
      return false;
    }
  }
  emit_lookup(c, *reg, c.exit_to(insn.eip(), runtime::TcExit::kMonitor));
  if (pop) c.a.lea(x86::esp, x86::ptr(x86::esp, 4));
  count(c, vcpu_off::kSegLoads + offsetof(SegmentLoadCache, inline_loads));
  return true;
}

}  // namespace btvmm::translator
