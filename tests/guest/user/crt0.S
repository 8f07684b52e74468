/* User program start-up: load the TLS selector into %gs (like Linux's i386 %gs TLS), call
 * main(argc, argv) as laid out by the kernel's exec, and exit with its result. */
#include "../common/abi.h"
        .section .text.start, "ax"
        .globl _start
_start:
        movw $SEL_UTLS, %ax
        movw %ax, %gs
        movl (%esp), %eax  /* argc */
        movl 4(%esp), %edx /* argv */
        andl $-16, %esp
        subl $8, %esp
        pushl %edx
        pushl %eax
        call main
        movl %eax, %ebx
        movl $SYS_EXIT, %eax
        int $0x80
        ud2

/* Fault handler entry registered with SYS_CATCH: the kernel passes vector, error code, EIP and
 * CR2 in eax, ecx, edx, ebx (kernel/trap.c). Record them and continue at catch_resume. */
        .text
        .globl catch_entry
catch_entry:
        movl %eax, caught_vector
        movl %ecx, caught_err
        movl %edx, caught_eip
        movl %ebx, caught_cr2
        movl $1, caught_taken
        jmp *catch_resume
