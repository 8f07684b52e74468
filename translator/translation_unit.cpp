// Translation-unit formation (rules in translation_unit.h). Reads guest code only through the
// fetch callback, one page at a time; decides nothing about kinds (classify.cpp does).
#include "translator/translation_unit.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace btvmm::translator {
namespace {

enum class Step { kDecoded, kStraddles, kFetchFault, kNotAnInstruction, kTooLong };

struct Fetched {
  Step step;
  DecodeResult result;
  uint32_t fault_linear = 0;
};

uint64_t page_end_of(uint32_t linear) { return (uint64_t(linear) & ~uint64_t(kGuestPageSize - 1)) + kGuestPageSize; }

// Fetches and decodes the instruction at `eip`. Bytes of the next page are fetched only if
// `may_straddle` and the instruction really reaches into it.
Fetched fetch_one(uint32_t eip, const FetchFn& fetch, bool may_straddle) {
  std::array<uint8_t, kMaxInstructionLength> buf{};
  const uint64_t page_end = page_end_of(eip);
  const size_t first = std::min<uint64_t>(kMaxInstructionLength, page_end - eip);
  if (!fetch(eip, std::span<uint8_t>(buf.data(), first))) return {Step::kFetchFault, {}, eip};
  DecodeResult r = decode(std::span<const uint8_t>(buf.data(), first), eip);
  if (r.status == DecodeStatus::kNeedMoreBytes) {
    if (!may_straddle) return {Step::kStraddles, {}, 0};
    const uint32_t next_page = static_cast<uint32_t>(page_end);  // wraps to 0 at 4 GiB
    if (!fetch(next_page, std::span<uint8_t>(buf.data() + first, kMaxInstructionLength - first))) {
      return {Step::kFetchFault, {}, next_page};
    }
    r = decode(std::span<const uint8_t>(buf.data(), kMaxInstructionLength), eip);
  }
  switch (r.status) {
    case DecodeStatus::kOk: return {Step::kDecoded, r, 0};
    case DecodeStatus::kTooLong: return {Step::kTooLong, {}, 0};
    case DecodeStatus::kNeedMoreBytes:  // cannot happen with 15 bytes in hand: decode() says kTooLong
    case DecodeStatus::kInvalid: break;
  }
  return {Step::kNotAnInstruction, {}, 0};
}

const char* vector_name(GuestFault::Vector v) {
  switch (v) {
    case GuestFault::Vector::kInvalidOpcode: return "#UD";
    case GuestFault::Vector::kGeneralProtection: return "#GP(0)";
    case GuestFault::Vector::kPageFault: return "#PF";
  }
  return "?";
}

}  // namespace

std::string format_translation_unit(const TranslationUnit& tu) {
  std::string out;
  for (const auto& i : tu.instructions) {
    std::string hex;
    for (uint8_t b : i.insn.bytes()) hex += fmt::format("{:02x} ", b);
    out += fmt::format("{:08x}  {:<22}{:<36}{}\n", i.eip(), hex, i.insn.text(), to_string(i.kind()));
  }
  out += fmt::format("end: {}", to_string(tu.end));
  if (tu.fault) {
    out += fmt::format(", raises {} at {:08x}", vector_name(tu.fault->vector), tu.fault->eip);
    if (tu.fault->vector == GuestFault::Vector::kPageFault) out += fmt::format(" (cr2 {:08x})", tu.fault->linear);
  }
  if (tu.spans_two_pages) out += ", spans two pages";
  if (tu.ends_in_interrupt_shadow) out += ", interrupt shadow";
  out += "\n";
  return out;
}

const char* to_string(TuEnd e) {
  switch (e) {
    case TuEnd::kControlFlow: return "control-flow";
    case TuEnd::kMaxInstructions: return "max-instructions";
    case TuEnd::kPageBoundary: return "page-boundary";
    case TuEnd::kBeforeFault: return "before-fault";
    case TuEnd::kFault: return "fault";
  }
  return "?";
}

TranslationUnit form_translation_unit(uint32_t eip, const FetchFn& fetch) {
  TranslationUnit tu;
  tu.start_eip = eip;
  const uint64_t page_end = page_end_of(eip);
  uint32_t at = eip;
  for (;;) {
    const bool first = tu.instructions.empty();
    const Fetched f = fetch_one(at, fetch, first);
    const bool after_sti = !first && tu.instructions.back().cls.flow == Flow::kShadowsNext;
    if (f.step == Step::kStraddles) {
      tu.end = TuEnd::kPageBoundary;
      tu.ends_in_interrupt_shadow = after_sti;
      return tu;
    }
    if (f.step != Step::kDecoded) {
      if (!first) {
        tu.end = TuEnd::kBeforeFault;
        tu.ends_in_interrupt_shadow = after_sti;
        return tu;
      }
      tu.end = TuEnd::kFault;
      switch (f.step) {
        case Step::kFetchFault: tu.fault = GuestFault{GuestFault::Vector::kPageFault, at, f.fault_linear}; break;
        case Step::kTooLong: tu.fault = GuestFault{GuestFault::Vector::kGeneralProtection, at, 0}; break;
        default: tu.fault = GuestFault{GuestFault::Vector::kInvalidOpcode, at, 0}; break;
      }
      return tu;
    }
    const DecodedInstruction& insn = f.result.instruction;
    const Classification cls = classify(insn);
    // sti keeps its successor in the same TU: as the 12th instruction it starts the next TU.
    if (cls.flow == Flow::kShadowsNext && tu.instructions.size() == kMaxTuInstructions - 1) {
      tu.end = TuEnd::kMaxInstructions;
      return tu;
    }
    tu.instructions.push_back({insn, cls});
    const uint64_t end = uint64_t(at) + insn.length();
    if (end > page_end) tu.spans_two_pages = true;

    const Flow flow = cls.flow;
    if (flow != Flow::kFallsThrough && flow != Flow::kShadowsNext) {
      tu.end = TuEnd::kControlFlow;
      tu.ends_in_interrupt_shadow = flow == Flow::kEndsTuInShadow;
      return tu;
    }
    if (end >= page_end) {
      tu.end = TuEnd::kPageBoundary;
      tu.ends_in_interrupt_shadow = flow == Flow::kShadowsNext;
      return tu;
    }
    if (tu.instructions.size() == kMaxTuInstructions) {
      tu.end = TuEnd::kMaxInstructions;
      return tu;
    }
    at = insn.next_eip();
  }
}

}  // namespace btvmm::translator
