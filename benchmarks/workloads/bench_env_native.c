/* The native column's environment: a host 32-bit Linux process. bench_print is one
 * write(2) per call, memcpy and friends come from glibc. Must never add anything a
 * workload could depend on beyond bench_env.h. */
#include "bench_env.h"

#include <string.h>
#include <unistd.h>

void bench_print(const char *s) {
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(1, s, len);
        if (n <= 0) {
            return;
        }
        s += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    return bench_main(argc, argv);
}
