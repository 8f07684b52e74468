// btvmm entry point: parses the command line and hands over to the chosen subcommand.
#include <cstdio>

int main() {
  std::puts("btvmm: under construction");
  return 0;
}
