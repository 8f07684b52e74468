// Entering and leaving guest user mode through the stub (DESIGN.md 3, 3a): the vCPU's registers
// and mirrored segments go onto the control page, the stub resumes the guest by sigreturn, and
// its exit record comes back as a guest event. Never runs guest code in this process.
#include "runtime/direct/direct_executor.h"

#include <algorithm>
#include <csignal>
#include <cstring>

#include "core/error.h"
#include "core/stats.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/direct/exit_decode.h"
#include "runtime/direct/segment_mirror.h"

namespace btvmm::direct {
namespace {

stats::Counter c_entries{"direct.entries", "entries into directly executed guest user code"};
stats::Counter c_segment_repairs{"direct.segment_repairs", "segment registers found holding a host GDT selector the guest loaded itself, repaired to the guest descriptor"};
stats::Counter c_exits_syscall{"direct.exits_syscall", "direct-execution exits by a system-call instruction (SIGSYS)"};
stats::Counter c_exits_pf{"direct.exits_pf", "direct-execution exits by a host page fault"};
stats::Counter c_exits_gp{"direct.exits_gp", "direct-execution exits by #GP (privileged instruction, int n, segment)"};
stats::Counter c_exits_timer{"direct.exits_timer", "direct-execution exits by the timer or a kick"};
stats::Counter c_exits_other{"direct.exits_other", "direct-execution exits by other exceptions"};

// Flags the host CPU holds for the guest in user mode (SDM vol. 1 3.4.3): the arithmetic ones,
// DF, TF (single-step traps) and AC. IF is always set on the host; guest IF/IOPL/VM/NT stay
// virtual in vcpu.eflags.
constexpr uint32_t kHostOwnedFlags = runtime::kArithFlags | runtime::kFlagDf | runtime::kFlagTf | runtime::kFlagAc;
constexpr uint32_t kCr0Am = 1u << 18;
// FXSAVE bytes that travel through the control page (control_page.h: 464-511 stay behind).
constexpr size_t kFxsaveTravelling = 464;
// Linux x86-64 user code selector (arch/x86/include/asm/segment.h, __USER_CS).
constexpr uint16_t kHostCode64 = 0x33;
constexpr uint16_t kHostData = 0x2b;

}  // namespace

std::string default_stub_path() { return BTVMM_DIRECT_STUB_PATH; }

DirectExecutor::DirectExecutor(mmu::GuestMemory& mem, DirectConfig config)
    : config_(std::move(config)),
      stub_(config_.stub_path.empty() ? default_stub_path() : config_.stub_path, mem.machine().fd()),
      mapper_(stub_),
      mem_(mem) {}

void DirectExecutor::set_timer_period_us(uint32_t us) {
  stub_.control().timer_us = us;
  stub_.command(BTVMM_CMD_TIMER);
}

void DirectExecutor::mirror_segments(const runtime::VcpuState& vcpu, std::array<uint16_t, runtime::kSegCount>& host) {
  const MirrorPlan plan = plan_mirror(vcpu, config_.user_split);
  host = plan.host;
  for (const auto& d : plan.desc) {
    if (!d) continue;
    auto it = ldt_.find(d->entry_number);
    if (it != ldt_.end() && std::memcmp(&it->second, &*d, sizeof *d) == 0) continue;
    btvmm_stub_request r{};
    r.op = BTVMM_OP_LDT;
    r.ldt = *d;
    stub_.enqueue(r);
    ldt_[d->entry_number] = *d;
  }
}

std::optional<runtime::SegmentCache> DirectExecutor::guest_descriptor(const runtime::VcpuState& vcpu,
                                                                      uint16_t selector) {
  const bool ldt = selector & 4;
  const uint32_t base = ldt ? vcpu.ldtr.base : vcpu.gdtr.base;
  const uint32_t limit = ldt ? vcpu.ldtr.limit : vcpu.gdtr.limit;
  const uint32_t offset = selector & 0xfff8u;
  if ((selector & 0xfffc) == 0 || offset + 7 > limit) return std::nullopt;
  runtime::Descriptor d;
  const mmu::GuestPagingState paging{vcpu.cr0, vcpu.cr3, vcpu.cr4};
  uint32_t words[2];
  for (int i = 0; i < 2; i++) {
    // A probe walk: the descriptor is read as an implicit supervisor access and nothing is
    // written (the accessed bit is not set: see the report of issue 4).
    const auto w = mmu::walk(mem_, paging, LinearAddr(base + offset + 4 * i),
                             mmu::Access::implicit_supervisor(mmu::AccessKind::kRead), mmu::WalkMode::kProbe);
    if (!w.ok() || !mem_.read_obj(w.translation.phys, words[i])) return std::nullopt;
  }
  d.lo = words[0];
  d.hi = words[1];
  if (!d.present() || !d.readable()) return std::nullopt;
  return runtime::make_segment_cache(selector, d);
}

bool DirectExecutor::reconcile_segments(runtime::VcpuState& vcpu, const std::array<uint16_t, runtime::kSegCount>& host,
                                        const btvmm_stub_regs& regs) {
  const uint16_t now[runtime::kSegCount] = {regs.es, regs.cs, regs.ss, regs.ds, regs.fs, regs.gs};
  bool host_gdt = false;
  for (unsigned r = 0; r < runtime::kSegCount; r++) {
    if (r == runtime::kCs || now[r] == host[r]) continue;
    // The guest loaded a segment register and the host accepted the selector. Null is null;
    // one of the mirror selectors names the guest selector it mirrors; anything else is a
    // guest selector the host resolved in its own GDT (0x23, 0x2b, 0x33 are readable there),
    // which is repaired by loading the guest's descriptor for it.
    uint16_t guest_sel = now[r];
    if ((now[r] & 0xfffc) != 0 && (now[r] & 7) == 7) {
      const uint32_t slot = now[r] >> 3;
      guest_sel = slot >= kGuestLdtSlotBase ? uint16_t(((slot - kGuestLdtSlotBase) << 3) | 7) : uint16_t((slot << 3) | 3);
    } else if ((now[r] & 0xfffc) != 0) {
      host_gdt = true;
      c_segment_repairs.inc();
    }
    if ((guest_sel & 0xfffc) == 0) {
      vcpu.seg[r] = runtime::null_segment_cache(guest_sel);
      continue;
    }
    if (auto c = guest_descriptor(vcpu, guest_sel)) {
      vcpu.seg[r] = *c;
    } else {
      vcpu.seg[r] = runtime::null_segment_cache(guest_sel);
    }
  }
  return host_gdt;
}

uint32_t DirectExecutor::read_code(const runtime::VcpuState& vcpu, uint32_t eip, uint8_t* dst, uint32_t n) {
  // Through the guest's tables as a user fetch would go, without touching A/D (probe walk).
  const mmu::GuestPagingState paging{vcpu.cr0, vcpu.cr3, vcpu.cr4};
  const uint32_t base = vcpu.seg[runtime::kCs].base;
  uint32_t got = 0;
  while (got < n) {
    const uint32_t la = base + eip + got;
    const auto w = mmu::walk(mem_, paging, LinearAddr(la), mmu::Access{mmu::AccessKind::kFetch, true}, mmu::WalkMode::kProbe);
    if (!w.ok()) break;
    const uint32_t chunk = std::min<uint32_t>(n - got, uint32_t(kPageSize - (la & (kPageSize - 1))));
    if (!mem_.read(w.translation.phys, dst + got, chunk)) break;
    got += chunk;
  }
  return got;
}

UserExit DirectExecutor::run_user(runtime::VcpuState& vcpu) {
  std::array<uint16_t, runtime::kSegCount> host{};
  mirror_segments(vcpu, host);
  btvmm_stub_control& ctl = stub_.control();
  btvmm_stub_regs& regs = ctl.regs;
  std::memcpy(regs.gpr, vcpu.gpr, sizeof regs.gpr);
  regs.eip = vcpu.eip;
  uint32_t owned = kHostOwnedFlags;
  if (!(vcpu.cr0 & kCr0Am)) owned &= ~runtime::kFlagAc;
  regs.eflags = (vcpu.eflags & owned) | runtime::kFlagIf | runtime::kFlagFixed1;
  regs.es = host[runtime::kEs];
  if (config_.long_mode_for_tests) {
    host[runtime::kCs] = kHostCode64;
    host[runtime::kSs] = kHostData;
  }
  regs.cs = host[runtime::kCs];
  regs.ss = host[runtime::kSs];
  regs.ds = host[runtime::kDs];
  regs.fs = host[runtime::kFs];
  regs.gs = host[runtime::kGs];
  vcpu.default_fpu_if_unset();
  std::memcpy(ctl.fxsave, vcpu.fxsave, sizeof ctl.fxsave);
  const uint32_t regs_in_eip = regs.eip;
  c_entries.inc();
  stub_.command(BTVMM_CMD_RUN);
  // The guest's FPU state comes back whatever the exit; the stub never uses the FPU itself.
  std::memcpy(vcpu.fxsave, ctl.fxsave, kFxsaveTravelling);

  // Everything below reads the control page, which the guest may have written: it is only
  // ever copied into guest state or bounds-checked (decode_exit treats it as untrusted).
  const btvmm_stub_regs out = regs;
  btvmm_stub_exit exit = ctl.exit;
  // An escaped guest can write the record: never index past the bytes it claims to hold.
  exit.insn_len = std::min<uint32_t>(exit.insn_len, sizeof exit.insn);
  if (exit.signo != SIGSYS) {
    exit.insn_len = 0;
    if ((exit.signo == SIGSEGV && exit.trapno == 13) || exit.signo == SIGILL)
      exit.insn_len = read_code(vcpu, out.eip, exit.insn, 15);
  }
  switch (bucket_of(exit)) {
    case ExitBucket::kSyscall: c_exits_syscall.inc(); break;
    case ExitBucket::kPageFault: c_exits_pf.inc(); break;
    case ExitBucket::kGp: c_exits_gp.inc(); break;
    case ExitBucket::kTimer: c_exits_timer.inc(); break;
    case ExitBucket::kOther: c_exits_other.inc(); break;
  }
  if (exit.signo == SIGSEGV && exit.trapno == 13 && exit.err == (host[runtime::kCs] & 0xfffcu) &&
      exit.rip == regs_in_eip && out.cs != host[runtime::kCs])
    fail(ExitCode::kInternal,
         "direct execution: the host refused to enter 32-bit code (iret to selector {:#x} raised #GP({:#x})): this "
         "kernel runs 64-bit user code only (IA-32 emulation off)",
         host[runtime::kCs], exit.err);
  UserExit x = decode_exit(exit, out, host[runtime::kCs]);
  std::memcpy(vcpu.gpr, out.gpr, sizeof vcpu.gpr);
  vcpu.eip = x.eip;
  vcpu.eflags = (vcpu.eflags & ~owned) | (out.eflags & owned);
  if (!x.escaped) x.segment_repaired = reconcile_segments(vcpu, host, out);
  return x;
}

UserExit run_user_resolving(DirectExecutor& exec, runtime::VcpuState& vcpu, mmu::ShadowMmu& shadow) {
  for (;;) {
    UserExit x = exec.run_user(vcpu);
    // Faults (not traps: their EIP is past the instruction) taken through a host GDT segment.
    const bool fault = x.kind == UserExit::kPageFault ||
                       (x.kind == UserExit::kException && (x.exception.vector == runtime::kGp || x.exception.vector == runtime::kPf ||
                                                           x.exception.vector == runtime::kSsFault || x.exception.vector == runtime::kNp));
    if (x.segment_repaired && fault) continue;
    if (x.kind != UserExit::kPageFault) return x;
    const mmu::FillResult f = shadow.fill(x.fault_addr, x.access);
    switch (f.status) {
      case mmu::FillStatus::kMapped:
        continue;  // hidden fault: the stub maps the page before it resumes the guest
      case mmu::FillStatus::kGuestFault:
        x.kind = UserExit::kException;
        x.exception = runtime::GuestException{runtime::kPf, true, f.fault->error_code, f.fault->cr2.value};
        return x;
      default:
        x.kind = UserExit::kEmulate;
        return x;
    }
  }
}

}  // namespace btvmm::direct

namespace btvmm::direct {

bool host_runs_compat_code() {
  static const bool ok = [] {
    // A guest with paging off (linear = physical) whose only instruction is int 0x80.
    mmu::GuestMemory mem(1u << 20);
    const uint8_t code[] = {0xcd, 0x80};
    mem.write(GuestPhysAddr(0x10000), code, sizeof code);
    DirectExecutor exec(mem);
    mmu::WriteTraces traces;
    mmu::ShadowConfig cfg;
    cfg.view = mmu::ShadowView::kUser;
    runtime::VcpuState vcpu;
    vcpu.cr0 = 1;  // PE
    vcpu.cpl = 3;
    vcpu.eip = 0x10000;
    vcpu.esp() = 0x20000;
    vcpu.seg[runtime::kCs] = {0x73, 0xc0fb, 0, 0xffffffff};
    for (auto r : {runtime::kDs, runtime::kEs, runtime::kSs}) vcpu.seg[r] = {0x7b, 0xc0f3, 0, 0xffffffff};
    mmu::ShadowMmu shadow(mem, exec.mapper(), traces, mmu::GuestPagingState{1, 0, 0}, cfg);
    try {
      return run_user_resolving(exec, vcpu, shadow).kind == UserExit::kSoftwareInterrupt;
    } catch (const Error&) {
      return false;
    }
  }();
  return ok;
}

}  // namespace btvmm::direct
