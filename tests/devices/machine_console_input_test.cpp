// Terminal input as host::Machine hands it to the guest (host/machine.cpp): bytes typed reach COM1
// in order at device servicing, only as many as the UART can take, and bytes left over keep a
// near deadline so the dispatcher comes back for them. Never asserts timing beyond that bound.
#include <catch2/catch.hpp>

#include "host/machine.h"

using namespace btvmm;

namespace {
class NullConsole : public devices::CharBackend {
 public:
  void write(uint8_t) override {}
};
constexpr uint16_t kCom1 = 0x3f8;  // RBR at +0, LSR at +5 (bit 0: data ready), 16550A datasheet
}  // namespace

TEST_CASE("machine_hands_console_input_to_com1_in_order_and_keeps_a_deadline_for_the_rest") {
  NullConsole console;
  host::Machine m(16 << 20, console);
  m.service_devices();
  CHECK((m.ports().read(kCom1 + 5, 1) & 1) == 0);  // nothing typed yet
  m.push_input('a');
  m.push_input('b');
  // FIFO off (reset state): the receiver holds one byte, the second waits at the machine.
  const uint64_t next = m.service_devices();
  CHECK(next <= m.now_ns() + 1000000);
  REQUIRE((m.ports().read(kCom1 + 5, 1) & 1) == 1);
  CHECK(m.ports().read(kCom1, 1) == 'a');
  CHECK((m.ports().read(kCom1 + 5, 1) & 1) == 0);
  m.service_devices();
  REQUIRE((m.ports().read(kCom1 + 5, 1) & 1) == 1);
  CHECK(m.ports().read(kCom1, 1) == 'b');
  m.service_devices();
  CHECK((m.ports().read(kCom1 + 5, 1) & 1) == 0);  // nothing left over
}
