// The dispatcher loop (see dispatcher.h). Order of work per iteration follows SDM vol. 3 6.8.3 and
// 6.9: an external interrupt is taken only between instructions, with EFLAGS.IF set and outside
// the shadow of sti / mov ss / pop ss.
#include "runtime/engine/dispatcher.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/stats.h"
#include "mmu/paging.h"
#include "runtime/cpu/emulate_memory.h"
#include "runtime/cpu/execute.h"
#include "runtime/cpu/segment_load_cache.h"
#include "runtime/engine/simulate.h"
#include "runtime/engine/host_gs.h"
#include "runtime/engine/tc_fault_handler.h"
#include "translator/classify.h"
#include "translator/emit_ccf.h"

namespace btvmm::runtime::engine {

namespace {
stats::Counter c_exits_monitor{"tc.exits_monitor", "exits from the TC to execute an instruction in the monitor"};
stats::Counter c_exits_branch{"tc.exits_branch", "exits from the TC at an unchained branch or indirect miss"};
stats::Counter c_emulated{"tc.emulated_accesses", "TC instructions executed in the monitor because their access cannot be shadowed (page 0, non-RAM, MMIO)"};
stats::Counter c_exits_interrupt{"tc.exits_interrupt", "exits from the TC at a CCF entry with attention set"};
stats::Counter c_exits_fault{"tc.exits_fault", "exits from the TC with a guest exception"};
stats::Counter c_indirect_hits{"tc.indirect_hits", "indirect branches and returns found by the inline lookup"};
stats::Counter c_indirect_misses{"tc.indirect_misses", "indirect branches and returns that missed the inline lookup"};
stats::Counter c_entries{"tc.entries", "entries into the TC from the dispatcher (each costs one fxrstor, and its exit one fxsave)"};
stats::Counter c_interrupts{"tc.interrupts_delivered", "external interrupts delivered by the dispatcher"};
stats::Counter c_retranslations{"tc.retranslations", "instructions retranslated as SIMULATE after repeated traced-write traps"};
stats::Counter c_simulated_stores{"tc.simulated_stores", "writes performed by SIMULATE in the monitor (mov, xchg, locked bit operations, rep stos...)"};
stats::Counter c_unsimulated{"tc.unsimulated", "SIMULATE instructions the monitor cannot perform, returned to IDENT for good"};
stats::Counter c_revalidated{"tc.revalidated", "stale CCFs reused after a re-check found the same guest-physical code"};
stats::Counter c_cr3_rechecks{"tc.cr3_rechecks", "CCFs with non-global code pages re-walked at a CR3 load"};
stats::Counter c_cr4_rechecks{"tc.cr4_rechecks", "CCFs re-walked at a CR4.PGE toggle (a global TLB flush) instead of being cut from chains"};
stats::Counter c_exit_decode_hits{"tc.exit_decode_hits", "monitor exits that found their instruction decoded at translation (no fetch, no decode)"};
stats::Counter c_exit_decodes{"tc.exit_decodes", "monitor exits that fetched and decoded their instruction again"};
stats::Counter c_device_services{"tc.device_services", "dispatcher passes that let the host service devices (attention, port I/O, MMIO, MSR, HLT)"};
stats::Counter c_tu_faults{"tc.tu_faults", "code fetch or decode faults raised at a TU start"};
stats::Counter c_segment_loads_inline{"tc.segment_loads_inline", "mov/pop of DS/ES/FS/GS completed in the TC from the segment-load cache"};
stats::Counter c_segment_load_misses{"tc.segment_load_misses", "in-TC segment loads that found no matching cached descriptor and left for the monitor"};
stats::Counter c_rdtsc_inline{"tc.rdtsc_inline", "rdtsc executed in the TC at CPL 0"};

// Instructions executed in the monitor whose purpose is to reach device models: port I/O (SDM vol.
// 1 18.2) and MSR accesses (an MSR may belong to a device, e.g. the local APIC's). A system
// instruction whose implicit memory operand a guest placed in MMIO (a stack or descriptor table
// there) is not counted: its device sees the access at once, only a deadline it changes waits for
// the host's next timer (at most 10 ms, host/bt_backend.cpp).
bool may_touch_devices(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT:
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
    case ZYDIS_MNEMONIC_WRMSR: case ZYDIS_MNEMONIC_RDMSR:
      return true;
    default:
      return false;
  }
}

}  // namespace

Engine::Engine(VcpuState& vcpu, CpuEnv& env, ExecutionHost& host, mmu::GuestMemory& mem, WindowShadow supervisor,
               WindowShadow user, EngineConfig config)
    : vcpu_(vcpu),
      env_(env),
      host_(host),
      mem_(mem),
      supervisor_(supervisor),
      user_(user),
      config_(config),
      tc_(config.tc_size),
      trampolines_(tc_),
      alive_(std::make_shared<Engine*>(this)) {
  layout_.exit_common = trampolines_.exit_common();
  layout_.simulate = &simulate_;
  layout_.user_base = user_.base;
  layout_.count_executions = config_.count_executions;
  layout_.inline_rdtsc = config.inline_rdtsc;
  cache_.chaining_enabled = config.chaining;
  vcpu_.default_fpu_if_unset();
  // WriteTraces cannot forget a callback and may outlive the engine: the callback holds `alive`,
  // which the destructor clears.
  traces().on_write(mmu::TraceKind::kCode, [alive = alive_](Ppn page, uint32_t) {
    if (*alive) (*alive)->code_written(page.value);
  });
  install_tc_fault_handler(this);
}

Engine::~Engine() {
  *alive_ = nullptr;
  uninstall_tc_fault_handler(this);
}

void Engine::code_written(uint32_t ppn) {
  const std::vector<translator::Ccf*> dead = cache_.invalidate_page(ppn);
  for (translator::Ccf* c : dead) lookup(c->key.cpl).remove(c->key.eip, c->entry());
  if (!dead.empty()) untrace_pending_.push_back(ppn);
  events_.invalidation(ppn, dead);
}

void Engine::record_fault(const GuestException& e, uint32_t eip) {
  pending_fault_ = e;
  if (e.vector == kPf) {
    prefill_la_ = e.cr2;
    prefill_cpl_ = vcpu_.cpl;
  }
  vcpu_.eip = eip;
  vcpu_.exit_reason = TcExit::kFault;
}

void Engine::note_traced_write(uint32_t eip, translator::Ccf* ccf) {
  if (config_.adaptive_threshold == 0 || simulate_.count(eip) || never_simulate_.count(eip)) return;
  if (++trap_counts_[eip] < config_.adaptive_threshold) return;
  simulate_.insert(eip);
  trap_counts_.erase(eip);
  c_retranslations.inc();
  // Invalidation unchains every jump into the old CCF and drops it from the lookups, so the next
  // entry retranslates it with the instruction as SIMULATE (instead of patching the old code).
  if (ccf && ccf->valid) {
    lookup(ccf->key.cpl).remove(ccf->key.eip, ccf->entry());
    cache_.invalidate(*ccf);
  }
  events_.retranslation(eip, config_.adaptive_threshold, ccf);
}

void Engine::prefill_after_entry_write() {
  if (prefill_la_ && view(prefill_cpl_).shadow.prefill(LinearAddr(*prefill_la_))) prefill_la_.reset();
}

void Engine::record_unsupported(std::string what) {
  last_error_ = std::move(what);
  pending_fault_.reset();
  vcpu_.exit_reason = TcExit::kFault;
}

bool Engine::fetch(uint32_t la, std::span<uint8_t> out) {
  return !env_.read_linear(la, out.data(), static_cast<unsigned>(out.size()), vcpu_.cpl == 3);
}

void Engine::flush_tc(std::string_view reason) {
  events_.flush(reason, vcpu_.eip, cache_.size(), tc_.used(), tc_.size());
  cache_.clear();
  for (const auto& l : lookups_)
    if (l) l->clear();
  tc_.flush();
  for (uint32_t p : code_pages_) traces().remove(Ppn(p), mmu::TraceKind::kCode);
  code_pages_.clear();
  untrace_pending_.clear();
  ++flush_generation_;
}

translator::Ccf* Engine::translate(uint32_t eip) {
  const uint32_t cs_base = vcpu_.seg[kCs].base;
  translator::TranslationUnit tu = translator::form_translation_unit(
      eip, [&](uint32_t off, std::span<uint8_t> out) { return fetch(cs_base + off, out); });
  if (tu.instructions.empty()) {
    tu_fault_ = tu.fault;
    return nullptr;
  }
  layout_.lookup = &lookup(vcpu_.cpl);
  std::unique_ptr<translator::Ccf> ccf = translator::emit_ccf(tu, tc_, layout_, vcpu_.cpl);
  if (!ccf) {
    flush_tc("TC full");
    ccf = translator::emit_ccf(tu, tc_, layout_, vcpu_.cpl);
    if (!ccf) fail(ExitCode::kInternal, "translation cache: a TU at {:#x} does not fit in an empty TC", eip);
  }
  ccf->key = {eip, vcpu_.cpl};
  // The guest-physical pages of the TU's first and last byte get a kCode trace (DESIGN.md 3).
  const mmu::GuestPagingState paging{vcpu_.cr0, vcpu_.cr3, vcpu_.cr4};
  for (uint32_t la : {cs_base + eip, cs_base + eip + ccf->guest_bytes - 1}) {
    const mmu::WalkResult w =
        mmu::walk(mem_, paging, LinearAddr(la), mmu::Access::at_cpl(mmu::AccessKind::kFetch, vcpu_.cpl), mmu::WalkMode::kProbe);
    if (!w.ok()) continue;
    const uint32_t ppn = ppn_of(w.translation.phys).value;
    if (!ccf->mapping_count || ccf->mappings[0].lpn != la >> kPageShift)
      ccf->mappings[ccf->mapping_count++] = {la >> kPageShift, ppn, w.translation.global,
                                             w.translation.size == mmu::PageSize::k4M};
    if (ccf->guest_page_count && ccf->guest_pages[0] == ppn) continue;
    ccf->guest_pages[ccf->guest_page_count++] = ppn;
  }
  translator::Ccf* c = cache_.insert(std::move(ccf));
  for (unsigned i = 0; i < c->guest_page_count; ++i) {
    const uint32_t ppn = c->guest_pages[i];
    if (!mem_.contains(addr_of(Ppn(ppn)), kPageSize)) continue;
    if (!(traces().kinds(Ppn(ppn)) & mmu::bit(mmu::TraceKind::kCode))) {
      traces().add(Ppn(ppn), mmu::TraceKind::kCode);
      code_pages_.push_back(ppn);
    }
  }
  lookup(c->key.cpl).insert(eip, c->entry());
  remember_exits(tu, *c);
  if (trace_) trace_(CcfTraceEvent{tu, *c});
  return c;
}

void Engine::remember_exits(const translator::TranslationUnit& tu, const translator::Ccf& c) {
  const size_t emitted = std::min(tu.instructions.size(), c.map.size());
  for (size_t i = 0; i < emitted; ++i) {
    const translator::TuInstruction& ti = tu.instructions[i];
    const translator::Kind kind = ti.kind();
    const bool may_exit = kind == translator::Kind::kCallout || kind == translator::Kind::kVirtualCpu ||
                          kind == translator::Kind::kUnsupported || simulate_.count(ti.eip());
    if (may_exit) exit_decodes_.remember(ti.insn, kind, c, flush_generation_);
  }
}

translator::TcLookup& Engine::lookup(uint8_t cpl) {
  std::unique_ptr<translator::TcLookup>& l = lookups_[cpl & 3];
  if (!l) l = std::make_unique<translator::TcLookup>();
  return *l;
}

uint64_t Engine::lookup_hits() const {
  uint64_t n = 0;
  for (const auto& l : lookups_)
    if (l) n += l->hits();
  return n;
}

bool Engine::recheck(translator::Ccf& c, WalkMemo* memo) {
  const mmu::GuestPagingState paging{vcpu_.cr0, vcpu_.cr3, vcpu_.cr4};
  translator::CodeMapping now[2];
  for (unsigned i = 0; i < c.mapping_count; ++i) {
    const translator::CodeMapping& m = c.mappings[i];
    const auto probe = [&] {
      return mmu::walk(mem_, paging, LinearAddr(m.lpn << kPageShift),
                       mmu::Access::at_cpl(mmu::AccessKind::kFetch, c.key.cpl), mmu::WalkMode::kProbe);
    };
    // A probe walk sets no A/D bits, so reusing one for the same page and privilege is exact.
    const uint64_t key = (uint64_t(m.lpn) << 1) | (c.key.cpl == 3 ? 1 : 0);
    mmu::WalkResult w;
    if (!memo) {
      w = probe();
    } else if (auto it = memo->find(key); it != memo->end()) {
      w = it->second;
    } else {
      w = probe();
      memo->emplace(key, w);
    }
    if (!w.ok() || ppn_of(w.translation.phys).value != m.ppn) return false;
    now[i] = {m.lpn, m.ppn, w.translation.global, w.translation.size == mmu::PageSize::k4M};
  }
  std::copy(now, now + c.mapping_count, c.mappings);
  cache_.index_mappings(c);
  return true;
}

void Engine::make_stale(translator::Ccf& c) {
  if (!cache_.mark_stale(c)) return;
  lookup(c.key.cpl).remove(c.key.eip, c.entry());
  events_.stale_ccf(c);
}

translator::Ccf* Engine::find_or_translate(uint32_t eip) {
  if (translator::Ccf* c = cache_.find({eip, vcpu_.cpl})) {
    if (!c->stale) {
      // The inline lookup is direct-mapped: another CCF may have taken this slot since c was
      // translated. Putting c back keeps an indirect branch to a hot target from missing (and
      // leaving the TC) on every run after one collision.
      lookup(c->key.cpl).insert(eip, c->entry());
      return c;
    }
    const bool kept = recheck(*c);
    events_.revalidation(*c, kept);
    if (kept) {
      cache_.revalidate(*c);
      lookup(c->key.cpl).insert(eip, c->entry());
      c_revalidated.inc();
      return c;
    }
    cache_.invalidate(*c);
  }
  return translate(eip);
}

StepResult Engine::deliver_tu_fault(const translator::GuestFault& f) {
  c_tu_faults.inc();
  using V = translator::GuestFault::Vector;
  if (f.vector == V::kInvalidOpcode) return StepResult::fault(ud());
  if (f.vector == V::kGeneralProtection) return StepResult::fault(gp(0));
  // Re-read the byte that could not be fetched: CpuEnv computes the #PF with its error code.
  uint8_t b = 0;
  if (std::optional<GuestException> e = env_.read_linear(vcpu_.seg[kCs].base + f.linear, &b, 1, vcpu_.cpl == 3))
    return StepResult::fault(*e);
  return StepResult::cont();  // the page became fetchable meanwhile: just retry
}

std::variant<translator::DecodedInstruction, StepResult> Engine::fetch_and_decode() {
  const uint32_t la = vcpu_.seg[kCs].base + vcpu_.eip;
  uint8_t bytes[translator::kMaxInstructionLength] = {};
  // Fetch page by page, so an instruction that straddles into an absent page still decodes when
  // its bytes happen to end before the page boundary.
  unsigned got = 0;
  std::optional<GuestException> fetch_fault;
  while (got < sizeof bytes) {
    const uint32_t at = la + got;
    const unsigned n = std::min<unsigned>(sizeof bytes - got, kPageSize - (at & (kPageSize - 1)));
    fetch_fault = env_.read_linear(at, bytes + got, n, vcpu_.cpl == 3);
    if (fetch_fault) break;
    got += n;
  }
  const translator::DecodeResult d = translator::decode({bytes, got}, vcpu_.eip);
  switch (d.status) {
    case translator::DecodeStatus::kOk:
      return d.instruction;
    case translator::DecodeStatus::kNeedMoreBytes:
      if (fetch_fault) return StepResult::fault(*fetch_fault);
      return StepResult::fault(ud());
    case translator::DecodeStatus::kTooLong:
      return StepResult::fault(gp(0));
    case translator::DecodeStatus::kInvalid:
      break;
  }
  return StepResult::fault(ud());
}

StepResult Engine::run_in_monitor() {
  if (const ExitDecodeCache::Entry* e = exit_decodes_.find(vcpu_.eip, vcpu_.cpl, flush_generation_)) {
    c_exit_decode_hits.inc();
    return execute_exit(e->insn, e->kind);
  }
  c_exit_decodes.inc();
  auto decoded = fetch_and_decode();
  if (StepResult* r = std::get_if<StepResult>(&decoded)) return *r;
  const auto& insn = std::get<translator::DecodedInstruction>(decoded);
  return execute_exit(insn, translator::classify(insn).kind);
}

StepResult Engine::execute_exit(const translator::DecodedInstruction& insn, translator::Kind kind) {
  // Ordinary instructions get here only to have their memory access emulated: it may be MMIO.
  const bool emulated_access = kind == translator::Kind::kIdent || kind == translator::Kind::kIdentAddr32 ||
                               kind == translator::Kind::kReencode32;
  devices_touched_ |= emulated_access || may_touch_devices(insn.mnemonic());
  if (simulate_.count(vcpu_.eip)) {
    std::optional<StepResult> r = simulate_store(vcpu_, env_, insn);
    if (!r && emulated_access) r = emulate_memory_instruction(vcpu_, env_, insn);
    if (r) {
      c_simulated_stores.inc();
      // Page-table stores are what SIMULATE mostly does: the guest's #PF handler may just have
      // made the faulting page present.
      if (r->kind == StepResult::kContinue) prefill_after_entry_write();
      return *r;
    }
    return unsimulate(vcpu_.eip);
  }
  // An ordinary instruction reaches the monitor when the emitter could not compensate it in the TC
  // (e.g. an FS/GS override with AH..BH, which cannot be re-encoded with REX): emulate it exactly.
  if (kind == translator::Kind::kIdent || kind == translator::Kind::kIdentAddr32 ||
      kind == translator::Kind::kReencode32)
    if (std::optional<StepResult> r = emulate_memory_instruction(vcpu_, env_, insn)) return *r;
  return execute_instruction(vcpu_, env_, insn);
}

// SIMULATE chose an instruction the monitor cannot perform: it goes back to IDENT for good (its
// traced writes are single-stepped again) and runs from a fresh translation; nothing changed yet.
StepResult Engine::unsimulate(uint32_t eip) {
  c_unsimulated.inc();
  simulate_.erase(eip);
  never_simulate_.insert(eip);
  std::vector<translator::Ccf*> holders;
  cache_.for_each_on_linear_page((vcpu_.seg[kCs].base + eip) >> kPageShift, [&](translator::Ccf& c) {
    for (const translator::EmittedRange& r : c.map)
      if (r.guest_eip == eip) return holders.push_back(&c);
  });
  for (translator::Ccf* c : holders) {
    if (!c->valid) continue;
    lookup(c->key.cpl).remove(c->key.eip, c->entry());
    cache_.invalidate(*c);
  }
  return StepResult::cont();
}

void Engine::record_emulation(uint32_t eip) {
  emulate_pending_ = true;
  vcpu_.eip = eip;
  vcpu_.exit_reason = TcExit::kFault;
}

std::optional<StepResult> Engine::emulate_in_monitor() {
  c_emulated.inc();
  devices_touched_ = true;  // the access may be MMIO
  auto decoded = fetch_and_decode();
  if (StepResult* r = std::get_if<StepResult>(&decoded)) return *r;
  const auto& insn = std::get<translator::DecodedInstruction>(decoded);
  if (std::optional<StepResult> r = emulate_memory_instruction(vcpu_, env_, insn)) return r;
  // An in-TC segment load read its descriptor where the shadow cannot map (a descriptor table in
  // MMIO or outside RAM): the monitor performs the whole load through CpuEnv.
  if (translator::classify(insn).kind == translator::Kind::kVirtualCpu) return execute_instruction(vcpu_, env_, insn);
  last_error_ = fmt::format("guest EIP {:#x}: '{}' touches memory the shadow cannot map (guest page 0, non-RAM or "
                            "MMIO) and is not an instruction the monitor emulates yet", vcpu_.eip, insn.text());
  return std::nullopt;
}

bool Engine::deliver(const StepResult& r) {
  switch (r.kind) {
    case StepResult::kContinue:
    case StepResult::kHalt:
      return true;
    case StepResult::kShutdown:
      return false;
    case StepResult::kException:
      return deliver_exception(vcpu_, env_, r.exception).kind != StepResult::kShutdown;
  }
  return false;
}

void Engine::fold_tc_counts() {
  SegmentLoadCache& c = vcpu_.seg_loads;
  c_segment_loads_inline.inc(c.inline_loads);
  c_segment_load_misses.inc(c.inline_misses);
  c_rdtsc_inline.inc(c.inline_rdtsc);
  c.inline_loads = c.inline_misses = c.inline_rdtsc = 0;
}

void Engine::on_branch_exit() {
  const uint64_t slot_addr = vcpu_.host_scratch[0];
  if (slot_addr == 0) {
    c_indirect_misses.inc();
    return;
  }
  translator::Ccf* from = cache_.by_host(slot_addr);
  if (!from || !from->valid || !config_.chaining) return;
  unsigned index = 0;
  while (index < from->slots.size() && reinterpret_cast<uint64_t>(from->host) + from->slots[index].jmp_offset != slot_addr)
    ++index;
  if (index == from->slots.size()) return;
  const uint64_t generation = flush_generation_;
  translator::Ccf* to = find_or_translate(vcpu_.eip);
  if (to && generation == flush_generation_ && to->key.cpl == from->key.cpl) cache_.chain(*from, index, *to);
}

void Engine::paging_changed(PagingEvent what, uint32_t addr) {
  bool pse_changed = false;  // a CR4 load that changed PSE (not only PGE) moves every large page
  switch (what) {
    case PagingEvent::kCr0: for_each_shadow([&](mmu::ShadowMmu& s) { s.set_cr0(vcpu_.cr0); }); break;
    case PagingEvent::kCr4:
      pse_changed = (supervisor_.shadow.paging().cr4 ^ vcpu_.cr4) & mmu::kCr4Pse;
      for_each_shadow([&](mmu::ShadowMmu& s) { s.set_cr4(vcpu_.cr4); });
      break;
    case PagingEvent::kCr3:
      for_each_shadow([&](mmu::ShadowMmu& s) { s.load_cr3(vcpu_.cr3); });
      prefill_la_.reset();  // the fault belonged to the address space being left
      break;
    case PagingEvent::kInvlpg: for_each_shadow([&](mmu::ShadowMmu& s) { s.invlpg(LinearAddr(addr)); }); break;
  }
  // A CCF re-walked at the event itself stays chained unless its code moved.
  const auto recheck_now = [this](translator::Ccf& c, WalkMemo& memo, stats::Counter& counted) {
    if (c.stale) return;
    counted.inc();
    if (!recheck(c, &memo)) make_stale(c);
  };
  // CCFs are keyed by linear EIP: a new mapping may put other code there. Only CCFs whose code
  // mapping the event can change are cut from chains and the lookup (and re-checked on next entry).
  switch (what) {
    case PagingEvent::kInvlpg:
      cache_.for_each_on_linear_page(addr >> kPageShift, [this](translator::Ccf& c) { make_stale(c); });
      break;
    case PagingEvent::kCr3: {
      // Global code pages survive (SDM vol. 3A 4.10.4.1); the others are re-walked now, so code
      // the new address space maps the same way (the kernel's, without PGE) stays chained.
      WalkMemo memo;
      cache_.for_each_local([&](translator::Ccf& c) { recheck_now(c, memo, c_cr3_rechecks); });
      break;
    }
    case PagingEvent::kCr4:
      if (!pse_changed) {
        // PGE alone: a global TLB flush (Linux flushes its global mappings by toggling PGE) that
        // changes no translation. Re-walking each code page now keeps the CCFs whose code has not
        // moved chained; staling them all would send every one back through the dispatcher.
        WalkMemo memo;
        cache_.for_each_valid([&](translator::Ccf& c) { recheck_now(c, memo, c_cr4_rechecks); });
        break;
      }
      [[fallthrough]];
    case PagingEvent::kCr0:
      cache_.for_each_valid([this](translator::Ccf& c) { make_stale(c); });
      break;
  }
  events_.stale(what, addr, vcpu_);
}

bool Engine::run_user_directly() {
  const UserRunResult u = user_runner_->run(vcpu_);
  switch (u.kind) {
    case UserRunResult::kException: return deliver(StepResult::fault(u.exception));
    case UserRunResult::kSoftwareInterrupt:
      return deliver(deliver_interrupt(vcpu_, env_, u.vector, true, u.return_eip));
    case UserRunResult::kInterrupt: return true;
    case UserRunResult::kMonitor: return deliver(run_in_monitor());
  }
  return true;
}

RunResult Engine::run() {
  set_active_engine(this);
  set_user_window_base(user_.base);
  for (;;) {
    if (host_.stop_requested()) return RunResult::kStopped;
    // Cleared before servicing: a timer signal that lands meanwhile leaves it set (one more pass)
    // instead of being lost until the next exit.
    const bool attention = vcpu_.attention != 0;
    vcpu_.attention = 0;
    // Devices need the host only when a deadline passed (the host's timer then set `attention`),
    // the guest spoke to them (port I/O, MMIO, MSRs) or waits for them (HLT). Any other pass, e.g.
    // a cr3 load or an iret, leaves every device deadline where the last servicing found it.
    if (attention || devices_touched_ || vcpu_.halted) {
      devices_touched_ = false;
      c_device_services.inc();
      host_.service_devices();
    }
    for (uint32_t p : untrace_pending_) {
      if (cache_.page_has_code(p)) continue;
      traces().remove(Ppn(p), mmu::TraceKind::kCode);
      std::erase(code_pages_, p);
    }
    untrace_pending_.clear();
    if ((vcpu_.eflags & kFlagIf) && !vcpu_.interrupt_shadow && host_.interrupt_pending()) {
      const uint8_t vector = host_.acknowledge_interrupt();
      c_interrupts.inc();
      const StepResult r = deliver_interrupt(vcpu_, env_, vector, false, vcpu_.eip);
      if (!deliver(r)) return RunResult::kTripleFault;
      continue;
    }
    if (vcpu_.halted) {
      host_.wait_for_interrupt();
      continue;
    }
    // Direct execution of user code. The TC keeps what the stub cannot run faithfully: virtual-8086
    // mode; the one instruction after an sti/mov ss shadow, whose interrupt inhibition the stub
    // cannot hold; and a guest IOPL above 0, under which cli/sti/in/out/popf act on the virtual IF
    // and ports, where the host (IOPL 0) would fault or ignore them.
    if (user_runner_ && vcpu_.cpl == 3 && !(vcpu_.eflags & (kFlagVm | kFlagIopl)) && !vcpu_.interrupt_shadow) {
      if (!run_user_directly()) return RunResult::kTripleFault;
      continue;
    }
    if (vcpu_.seg[kCs].base != lookup_cs_base_) {
      // CCFs, chains and the inline tables are keyed by EIP; a new CS base moves all code.
      flush_tc("CS base changed");
      lookup_cs_base_ = vcpu_.seg[kCs].base;
    }
    translator::Ccf* ccf = find_or_translate(vcpu_.eip);
    if (!ccf) {
      const translator::GuestFault f = *tu_fault_;
      if (!deliver(deliver_tu_fault(f))) return RunResult::kTripleFault;
      continue;
    }
    const uint8_t* entry = ccf->entry();
    if (vcpu_.interrupt_shadow) {
      // Skip the attention check: the shadowed instruction runs before any interrupt (SDM vol. 3 6.8.3).
      entry = ccf->host + ccf->body_offset;
      vcpu_.interrupt_shadow = false;
    }
    c_entries.inc();
    vcpu_.irq_pending = host_.interrupt_pending();
    sync_segment_load_cache(vcpu_);
    const TcExit why = trampolines_.enter(vcpu_, entry);
    fold_tc_counts();
    const uint64_t hits = lookup_hits();
    c_indirect_hits.inc(hits - hits_reported_);
    hits_reported_ = hits;
    switch (why) {
      case TcExit::kBranch:
        c_exits_branch.inc();
        on_branch_exit();
        break;
      case TcExit::kMonitor:
        c_exits_monitor.inc();
        if (!deliver(run_in_monitor())) return RunResult::kTripleFault;
        break;
      case TcExit::kInterrupt:
        c_exits_interrupt.inc();
        break;
      case TcExit::kInvalidate:
        break;
      case TcExit::kFault: {
        c_exits_fault.inc();
        if (emulate_pending_) {
          emulate_pending_ = false;
          const std::optional<StepResult> r = emulate_in_monitor();
          if (!r) return RunResult::kUnsupported;
          if (!deliver(*r)) return RunResult::kTripleFault;
          break;
        }
        if (!pending_fault_) {
          vcpu_.exit_reason = TcExit::kNone;
          return RunResult::kUnsupported;
        }
        const GuestException e = *pending_fault_;
        pending_fault_.reset();
        if (!deliver(StepResult::fault(e))) return RunResult::kTripleFault;
        break;
      }
      default:
        last_error_ = fmt::format("translated code returned exit reason {}", static_cast<uint32_t>(why));
        return RunResult::kUnsupported;
    }
  }
}

}  // namespace btvmm::runtime::engine
