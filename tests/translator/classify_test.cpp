// Tests of translator/classify against the published lists: Robin & Irvine (USENIX Security 2000)
// sensitive unprivileged instructions, Intel SDM vol. 3 5.9 privileged instructions, and the
// 64-bit-mode differences of SDM vol. 2 that force re-encoding.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "translator/classify.h"
#include "translator/ident_bytes.h"

using namespace btvmm::translator;

namespace {

struct Case {
  const char* name;
  std::vector<uint8_t> bytes;
};

Classification cls(const std::vector<uint8_t>& b) {
  auto padded = b;
  padded.resize(15, 0x00);
  auto r = decode(padded, 0x1000);
  INFO("bytes of " << b.size() << " decode: " << to_string(r.status));
  REQUIRE(r.ok());
  REQUIRE(r.instruction.length() == b.size());
  return classify(r.instruction);
}

Kind kind_of(const std::vector<uint8_t>& b) { return cls(b).kind; }

bool is_copy(Kind k) { return k == Kind::kIdent || k == Kind::kIdentAddr32; }

}  // namespace

TEST_CASE("robin_irvine_sensitive_unprivileged_instructions_are_never_copied") {
  // The 17 instructions of Robin & Irvine 2000, section 4, in every form btvmm must catch.
  const std::vector<Case> cases = {
      {"sgdt [eax]", {0x0f, 0x01, 0x00}},
      {"sidt [eax]", {0x0f, 0x01, 0x08}},
      {"sldt eax", {0x0f, 0x00, 0xc0}},
      {"sldt [eax]", {0x0f, 0x00, 0x00}},
      {"smsw eax", {0x0f, 0x01, 0xe0}},
      {"smsw [eax]", {0x0f, 0x01, 0x20}},
      {"pushfd", {0x9c}},
      {"pushf (16-bit)", {0x66, 0x9c}},
      {"popfd", {0x9d}},
      {"lar eax, ecx", {0x0f, 0x02, 0xc1}},
      {"lsl eax, ecx", {0x0f, 0x03, 0xc1}},
      {"verr ax", {0x0f, 0x00, 0xe0}},
      {"verw ax", {0x0f, 0x00, 0xe8}},
      {"pop ds", {0x1f}},
      {"pop es", {0x07}},
      {"pop ss", {0x17}},
      {"pop fs", {0x0f, 0xa1}},
      {"pop gs", {0x0f, 0xa9}},
      {"push cs", {0x0e}},
      {"push ss", {0x16}},
      {"push ds", {0x1e}},
      {"push es", {0x06}},
      {"push fs", {0x0f, 0xa0}},
      {"push gs", {0x0f, 0xa8}},
      {"call far ptr16:32", {0x9a, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00}},
      {"call far [eax]", {0xff, 0x18}},
      {"jmp far ptr16:32", {0xea, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00}},
      {"jmp far [eax]", {0xff, 0x28}},
      {"int 0x80", {0xcd, 0x80}},
      {"retf", {0xcb}},
      {"retf 8", {0xca, 0x08, 0x00}},
      {"str eax", {0x0f, 0x00, 0xc8}},
      {"mov eax, ds", {0x8c, 0xd8}},
      {"mov [eax], cs", {0x8c, 0x08}},
      {"mov ds, eax", {0x8e, 0xd8}},
      {"mov ss, [eax]", {0x8e, 0x10}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Classification k = cls(c.bytes);
    CHECK_FALSE(is_copy(k.kind));
    CHECK(k.kind != Kind::kReencode32);
    CHECK(k.kind != Kind::kUnsupported);
    REQUIRE(k.rule != nullptr);
    CHECK(std::string(k.rule->reason).find("R&I") != std::string::npos);
  }
}

TEST_CASE("sdm_privileged_instructions_are_callouts_or_virtual_cpu") {
  // Intel SDM vol. 3 5.9 (privileged instructions) and 2.8 (system instructions), plus the
  // IOPL-sensitive ones a CPL 0 guest may use (cli/sti, in/out, SDM vol. 1 19.5).
  const std::vector<Case> cases = {
      {"lgdt [eax]", {0x0f, 0x01, 0x10}},
      {"lidt [eax]", {0x0f, 0x01, 0x18}},
      {"lldt ax", {0x0f, 0x00, 0xd0}},
      {"ltr ax", {0x0f, 0x00, 0xd8}},
      {"mov cr0, eax", {0x0f, 0x22, 0xc0}},
      {"mov cr3, eax", {0x0f, 0x22, 0xd8}},
      {"mov cr4, eax", {0x0f, 0x22, 0xe0}},
      {"mov eax, cr0", {0x0f, 0x20, 0xc0}},
      {"mov eax, cr2", {0x0f, 0x20, 0xd0}},
      {"mov eax, cr3", {0x0f, 0x20, 0xd8}},
      {"lmsw ax", {0x0f, 0x01, 0xf0}},
      {"clts", {0x0f, 0x06}},
      {"mov dr7, eax", {0x0f, 0x23, 0xf8}},
      {"mov eax, dr6", {0x0f, 0x21, 0xf0}},
      {"invd", {0x0f, 0x08}},
      {"wbinvd", {0x0f, 0x09}},
      {"invlpg [eax]", {0x0f, 0x01, 0x38}},
      {"hlt", {0xf4}},
      {"rdmsr", {0x0f, 0x32}},
      {"wrmsr", {0x0f, 0x30}},
      {"rdpmc", {0x0f, 0x33}},
      {"rdtsc", {0x0f, 0x31}},
      {"rdtscp", {0x0f, 0x01, 0xf9}},
      {"sysexit", {0x0f, 0x35}},
      {"sysenter", {0x0f, 0x34}},
      {"cli", {0xfa}},
      {"sti", {0xfb}},
      {"in al, 0x60", {0xe4, 0x60}},
      {"out 0x80, al", {0xe6, 0x80}},
      {"in eax, dx", {0xed}},
      {"out dx, al", {0xee}},
      {"rep insd", {0xf3, 0x6d}},
      {"rep outsb", {0xf3, 0x6e}},
      {"iretd", {0xcf}},
      {"cpuid", {0x0f, 0xa2}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Kind k = kind_of(c.bytes);
    CHECK((k == Kind::kCallout || k == Kind::kVirtualCpu));
  }
}

TEST_CASE("mov_is_split_by_operands_segment_control_and_plain") {
  CHECK(kind_of({0x89, 0xc8}) == Kind::kIdent);                        // mov eax, ecx
  CHECK(kind_of({0x8b, 0x43, 0x04}) == Kind::kIdentAddr32);            // mov eax, [ebx+4]
  CHECK(kind_of({0x8c, 0xd8}) == Kind::kVirtualCpu);                   // mov eax, ds
  CHECK(kind_of({0x8e, 0xd8}) == Kind::kVirtualCpu);                   // mov ds, eax (TC, else monitor)
  CHECK(kind_of({0x0f, 0x22, 0xd8}) == Kind::kCallout);                // mov cr3, eax
  // moffs: 64-bit mode reads an 8-byte offset unless 0x67 is present, which it always is.
  CHECK(kind_of({0xa1, 0x00, 0x10, 0x00, 0x00}) == Kind::kIdentAddr32); // mov eax, [0x1000]
  CHECK(kind_of({0xa2, 0x00, 0x10, 0x00, 0x00}) == Kind::kIdentAddr32); // mov [0x1000], al
  CHECK(kind_of({0x67, 0xa1, 0x00, 0x10}) == Kind::kReencode32);       // mov eax, [0x1000] (16-bit moffs)
  CHECK(cls({0x8e, 0xd0}).flow == Flow::kEndsTuInShadow);              // mov ss, eax
  CHECK(cls({0x8e, 0xd8}).flow == Flow::kFallsThrough);                // mov ds, eax: no mode change
  CHECK(cls({0x8c, 0xd8}).flow == Flow::kFallsThrough);
}

TEST_CASE("push_and_pop_are_split_by_segment_operand") {
  CHECK(kind_of({0x50}) == Kind::kReencode32);              // push eax
  CHECK(kind_of({0x6a, 0x01}) == Kind::kReencode32);        // push 1
  CHECK(kind_of({0xff, 0x30}) == Kind::kReencode32);        // push [eax]
  CHECK(kind_of({0x58}) == Kind::kReencode32);              // pop eax
  CHECK(kind_of({0x8f, 0x00}) == Kind::kReencode32);        // pop [eax]
  CHECK(kind_of({0x0e}) == Kind::kVirtualCpu);              // push cs
  CHECK(kind_of({0x1f}) == Kind::kVirtualCpu);              // pop ds
  CHECK(cls({0x17}).flow == Flow::kEndsTuInShadow);         // pop ss
  CHECK(cls({0x1f}).flow == Flow::kFallsThrough);           // pop ds
  CHECK(kind_of({0x60}) == Kind::kReencode32);              // pushad
  CHECK(kind_of({0x61}) == Kind::kReencode32);              // popad
  CHECK(kind_of({0xc8, 0x10, 0x00, 0x00}) == Kind::kReencode32);  // enter
  CHECK(kind_of({0xc9}) == Kind::kReencode32);              // leave
}

TEST_CASE("branches_are_split_into_direct_indirect_return_and_far") {
  CHECK(kind_of({0xeb, 0x00}) == Kind::kBranchDirect);
  CHECK(kind_of({0xe9, 0, 0, 0, 0}) == Kind::kBranchDirect);
  CHECK(kind_of({0x74, 0x00}) == Kind::kBranchDirect);
  CHECK(kind_of({0x0f, 0x85, 0, 0, 0, 0}) == Kind::kBranchDirect);
  CHECK(kind_of({0xe3, 0x00}) == Kind::kBranchDirect);     // jecxz
  CHECK(kind_of({0xe2, 0x00}) == Kind::kBranchDirect);     // loop
  CHECK(kind_of({0xe8, 0, 0, 0, 0}) == Kind::kBranchDirect);
  CHECK(kind_of({0xff, 0xe0}) == Kind::kBranchIndirect);   // jmp eax
  CHECK(kind_of({0xff, 0x20}) == Kind::kBranchIndirect);   // jmp [eax]
  CHECK(kind_of({0xff, 0xd0}) == Kind::kBranchIndirect);   // call eax
  CHECK(kind_of({0xc3}) == Kind::kReturn);
  CHECK(kind_of({0xc2, 0x04, 0x00}) == Kind::kReturn);
  CHECK(kind_of({0xcb}) == Kind::kCallout);                // retf
  for (auto b : {std::vector<uint8_t>{0xeb, 0x00}, {0xff, 0xe0}, {0xc3}, {0xcb}}) CHECK(cls(b).flow == Flow::kEndsTu);
}

TEST_CASE("instructions_invalid_or_different_in_64bit_mode_are_reencoded") {
  for (uint8_t op = 0x40; op <= 0x4f; ++op) {
    INFO("opcode " << int(op));
    CHECK(kind_of({op}) == Kind::kReencode32);  // inc/dec r32: REX prefixes in 64-bit mode
  }
  CHECK(kind_of({0xff, 0xc0}) == Kind::kIdent);  // inc eax, FF /0: fine in 64-bit mode
  CHECK(kind_of({0x82, 0xc0, 0x01}) == Kind::kReencode32);  // add al, 1 through 82
  CHECK(kind_of({0x80, 0xc0, 0x01}) == Kind::kIdent);       // add al, 1 through 80
  CHECK(kind_of({0x27}) == Kind::kReencode32);              // daa
  CHECK(kind_of({0x37}) == Kind::kReencode32);              // aaa
  CHECK(kind_of({0xd4, 0x0a}) == Kind::kReencode32);        // aam
  CHECK(kind_of({0x62, 0x00}) == Kind::kReencode32);        // bound eax, [eax]
  CHECK(kind_of({0x63, 0xc1}) == Kind::kReencode32);        // arpl cx, ax
  CHECK(kind_of({0xd6}) == Kind::kReencode32);              // salc
  CHECK(kind_of({0xc4, 0x00}) == Kind::kCallout);           // les eax, [eax]
  CHECK(kind_of({0xc5, 0x00}) == Kind::kCallout);           // lds eax, [eax]
  CHECK(kind_of({0xce}) == Kind::kCallout);                 // into
}

TEST_CASE("copied_memory_instructions_get_addr32_unless_16bit_addressing_fs_gs_or_too_long") {
  CHECK(kind_of({0x01, 0x03}) == Kind::kIdentAddr32);         // add [ebx], eax
  CHECK(kind_of({0xf3, 0xa5}) == Kind::kIdentAddr32);         // rep movsd: implicit [esi]/[edi]
  CHECK(kind_of({0xd7}) == Kind::kIdentAddr32);               // xlat
  CHECK(kind_of({0x8d, 0x44, 0x24, 0x04}) == Kind::kIdentAddr32);  // lea eax, [esp+4]
  CHECK(kind_of({0x67, 0x8b, 0x07}) == Kind::kReencode32);    // mov eax, [bx]
  CHECK(kind_of({0x64, 0x8b, 0x00}) == Kind::kReencode32);    // mov eax, fs:[eax]
  CHECK(kind_of({0x65, 0xa1, 0x14, 0, 0, 0}) == Kind::kReencode32);  // mov eax, gs:[0x14]
  CHECK(kind_of({0x26, 0x8b, 0x00}) == Kind::kIdentAddr32);   // es: is flat in 64-bit mode
  // ds ds ds ds mov dword [disp32], imm32: 14 bytes + 0x67 + SIB rewrite = 16, cannot be copied.
  CHECK(kind_of({0x3e, 0x3e, 0x3e, 0x3e, 0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8}) == Kind::kReencode32);
  CHECK(kind_of({0x3e, 0x3e, 0x3e, 0xc7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8}) == Kind::kIdentAddr32);
}

TEST_CASE("ident_host_bytes_add_addr32_and_rewrite_absolute_disp32_to_sib") {
  auto host = [](std::vector<uint8_t> b) {
    auto r = decode(b, 0);
    REQUIRE(r.ok());
    auto h = ident_host_bytes(r.instruction);
    return std::vector<uint8_t>(h.bytes().begin(), h.bytes().end());
  };
  CHECK(host({0x8b, 0x43, 0x04}) == std::vector<uint8_t>{0x67, 0x8b, 0x43, 0x04});
  CHECK(host({0x89, 0xc8}) == std::vector<uint8_t>{0x89, 0xc8});
  CHECK(host({0x8b, 0x05, 0x34, 0x12, 0, 0}) == std::vector<uint8_t>{0x67, 0x8b, 0x04, 0x25, 0x34, 0x12, 0, 0});
  CHECK(host({0x66, 0x0f, 0x6f, 0x05, 0, 0x10, 0, 0}) ==
        std::vector<uint8_t>{0x67, 0x66, 0x0f, 0x6f, 0x04, 0x25, 0, 0x10, 0, 0});
  CHECK(host({0xa1, 0x00, 0x10, 0x00, 0x00}) == std::vector<uint8_t>{0x67, 0xa1, 0x00, 0x10, 0x00, 0x00});
  // [ebp] with mod=01 is not absolute: left alone.
  CHECK(host({0x8b, 0x45, 0x00}) == std::vector<uint8_t>{0x67, 0x8b, 0x45, 0x00});
}

TEST_CASE("unsupported_extensions_raise_ud_in_the_guest") {
  CHECK(kind_of({0xc5, 0xf8, 0x77}) == Kind::kUnsupported);                 // vzeroupper (VEX)
  CHECK(kind_of({0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1}) == Kind::kUnsupported);  // vmovaps zmm (EVEX)
  CHECK(kind_of({0x0f, 0x01, 0xc1}) == Kind::kUnsupported);                 // vmcall (VMX)
  CHECK(kind_of({0x0f, 0x01, 0xd8}) == Kind::kUnsupported);                 // vmrun (SVM)
  CHECK(kind_of({0x0f, 0x01, 0xd7}) == Kind::kUnsupported);                 // enclu (SGX)
  CHECK(kind_of({0x0f, 0x01, 0xd0}) == Kind::kUnsupported);                 // xgetbv
  CHECK(kind_of({0x0f, 0xaa}) == Kind::kUnsupported);                       // rsm
  CHECK(kind_of({0x0f, 0x0b}) == Kind::kCallout);                           // ud2: the runtime raises #UD
  CHECK(cls({0x0f, 0x01, 0xc1}).flow == Flow::kEndsTu);
}

TEST_CASE("sti_shadows_the_next_instruction_and_cli_popfd_fall_through") {
  CHECK(cls({0xfb}).kind == Kind::kVirtualCpu);
  CHECK(cls({0xfb}).flow == Flow::kShadowsNext);
  CHECK(cls({0xfa}).kind == Kind::kVirtualCpu);
  CHECK(cls({0xfa}).flow == Flow::kFallsThrough);
  CHECK(cls({0x9d}).flow == Flow::kFallsThrough);  // in the TC unless a monitor-owned flag changes
  CHECK(cls({0x66, 0x9d}).flow == Flow::kEndsTu);  // 16-bit popf: the monitor
}
