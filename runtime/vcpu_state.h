// The guest's virtual CPU: everything the architecture says a 32-bit protected-mode IA-32 CPU
// holds (Intel SDM vol. 3 ch. 2-3), as btvmm's monitor sees it between translated fragments.
// The layout is part of the translation-cache ABI: translated code addresses fields relative to
// the reserved register R15 (DESIGN.md 3), so fields are only appended, never reordered, and
// the offsets the emitter uses come from offsetof() on this struct.
//
// Never holds host pointers that the guest could reach: it lives in monitor memory above 8 GiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace btvmm::runtime {

// Segment registers in the encoding order of the Sreg field (SDM vol. 2 3.1.1.3, table 3-?).
enum SegReg : uint8_t { kEs = 0, kCs = 1, kSs = 2, kDs = 3, kFs = 4, kGs = 5, kSegCount = 6 };
// General-purpose registers in ModRM encoding order.
enum Gpr : uint8_t { kEax = 0, kEcx, kEdx, kEbx, kEsp, kEbp, kEsi, kEdi, kGprCount };

// EFLAGS bits (SDM vol. 1 3.4.3).
inline constexpr uint32_t kFlagCf = 1u << 0;
inline constexpr uint32_t kFlagFixed1 = 1u << 1;
inline constexpr uint32_t kFlagPf = 1u << 2;
inline constexpr uint32_t kFlagAf = 1u << 4;
inline constexpr uint32_t kFlagZf = 1u << 6;
inline constexpr uint32_t kFlagSf = 1u << 7;
inline constexpr uint32_t kFlagTf = 1u << 8;
inline constexpr uint32_t kFlagIf = 1u << 9;
inline constexpr uint32_t kFlagDf = 1u << 10;
inline constexpr uint32_t kFlagOf = 1u << 11;
inline constexpr uint32_t kFlagIopl = 3u << 12;
inline constexpr uint32_t kFlagNt = 1u << 14;
inline constexpr uint32_t kFlagRf = 1u << 16;
inline constexpr uint32_t kFlagVm = 1u << 17;
inline constexpr uint32_t kFlagAc = 1u << 18;
inline constexpr uint32_t kFlagVif = 1u << 19;
inline constexpr uint32_t kFlagVip = 1u << 20;
inline constexpr uint32_t kFlagId = 1u << 21;
// Flags ordinary arithmetic computes: they live in the host RFLAGS while translated code runs.
inline constexpr uint32_t kArithFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

// Hidden part of a segment register (SDM vol. 3 3.4.3): what the CPU cached at the last load.
struct SegmentCache {
  uint16_t selector = 0;
  // Descriptor bits 40-47 (type, S, DPL, P) in bits 0-7 and bits 52-55 (AVL, L, D/B, G) in
  // bits 12-15, the packing VMX's access-rights field uses; bit 16 "unusable" for null loads.
  uint32_t attrs = 0;
  uint32_t base = 0;
  uint32_t limit = 0;  // byte-granular (after G scaling)

  uint8_t type() const { return attrs & 0xf; }
  bool s() const { return attrs & 0x10; }
  uint8_t dpl() const { return (attrs >> 5) & 3; }
  bool present() const { return attrs & 0x80; }
  bool db() const { return attrs & 0x4000; }
  bool g() const { return attrs & 0x8000; }
  bool unusable() const { return attrs & 0x10000; }
  uint8_t rpl() const { return selector & 3; }
};
// Translated code copies it as two quadwords (translator/emit_segment_load.cpp).
static_assert(sizeof(SegmentCache) == 16);

struct DescriptorTableReg {
  uint32_t base = 0;
  uint16_t limit = 0xffff;
};

// Why translated code returned to the dispatcher (see translator/ for who sets what).
enum class TcExit : uint32_t {
  kNone = 0,
  kBranch,        // guest EIP in `eip` has no chained translation yet
  kMonitor,       // instruction at `eip` must be executed by the monitor (callout kind)
  kInterrupt,     // an interrupt is pending (checked at CCF entry)
  kFault,         // a host fault in the TC became a guest exception (see pending_exception)
  kInvalidate,    // the current CCF was invalidated by a write to its own page
};

// Appended for the TC: a DS/ES/FS/GS load the monitor completed at CPL 0 in protected mode, so that
// translated code can repeat it (translator/emit_segment_load.cpp). Filled only by
// runtime/cpu/segment_load_cache.h, for descriptors whose accessed bit is already set in memory.
struct SegmentLoadEntry {
  uint32_t selector = 0;       // 0: empty (a null selector needs no entry)
  uint32_t descriptor_la = 0;  // linear address of the descriptor the load read
  uint64_t descriptor = 0;     // its 8 bytes as the load left them in guest memory
  SegmentCache loaded;         // what the load installed
};
inline constexpr unsigned kSegmentLoadWays = 2;

struct SegmentLoadCache {
  SegmentLoadEntry entries[kSegCount][kSegmentLoadWays];
  // 1 while CR0.PE = 1: a null selector then loads as an unusable segment (SDM vol. 3 3.4.2).
  uint32_t protected_mode = 0;
  // The descriptor tables the entries were read through; any change empties them.
  uint32_t gdt_base = 0, ldt_base = 0, ldt_limit = 0, ldt_attrs = 0;
  uint16_t gdt_limit = 0, ldt_selector = 0;
  // Counted by translated code, folded into tc.* counters by the dispatcher.
  uint64_t inline_loads = 0;
  uint64_t inline_misses = 0;
  uint64_t inline_rdtsc = 0;
};

struct VcpuState {
  // --- translation-cache ABI: offsets used by emitted code ---------------------------------
  uint32_t gpr[kGprCount] = {};
  uint32_t eip = 0;
  // Full guest EFLAGS while in the monitor. While translated code runs, the arithmetic flags
  // (kArithFlags) and DF live in the host RFLAGS and the rest (IF, IOPL, TF, AC, NT, ID...)
  // here: the TC never lets guest AC or TF reach the host RFLAGS.
  uint32_t eflags = kFlagFixed1;
  TcExit exit_reason = TcExit::kNone;
  // Set asynchronously (timer/kick signal, device model) when the dispatcher must look at
  // interrupts or stop; translated code tests it at every CCF entry. Only ever 0 or 1: the TC's
  // check (translator/emit_context.cpp) turns 1 into 0 with a decrement to branch on it.
  volatile uint32_t attention = 0;
  uint64_t host_rsp = 0;       // monitor stack pointer saved on TC entry
  uint64_t host_scratch[4] = {};
  // Segment bases the TC adds to addresses (compensation for non-flat segments, DESIGN.md 3).
  uint32_t seg_base_cache[kSegCount] = {};

  // --- architectural state ------------------------------------------------------------------
  SegmentCache seg[kSegCount];
  SegmentCache ldtr, tr;
  DescriptorTableReg gdtr, idtr;
  uint32_t cr0 = 0x60000010;  // CD | NW | ET after reset (SDM vol. 3 9.1.1); loaders set PE
  uint32_t cr2 = 0, cr3 = 0, cr4 = 0;
  uint32_t dr[8] = {0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400};
  uint8_t cpl = 0;
  bool halted = false;
  // Instruction after mov ss / pop ss / sti: interrupts are inhibited for one instruction.
  bool interrupt_shadow = false;
  // MSRs the CPU model implements (SDM vol. 4).
  uint32_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t tsc_offset = 0;
  uint64_t apic_base = 0;
  // FPU/SSE state in FXSAVE format (SDM vol. 1 10.5.1), 16-byte aligned.
  alignas(16) uint8_t fxsave[512] = {};
  // Appended for the TC: an external interrupt waits at the interrupt controller, as the dispatcher
  // saw it just before entering translated code. In-TC sti/popf that set IF read it to leave for
  // the dispatcher after the interrupt shadow (SDM vol. 3 6.8.3); a later arrival raises `attention`.
  uint32_t irq_pending = 0;
  // Appended: IA32_TSC_ADJUST (SDM vol. 3 17.17.3), the sum of all changes made to the guest TSC.
  uint64_t tsc_adjust = 0;

  // Appended: segment loads translated code may repeat without the monitor (see SegmentLoadCache).
  SegmentLoadCache seg_loads;

  uint32_t& reg(Gpr r) { return gpr[r]; }
  uint32_t reg(Gpr r) const { return gpr[r]; }
  uint32_t& esp() { return gpr[kEsp]; }
  // An all-zero FXSAVE image would unmask every x87 and SSE exception: whoever first loads it into
  // the host FPU (the TC's entry, the direct-execution stub) starts from the reset values instead.
  void default_fpu_if_unset() {
    for (uint8_t b : fxsave)
      if (b != 0) return;
    constexpr uint16_t kFcwDefault = 0x037f;    // SDM vol. 1 8.1.5: FNINIT value
    constexpr uint32_t kMxcsrDefault = 0x1f80;  // SDM vol. 1 10.2.3.1: power-up value
    std::memcpy(fxsave, &kFcwDefault, 2);
    std::memcpy(fxsave + 24, &kMxcsrDefault, 4);
  }
};

}  // namespace btvmm::runtime
