/* The contract between the test guest's kernel and its user programs: system-call numbers,
 * selectors and the user address-space layout. Shared by both sides; must never contain
 * code or anything that depends on which side includes it. */
#ifndef GUEST_ABI_H
#define GUEST_ABI_H

/* int 0x80: number in eax, arguments in ebx, ecx, edx, result in eax (Linux i386 habit). */
#define SYS_EXIT 0
#define SYS_WRITE 1
#define SYS_FORK 2
#define SYS_EXEC 3
#define SYS_WAIT 4
#define SYS_GETPID 5
#define SYS_YIELD 6
#define SYS_BRK 7
#define SYS_TIME 8
#define SYS_CATCH 9 /* register a user fault handler (guest-specific, for fidelity tests) */
#define SYS_KILL 10
#define SYS_IOPL 11 /* set EFLAGS.IOPL of the caller (0-3), like Linux iopl(2) */
#define SYS_COUNT 12

/* GDT selectors (kernel/gdt.c builds the table in this order). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define SEL_UTLS 0x33   /* ring-3 data segment with a non-zero base, used through %gs */
#define SEL_KPERCPU 0x38 /* ring-0 data segment with a non-zero base (like Linux's %fs) */
#define SEL_NOTPRESENT 0x40 /* a data descriptor with P=0, for lar/verr/#NP tests */
#define GDT_ENTRIES 9

/* User address space (below the 3G/1G split). */
#define USER_TEXT_BASE 0x08048000u
#define USER_TLS_BASE 0x7fff0000u /* base of SEL_UTLS; one demand-zero page */
#define USER_TLS_SIZE 0x1000u
#define USER_HEAP_MAX 0x40000000u
#define USER_STACK_LOW 0xbf000000u
#define USER_STACK_TOP 0xc0000000u

/* Exit statuses the kernel makes up for processes it ends. */
#define STATUS_FAULTED 0x100 /* | vector */
#define STATUS_KILLED 0x200

#endif
