// Trace dump of a CCF (see trace_dump.h). Host code is disassembled with Capstone, not with the
// Zydis decoder the translator uses for guest code, so an emitter bug shows as a mismatch.
#include "translator/trace_dump.h"

#include <capstone/capstone.h>

#include <fmt/format.h>

namespace btvmm::translator {

namespace {

// One Capstone handle per dump (cs_open is cheap next to formatting a CCF).
class Capstone {
 public:
  Capstone() { ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &h_) == CS_ERR_OK; }
  ~Capstone() {
    if (ok_) cs_close(&h_);
  }
  Capstone(const Capstone&) = delete;
  Capstone& operator=(const Capstone&) = delete;
  bool ok() const { return ok_; }
  csh handle() const { return h_; }

 private:
  csh h_ = 0;
  bool ok_ = false;
};

const TuInstruction* guest_at(const TranslationUnit& tu, uint32_t eip) {
  for (const TuInstruction& ti : tu.instructions)
    if (ti.eip() == eip) return &ti;
  return nullptr;
}

// Which part of the CCF host offset `off` belongs to: a guest instruction (its index in the map),
// or code no guest instruction owns (-1 with `what` set).
int section_of(const Ccf& ccf, size_t off, const char** what) {
  for (size_t i = 0; i < ccf.map.size(); ++i)
    if (off >= ccf.map[i].host_offset && off < ccf.map[i].host_offset + ccf.map[i].host_size) return static_cast<int>(i);
  const size_t first = ccf.map.empty() ? ccf.host_size : ccf.map.front().host_offset;
  const size_t end = ccf.map.empty() ? ccf.body_offset : ccf.map.back().host_offset + ccf.map.back().host_size;
  if (off < ccf.body_offset) *what = "attention check";
  else if (off < first) *what = "run counter";
  else if (off >= end) *what = "exits";
  else *what = "attention check";  // after the instruction in an sti shadow
  return -1;
}

// When the emitter did not translate an instruction the way its kind says: a store retranslated
// as SIMULATE (adaptive translation), or an instruction the TC could not compensate, left to the
// monitor.
const char* emitted_as(const TuInstruction& ti, const Ccf& ccf, unsigned index) {
  if (index >= ccf.profile.size()) return "";
  const ExecKind how = ccf.profile.kind_at(index);
  if (how == ExecKind::kSimulate) return ", retranslated: simulate";
  if (how == ExecKind::kMonitor && ti.kind() != Kind::kCallout && ti.kind() != Kind::kUnsupported)
    return ", left to the monitor";
  return "";
}

std::string format_out(const TranslationUnit& tu, const Ccf& ccf) {
  std::string s = fmt::format("OUT: {} host bytes at {}, {} chaining slot(s){}\n", ccf.host_size,
                              static_cast<const void*>(ccf.host), ccf.slots.size(), ccf.valid ? "" : " (invalidated)");
  Capstone cs;
  if (!cs.ok()) return s + "  (capstone: cs_open failed)\n";
  const uint64_t base = reinterpret_cast<uint64_t>(ccf.host);
  int shown = -2;
  const char* shown_what = nullptr;
  for (size_t off = 0; off < ccf.host_size;) {
    const char* what = nullptr;
    const int section = section_of(ccf, off, &what);
    if (section != shown || what != shown_what) {
      if (section >= 0) {
        const EmittedRange& r = ccf.map[section];
        const TuInstruction* ti = guest_at(tu, r.guest_eip);
        s += ti ? fmt::format("  -- guest {:#010x}  {}  ({}{})\n", r.guest_eip, ti->insn.text(), to_string(ti->kind()),
                              emitted_as(*ti, ccf, static_cast<unsigned>(section)))
                : fmt::format("  -- guest {:#010x}\n", r.guest_eip);
      } else {
        s += fmt::format("  -- {}\n", what);
      }
      shown = section;
      shown_what = what;
    }
    cs_insn* insn = nullptr;
    const size_t n = cs_disasm(cs.handle(), ccf.host + off, ccf.host_size - off, base + off, 1, &insn);
    if (n == 0) {
      s += fmt::format("  +{:04x}  {:02x}  (bytes)\n", off, ccf.host[off]);
      ++off;
      continue;
    }
    std::string hex;
    for (uint16_t b = 0; b < insn->size; ++b) hex += fmt::format("{:02x}", insn->bytes[b]);
    s += fmt::format("  +{:04x}  {:<24} {} {}\n", off, hex, insn->mnemonic, insn->op_str);
    off += insn->size;
    cs_free(insn, n);
  }
  return s;
}

}  // namespace

std::string format_ccf(const TranslationUnit& tu, const Ccf& ccf, bool in_asm, bool out_asm) {
  std::string s;
  if (in_asm) {
    s += fmt::format("IN: {:#010x} (cpl {})\n{}", ccf.key.eip, ccf.key.cpl, format_translation_unit(tu));
    // A monitor exit in the middle (SIMULATE, an uncompensated instruction) ends the CCF early.
    if (ccf.map.size() < tu.instructions.size())
      s += fmt::format("  (the CCF holds the first {} of these; the next CCF starts at {:#010x})\n", ccf.map.size(),
                       tu.instructions[ccf.map.size()].eip());
  }
  if (out_asm) s += format_out(tu, ccf);
  return s;
}

namespace {

std::string ccf_name(const Ccf& c) {
  return fmt::format("{:#010x} cpl {} (host {}{})", c.key.eip, c.key.cpl, static_cast<const void*>(c.host),
                     c.valid ? "" : ", invalidated");
}

// The CCFs of an event, one per line; a paging-mode change can cut thousands, so long lists end
// with a count instead.
std::string ccf_lines(std::span<const Ccf* const> ccfs) {
  constexpr size_t kShown = 32;
  std::string s;
  for (size_t i = 0; i < ccfs.size() && i < kShown; ++i) s += fmt::format("  ccf {}\n", ccf_name(*ccfs[i]));
  if (ccfs.size() > kShown) s += fmt::format("  ... and {} more\n", ccfs.size() - kShown);
  return s;
}

}  // namespace

std::string format_tc_event(const TcEvent& e) {
  using K = TcEvent::Kind;
  switch (e.kind) {
    case K::kRetranslation:
      return fmt::format("RETRANSLATE guest {:#010x}: {} traced-write traps, SIMULATE from its next translation; "
                         "{} CCF(s) dropped\n",
                         e.addr, e.traps, e.ccfs.size()) +
             ccf_lines(e.ccfs);
    case K::kInvalidation:
      return fmt::format("INVALIDATE guest-physical page {:#010x}: code written, {} CCF(s) invalidated\n",
                         uint64_t(e.page) << 12, e.ccfs.size()) +
             ccf_lines(e.ccfs);
    case K::kStale:
      return fmt::format("STALE {} {:#010x}: {} CCF(s) unchained and out of the lookup until re-checked\n", e.reason,
                         e.addr, e.ccfs.size()) +
             ccf_lines(e.ccfs);
    case K::kRevalidation:
      return fmt::format("REVALIDATE guest {:#010x}: {}\n", e.addr,
                         e.kept ? "code still maps to the same guest-physical page(s), CCF reused"
                                : "code mapping changed, CCF invalidated, retranslating") +
             ccf_lines(e.ccfs);
    case K::kFlush:
      return fmt::format("FLUSH ({}) at guest {:#010x}: {} CCF(s) dropped, {} of {} TC bytes were in use\n", e.reason,
                         e.addr, e.count, e.bytes, e.total);
  }
  return "?\n";
}

}  // namespace btvmm::translator
