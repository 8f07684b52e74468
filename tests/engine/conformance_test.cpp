// Instruction conformance (issue 5, "Must show at the end", second bullet): a few thousand seeded
// random instruction forms run as guest kernel code from the TC and in a 32-bit reference process
// (native/runner.c: natively where the host runs i386 code, else under qemu-i386); final
// registers, arithmetic flags + DF and the data page must agree. FS and GS carry non-zero bases
// (CONF_FS_BASE, CONF_GS_BASE) in both worlds. Flags the SDM leaves undefined
// for a form are not compared (an emulating reference need not match the host CPU there).
// Set BTVMM_SEED to reproduce a run; the seed and the failing form are printed on mismatch.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine_fixture.h"
#include "native/conformance_abi.h"
#include "translator/decode.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {

using Rng = std::mt19937;

// EBX is the data pointer and ESP the stack: forms never write them directly.
const x86::Gp kRegs[] = {x86::eax, x86::ecx, x86::edx, x86::esi, x86::edi, x86::ebp};
const x86::Gp kRegs8[] = {x86::al, x86::cl, x86::dl, x86::ah, x86::ch, x86::dh};
const x86::Gp kRegs16[] = {x86::ax, x86::cx, x86::dx, x86::si, x86::di, x86::bp};
constexpr uint32_t kDataPtr = CONF_DATA_ADDR + 0x800;
constexpr uint32_t kStack = CONF_DATA_ADDR + 0xF00;

uint32_t pick(Rng& r, uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(r); }
x86::Gp reg(Rng& r) { return kRegs[pick(r, 6)]; }
x86::Mem mem(Rng& r, unsigned size) {
  x86::Mem m = x86::ptr(x86::ebx, static_cast<int32_t>(pick(r, 0x200)) * 4 - 0x400);
  m.setSize(size);
  return m;
}
// A data-page operand addressed through FS or GS: the displacement subtracts the segment base, so
// base + EBX + displacement wraps around 4 GiB onto the same data the flat forms use.
x86::Mem seg_mem(Rng& r, bool gs, unsigned size) {
  const uint32_t base = gs ? CONF_GS_BASE : CONF_FS_BASE;
  const uint32_t disp = static_cast<uint32_t>(static_cast<int32_t>(pick(r, 0x200)) * 4 - 0x400) - base;
  x86::Mem m = x86::ptr(x86::ebx, static_cast<int32_t>(disp));
  m.setSegment(gs ? x86::gs : x86::fs);
  m.setSize(size);
  return m;
}
uint32_t imm(Rng& r) {
  switch (pick(r, 4)) {
    case 0: return pick(r, 256);
    case 1: return 0x80000000u >> pick(r, 32);
    case 2: return 0xffffffffu - pick(r, 4);
    default: return static_cast<uint32_t>(r());
  }
}

using Form = void (*)(x86::Assembler&, Rng&);

const asmjit::InstId kAlu[] = {x86::Inst::kIdAdd, x86::Inst::kIdOr, x86::Inst::kIdAdc, x86::Inst::kIdSbb,
                               x86::Inst::kIdAnd, x86::Inst::kIdSub, x86::Inst::kIdXor, x86::Inst::kIdCmp,
                               x86::Inst::kIdTest};
const asmjit::InstId kShift[] = {x86::Inst::kIdShl, x86::Inst::kIdShr, x86::Inst::kIdSar, x86::Inst::kIdRol,
                                 x86::Inst::kIdRor, x86::Inst::kIdRcl, x86::Inst::kIdRcr};
const asmjit::InstId kUnary[] = {x86::Inst::kIdInc, x86::Inst::kIdDec, x86::Inst::kIdNeg, x86::Inst::kIdNot};
const asmjit::InstId kBit[] = {x86::Inst::kIdBt, x86::Inst::kIdBts, x86::Inst::kIdBtr, x86::Inst::kIdBtc};

const Form kForms[] = {
    [](x86::Assembler& a, Rng& r) {  // ALU r32, r32 / imm / m32; m32, r32
      const asmjit::InstId id = kAlu[pick(r, 9)];
      switch (pick(r, 4)) {
        case 0: a.emit(id, reg(r), reg(r)); break;
        case 1: a.emit(id, reg(r), asmjit::Imm(static_cast<int32_t>(imm(r)))); break;
        case 2: a.emit(id, mem(r, 4), reg(r)); break;
        default: a.emit(id == x86::Inst::kIdTest ? x86::Inst::kIdAdd : id, reg(r), mem(r, 4)); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // ALU on 8 and 16 bits
      const asmjit::InstId id = kAlu[pick(r, 9)];
      switch (pick(r, 3)) {
        case 0: a.emit(id, kRegs8[pick(r, 6)], kRegs8[pick(r, 6)]); break;
        case 1: a.emit(id, kRegs16[pick(r, 6)], asmjit::Imm(static_cast<int16_t>(imm(r)))); break;
        default: a.emit(id, mem(r, 1), asmjit::Imm(static_cast<int8_t>(imm(r)))); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // shifts and rotates by imm, 1 or CL
      const asmjit::InstId id = kShift[pick(r, 7)];
      const x86::Gp dst = pick(r, 3) == 0 ? kRegs8[pick(r, 6)] : reg(r);
      switch (pick(r, 3)) {
        case 0: a.emit(id, dst, asmjit::Imm(pick(r, 32))); break;
        case 1: a.emit(id, dst, asmjit::Imm(1)); break;
        default: a.emit(id, dst == x86::cl || dst == x86::ecx ? x86::eax : dst, x86::cl); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // shifts of memory, double shifts
      if (pick(r, 2))
        a.emit(kShift[pick(r, 7)], mem(r, 4), asmjit::Imm(pick(r, 32)));
      else
        a.emit(pick(r, 2) ? x86::Inst::kIdShld : x86::Inst::kIdShrd, x86::eax, x86::edx, asmjit::Imm(pick(r, 32)));
    },
    [](x86::Assembler& a, Rng& r) {  // inc/dec (short forms 40-4F), neg, not
      const asmjit::InstId id = kUnary[pick(r, 4)];
      if (pick(r, 3) == 0)
        a.emit(id, mem(r, 4));
      else
        a.emit(id, reg(r));
    },
    [](x86::Assembler& a, Rng& r) {  // multiply
      switch (pick(r, 4)) {
        case 0: a.mul(reg(r)); break;
        case 1: a.imul(reg(r)); break;
        case 2: a.imul(reg(r), reg(r)); break;
        default: a.imul(reg(r), mem(r, 4), static_cast<int32_t>(imm(r))); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // divide, with a divisor that cannot fault
      a.and_(x86::ecx, 0x7fff);
      a.or_(x86::ecx, 1);
      if (pick(r, 2)) {
        a.xor_(x86::edx, x86::edx);
        a.div(x86::ecx);
      } else {
        a.cdq();
        a.idiv(x86::ecx);
      }
    },
    [](x86::Assembler& a, Rng& r) {  // bit tests and scans, bswap
      switch (pick(r, 4)) {
        case 0: a.emit(kBit[pick(r, 4)], reg(r), reg(r)); break;
        case 1: a.emit(kBit[pick(r, 4)], mem(r, 4), asmjit::Imm(pick(r, 32))); break;
        case 2: a.emit(pick(r, 2) ? x86::Inst::kIdBsf : x86::Inst::kIdBsr, reg(r), reg(r)); break;
        default: a.bswap(reg(r)); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // setcc, cmovcc, xchg, xadd, cmpxchg, movzx/movsx, lea
      switch (pick(r, 7)) {
        case 0: a.set(static_cast<x86::CondCode>(pick(r, 16)), kRegs8[pick(r, 6)]); break;
        case 1: a.cmov(static_cast<x86::CondCode>(pick(r, 16)), reg(r), reg(r)); break;
        case 2: a.xchg(reg(r), mem(r, 4)); break;
        case 3: a.xadd(mem(r, 4), reg(r)); break;
        case 4: a.cmpxchg(mem(r, 4), x86::edx, x86::eax); break;
        case 5: a.movsx(reg(r), mem(r, 1)); break;
        default: a.lea(reg(r), x86::ptr(x86::ebx, reg(r), pick(r, 4), static_cast<int32_t>(imm(r)))); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // string instructions with rep and either direction
      a.lea(x86::esi, x86::ptr(x86::ebx, -0x200));
      a.lea(x86::edi, x86::ptr(x86::ebx, 0x100));
      a.mov(x86::ecx, pick(r, 17));
      if (pick(r, 2)) a.std(); else a.cld();
      switch (pick(r, 7)) {
        case 0: a.rep().movsb(); break;
        case 1: a.rep().movsd(); break;
        case 2: a.rep().stosb(); break;
        case 3: a.rep().stosd(); break;
        case 4: a.lodsd(); break;
        case 5: a.repe().cmpsb(); break;
        default: a.repne().scasb(); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // stack: push/pop forms, pushad/popad, enter/leave, pushfd
      switch (pick(r, 7)) {
        case 0: a.push(reg(r)); a.pop(reg(r)); break;
        case 1: a.push(static_cast<int32_t>(imm(r))); a.pop(mem(r, 4)); break;
        case 2: a.push(mem(r, 4)); a.pop(reg(r)); break;
        case 3: a.pushad(); a.mov(x86::eax, x86::dword_ptr(x86::esp, 8)); a.popad(); break;
        case 4: a.enter(16, 0); a.mov(x86::dword_ptr(x86::ebp, -4), x86::ecx); a.leave(); break;
        case 5: a.pushfd(); a.pop(reg(r)); break;
        default: a.push(x86::esp); a.pop(x86::eax); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // control flow: jcc, loop, jecxz, call/ret, indirect jmp
      asmjit::Label l = a.newLabel(), f = a.newLabel();
      switch (pick(r, 5)) {
        case 0:
          a.cmp(reg(r), reg(r));
          a.j(static_cast<x86::CondCode>(pick(r, 16)), l);
          a.add(x86::eax, 1);
          a.bind(l);
          break;
        case 1:
          a.mov(x86::ecx, pick(r, 5) + 1);
          a.bind(l);
          a.add(x86::eax, x86::ecx);
          a.loop(l);
          break;
        case 2:
          a.and_(x86::ecx, 1);
          a.jecxz(x86::ecx, l);
          a.inc(x86::edx);
          a.bind(l);
          break;
        case 3:
          a.call(f);
          a.jmp(l);
          a.bind(f);
          a.add(x86::esi, x86::dword_ptr(x86::esp));
          a.ret(pick(r, 2) * 4);
          a.bind(l);
          break;
        default:
          a.lea(x86::edx, x86::ptr(l));
          a.jmp(x86::edx);
          a.inc(x86::edi);
          a.bind(l);
          break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // flag instructions and conversions
      switch (pick(r, 6)) {
        case 0: a.cmc(); break;
        case 1: a.sahf(); break;
        case 2: a.lahf(); break;
        case 3: a.cwde(); break;
        case 4: a.stc(); a.adc(reg(r), reg(r)); break;
        default: a.cdq(); break;
      }
    },
    [](x86::Assembler& a, Rng& r) {  // FS/GS overrides with non-zero bases (addresses wrap at 4 GiB)
      const bool gs = pick(r, 2);
      const x86::Mem m = seg_mem(r, gs, 1u << pick(r, 3));
      const x86::Mem m32 = seg_mem(r, gs, 4);
      switch (pick(r, 9)) {
        case 0: a.mov(reg(r), m32); break;
        case 1: a.mov(m32, reg(r)); break;
        case 2: a.emit(kAlu[pick(r, 9)], m, asmjit::Imm(static_cast<int8_t>(imm(r)))); break;
        case 3: a.emit(kAlu[pick(r, 8)], reg(r), m32); break;  // no test r, m form
        case 4: a.emit(kUnary[pick(r, 4)], m); break;
        case 5: a.movzx(reg(r), seg_mem(r, gs, 1 + pick(r, 2))); break;
        case 6: a.push(m32); a.pop(reg(r)); break;
        case 7: a.mov(x86::ah, seg_mem(r, gs, 1)); break;  // a high-byte register: not re-encodable with REX
        default: {  // a string source through the override
          x86::Mem source = seg_mem(r, gs, 0);
          source.resetSegment();
          a.lea(x86::esi, source);
          a.db(gs ? 0x65 : 0x64);
          a.lodsd();
          break;
        }
      }
    },
};
constexpr unsigned kFormCount = sizeof kForms / sizeof kForms[0];

// Flags the SDM (vol. 2, "Flags Affected") leaves undefined for some instruction of each form.
constexpr uint32_t kUndefined[kFormCount] = {
    kFlagAf,                                              // and/or/xor/test: AF
    kFlagAf,                                              // same, 8/16-bit
    kFlagOf | kFlagAf,                                    // shifts/rotates: OF if count != 1, AF
    kFlagOf | kFlagAf,                                    // shifts of memory, shld/shrd
    0,                                                    // inc/dec/neg/not
    kFlagSf | kFlagZf | kFlagAf | kFlagPf,                // mul/imul
    kArithFlags,                                          // div/idiv
    kFlagCf | kFlagOf | kFlagSf | kFlagAf | kFlagPf,      // bt*, bsf/bsr
    0,                                                    // setcc, cmov, xchg, xadd, cmpxchg, movsx, lea
    0,                                                    // strings
    0,                                                    // stack
    0,                                                    // control flow
    0,                                                    // flag instructions
    kFlagAf,                                              // segment overrides: and/or/xor/test AF
};

conf_case make_case(Rng& r, unsigned& form_out, uint32_t& undefined) {
  conf_case c{};
  for (unsigned i = 0; i < 8; ++i) c.in.gpr[i] = static_cast<uint32_t>(r());
  c.in.gpr[kEbx] = kDataPtr;
  c.in.gpr[kEsp] = kStack;
  c.in.eflags = (static_cast<uint32_t>(r()) & (kArithFlags | kFlagDf)) | kFlagFixed1;
  for (auto& b : c.data) b = static_cast<uint8_t>(r());
  asmjit::CodeHolder holder;
  holder.init(asmjit::Environment(asmjit::Arch::kX86), CONF_CODE_ADDR);
  x86::Assembler a(&holder);
  const unsigned n = 1 + pick(r, 3);
  form_out = pick(r, kFormCount);
  undefined = 0;
  for (unsigned i = 0; i < n; ++i) {
    // A later form may copy undefined flags into registers or memory (lahf, pushfd, adc...):
    // redefine all six first with a cmp that changes nothing else.
    if (undefined) a.cmp(x86::eax, x86::eax);
    const unsigned form = i == 0 ? form_out : pick(r, kFormCount);
    kForms[form](a, r);
    undefined = kUndefined[form];
  }
  holder.flatten();
  holder.relocateToBase(CONF_CODE_ADDR);
  c.code_len = static_cast<uint32_t>(holder.codeSize());
  REQUIRE(c.code_len + 8 <= CONF_CODE_MAX);
  holder.copyFlattenedData(c.code, c.code_len);
  return c;
}

std::string disassemble(const conf_case& c) {
  std::string s;
  for (uint32_t off = 0; off < c.code_len;) {
    const auto d = translator::decode({c.code + off, c.code_len - off}, CONF_CODE_ADDR + off);
    if (!d.ok()) break;
    s += fmt::format("  {:08x}  {}\n", CONF_CODE_ADDR + off, d.instruction.text());
    off += d.instruction.length();
  }
  return s;
}

std::string describe(const conf_state& s) {
  return fmt::format("eax={:08x} ecx={:08x} edx={:08x} ebx={:08x} esp={:08x} ebp={:08x} esi={:08x} edi={:08x} "
                     "flags={:08x}",
                     s.gpr[0], s.gpr[1], s.gpr[2], s.gpr[3], s.gpr[4], s.gpr[5], s.gpr[6], s.gpr[7], s.eflags);
}

}  // namespace

TEST_CASE("conformance_tc_matches_native_32bit_execution_of_random_instruction_forms", "[engine][conformance]") {
  const char* env_seed = std::getenv("BTVMM_SEED");
  const uint32_t seed = env_seed ? static_cast<uint32_t>(std::strtoul(env_seed, nullptr, 0)) : std::random_device{}();
  INFO("seed " << seed << " (BTVMM_SEED=" << seed << " reproduces)");
  constexpr unsigned kCases = 3000;
  Rng rng(seed);
  std::vector<conf_case> cases(kCases);
  std::vector<unsigned> forms(kCases);
  std::vector<uint32_t> undefined(kCases);
  for (unsigned i = 0; i < kCases; ++i) cases[i] = make_case(rng, forms[i], undefined[i]);

  const std::string dir = fmt::format("/tmp/btvmm-conformance-{}", getpid());
  REQUIRE(std::system(fmt::format("mkdir -p {}", dir).c_str()) == 0);
  const std::string in_path = dir + "/cases", out_path = dir + "/results";
  FILE* f = std::fopen(in_path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(std::fwrite(cases.data(), sizeof(conf_case), kCases, f) == kCases);
  std::fclose(f);
  // Natively if this host runs i386 code, else under QEMU's user-mode emulator.
  const std::string args = fmt::format("{} {} {}", BTVMM_CONFORMANCE_RUNNER, in_path, out_path);
  std::string reference = "native i386";
  if (std::system((args + " 2>/dev/null").c_str()) != 0) {
    reference = "qemu-i386";
    REQUIRE(std::system(("qemu-i386 " + args).c_str()) == 0);
  }
  INFO("reference: " << reference);
  std::vector<conf_result> native(kCases);
  f = std::fopen(out_path.c_str(), "rb");
  REQUIRE(f);
  REQUIRE(std::fread(native.data(), sizeof(conf_result), kCases, f) == kCases);
  std::fclose(f);
  std::system(fmt::format("rm -rf {}", dir).c_str());

  Machine m;
  m.vcpu.seg[kFs].base = m.vcpu.seg_base_cache[kFs] = CONF_FS_BASE;
  m.vcpu.seg[kGs].base = m.vcpu.seg_base_cache[kGs] = CONF_GS_BASE;
  unsigned mismatches = 0;
  constexpr uint32_t kCompared = kArithFlags | kFlagDf;
  for (unsigned i = 0; i < kCases && mismatches < 5; ++i) {
    const conf_case& c = cases[i];
    std::vector<uint8_t> code(c.code, c.code + c.code_len);
    code.push_back(0xF4);  // hlt ends the case under the TC
    m.mem.write(GuestPhysAddr(CONF_CODE_ADDR), code.data(), code.size());
    m.traces.report_physical_write(GuestPhysAddr(CONF_CODE_ADDR), code.size());
    m.mem.write(GuestPhysAddr(CONF_DATA_ADDR), c.data, CONF_DATA_SIZE);
    for (unsigned r = 0; r < 8; ++r) m.vcpu.gpr[r] = c.in.gpr[r];
    m.vcpu.eflags = c.in.eflags | kFlagIf;  // a native user process runs with IF = 1
    m.vcpu.halted = false;
    m.host.stop = false;
    const bool halted = m.run(CONF_CODE_ADDR);

    conf_state tc{};
    for (unsigned r = 0; r < 8; ++r) tc.gpr[r] = m.vcpu.gpr[r];
    tc.eflags = m.vcpu.eflags & kCompared & ~undefined[i];
    conf_state nat = native[i].out;
    nat.eflags &= kCompared & ~undefined[i];
    std::vector<uint8_t> data(CONF_DATA_SIZE);
    m.mem.read(GuestPhysAddr(CONF_DATA_ADDR), data.data(), CONF_DATA_SIZE);
    const bool same_regs = std::equal(tc.gpr, tc.gpr + 8, nat.gpr) && tc.eflags == nat.eflags;
    const bool same_data = std::equal(data.begin(), data.end(), native[i].data);
    const bool at_end = halted && m.vcpu.eip == CONF_CODE_ADDR + c.code_len + 1;
    if (same_regs && same_data && at_end) continue;
    ++mismatches;
    unsigned first_diff = 0;
    while (first_diff < CONF_DATA_SIZE && data[first_diff] == native[i].data[first_diff]) ++first_diff;
    UNSCOPED_INFO(fmt::format("seed {} case {} (form {}) mismatch:\n{}in:     {}\nnative: {}\ntc:     {}\n"
                              "tc eip {:#x} halted {} (expected {:#x}); data {} (first difference at +{:#x})",
                              seed, i, forms[i], disassemble(c), describe(c.in), describe(nat), describe(tc),
                              m.vcpu.eip, halted, CONF_CODE_ADDR + c.code_len + 1, same_data ? "same" : "differs",
                              first_diff));
  }
  CHECK(mismatches == 0);
}
