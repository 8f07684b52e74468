/* exec target for the process tests: prints its arguments and exits with status 42, so the
 * caller can tell that exec replaced the image and passed argv. */
#include "ulib.h"

int main(int argc, char **argv) {
  printf("hello: argc=%d", argc);
  for (int i = 0; i < argc; i++) printf(" argv[%d]=%s", i, argv[i]);
  printf("\n");
  return 42;
}
