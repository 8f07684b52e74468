// Looks decoded instructions up in the classification table (classify_table.cpp) and applies the
// encoding refinements of copied instructions. Decides only; never emits (STYLE.md, deciding vs
// emitting). An instruction no rule names is never copied: it raises #UD.
#include "translator/classify.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "translator/ident_bytes.h"

namespace btvmm::translator {
namespace {

bool is_reg_class(const ZydisDecodedOperand& op, ZydisRegisterClass c) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == c;
}

bool any_visible(const DecodedInstruction& insn, auto pred) {
  const auto ops = insn.visible_operands();
  return std::any_of(ops.begin(), ops.end(), pred);
}

bool visible_is(const DecodedInstruction& insn, unsigned i, auto pred) {
  const auto ops = insn.visible_operands();
  return i < ops.size() && pred(ops[i]);
}

bool is_segment(const ZydisDecodedOperand& op) { return is_reg_class(op, ZYDIS_REGCLASS_SEGMENT); }
bool is_ss(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && op.reg.value == ZYDIS_REGISTER_SS;
}
bool is_other_segment(const ZydisDecodedOperand& op) { return is_segment(op) && !is_ss(op); }
bool is_control_debug(const ZydisDecodedOperand& op) {
  return is_reg_class(op, ZYDIS_REGCLASS_CONTROL) || is_reg_class(op, ZYDIS_REGCLASS_DEBUG) ||
         is_reg_class(op, ZYDIS_REGCLASS_TEST);
}

bool one_byte_opcode(const DecodedInstruction& insn, uint8_t lo, uint8_t hi) {
  const auto& z = insn.zydis();
  return z.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY && z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
         z.opcode >= lo && z.opcode <= hi;
}

// Rules indexed for lookup: by mnemonic, by encoding, by ISA set (built once, read-only after).
struct Index {
  std::vector<std::vector<const Rule*>> by_mnemonic;
  std::array<std::vector<const Rule*>, ZYDIS_INSTRUCTION_ENCODING_MAX_VALUE + 1> by_encoding;
  std::array<std::vector<const Rule*>, ZYDIS_ISA_SET_MAX_VALUE + 1> by_isa_set;

  Index() : by_mnemonic(ZYDIS_MNEMONIC_MAX_VALUE + 1) {
    for (const Rule& r : rules()) {
      switch (r.match) {
        case Match::kMnemonic: by_mnemonic[r.mnemonic].push_back(&r); break;
        case Match::kEncoding: by_encoding[r.encoding].push_back(&r); break;
        case Match::kIsaSet: by_isa_set[r.isa_set].push_back(&r); break;
      }
    }
  }
};

const Index& index() {
  static const Index i;
  return i;
}

const char* encoding_name(ZydisInstructionEncoding e) {
  switch (e) {
    case ZYDIS_INSTRUCTION_ENCODING_LEGACY: return "legacy";
    case ZYDIS_INSTRUCTION_ENCODING_3DNOW: return "3DNow!";
    case ZYDIS_INSTRUCTION_ENCODING_XOP: return "XOP";
    case ZYDIS_INSTRUCTION_ENCODING_VEX: return "VEX";
    case ZYDIS_INSTRUCTION_ENCODING_EVEX: return "EVEX";
    case ZYDIS_INSTRUCTION_ENCODING_MVEX: return "MVEX";
    default: return "?";
  }
}

}  // namespace

const char* to_string(Kind k) {
  switch (k) {
    case Kind::kIdent: return "ident";
    case Kind::kIdentAddr32: return "ident+addr32";
    case Kind::kReencode32: return "reencode32";
    case Kind::kBranchDirect: return "branch-direct";
    case Kind::kBranchIndirect: return "branch-indirect";
    case Kind::kReturn: return "return";
    case Kind::kVirtualCpu: return "virtual-cpu";
    case Kind::kCallout: return "callout";
    case Kind::kUnsupported: return "unsupported";
  }
  return "?";
}

const char* to_string(Flow f) {
  switch (f) {
    case Flow::kFallsThrough: return "falls-through";
    case Flow::kEndsTu: return "ends-tu";
    case Flow::kEndsTuInShadow: return "ends-tu-in-shadow";
    case Flow::kShadowsNext: return "shadows-next";
  }
  return "?";
}

const char* to_string(Form f) {
  switch (f) {
    case Form::kAny: return "any";
    case Form::kSegmentOperand: return "segment-operand";
    case Form::kSsOperand: return "ss-operand";
    case Form::kNoSegmentOperand: return "no-segment-operand";
    case Form::kMovToSs: return "to-ss";
    case Form::kMovToSegment: return "to-segment";
    case Form::kMovFromSegment: return "from-segment";
    case Form::kMovControlDebug: return "crn-drn";
    case Form::kMovOther: return "other";
    case Form::kShortIncDec: return "short-40-4f";
    case Form::kNotShortIncDec: return "not-short";
    case Form::kOpcode82: return "opcode-82";
    case Form::kNotOpcode82: return "not-opcode-82";
    case Form::kBranchRelative: return "relative";
    case Form::kBranchNearIndirect: return "near-indirect";
    case Form::kBranchNear: return "near";
    case Form::kBranchFar: return "far";
  }
  return "?";
}

bool form_matches(Form form, const DecodedInstruction& insn) {
  const auto& z = insn.zydis();
  const bool relative = z.attributes & ZYDIS_ATTRIB_IS_RELATIVE;
  const bool near = z.meta.branch_type == ZYDIS_BRANCH_TYPE_SHORT || z.meta.branch_type == ZYDIS_BRANCH_TYPE_NEAR;
  switch (form) {
    case Form::kAny: return true;
    case Form::kSegmentOperand: return any_visible(insn, is_other_segment);
    case Form::kSsOperand: return any_visible(insn, is_ss);
    case Form::kNoSegmentOperand: return !any_visible(insn, is_segment);
    case Form::kMovToSs: return visible_is(insn, 0, is_ss);
    case Form::kMovToSegment: return visible_is(insn, 0, is_other_segment);
    case Form::kMovFromSegment: return visible_is(insn, 1, is_segment);
    case Form::kMovControlDebug: return any_visible(insn, is_control_debug);
    case Form::kMovOther: return !any_visible(insn, is_segment) && !any_visible(insn, is_control_debug);
    case Form::kShortIncDec: return one_byte_opcode(insn, 0x40, 0x4f);
    case Form::kNotShortIncDec: return !one_byte_opcode(insn, 0x40, 0x4f);
    case Form::kOpcode82: return one_byte_opcode(insn, 0x82, 0x82);
    case Form::kNotOpcode82: return !one_byte_opcode(insn, 0x82, 0x82);
    case Form::kBranchRelative: return near && relative;
    case Form::kBranchNearIndirect: return near && !relative;
    case Form::kBranchNear: return near;
    case Form::kBranchFar: return z.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
  }
  return false;
}

namespace {

// Calls `visit` on each rule of the highest-precedence level with a match (mnemonic, then
// encoding, then ISA set). Shared by classify() (first match) and matching_rules() (all).
template <typename Visit>
void visit_matches(const DecodedInstruction& insn, Visit visit) {
  const Index& ix = index();
  const auto& z = insn.zydis();
  bool any = false;
  for (const Rule* r : ix.by_mnemonic[z.mnemonic]) {
    if (form_matches(r->form, insn)) {
      visit(r);
      any = true;
    }
  }
  if (any) return;
  if (z.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY && !ix.by_encoding[z.encoding].empty()) {
    for (const Rule* r : ix.by_encoding[z.encoding]) visit(r);
    return;
  }
  for (const Rule* r : ix.by_isa_set[z.meta.isa_set]) visit(r);
}

}  // namespace

std::vector<const Rule*> matching_rules(const DecodedInstruction& insn) {
  std::vector<const Rule*> out;
  visit_matches(insn, [&](const Rule* r) { out.push_back(r); });
  return out;
}

Classification classify(const DecodedInstruction& insn) {
  Classification c;
  visit_matches(insn, [&](const Rule* r) {
    if (!c.rule) c.rule = r;
  });
  if (!c.rule) {
    c.refinement = "no rule names this instruction: #UD rather than a guess";
    return c;
  }
  c.kind = c.rule->kind;
  c.flow = c.rule->flow;
  if (c.kind != Kind::kIdent || !insn.has_memory_operand()) return c;

  const auto ops = insn.operands();
  const bool fs_gs = std::any_of(ops.begin(), ops.end(), [](const ZydisDecodedOperand& op) {
    return op.type == ZYDIS_OPERAND_TYPE_MEMORY &&
           (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS);
  });
  if (insn.address_width() == 16) {
    c.kind = Kind::kReencode32;
    c.refinement = "16-bit addressing does not exist in 64-bit mode (SDM vol. 1 3.6.1)";
  } else if (fs_gs) {
    c.kind = Kind::kReencode32;
    c.refinement = "FS/GS: 64-bit mode would add the host's base (SDM vol. 3 3.4.4); guest base added explicitly";
  } else if (insn.length() + ident_growth(insn) > kMaxInstructionLength) {
    c.kind = Kind::kReencode32;
    c.refinement = "the copy with 0x67 would exceed 15 bytes (SDM vol. 2 2.3.11)";
  } else {
    c.kind = Kind::kIdentAddr32;
    c.refinement = "memory operand: 0x67 keeps the address below 4 GiB (DESIGN.md 3)";
  }
  return c;
}

std::string format_rules() {
  std::string out;
  for (const Rule& r : rules()) {
    std::string what;
    switch (r.match) {
      case Match::kMnemonic:
        what = ZydisMnemonicGetString(r.mnemonic);
        if (r.form != Form::kAny) what += fmt::format(" [{}]", to_string(r.form));
        break;
      case Match::kEncoding: what = fmt::format("encoding {}", encoding_name(r.encoding)); break;
      case Match::kIsaSet: what = fmt::format("isa-set {}", ZydisISASetGetString(r.isa_set)); break;
    }
    out += fmt::format("{:<28} {:<16} {:<18} {}\n", what, to_string(r.kind), to_string(r.flow), r.reason);
  }
  return out;
}

}  // namespace btvmm::translator
