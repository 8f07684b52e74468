// Isolation of directly executed guest code (DESIGN.md 3a, issue 4 part 7): a guest user program
// that leaves compat mode for the host's 64-bit selector 0x33 and then reads or writes a live
// monitor object, or makes host system calls by every instruction there is, gets guest
// exceptions only; the monitor's object is unchanged and the monitor keeps running. Also checks
// what the stub's address space holds.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "tests/direct/direct_fixture.h"

using namespace btvmm;
using namespace btvmm::direct;
using namespace btvmm::direct::testing;

namespace {

// Lives in the monitor (this test process): the escapes below aim at it.
volatile uint64_t g_canary = 0x1122334455667788ull;

void put64(std::vector<uint8_t>& v, uint64_t x) {
  for (int i = 0; i < 8; i++) v.push_back(uint8_t(x >> (8 * i)));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; i++) v.push_back(uint8_t(x >> (8 * i)));
}

// Compat-mode prologue: ljmp 0x33:kCodeLa+0x800, where `body64` is placed. On a host without
// compat mode the machine already runs 64-bit code (test_config) and enters `body64` directly.
void run_escape(DirectMachine& m, const std::vector<uint8_t>& body64) {
  if (m.long_mode()) {
    m.load(body64);
    return;
  }
  std::vector<uint8_t> jump = {0xea};
  put32(jump, kCodeLa + 0x800);
  jump.push_back(0x33);
  jump.push_back(0x00);
  m.load(body64, 0x800);
  m.load(jump);
}

void expect_gp_escape(const UserExit& x) {
  INFO("kind " << int(x.kind) << " vector " << int(x.exception.vector));
  CHECK(x.kind == UserExit::kException);
  CHECK(x.exception.vector == runtime::kGp);
  CHECK(x.escaped);
}

std::vector<std::string> stub_maps(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/maps");
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("isolation_64bit_escape_cannot_read_or_write_monitor_memory") {
  DirectMachine m;
  const uint64_t target = reinterpret_cast<uintptr_t>(&g_canary);
  SECTION("read") {
    std::vector<uint8_t> body = {0x48, 0xb8};  // movabs rax, target; mov rax,[rax]; int3
    put64(body, target);
    body.insert(body.end(), {0x48, 0x8b, 0x00, 0xcc});
    run_escape(m, body);
    expect_gp_escape(m.run());
  }
  SECTION("write") {
    std::vector<uint8_t> body = {0x48, 0xb8};  // movabs rax, target; mov qword [rax],0; int3
    put64(body, target);
    body.insert(body.end(), {0x48, 0xc7, 0x00, 0, 0, 0, 0, 0xcc});
    run_escape(m, body);
    expect_gp_escape(m.run());
  }
  CHECK(g_canary == 0x1122334455667788ull);
  // The monitor keeps running the same stub: ordinary user code still works afterwards.
  m.load({0xb8, 7, 0, 0, 0, 0xcd, 0x80});
  REQUIRE(m.run().kind == UserExit::kSoftwareInterrupt);
  CHECK(m.vcpu.gpr[runtime::kEax] == 7);
}

TEST_CASE("isolation_host_system_calls_from_guest_code_are_guest_exceptions") {
  DirectMachine m;
  const uint32_t me = uint32_t(getpid());
  SECTION("64-bit syscall: kill(monitor, SIGKILL)") {
    std::vector<uint8_t> body = {0x48, 0xc7, 0xc0, 62, 0, 0, 0, 0x48, 0xc7, 0xc7};
    put32(body, me);
    body.insert(body.end(), {0x48, 0xc7, 0xc6, 9, 0, 0, 0, 0x0f, 0x05, 0xcc});
    run_escape(m, body);
    expect_gp_escape(m.run());
  }
  SECTION("int 0x80 from 64-bit mode: i386 kill(monitor, SIGKILL)") {
    std::vector<uint8_t> body = {0xb8, 37, 0, 0, 0, 0xbb};
    put32(body, me);
    body.insert(body.end(), {0xb9, 9, 0, 0, 0, 0xcd, 0x80, 0xcc});
    run_escape(m, body);
    const UserExit x = m.run();
    if (m.long_mode()) {
      // Entered in 64-bit mode on purpose: the same exit as a guest int 0x80, no host call.
      CHECK(x.kind == UserExit::kSoftwareInterrupt);
      CHECK(x.vector == 0x80);
    } else {
      expect_gp_escape(x);
    }
  }
  SECTION("int 0x80 from guest code: a guest software interrupt, not a host call") {
    std::vector<uint8_t> code = {0xb8, 37, 0, 0, 0, 0xbb};
    put32(code, me);
    code.insert(code.end(), {0xb9, 9, 0, 0, 0, 0xcd, 0x80});
    m.load(code);
    const UserExit x = m.run();
    CHECK(x.kind == UserExit::kSoftwareInterrupt);
    CHECK(x.vector == 0x80);
  }
  SECTION("syscall (compat mode; 64-bit mode on hosts without it)") {
    std::vector<uint8_t> code = {0xb8, 37, 0, 0, 0, 0xbb};
    put32(code, me);
    code.insert(code.end(), {0xb9, 9, 0, 0, 0, 0x0f, 0x05});
    m.load(code);
    const UserExit x = m.run();
    CHECK(x.kind == UserExit::kException);
  }
  SECTION("sysenter (compat mode; 64-bit mode on hosts without it)") {
    std::vector<uint8_t> code = {0xb8, 37, 0, 0, 0, 0xbb};
    put32(code, me);
    code.insert(code.end(), {0xb9, 9, 0, 0, 0, 0x89, 0xe5, 0x0f, 0x34});
    m.load(code);
    const UserExit x = m.run();
    CHECK(x.kind == UserExit::kException);
  }
  SECTION("a jump into the stub's own text to reach its syscall instruction") {
    // The escaped guest finds the stub's `syscall` (here: told by the test, the worst case) and
    // jumps to it with kill(monitor, SIGKILL) set up: seccomp allows the instruction pointer but
    // not the call, so it traps.
    uint64_t syscall_insn = 0;
    for (const auto& line : stub_maps(m.exec.stub().pid())) {
      unsigned long long lo = 0, hi = 0;
      char perms[5] = {};
      if (std::sscanf(line.c_str(), "%llx-%llx %4s", &lo, &hi, perms) == 3 && perms[2] == 'x' &&
          line.find("btvmm_direct_stub") != std::string::npos) {
        std::ifstream mem("/proc/" + std::to_string(m.exec.stub().pid()) + "/mem", std::ios::binary);
        std::vector<char> text(hi - lo);
        mem.seekg(std::streamoff(lo));
        mem.read(text.data(), std::streamsize(text.size()));
        for (size_t i = 0; i + 1 < text.size() && !syscall_insn; i++)
          if (uint8_t(text[i]) == 0x0f && uint8_t(text[i + 1]) == 0x05) syscall_insn = lo + i;
      }
    }
    REQUIRE(syscall_insn != 0);
    std::vector<uint8_t> body = {0x48, 0xc7, 0xc0, 62, 0, 0, 0, 0x48, 0xc7, 0xc7};
    put32(body, me);
    body.insert(body.end(), {0x48, 0xc7, 0xc6, 9, 0, 0, 0, 0x49, 0xbb});
    put64(body, syscall_insn);
    body.insert(body.end(), {0x41, 0xff, 0xe3});  // jmp r11
    run_escape(m, body);
    expect_gp_escape(m.run());
  }
  // Still alive, and the stub still serves.
  m.load({0xb8, 9, 0, 0, 0, 0xcd, 0x80});
  REQUIRE(m.run().kind == UserExit::kSoftwareInterrupt);
  CHECK(m.vcpu.gpr[runtime::kEax] == 9);
}

TEST_CASE("isolation_stub_address_space_holds_guest_pages_and_its_own_image_only") {
  DirectMachine m;
  m.load({0xcd, 0x80});
  REQUIRE(m.run().kind == UserExit::kSoftwareInterrupt);
  const auto maps = stub_maps(m.exec.stub().pid());
  REQUIRE_FALSE(maps.empty());
  bool after_stub_image = false;
  for (const auto& line : maps) {
    INFO(line);
    unsigned long long lo = 0;
    std::sscanf(line.c_str(), "%llx", &lo);
    CHECK(line.find("[heap]") == std::string::npos);
    if (lo < (1ull << 32)) {
      CHECK(line.find("btvmm-machine-memory") != std::string::npos);
    } else {
      const bool known = line.find("btvmm_direct_stub") != std::string::npos ||
                         line.find("btvmm-stub-control") != std::string::npos || line.find("[stack]") != std::string::npos ||
                         line.find("[vdso]") != std::string::npos || line.find("[vvar") != std::string::npos ||
                         line.find("[vsyscall]") != std::string::npos || lo == BTVMM_STUB_ALTSTACK_ADDR;
      // The stub's .bss: an anonymous page right after its image.
      const bool bss = after_stub_image && line.find(" 00:00 0") != std::string::npos;
      CHECK((known || bss));
    }
    after_stub_image = line.find("btvmm_direct_stub") != std::string::npos;
  }
  CHECK(maps.size() < 20);
}

TEST_CASE("isolation_a_dead_stub_is_a_reported_monitor_error_not_a_hang") {
  DirectMachine m;
  m.load({0xeb, 0xfe});  // jmp $
  ::kill(m.exec.stub().pid(), SIGKILL);
  CHECK_THROWS_WITH(m.run(), Catch::Contains("killed by signal 9"));
}
