// The classification table: every guest instruction's translation kind, with the reason (DESIGN.md 3).
// Data only. Nothing here is copied to the TC by default: a mnemonic of the base IA-32 sets that is
// not named below is unclassified (guest #UD), and the opcode sweep test fails on it.
//
// Sources: Intel SDM vol. 2 (instruction pages, "64-bit mode" columns and appendix A), vol. 3 2.8
// (system instructions) and 5.9 (privileged instructions); J. S. Robin and C. E. Irvine, "Analysis
// of the Intel Pentium's ability to support a secure virtual machine monitor", USENIX Security 2000
// ("R&I" below: the 17 sensitive unprivileged instructions).
#include "translator/classify.h"

namespace btvmm::translator {
namespace {

constexpr Flow kFall = Flow::kFallsThrough;
constexpr Flow kEnd = Flow::kEndsTu;
constexpr Flow kShadow = Flow::kEndsTuInShadow;

constexpr Rule M(ZydisMnemonic m, Kind k, Flow f, const char* why) {
  return {Match::kMnemonic, m, Form::kAny, ZYDIS_INSTRUCTION_ENCODING_LEGACY, ZYDIS_ISA_SET_INVALID, k, f, why};
}
constexpr Rule MF(ZydisMnemonic m, Form form, Kind k, Flow f, const char* why) {
  return {Match::kMnemonic, m, form, ZYDIS_INSTRUCTION_ENCODING_LEGACY, ZYDIS_ISA_SET_INVALID, k, f, why};
}
constexpr Rule E(ZydisInstructionEncoding e, Kind k, const char* why) {
  return {Match::kEncoding, ZYDIS_MNEMONIC_INVALID, Form::kAny, e, ZYDIS_ISA_SET_INVALID, k, Flow::kEndsTu, why};
}
constexpr Rule S(ZydisISASet s, Kind k, const char* why) {
  const Flow f = k == Kind::kUnsupported ? Flow::kEndsTu : Flow::kFallsThrough;
  return {Match::kIsaSet, ZYDIS_MNEMONIC_INVALID, Form::kAny, ZYDIS_INSTRUCTION_ENCODING_LEGACY, s, k, f, why};
}

constexpr Kind kCopy = Kind::kIdent;
constexpr Kind kRe = Kind::kReencode32;
constexpr Kind kDirect = Kind::kBranchDirect;
constexpr Kind kIndirect = Kind::kBranchIndirect;
constexpr Kind kRet = Kind::kReturn;
constexpr Kind kVcpu = Kind::kVirtualCpu;
constexpr Kind kCall = Kind::kCallout;
constexpr Kind kNo = Kind::kUnsupported;

const char* const kAlu = "integer ALU; same result with 32-bit operands in 64-bit mode (SDM vol. 1 3.4.1.1)";
const char* const kAlu82 = "82 /r is invalid in 64-bit mode (SDM vol. 2 A.3 table A-6): re-encode as 80 /r";
const char* const kJcc = "relative branch: chained to the target's CCF (DESIGN.md 3)";
const char* const kSetcc = "flag test into r/m8; not sensitive";
const char* const kString = "string op: with 0x67 it uses ESI/EDI/ECX as in 32-bit code (SDM vol. 1 3.6.1)";
const char* const kBcd = "BCD adjust: invalid in 64-bit mode (SDM vol. 2 AAA..DAS)";
const char* const kFarLoad = "loads a segment register (descriptor checks, base change; SDM vol. 2 LDS/LES/LFS/LGS/LSS)";
const char* const kSegStore = "R&I: stores a segment selector; TC runs on host selectors, value comes from the vCPU";
const char* const kX87Copy = "x87 compare into EFLAGS; not sensitive";

constexpr Rule kTable[] = {
    // --- integer instructions that mean the same in 64-bit mode: copied -----------------------
    MF(ZYDIS_MNEMONIC_ADD, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_ADD, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_OR, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_OR, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_ADC, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_ADC, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_SBB, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_SBB, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_AND, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_AND, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_SUB, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_SUB, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_XOR, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_XOR, Form::kOpcode82, kRe, kFall, kAlu82),
    MF(ZYDIS_MNEMONIC_CMP, Form::kNotOpcode82, kCopy, kFall, kAlu),
    MF(ZYDIS_MNEMONIC_CMP, Form::kOpcode82, kRe, kFall, kAlu82),
    M(ZYDIS_MNEMONIC_TEST, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_NOT, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_NEG, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_MUL, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_IMUL, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_DIV, kCopy, kFall, "integer divide; #DE is delivered precisely from the TC (DESIGN.md 3)"),
    M(ZYDIS_MNEMONIC_IDIV, kCopy, kFall, "integer divide; #DE is delivered precisely from the TC (DESIGN.md 3)"),
    MF(ZYDIS_MNEMONIC_INC, Form::kNotShortIncDec, kCopy, kFall, "FE/FF /0: same in 64-bit mode"),
    MF(ZYDIS_MNEMONIC_INC, Form::kShortIncDec, kRe, kFall, "40+r is a REX prefix in 64-bit mode (SDM vol. 2 2.2.1): re-encode as FF /0"),
    MF(ZYDIS_MNEMONIC_DEC, Form::kNotShortIncDec, kCopy, kFall, "FE/FF /1: same in 64-bit mode"),
    MF(ZYDIS_MNEMONIC_DEC, Form::kShortIncDec, kRe, kFall, "48+r is a REX prefix in 64-bit mode (SDM vol. 2 2.2.1): re-encode as FF /1"),
    M(ZYDIS_MNEMONIC_SHL, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_SHR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_SAR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_ROL, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_ROR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_RCL, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_RCR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_SHLD, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_SHRD, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BT, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BTS, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BTR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BTC, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BSF, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_BSR, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_TZCNT, kCopy, kFall, "F3 0F BC; Zydis decodes what the host executes (a host without BMI1 runs BSF)"),
    M(ZYDIS_MNEMONIC_BSWAP, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_XADD, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CMPXCHG, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CMPXCHG8B, kCopy, kFall, "0F C7 /1 without REX.W is cmpxchg8b in 64-bit mode too"),
    M(ZYDIS_MNEMONIC_XCHG, kCopy, kFall, "register/memory exchange; 90 stays nop in 64-bit mode"),
    M(ZYDIS_MNEMONIC_MOVSX, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_MOVZX, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_LEA, kCopy, kFall, "address arithmetic; with 0x67 it wraps at 4 GiB as in 32-bit code"),
    M(ZYDIS_MNEMONIC_CBW, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CWDE, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CWD, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CDQ, kCopy, kFall, kAlu),
    M(ZYDIS_MNEMONIC_CLC, kCopy, kFall, "arithmetic flag only"),
    M(ZYDIS_MNEMONIC_STC, kCopy, kFall, "arithmetic flag only"),
    M(ZYDIS_MNEMONIC_CMC, kCopy, kFall, "arithmetic flag only"),
    M(ZYDIS_MNEMONIC_CLD, kCopy, kFall, "DF lives in host RFLAGS while the TC runs (DESIGN.md 3)"),
    M(ZYDIS_MNEMONIC_STD, kCopy, kFall, "DF lives in host RFLAGS while the TC runs (DESIGN.md 3)"),
    M(ZYDIS_MNEMONIC_LAHF, kCopy, kFall, "reads SF/ZF/AF/PF/CF only; valid in 64-bit mode with CPUID LAHF-SAHF"),
    M(ZYDIS_MNEMONIC_SAHF, kCopy, kFall, "writes SF/ZF/AF/PF/CF only; valid in 64-bit mode with CPUID LAHF-SAHF"),
    M(ZYDIS_MNEMONIC_NOP, kCopy, kFall, "no operation (90, 0F 1F, hint NOPs 0F 18-1F)"),
    M(ZYDIS_MNEMONIC_ENDBR32, kCopy, kFall, "CET marker: a NOP when CET is off (SDM vol. 1 17.3)"),
    M(ZYDIS_MNEMONIC_ENDBR64, kCopy, kFall, "CET marker: a NOP when CET is off (SDM vol. 1 17.3)"),
    M(ZYDIS_MNEMONIC_SETB, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETBE, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETL, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETLE, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNB, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNBE, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNL, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNLE, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNO, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNP, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNS, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETNZ, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETO, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETP, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETS, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_SETZ, kCopy, kFall, kSetcc),
    M(ZYDIS_MNEMONIC_MOVSB, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_MOVSW, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_MOVSD, kCopy, kFall, "string movsd (with 0x67: ESI/EDI/ECX) or SSE2 movsd; both unchanged in 64-bit mode"),
    M(ZYDIS_MNEMONIC_CMPSB, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_CMPSW, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_CMPSD, kCopy, kFall, "string cmpsd (with 0x67: ESI/EDI/ECX) or SSE2 cmpsd; both unchanged in 64-bit mode"),
    M(ZYDIS_MNEMONIC_STOSB, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_STOSW, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_STOSD, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_LODSB, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_LODSW, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_LODSD, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_SCASB, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_SCASW, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_SCASD, kCopy, kFall, kString),
    M(ZYDIS_MNEMONIC_XLAT, kCopy, kFall, "table lookup [EBX+AL]: with 0x67 it uses EBX (SDM vol. 2 XLAT)"),
    M(ZYDIS_MNEMONIC_FCOMI, kCopy, kFall, kX87Copy),
    M(ZYDIS_MNEMONIC_FCOMIP, kCopy, kFall, kX87Copy),
    M(ZYDIS_MNEMONIC_FUCOMI, kCopy, kFall, kX87Copy),
    M(ZYDIS_MNEMONIC_FUCOMIP, kCopy, kFall, kX87Copy),

    // --- mov: split by operands ------------------------------------------------------------
    MF(ZYDIS_MNEMONIC_MOV, Form::kMovOther, kCopy, kFall,
       "register/memory/immediate move; moffs (A0-A3) too: with 0x67 its offset is 32 bits in 64-bit mode (SDM vol. 2 MOV)"),
    MF(ZYDIS_MNEMONIC_MOV, Form::kMovFromSegment, kVcpu, kFall, kSegStore),
    MF(ZYDIS_MNEMONIC_MOV, Form::kMovToSs, kCall, kShadow, "R&I: segment load; mov ss inhibits interrupts for one instruction (SDM vol. 3 6.8.3)"),
    MF(ZYDIS_MNEMONIC_MOV, Form::kMovToSegment, kVcpu, kFall, "R&I: segment load with descriptor checks; repeated in the TC from the vCPU's cache of checked descriptors, else the monitor; the TC reads FS/GS bases at run time"),
    MF(ZYDIS_MNEMONIC_MOV, Form::kMovControlDebug, kCall, kEnd, "SDM vol. 3 5.9: privileged; CR0/CR3/CR4 writes change mode or paging"),

    // --- stack: 64-bit mode pushes and pops 8 bytes (SDM vol. 1 3.4.1.1) ---------------------
    MF(ZYDIS_MNEMONIC_PUSH, Form::kNoSegmentOperand, kRe, kFall, "pushes 8 bytes through RSP in 64-bit mode: re-encode as a 32-bit store"),
    MF(ZYDIS_MNEMONIC_PUSH, Form::kSegmentOperand, kVcpu, kFall, "R&I: push Sreg stores a selector; value from the vCPU; 06/0E/16/1E invalid in 64-bit mode"),
    MF(ZYDIS_MNEMONIC_PUSH, Form::kSsOperand, kVcpu, kFall, "R&I: push ss stores a selector; value from the vCPU; 16 invalid in 64-bit mode"),
    MF(ZYDIS_MNEMONIC_POP, Form::kNoSegmentOperand, kRe, kFall, "pops 8 bytes through RSP in 64-bit mode: re-encode as a 32-bit load"),
    MF(ZYDIS_MNEMONIC_POP, Form::kSegmentOperand, kVcpu, kFall, "R&I: pop Sreg loads a segment (descriptor checks); in the TC like mov Sreg"),
    MF(ZYDIS_MNEMONIC_POP, Form::kSsOperand, kCall, kShadow, "R&I: pop ss loads SS and inhibits interrupts for one instruction (SDM vol. 3 6.8.3)"),
    M(ZYDIS_MNEMONIC_PUSHA, kRe, kFall, "invalid in 64-bit mode (SDM vol. 2 PUSHA)"),
    M(ZYDIS_MNEMONIC_PUSHAD, kRe, kFall, "invalid in 64-bit mode (SDM vol. 2 PUSHAD)"),
    M(ZYDIS_MNEMONIC_POPA, kRe, kFall, "invalid in 64-bit mode (SDM vol. 2 POPA)"),
    M(ZYDIS_MNEMONIC_POPAD, kRe, kFall, "invalid in 64-bit mode (SDM vol. 2 POPAD)"),
    M(ZYDIS_MNEMONIC_ENTER, kRe, kFall, "uses RSP/RBP and 8-byte slots in 64-bit mode"),
    M(ZYDIS_MNEMONIC_LEAVE, kRe, kFall, "uses RSP/RBP and an 8-byte pop in 64-bit mode"),
    M(ZYDIS_MNEMONIC_PUSHF, kVcpu, kFall, "R&I: pushf exposes IF/IOPL of the real flags; built from the virtual EFLAGS"),
    M(ZYDIS_MNEMONIC_PUSHFD, kVcpu, kFall, "R&I: pushfd exposes IF/IOPL of the real flags; built from the virtual EFLAGS"),
    M(ZYDIS_MNEMONIC_POPF, kVcpu, kEnd, "R&I: popf silently ignores IF at CPL>0; may enable interrupts or set TF"),
    M(ZYDIS_MNEMONIC_POPFD, kVcpu, kFall, "R&I: popfd silently ignores IF at CPL>0; in the TC when only IF and arithmetic flags change"),

    // --- other instructions that are invalid or different in 64-bit mode ---------------------
    M(ZYDIS_MNEMONIC_AAA, kRe, kFall, kBcd),
    M(ZYDIS_MNEMONIC_AAS, kRe, kFall, kBcd),
    M(ZYDIS_MNEMONIC_DAA, kRe, kFall, kBcd),
    M(ZYDIS_MNEMONIC_DAS, kRe, kFall, kBcd),
    M(ZYDIS_MNEMONIC_AAM, kRe, kFall, "invalid in 64-bit mode (SDM vol. 2 AAM); #DE on imm8 = 0"),
    M(ZYDIS_MNEMONIC_AAD, kRe, kFall, kBcd),
    M(ZYDIS_MNEMONIC_BOUND, kRe, kFall, "62 is EVEX in 64-bit mode; raises #BR (SDM vol. 2 BOUND)"),
    M(ZYDIS_MNEMONIC_ARPL, kRe, kFall, "63 is movsxd in 64-bit mode (SDM vol. 2 ARPL)"),
    M(ZYDIS_MNEMONIC_SALC, kRe, kFall, "undocumented D6, invalid in 64-bit mode"),

    // --- control flow ----------------------------------------------------------------------
    M(ZYDIS_MNEMONIC_JB, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JBE, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JL, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JLE, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNB, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNBE, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNL, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNLE, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNO, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNP, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNS, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JNZ, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JO, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JP, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JS, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JZ, kDirect, kEnd, kJcc),
    M(ZYDIS_MNEMONIC_JCXZ, kDirect, kEnd, "relative branch on CX (67 E3)"),
    M(ZYDIS_MNEMONIC_JECXZ, kDirect, kEnd, "relative branch on ECX"),
    M(ZYDIS_MNEMONIC_LOOP, kDirect, kEnd, "relative branch; decrements ECX (CX with 0x67)"),
    M(ZYDIS_MNEMONIC_LOOPE, kDirect, kEnd, "relative branch; decrements ECX (CX with 0x67)"),
    M(ZYDIS_MNEMONIC_LOOPNE, kDirect, kEnd, "relative branch; decrements ECX (CX with 0x67)"),
    MF(ZYDIS_MNEMONIC_JMP, Form::kBranchRelative, kDirect, kEnd, kJcc),
    MF(ZYDIS_MNEMONIC_JMP, Form::kBranchNearIndirect, kIndirect, kEnd, "FF /4: target known at run time; inline EIP->CCF lookup"),
    MF(ZYDIS_MNEMONIC_JMP, Form::kBranchFar, kCall, kEnd, "R&I: far jmp loads CS (descriptor, CPL, gates, task switch)"),
    MF(ZYDIS_MNEMONIC_CALL, Form::kBranchRelative, kDirect, kEnd, "E8: the emitter pushes a 32-bit return EIP, then chains"),
    MF(ZYDIS_MNEMONIC_CALL, Form::kBranchNearIndirect, kIndirect, kEnd, "FF /2: pushes a 32-bit return EIP, then inline lookup"),
    MF(ZYDIS_MNEMONIC_CALL, Form::kBranchFar, kCall, kEnd, "R&I: far call loads CS (call gates, stack switch, task switch)"),
    MF(ZYDIS_MNEMONIC_RET, Form::kBranchNear, kRet, kEnd, "C3/C2: pops a 32-bit EIP; inline EIP->CCF lookup"),
    MF(ZYDIS_MNEMONIC_RET, Form::kBranchFar, kCall, kEnd, "R&I: far ret loads CS and maybe SS (privilege checks)"),

    // --- system state the TC keeps on the virtual CPU ---------------------------------------
    M(ZYDIS_MNEMONIC_CLI, kVcpu, kFall, "clears the virtual IF (SDM vol. 3 6.8.1); no trap"),
    M(ZYDIS_MNEMONIC_STI, kVcpu, Flow::kShadowsNext, "sets the virtual IF; interrupts wait one instruction (SDM vol. 2 STI)"),
    M(ZYDIS_MNEMONIC_CLTS, kVcpu, kFall, "SDM vol. 3 5.9: privileged; clears the virtual CR0.TS"),

    // --- callouts into the monitor runtime --------------------------------------------------
    M(ZYDIS_MNEMONIC_LGDT, kCall, kFall, "SDM vol. 3 5.9: privileged; loads the virtual GDTR"),
    M(ZYDIS_MNEMONIC_LIDT, kCall, kFall, "SDM vol. 3 5.9: privileged; loads the virtual IDTR"),
    M(ZYDIS_MNEMONIC_LLDT, kCall, kFall, "SDM vol. 3 5.9: privileged; loads the virtual LDTR"),
    M(ZYDIS_MNEMONIC_LTR, kCall, kFall, "SDM vol. 3 5.9: privileged; loads the virtual TR"),
    M(ZYDIS_MNEMONIC_SGDT, kCall, kFall, "R&I: unprivileged store of GDTR; the exact value comes from the vCPU"),
    M(ZYDIS_MNEMONIC_SIDT, kCall, kFall, "R&I: unprivileged store of IDTR; the exact value comes from the vCPU"),
    M(ZYDIS_MNEMONIC_SLDT, kCall, kFall, "R&I: unprivileged store of LDTR; the exact value comes from the vCPU"),
    M(ZYDIS_MNEMONIC_STR, kCall, kFall, "R&I: unprivileged store of TR; the exact value comes from the vCPU"),
    M(ZYDIS_MNEMONIC_SMSW, kCall, kFall, "R&I: unprivileged store of CR0[15:0]; the exact value comes from the vCPU"),
    M(ZYDIS_MNEMONIC_LMSW, kCall, kEnd, "SDM vol. 3 5.9: privileged; may set CR0.PE"),
    M(ZYDIS_MNEMONIC_LAR, kCall, kFall, "R&I: reads guest descriptor access rights"),
    M(ZYDIS_MNEMONIC_LSL, kCall, kFall, "R&I: reads a guest segment limit"),
    M(ZYDIS_MNEMONIC_VERR, kCall, kFall, "R&I: checks a guest descriptor against CPL"),
    M(ZYDIS_MNEMONIC_VERW, kCall, kFall, "R&I: checks a guest descriptor against CPL"),
    M(ZYDIS_MNEMONIC_LDS, kCall, kEnd, kFarLoad),
    M(ZYDIS_MNEMONIC_LES, kCall, kEnd, kFarLoad),
    M(ZYDIS_MNEMONIC_LFS, kCall, kEnd, kFarLoad),
    M(ZYDIS_MNEMONIC_LGS, kCall, kEnd, kFarLoad),
    M(ZYDIS_MNEMONIC_LSS, kCall, kEnd, kFarLoad),
    M(ZYDIS_MNEMONIC_IN, kCall, kFall, "port I/O goes to the device bus (SDM vol. 1 19.5: IOPL-sensitive)"),
    M(ZYDIS_MNEMONIC_OUT, kCall, kEnd, "port I/O; may unmask or acknowledge an interrupt, or reset the machine"),
    M(ZYDIS_MNEMONIC_INSB, kCall, kFall, "string port input (rep aware) to the device bus"),
    M(ZYDIS_MNEMONIC_INSW, kCall, kFall, "string port input (rep aware) to the device bus"),
    M(ZYDIS_MNEMONIC_INSD, kCall, kFall, "string port input (rep aware) to the device bus"),
    M(ZYDIS_MNEMONIC_OUTSB, kCall, kEnd, "string port output (rep aware); may change interrupt state"),
    M(ZYDIS_MNEMONIC_OUTSW, kCall, kEnd, "string port output (rep aware); may change interrupt state"),
    M(ZYDIS_MNEMONIC_OUTSD, kCall, kEnd, "string port output (rep aware); may change interrupt state"),
    M(ZYDIS_MNEMONIC_INT, kCall, kEnd, "R&I: int n goes through the guest IDT"),
    M(ZYDIS_MNEMONIC_INT3, kCall, kEnd, "#BP through the guest IDT"),
    M(ZYDIS_MNEMONIC_INT1, kCall, kEnd, "ICEBP: #DB through the guest IDT"),
    M(ZYDIS_MNEMONIC_INTO, kCall, kEnd, "#OF through the guest IDT when OF=1; invalid in 64-bit mode"),
    M(ZYDIS_MNEMONIC_IRET, kCall, kEnd, "returns through guest descriptors, maybe to CPL 3 or v8086"),
    M(ZYDIS_MNEMONIC_IRETD, kCall, kEnd, "returns through guest descriptors, maybe to CPL 3 or v8086"),
    M(ZYDIS_MNEMONIC_HLT, kCall, kEnd, "SDM vol. 3 5.9: privileged; sleeps until a virtual interrupt"),
    M(ZYDIS_MNEMONIC_CPUID, kCall, kFall, "reports btvmm's guest feature set, not the host's"),
    M(ZYDIS_MNEMONIC_RDMSR, kCall, kFall, "SDM vol. 3 5.9: privileged; virtual MSRs"),
    M(ZYDIS_MNEMONIC_WRMSR, kCall, kEnd, "SDM vol. 3 5.9: privileged; may change timer or interrupt state"),
    M(ZYDIS_MNEMONIC_RDTSC, kVcpu, kFall, "guest TSC = host TSC + offset, in the TC at CPL 0; CR4.TSD at CPL 3 (SDM vol. 3 5.9)"),
    M(ZYDIS_MNEMONIC_RDTSCP, kCall, kFall, "guest TSC and TSC_AUX"),
    M(ZYDIS_MNEMONIC_RDPMC, kCall, kFall, "SDM vol. 3 5.9: privileged unless CR4.PCE"),
    M(ZYDIS_MNEMONIC_INVLPG, kCall, kEnd, "SDM vol. 3 5.9: privileged; drops shadow mappings, maybe of this code"),
    M(ZYDIS_MNEMONIC_INVD, kCall, kFall, "SDM vol. 3 5.9: privileged; cache control has no effect on guest state"),
    M(ZYDIS_MNEMONIC_WBINVD, kCall, kFall, "SDM vol. 3 5.9: privileged; cache control has no effect on guest state"),
    M(ZYDIS_MNEMONIC_SYSENTER, kCall, kEnd, "fast system call: loads CS/SS from the guest SYSENTER MSRs"),
    M(ZYDIS_MNEMONIC_SYSEXIT, kCall, kEnd, "SDM vol. 3 5.9: privileged; returns to CPL 3"),
    M(ZYDIS_MNEMONIC_SYSCALL, kCall, kEnd, "AMD fast system call; #UD unless the guest EFER.SCE allows it"),
    M(ZYDIS_MNEMONIC_SYSRET, kCall, kEnd, "privileged AMD fast return; #UD unless the guest EFER.SCE allows it"),
    M(ZYDIS_MNEMONIC_UD0, kCall, kEnd, "raises #UD in the guest (SDM vol. 2 UD)"),
    M(ZYDIS_MNEMONIC_UD1, kCall, kEnd, "raises #UD in the guest (SDM vol. 2 UD)"),
    M(ZYDIS_MNEMONIC_UD2, kCall, kEnd, "raises #UD in the guest (SDM vol. 2 UD)"),

    // --- named instructions btvmm does not offer ---------------------------------------------
    M(ZYDIS_MNEMONIC_RSM, kNo, kEnd, "#UD outside SMM, and btvmm has no SMM (SDM vol. 2 RSM)"),
    M(ZYDIS_MNEMONIC_MONITOR, kNo, kEnd, "CPUID.01H:ECX.MONITOR not advertised"),
    M(ZYDIS_MNEMONIC_MWAIT, kNo, kEnd, "CPUID.01H:ECX.MONITOR not advertised"),

    // --- encodings btvmm does not offer ---------------------------------------------------
    E(ZYDIS_INSTRUCTION_ENCODING_VEX, kNo, "AVX family: CPUID advertises no AVX and guest XCR0 is x87|SSE at most"),
    E(ZYDIS_INSTRUCTION_ENCODING_EVEX, kNo, "AVX-512: not advertised"),
    E(ZYDIS_INSTRUCTION_ENCODING_XOP, kNo, "AMD XOP: not advertised"),
    E(ZYDIS_INSTRUCTION_ENCODING_MVEX, kNo, "Knights Corner: not advertised"),
    E(ZYDIS_INSTRUCTION_ENCODING_3DNOW, kNo, "AMD 3DNow!: not advertised"),

    // --- whole ISA sets: user-level FPU/SIMD and other unprivileged extensions, copied -------
    S(ZYDIS_ISA_SET_X87, kCopy, "x87 (fnstenv/fnsave store host FCS/FDS: a known fidelity gap)"),
    S(ZYDIS_ISA_SET_FCMOV, kCopy, "x87 conditional move"),
    S(ZYDIS_ISA_SET_SSE3X87, kCopy, "fisttp"),
    S(ZYDIS_ISA_SET_PENTIUMMMX, kCopy, "MMX: not sensitive"),
    S(ZYDIS_ISA_SET_SSE, kCopy, "SSE: not sensitive"),
    S(ZYDIS_ISA_SET_SSE2, kCopy, "SSE2: not sensitive"),
    S(ZYDIS_ISA_SET_SSE2MMX, kCopy, "SSE2 on MMX registers"),
    S(ZYDIS_ISA_SET_SSE3, kCopy, "SSE3: not sensitive"),
    S(ZYDIS_ISA_SET_SSSE3, kCopy, "SSSE3: not sensitive"),
    S(ZYDIS_ISA_SET_SSSE3MMX, kCopy, "SSSE3 on MMX registers"),
    S(ZYDIS_ISA_SET_SSE4, kCopy, "SSE4.1: not sensitive"),
    S(ZYDIS_ISA_SET_SSE42, kCopy, "SSE4.2 (crc32, pcmpistri...): not sensitive"),
    S(ZYDIS_ISA_SET_SSEMXCSR, kCopy, "ldmxcsr/stmxcsr: MXCSR belongs to the guest while it runs (DESIGN.md 7)"),
    S(ZYDIS_ISA_SET_SSE_PREFETCH, kCopy, "prefetch hints"),
    S(ZYDIS_ISA_SET_PREFETCH_NOP, kCopy, "prefetch hints / hint NOPs"),
    S(ZYDIS_ISA_SET_PREFETCHWT1, kCopy, "prefetch hint"),
    S(ZYDIS_ISA_SET_FAT_NOP, kCopy, "multi-byte NOP"),
    S(ZYDIS_ISA_SET_PAUSE, kCopy, "spin-loop hint"),
    S(ZYDIS_ISA_SET_CMOV, kCopy, "conditional move"),
    S(ZYDIS_ISA_SET_FXSAVE, kCopy, "without REX.W fxsave/fxrstor use the 32-bit layout (SDM vol. 2 FXSAVE)"),
    S(ZYDIS_ISA_SET_CLFSH, kCopy, "cache-line flush of a guest address"),
    S(ZYDIS_ISA_SET_CLFLUSHOPT, kCopy, "cache-line flush of a guest address"),
    S(ZYDIS_ISA_SET_CLWB, kCopy, "cache-line write-back of a guest address"),
    S(ZYDIS_ISA_SET_CLDEMOTE, kCopy, "cache hint"),
    S(ZYDIS_ISA_SET_POPCNT, kCopy, "bit count"),
    S(ZYDIS_ISA_SET_LZCNT, kCopy, "bit count; Zydis decodes what the host executes"),
    S(ZYDIS_ISA_SET_MOVBE, kCopy, "byte-swapping move"),
    S(ZYDIS_ISA_SET_ADOX_ADCX, kCopy, "add with carry/overflow flag"),
    S(ZYDIS_ISA_SET_AES, kCopy, "AES-NI on XMM registers"),
    S(ZYDIS_ISA_SET_PCLMULQDQ, kCopy, "carry-less multiply on XMM registers"),
    S(ZYDIS_ISA_SET_SHA, kCopy, "SHA on XMM registers"),
    S(ZYDIS_ISA_SET_GFNI, kCopy, "GF(2^8) on XMM registers (legacy encoding)"),
    S(ZYDIS_ISA_SET_RDRAND, kCopy, "random number; not advertised, harmless if used"),
    S(ZYDIS_ISA_SET_RDSEED, kCopy, "random seed; not advertised, harmless if used"),
    S(ZYDIS_ISA_SET_SERIALIZE, kCopy, "serializing hint"),
    S(ZYDIS_ISA_SET_MOVDIR, kCopy, "direct stores to a guest address"),

    // --- whole ISA sets btvmm does not offer: the guest gets #UD ---------------------------
    S(ZYDIS_ISA_SET_AMD3DNOW, kNo, "AMD 3DNow! (femms): not advertised"),
    S(ZYDIS_ISA_SET_SSE4A, kNo, "AMD-only SSE4a: not advertised; would differ between hosts"),
    S(ZYDIS_ISA_SET_XSAVE, kNo, "XSAVE/XGETBV/XSETBV: CPUID.01H:ECX.XSAVE not advertised"),
    S(ZYDIS_ISA_SET_XSAVEC, kNo, "not advertised (needs XSAVE)"),
    S(ZYDIS_ISA_SET_XSAVEOPT, kNo, "not advertised (needs XSAVE)"),
    S(ZYDIS_ISA_SET_XSAVES, kNo, "not advertised (needs XSAVE); privileged"),
    S(ZYDIS_ISA_SET_VTX, kNo, "VMX: not advertised (no nested virtualization)"),
    S(ZYDIS_ISA_SET_VMFUNC, kNo, "VMX: not advertised"),
    S(ZYDIS_ISA_SET_SVM, kNo, "AMD SVM: not advertised"),
    S(ZYDIS_ISA_SET_SMX, kNo, "SMX (getsec): not advertised"),
    S(ZYDIS_ISA_SET_SGX, kNo, "SGX: not advertised"),
    S(ZYDIS_ISA_SET_SGX_ENCLV, kNo, "SGX: not advertised"),
    S(ZYDIS_ISA_SET_TDX, kNo, "TDX: not advertised"),
    S(ZYDIS_ISA_SET_SNP, kNo, "AMD SEV-SNP: not advertised"),
    S(ZYDIS_ISA_SET_PCONFIG, kNo, "PCONFIG: not advertised"),
    S(ZYDIS_ISA_SET_PKU, kNo, "protection keys read host PKRU: not advertised"),
    S(ZYDIS_ISA_SET_PT, kNo, "processor trace: not advertised"),
    S(ZYDIS_ISA_SET_UINTR, kNo, "user interrupts: not advertised"),
    S(ZYDIS_ISA_SET_WAITPKG, kNo, "umonitor/umwait/tpause: not advertised"),
    S(ZYDIS_ISA_SET_MONITORX, kNo, "AMD monitorx/mwaitx: not advertised"),
    S(ZYDIS_ISA_SET_MCOMMIT, kNo, "AMD mcommit: not advertised"),
    S(ZYDIS_ISA_SET_RDPRU, kNo, "AMD rdpru reads host counters: not advertised"),
    S(ZYDIS_ISA_SET_RDPID, kNo, "rdpid reads host TSC_AUX: not advertised"),
    S(ZYDIS_ISA_SET_RTM, kNo, "TSX: not advertised"),
    S(ZYDIS_ISA_SET_TSX_LDTRK, kNo, "TSX load tracking: not advertised"),
    S(ZYDIS_ISA_SET_ENQCMD, kNo, "enqcmd: not advertised"),
    S(ZYDIS_ISA_SET_HRESET, kNo, "history reset: not advertised; privileged"),
    S(ZYDIS_ISA_SET_KEYLOCKER, kNo, "Key Locker: not advertised"),
    S(ZYDIS_ISA_SET_KEYLOCKER_WIDE, kNo, "Key Locker: not advertised"),
    S(ZYDIS_ISA_SET_PADLOCK_ACE, kNo, "VIA PadLock: not advertised"),
    S(ZYDIS_ISA_SET_PADLOCK_PHE, kNo, "VIA PadLock: not advertised"),
    S(ZYDIS_ISA_SET_PADLOCK_PMM, kNo, "VIA PadLock: not advertised"),
    S(ZYDIS_ISA_SET_PADLOCK_RNG, kNo, "VIA PadLock: not advertised"),
    S(ZYDIS_ISA_SET_CLZERO, kNo, "AMD clzero: not advertised"),
    S(ZYDIS_ISA_SET_AMD_INVLPGB, kNo, "AMD invlpgb/tlbsync: not advertised; privileged"),
    S(ZYDIS_ISA_SET_INVPCID, kNo, "invpcid: not advertised (no PCID); privileged"),
    S(ZYDIS_ISA_SET_SMAP, kNo, "clac/stac: SMAP not advertised"),
    S(ZYDIS_ISA_SET_CET, kNo, "CET shadow stacks: not advertised (endbr32/endbr64 are named above)"),
};

}  // namespace

std::span<const Rule> rules() { return kTable; }

}  // namespace btvmm::translator
