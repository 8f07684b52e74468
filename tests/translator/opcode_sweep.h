// Byte sequences for the opcode sweeps of the translator tests: every 1-byte and 0F xx opcode with
// every ModRM byte, the 0F 38 / 0F 3A maps, common prefixes, and a few VEX/EVEX/3DNow! forms.
// Test helper only: generates bytes, decides nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace btvmm::translator::test {

// Calls `visit` with each candidate sequence (padded to 15 bytes with 0x11, so immediates and
// displacements are present). Many candidates are not instructions; the caller decodes them.
inline void for_each_opcode_form(const std::function<void(const std::vector<uint8_t>&)>& visit) {
  auto emit = [&](std::vector<uint8_t> b) {
    b.resize(15, 0x11);
    visit(b);
  };
  const std::vector<std::vector<uint8_t>> prefixes = {
      {0x66}, {0xf2}, {0xf3}, {0x67}, {0xf0}, {0x64}, {0x65}, {0x26}, {0x2e}, {0xf3, 0x66}};
  const uint8_t some_modrm[] = {0x00, 0x05, 0x0c, 0x1d, 0x44, 0x84, 0xc0, 0xc9, 0xd2, 0xdb, 0xe4, 0xed, 0xf6, 0xfa, 0xfb, 0xff};
  for (int op = 0; op < 256; ++op) {
    for (int modrm = 0; modrm < 256; ++modrm) {
      emit({uint8_t(op), uint8_t(modrm)});
      emit({0x0f, uint8_t(op), uint8_t(modrm)});
    }
    for (uint8_t modrm : some_modrm) {
      emit({0x0f, 0x38, uint8_t(op), modrm});
      emit({0x0f, 0x3a, uint8_t(op), modrm});
      for (const auto& p : prefixes) {
        for (std::vector<uint8_t> tail : {std::vector<uint8_t>{uint8_t(op), modrm},
                                          std::vector<uint8_t>{0x0f, uint8_t(op), modrm},
                                          std::vector<uint8_t>{0x0f, 0x38, uint8_t(op), modrm},
                                          std::vector<uint8_t>{0x0f, 0x3a, uint8_t(op), modrm}}) {
          std::vector<uint8_t> b = p;
          b.insert(b.end(), tail.begin(), tail.end());
          emit(b);
        }
      }
      // VEX (C5: map 0F; C4: maps 0F, 0F38, 0F3A), EVEX and 3DNow! (0F 0F modrm imm8).
      for (uint8_t vex2 : {0xf8, 0xf9, 0xfd}) emit({0xc5, vex2, uint8_t(op), modrm});
      for (uint8_t map : {0xe1, 0xe2, 0xe3}) emit({0xc4, map, 0x79, uint8_t(op), modrm});
      emit({0x62, 0xf1, 0x7c, 0x48, uint8_t(op), modrm});
      emit({0x0f, 0x0f, modrm, uint8_t(op)});
    }
  }
}

}  // namespace btvmm::translator::test
