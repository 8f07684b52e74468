/* Multiboot v1 entry: turns paging on with two 4 MiB PSE pages (identity + KERNBASE) and jumps
 * to the higher half. Runs at physical addresses; must not touch anything linked above KERNBASE
 * before paging is on. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x3 /* bit 0: page-align modules, bit 1: memory info (Multiboot 0.6.96, 3.1.2) */
#define KERNBASE 0xC0000000

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .section .boot.text, "ax"
        .code32
        .globl _start
_start:
        cli
        movl %eax, %esi /* bootloader magic */
        movl %ebx, %edi /* physical address of the multiboot info */
        /* The bootstrap needs 4 MiB pages: CPUID must exist (EFLAGS.ID can be toggled: SDM vol. 2A, CPUID)
         * and report PSE (CPUID.1:EDX bit 3). Otherwise say so on COM1 and leave via debug-exit. */
        pushfl
        popl %eax
        movl %eax, %ecx
        xorl $0x200000, %eax
        pushl %eax
        popfl
        pushfl
        popl %eax
        cmpl %eax, %ecx
        je no_pse
        movl $1, %eax
        cpuid
        testl $0x8, %edx
        jz no_pse
        movl $boot_pd, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x10, %eax /* CR4.PSE: 4 MiB pages (SDM vol. 3A 4.3) */
        movl %eax, %cr4
        movl %cr0, %eax
        orl $0x80010000, %eax /* CR0.PG | CR0.WP */
        movl %eax, %cr0
        movl $higher_half, %eax
        jmp *%eax

no_pse:
        movl $no_pse_msg, %esi
        movw $0x3f8, %dx
1:      lodsb
        testb %al, %al
        jz 2f
        outb %al, %dx
        jmp 1b
2:      movb $2, %al
        outb %al, $0xf4
3:      cli
        hlt
        jmp 3b
no_pse_msg:
        .asciz "guest: FAIL (the CPU has no CPUID or no PSE: 4 MiB pages are required)\r\n"

        .section .boot.data, "aw"
        .align 4096
boot_pd:
        .long 0x00000083 /* 0 - 4 MiB identity, P|W|PS, only until kmain loads kernel_pd */
        .fill 767, 4, 0
        .long 0x00000083 /* KERNBASE -> physical 0 */
        .fill 255, 4, 0

        .text
higher_half:
        movl $boot_stack_top, %esp
        xorl %ebp, %ebp
        pushl %edi
        pushl %esi
        call kmain
1:      cli
        hlt
        jmp 1b

        .bss
        .align 16
        .globl boot_stack, boot_stack_top
boot_stack:
        .skip 8192
boot_stack_top:
