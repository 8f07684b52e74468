/* Entry and exit of a conformance case in the 32-bit runner: saves the host registers, loads the
 * case's registers, flags and FS/GS selectors, jumps to the code; the epilogue stores the final state
 * using mov only until ESP is the runner's own again, so the case's stack memory is never touched.
 * GS is glibc's thread pointer: it is restored before any C code runs again. */
        .text
        .globl conf_run
conf_run:
        pushal
        pushfl
        movl %esp, host_esp
        movw %gs, host_gs
        movw conf_fs_selector, %fs
        movw conf_gs_selector, %gs
        pushl conf_in+32
        popfl
        movl conf_in+0, %eax
        movl conf_in+4, %ecx
        movl conf_in+8, %edx
        movl conf_in+12, %ebx
        movl conf_in+20, %ebp
        movl conf_in+24, %esi
        movl conf_in+28, %edi
        movl conf_in+16, %esp
        jmp *conf_code_ptr

        .globl conf_epilogue
conf_epilogue:
        movl %esp, conf_out+16
        movl host_esp, %esp
        movw host_gs, %gs
        pushfl
        popl conf_out+32
        movl %eax, conf_out+0
        movl %ecx, conf_out+4
        movl %edx, conf_out+8
        movl %ebx, conf_out+12
        movl %ebp, conf_out+20
        movl %esi, conf_out+24
        movl %edi, conf_out+28
        popfl
        popal
        ret

        .bss
        .align 4
host_esp:
        .long 0
host_gs:
        .long 0
        .section .note.GNU-stack,"",@progbits
