// Monitor emulation of x87, MMX and SSE instructions whose memory operand the shadow cannot map
// (see emulate_internal.h). The instruction itself runs on the host CPU, re-encoded to address a
// bounce buffer, between an FXRSTOR of the guest's state (vcpu.fxsave) and an FXSAVE back, so
// every arithmetic and conversion detail is the hardware's. Never lets the host take an exception
// for the guest: #NM/#UD (CR0/CR4), alignment #GP, pending x87 #MF and invalid MXCSR values are
// checked first, and unmasked SIMD exceptions are refused (unsupported) rather than run.
#include <sys/mman.h>

#include <cstring>

#include "runtime/cpu/emulate_internal.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"
#include "runtime/cpu/system_instructions.h"

namespace btvmm::runtime::emulate {
namespace {

using translator::DecodedInstruction;

enum class FpuKind { kX87, kMmx, kSse, kFxsave };

std::optional<FpuKind> kind_of(ZydisISASet s) {
  switch (s) {
    case ZYDIS_ISA_SET_X87: case ZYDIS_ISA_SET_SSE3X87: return FpuKind::kX87;
    case ZYDIS_ISA_SET_PENTIUMMMX: case ZYDIS_ISA_SET_SSE2MMX: case ZYDIS_ISA_SET_SSSE3MMX: return FpuKind::kMmx;
    case ZYDIS_ISA_SET_SSE: case ZYDIS_ISA_SET_SSE2: case ZYDIS_ISA_SET_SSE3: case ZYDIS_ISA_SET_SSSE3:
    case ZYDIS_ISA_SET_SSE4: case ZYDIS_ISA_SET_SSE42: case ZYDIS_ISA_SET_SSEMXCSR:
      return FpuKind::kSse;
    case ZYDIS_ISA_SET_FXSAVE: return FpuKind::kFxsave;
    default: return std::nullopt;
  }
}

// FXSAVE image fields, 32-bit format (SDM vol. 1 table 10-2).
constexpr unsigned kFswOffset = 2, kFopOffset = 6, kFipOffset = 8, kFcsOffset = 12, kFdpOffset = 16, kFdsOffset = 20,
                   kMxcsrOffset = 24;
constexpr uint16_t kFswEs = 1u << 7;              // x87 exception summary: an unmasked exception is pending
constexpr uint32_t kMxcsrMasks = 0x1f80;          // all six SIMD exceptions masked
constexpr uint32_t kMxcsrReserved = 0xffff0000;   // #GP if set by LDMXCSR/FXRSTOR
constexpr unsigned kMaxOperand = 512;             // FXSAVE area

// x87 instructions that do not check for pending exceptions (SDM vol. 1 8.3.12: the FN* forms).
bool non_waiting(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_FNSTCW || m == ZYDIS_MNEMONIC_FNSTSW || m == ZYDIS_MNEMONIC_FNSTENV ||
         m == ZYDIS_MNEMONIC_FNSAVE;
}

// x87 control instructions: they leave FIP/FDP/FOP alone (SDM vol. 1 8.1.8).
bool x87_control(ZydisMnemonic m) {
  return non_waiting(m) || m == ZYDIS_MNEMONIC_FLDCW || m == ZYDIS_MNEMONIC_FLDENV || m == ZYDIS_MNEMONIC_FRSTOR;
}

// Legacy SSE instructions with a 16-byte memory operand require 16-byte alignment (#GP(0)) unless
// they are the explicitly unaligned forms (SDM vol. 1 11.6.8, vol. 2 2.4 exception types).
bool needs_alignment(FpuKind kind, const DecodedInstruction& insn, const ZydisDecodedOperand& mem) {
  if (kind == FpuKind::kFxsave) return true;
  if (kind != FpuKind::kSse || mem.size != 128) return false;
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD: case ZYDIS_MNEMONIC_MOVDQU: case ZYDIS_MNEMONIC_LDDQU:
    case ZYDIS_MNEMONIC_PCMPESTRI: case ZYDIS_MNEMONIC_PCMPESTRM: case ZYDIS_MNEMONIC_PCMPISTRI:
    case ZYDIS_MNEMONIC_PCMPISTRM:
      return false;
    default: return true;
  }
}

// CR0.EM/TS/MP and CR4.OSFXSR rules (SDM vol. 3 table 2-2, 13.1.3; vol. 2 FXSAVE).
Fault availability(const VcpuState& vcpu, FpuKind kind) {
  const GuestException nm{kNm, false, 0, 0};
  switch (kind) {
    case FpuKind::kX87: if (vcpu.cr0 & (kCr0Em | kCr0Ts)) return nm; break;
    case FpuKind::kMmx:
      if (vcpu.cr0 & kCr0Em) return ud();
      if (vcpu.cr0 & kCr0Ts) return nm;
      break;
    case FpuKind::kSse:
      if ((vcpu.cr0 & kCr0Em) || !(vcpu.cr4 & kCr4Osfxsr)) return ud();
      if (vcpu.cr0 & kCr0Ts) return nm;
      break;
    case FpuKind::kFxsave: if (vcpu.cr0 & (kCr0Em | kCr0Ts)) return nm; break;
  }
  return std::nullopt;
}

// The guest instruction with its memory operand turned into [rdi]: legacy prefixes other than
// segment overrides, 0x67 and LOCK, the opcode bytes, ModRM with mod=00 rm=111, the immediates.
bool reencode(const DecodedInstruction& insn, uint8_t* out, unsigned* len) {
  const ZydisDecodedInstruction& z = insn.zydis();
  const auto bytes = insn.bytes();
  if (!(z.attributes & ZYDIS_ATTRIB_HAS_MODRM)) return false;
  unsigned n = 0;
  for (unsigned i = 0; i < z.raw.prefix_count; ++i) {
    const uint8_t p = z.raw.prefixes[i].value;
    if (p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e || p == 0x64 || p == 0x65 || p == 0x67 || p == 0xf0) continue;
    out[n++] = p;
  }
  for (unsigned i = z.raw.prefix_count; i < z.raw.modrm.offset; ++i) out[n++] = bytes[i];
  out[n++] = uint8_t((bytes[z.raw.modrm.offset] & 0x38) | 0x07);
  for (const auto& imm : z.raw.imm) {
    for (unsigned i = 0; i < imm.size / 8u; ++i) out[n++] = bytes[imm.offset + i];
  }
  *len = n;
  return true;
}

// One RWX page per thread holding: fxsave [rdx]; fxrstor [rsi]; <insn on [rdi]>; fxsave [rsi];
// fxrstor [rdx]; ret. The host's own x87/SSE state is thereby preserved across the call.
class HostRunner {
 public:
  HostRunner() {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page_ = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
  }
  ~HostRunner() {
    if (page_) munmap(page_, 4096);
  }
  HostRunner(const HostRunner&) = delete;
  HostRunner& operator=(const HostRunner&) = delete;

  bool run(const uint8_t* insn, unsigned len, void* operand, uint8_t* guest_fx) {
    if (!page_) return false;
    static const uint8_t kPrologue[] = {0x0f, 0xae, 0x02, 0x0f, 0xae, 0x0e};
    static const uint8_t kEpilogue[] = {0x0f, 0xae, 0x06, 0x0f, 0xae, 0x0a, 0xc3};
    uint8_t* p = page_;
    std::memcpy(p, kPrologue, sizeof kPrologue);
    p += sizeof kPrologue;
    std::memcpy(p, insn, len);
    p += len;
    std::memcpy(p, kEpilogue, sizeof kEpilogue);
    alignas(16) uint8_t host_fx[512];
    using Stub = void (*)(void*, void*, void*);
    reinterpret_cast<Stub>(page_)(operand, guest_fx, host_fx);
    return true;
  }

 private:
  uint8_t* page_ = nullptr;
};

uint16_t load16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
uint32_t load32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace

std::optional<Outcome> fpu_instruction(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const std::optional<FpuKind> kind = kind_of(insn.zydis().meta.isa_set);
  if (!kind) return std::nullopt;
  const ZydisDecodedOperand* mem = nullptr;
  for (const auto& op : insn.visible_operands()) {
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.type == ZYDIS_MEMOP_TYPE_MEM) mem = &op;
  }
  if (!mem || mem->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) return unsupported();
  const unsigned bytes = mem->size / 8;
  if (bytes == 0 || bytes > kMaxOperand) return unsupported();
  const ZydisMnemonic m = insn.mnemonic();

  if (auto f = availability(vcpu, *kind)) return failed(*f);
  const uint32_t ea = effective_address(vcpu, insn, *mem);
  const SegReg seg = operand_segment(*mem);
  if (needs_alignment(*kind, insn, *mem) && ((vcpu.seg[seg].base + ea) & 15)) return failed(gp(0));
  if ((*kind == FpuKind::kX87 || *kind == FpuKind::kMmx) && (load16(vcpu.fxsave + kFswOffset) & kFswEs) &&
      !non_waiting(m)) {
    // A pending unmasked x87 exception is reported before a waiting instruction runs: #MF with
    // CR0.NE; the legacy FERR#/IRQ 13 path is not modelled.
    if (!(vcpu.cr0 & kCr0Ne)) return unsupported();
    return failed(GuestException{kMf, false, 0, 0});
  }
  if (*kind == FpuKind::kSse && (load32(vcpu.fxsave + kMxcsrOffset) & kMxcsrMasks) != kMxcsrMasks) {
    return unsupported();  // an unmasked SIMD exception would be raised on the host, in the monitor
  }

  alignas(64) uint8_t buffer[kMaxOperand] = {};
  if (mem->actions & ZYDIS_OPERAND_ACTION_MASK_READ) {
    if (auto f = read_memory_operand(vcpu, env, insn, *mem, 0, buffer, bytes)) return failed(*f);
  }
  if (m == ZYDIS_MNEMONIC_LDMXCSR && (load32(buffer) & kMxcsrReserved)) return failed(gp(0));
  if (m == ZYDIS_MNEMONIC_FXRSTOR && (load32(buffer + kMxcsrOffset) & kMxcsrReserved)) return failed(gp(0));

  uint8_t code[32];
  unsigned len = 0;
  if (!reencode(insn, code, &len)) return unsupported();
  alignas(16) uint8_t state[512];
  std::memcpy(state, vcpu.fxsave, sizeof state);
  thread_local HostRunner runner;
  if (!runner.run(code, len, buffer, state)) return unsupported();
  if (*kind == FpuKind::kX87 && !x87_control(m)) {
    // The host recorded its own instruction and data pointers; the guest's are these (SDM vol. 1
    // 8.1.8): the instruction's EIP and CS, the operand's offset and segment, the opcode bits.
    const ZydisDecodedInstruction& z = insn.zydis();
    const uint8_t first = insn.bytes()[z.raw.prefix_count];
    store16(state + kFopOffset, uint16_t(((first & 7) << 8) | insn.bytes()[z.raw.modrm.offset]));
    store32(state + kFipOffset, insn.eip());
    store16(state + kFcsOffset, vcpu.seg[kCs].selector);
    store32(state + kFdpOffset, ea);
    store16(state + kFdsOffset, vcpu.seg[seg].selector);
  }
  if (mem->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
    if (auto f = write_memory_operand(vcpu, env, insn, *mem, 0, buffer, bytes)) return failed(*f);
  }
  std::memcpy(vcpu.fxsave, state, sizeof state);
  return done();
}

}  // namespace btvmm::runtime::emulate
