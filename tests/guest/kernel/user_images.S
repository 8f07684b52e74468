/* The user programs, linked into the kernel as ELF images with .incbin (the build passes their
 * directory with -Wa,-I). Table of (name, start, end), ended by a zero entry. Read-only data. */
        .section .rodata.images_table, "a"
        .balign 4
        .globl user_images
user_images:

.macro IMAGE name
        .section .rodata.images, "a"
        .balign 16
img_\name:
        .incbin "\name\().elf"
img_\name\()_end:
        .section .rodata.images_names, "a"
str_\name:
        .asciz "\name"
        .section .rodata.images_table, "a"
        .long str_\name, img_\name, img_\name\()_end
.endm

IMAGE hello
IMAGE proctest
IMAGE fidelity
IMAGE nanobench
IMAGE forkwait
/* The benchmark workloads found at configure time (tests/guest/CMakeLists.txt writes the list). */
#include "bench_images.inc"

        .section .rodata.images_table, "a"
        .long 0, 0, 0
