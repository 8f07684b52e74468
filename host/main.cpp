// btvmm entry point: parses the command line, runs the subcommand, and maps every failure to a
// one-line message and a documented exit status (core/exit_codes.h, README "Exit status").
#include <cstdio>
#include <cstring>
#include <memory>
#include <exception>
#include <variant>

#include "core/error.h"
#include "host/mkimage_command.h"
#include "host/options.h"
#include "host/run_command.h"
#include "host/terminal.h"
#include "mmu/window.h"

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

int main(int argc, char** argv) {
  using namespace btvmm;
  try {
    // The guest windows must be reserved before anything else can map there (DESIGN.md 2); only
    // `run` needs them.
    std::unique_ptr<mmu::GuestWindows> window;
    if (argc > 1 && std::strcmp(argv[1], "run") == 0) window = std::make_unique<mmu::GuestWindows>();
    host::Command cmd = host::parse_command_line(argc, argv);
    return std::visit(Overloaded{[&](const host::RunOptions& o) { return host::run_command(o, window.get()); },
                                 [](const host::MkimageOptions& o) { return host::mkimage_command(o); },
                                 [](const host::InfoRequest& r) {
                                   std::fputs(r.text.c_str(), stdout);
                                   return 0;
                                 }},
                      cmd);
  } catch (const Error& e) {
    host::restore_terminal();
    std::fprintf(stderr, "btvmm: %s\n", e.what());
    return to_int(e.code());
  } catch (const std::exception& e) {
    host::restore_terminal();
    std::fprintf(stderr, "btvmm: internal error: %s\n", e.what());
    return to_int(ExitCode::kInternal);
  }
}
