/* The test guest's environment for the workloads: a ring-3 program of tests/guest that
 * prints with the guest's int 0x80 write (tests/guest/user/ulib.h) and gets memcpy/memset
 * from its user library. Must never use anything of the guest beyond write and exit. */
#include "bench_env.h"

#include "ulib.h"

void bench_print(const char *s) {
    write(1, s, strlen(s));
}

/* crt0.S calls main(argc, argv) with the exec'd program's arguments and exits with its
 * result, so a guest run passes "--quick" as the program argument for the smoke size. */
int main(int argc, char **argv) {
    return bench_main(argc, argv);
}
