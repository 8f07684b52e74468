// Test doubles for device unit tests: a clock the test advances by hand and recorders for IRQ
// lines, machine requests and serial output. They only record; they never act on anything.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "devices/bus.h"

namespace btvmm::devices::testing {

class FakeClock : public Clock {
 public:
  uint64_t now_ns() const override { return now; }
  void advance_ns(uint64_t ns) { now += ns; }
  uint64_t now = 1000000;  // not zero: catches code that confuses "time 0" with "never"
};

class RecordingIrqSink : public IrqSink {
 public:
  void set_irq(unsigned irq, bool level) override {
    events.emplace_back(irq, level);
    if (level && !levels[irq]) ++rising[irq];
    levels[irq] = level;
  }
  bool levels[16] = {};
  unsigned rising[16] = {};
  std::vector<std::pair<unsigned, bool>> events;
};

class RecordingMachine : public MachineControl {
 public:
  void request_exit(int status) override { exits.push_back(status); }
  void request_reset() override { ++resets; }
  std::vector<int> exits;
  unsigned resets = 0;
};

class RecordingCharBackend : public CharBackend {
 public:
  void write(uint8_t byte) override { out.push_back(char(byte)); }
  std::string out;
};

}  // namespace btvmm::devices::testing
