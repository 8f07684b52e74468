// Classification of decoded guest instructions: which translation kind each one gets
// (DESIGN.md 3). Deciding only: this file never emits code. The decision is one table of
// rules (data a test can read and print); classify() only looks the instruction up in it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "translator/decode.h"

namespace btvmm::translator {

enum class Kind : uint8_t {
  kIdent,            // copied unchanged (no memory operand)
  kIdentAddr32,      // copied with a 0x67 prefix: every memory operand must wrap at 4 GiB
  kReencode32,       // means something else (or nothing) in 64-bit mode: re-encoded with 32-bit semantics
  kBranchDirect,     // relative jmp/jcc/call/loop/jecxz: chained to the target's translation
  kBranchIndirect,   // near jmp/call through a register or memory: inline lookup, then dispatcher
  kReturn,           // near ret: inline lookup, then dispatcher
  kVirtualCpu,       // short in-TC sequence on the virtual CPU state (cli, sti, pushf, ...)
  kCallout,          // call into the monitor runtime (CRn, I/O, int n, iret, far transfers, #UD...)
  kUnsupported,      // not translated: the guest gets #UD, and the CPUID btvmm advertises omits it
};
inline constexpr unsigned kKindCount = 9;
const char* to_string(Kind k);

// What a translation unit must do after the instruction (see translation_unit.h).
enum class Flow : uint8_t {
  kFallsThrough,       // the next instruction may follow in the same TU
  kEndsTu,             // control flow, mode, paging or interrupt state may change: end the TU here
  kEndsTuInShadow,     // end the TU; the next instruction runs in an interrupt shadow
                       // (mov/pop ss: SDM vol. 3 6.8.3)
  kShadowsNext,        // the next instruction may follow in the same TU and runs in an interrupt
                       // shadow (sti, SDM vol. 2 STI): TU formation keeps the two together
};
const char* to_string(Flow f);

// Operand conditions that split one mnemonic between kinds. Within a mnemonic, the forms used by
// its rules are mutually exclusive and together cover every encoding (tests check this).
enum class Form : uint8_t {
  kAny,
  kSegmentOperand,      // push/pop of CS/DS/ES/FS/GS (SS is kSsOperand)
  kNoSegmentOperand,
  kSsOperand,           // push/pop ss
  kMovToSs,             // mov ss, r/m (8E /2)
  kMovToSegment,        // mov Sreg, r/m (8E) for every Sreg but SS
  kMovFromSegment,      // mov r/m, Sreg (8C)
  kMovControlDebug,     // mov to/from CRn or DRn (0F 20-23)
  kMovOther,            // every other mov
  kShortIncDec,         // 40-4F: REX prefixes in 64-bit mode
  kNotShortIncDec,
  kOpcode82,            // 82 /r: an alias of 80 /r that is invalid in 64-bit mode (SDM vol. 2 A.3)
  kNotOpcode82,
  kBranchRelative,      // near/short with a relative displacement
  kBranchNearIndirect,  // near through r/m32
  kBranchNear,          // any near/short transfer (ret imm16 and ret)
  kBranchFar,           // far (ptr16:32 or m16:32, retf)
};
const char* to_string(Form f);

// A rule matches one mnemonic (optionally narrowed by a Form), or an encoding (VEX, EVEX, XOP,
// MVEX, 3DNow!), or a whole Zydis ISA set (SSE2, VTX...). Precedence, highest first: mnemonic,
// encoding, ISA set. The base IA-32 sets (I86 .. PPRO) have no ISA-set rule, so every one of their
// mnemonics must be named: an unknown mnemonic is never copied by default.
enum class Match : uint8_t { kMnemonic, kEncoding, kIsaSet };

struct Rule {
  Match match;
  ZydisMnemonic mnemonic;             // Match::kMnemonic
  Form form;                          // Match::kMnemonic
  ZydisInstructionEncoding encoding;  // Match::kEncoding
  ZydisISASet isa_set;                // Match::kIsaSet
  Kind kind;               // kIdent here means "copy"; classify() adds 0x67 etc. (see below)
  Flow flow;
  const char* reason;      // short, citing the SDM or Robin & Irvine (USENIX Security 2000)
};

// The table, in the order it is printed.
std::span<const Rule> rules();

struct Classification {
  Kind kind = Kind::kUnsupported;
  Flow flow = Flow::kEndsTu;
  const Rule* rule = nullptr;  // null: no rule matched (treated as kUnsupported; tests forbid it)
  // Set when a copy rule was turned into kIdentAddr32 or kReencode32 by the instruction's
  // encoding rather than its mnemonic (address size, segment override, length).
  const char* refinement = nullptr;
};

// Decides the kind of one decoded instruction. A rule of kind kIdent becomes:
//   kIdentAddr32 if the instruction has a memory operand (explicit or implicit, e.g. movs, xlat);
//   kReencode32  if that memory operand uses 16-bit addressing (0x67 in 32-bit code: there is no
//                16-bit addressing in 64-bit mode, SDM vol. 1 3.6.1), an FS/GS base (64-bit mode
//                would add the host's base, SDM vol. 1 3.4.2.1 / vol. 3 3.4.4, escaping the window),
//                or if the copy with its extra bytes would exceed 15 bytes.
Classification classify(const DecodedInstruction& insn);

// Every rule of the highest-precedence level that has any match. A test uses it to check that
// exactly one rule decides each instruction.
std::vector<const Rule*> matching_rules(const DecodedInstruction& insn);

// Does the rule's Form hold for this instruction?
bool form_matches(Form form, const DecodedInstruction& insn);

// The table as text, one rule per line: "mnemonic [form] -> kind, flow: reason".
std::string format_rules();

}  // namespace btvmm::translator
