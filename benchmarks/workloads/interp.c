/* Interpreter workload: a small stack-machine bytecode VM (switch dispatch, call frames,
 * a data memory) running a sieve of Eratosthenes and a doubly recursive Fibonacci.
 * The VM must never trust the program: stack, frame and memory indices are checked. */
#include "bench_env.h"

enum op {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_MLOAD, OP_MSTORE, OP_ADD, OP_SUB, OP_MUL,
    OP_LT, OP_LE, OP_JZ, OP_JMP, OP_CALL, OP_RET, OP_INC
};

#define CODE_MAX 512
#define STACK_MAX 1024
#define FRAME_MAX 4096
#define LOCALS 4
#define MEM_WORDS (2000000 + 16)

typedef struct {
    int32_t op[CODE_MAX];
    int32_t arg[CODE_MAX];
    int32_t arg2[CODE_MAX];
    int len;
    int label_at[32];
    int fixup_pc[64];
    int fixup_label[64];
    int fixups;
} program;

static program prog;
static int32_t mem[MEM_WORDS];
static int32_t stack[STACK_MAX];
static int32_t locals[FRAME_MAX * LOCALS];
static int32_t ret_pc[FRAME_MAX];

static void emit(program *p, int op, int32_t arg) {
    p->op[p->len] = op;
    p->arg[p->len] = arg;
    p->arg2[p->len] = 0;
    ++p->len;
}

/* Branches and calls name a label; the target is patched once every label is placed. */
static void emit_to(program *p, int op, int label, int32_t nargs) {
    p->fixup_pc[p->fixups] = p->len;
    p->fixup_label[p->fixups] = label;
    ++p->fixups;
    emit(p, op, 0);
    p->arg2[p->len - 1] = nargs;
}

static void place(program *p, int label) {
    p->label_at[label] = p->len;
}

enum label {
    L_MAIN, L_SIEVE, L_FIB, L_FIB_REC, L_CLR, L_CLR_END, L_OUTER, L_OUTER_END, L_SKIP,
    L_INNER, L_INNER_END, L_COUNT, L_COUNT_END, L_NOT_PRIME
};

/* sieve(n): clears mem[2..n], crosses out composites, returns the number of primes <= n.
 * locals: 0 = n, 1 = i, 2 = j, 3 = count. */
static void build_sieve(program *p) {
    place(p, L_SIEVE);
    emit(p, OP_PUSH, 2); emit(p, OP_STORE, 1);
    place(p, L_CLR);
    emit(p, OP_LOAD, 1); emit(p, OP_LOAD, 0); emit(p, OP_LE, 0); emit_to(p, OP_JZ, L_CLR_END, 0);
    emit(p, OP_LOAD, 1); emit(p, OP_PUSH, 1); emit(p, OP_MSTORE, 0);
    emit(p, OP_INC, 1); emit_to(p, OP_JMP, L_CLR, 0);
    place(p, L_CLR_END);
    emit(p, OP_PUSH, 2); emit(p, OP_STORE, 1);
    place(p, L_OUTER);
    emit(p, OP_LOAD, 1); emit(p, OP_LOAD, 1); emit(p, OP_MUL, 0); emit(p, OP_LOAD, 0);
    emit(p, OP_LE, 0); emit_to(p, OP_JZ, L_OUTER_END, 0);
    emit(p, OP_LOAD, 1); emit(p, OP_MLOAD, 0); emit_to(p, OP_JZ, L_SKIP, 0);
    emit(p, OP_LOAD, 1); emit(p, OP_LOAD, 1); emit(p, OP_MUL, 0); emit(p, OP_STORE, 2);
    place(p, L_INNER);
    emit(p, OP_LOAD, 2); emit(p, OP_LOAD, 0); emit(p, OP_LE, 0); emit_to(p, OP_JZ, L_INNER_END, 0);
    emit(p, OP_LOAD, 2); emit(p, OP_PUSH, 0); emit(p, OP_MSTORE, 0);
    emit(p, OP_LOAD, 2); emit(p, OP_LOAD, 1); emit(p, OP_ADD, 0); emit(p, OP_STORE, 2);
    emit_to(p, OP_JMP, L_INNER, 0);
    place(p, L_INNER_END);
    place(p, L_SKIP);
    emit(p, OP_INC, 1); emit_to(p, OP_JMP, L_OUTER, 0);
    place(p, L_OUTER_END);
    emit(p, OP_PUSH, 0); emit(p, OP_STORE, 3);
    emit(p, OP_PUSH, 2); emit(p, OP_STORE, 1);
    place(p, L_COUNT);
    emit(p, OP_LOAD, 1); emit(p, OP_LOAD, 0); emit(p, OP_LE, 0); emit_to(p, OP_JZ, L_COUNT_END, 0);
    emit(p, OP_LOAD, 1); emit(p, OP_MLOAD, 0); emit_to(p, OP_JZ, L_NOT_PRIME, 0);
    emit(p, OP_INC, 3);
    place(p, L_NOT_PRIME);
    emit(p, OP_INC, 1); emit_to(p, OP_JMP, L_COUNT, 0);
    place(p, L_COUNT_END);
    emit(p, OP_LOAD, 3); emit(p, OP_RET, 0);
}

/* fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2); local 0 = n. */
static void build_fib(program *p) {
    place(p, L_FIB);
    emit(p, OP_LOAD, 0); emit(p, OP_PUSH, 2); emit(p, OP_LT, 0); emit_to(p, OP_JZ, L_FIB_REC, 0);
    emit(p, OP_LOAD, 0); emit(p, OP_RET, 0);
    place(p, L_FIB_REC);
    emit(p, OP_LOAD, 0); emit(p, OP_PUSH, 1); emit(p, OP_SUB, 0); emit_to(p, OP_CALL, L_FIB, 1);
    emit(p, OP_LOAD, 0); emit(p, OP_PUSH, 2); emit(p, OP_SUB, 0); emit_to(p, OP_CALL, L_FIB, 1);
    emit(p, OP_ADD, 0); emit(p, OP_RET, 0);
}

/* main: mem[0] = sieve(sieve_n); mem[1] = fib(fib_n). */
static void build_program(program *p, int32_t sieve_n, int32_t fib_n) {
    p->len = 0;
    p->fixups = 0;
    place(p, L_MAIN);
    emit(p, OP_PUSH, 0); emit(p, OP_PUSH, sieve_n); emit_to(p, OP_CALL, L_SIEVE, 1);
    emit(p, OP_MSTORE, 0);
    emit(p, OP_PUSH, 1); emit(p, OP_PUSH, fib_n); emit_to(p, OP_CALL, L_FIB, 1);
    emit(p, OP_MSTORE, 0);
    emit(p, OP_HALT, 0);
    build_sieve(p);
    build_fib(p);
    for (int i = 0; i < p->fixups; ++i) {
        p->arg[p->fixup_pc[i]] = p->label_at[p->fixup_label[i]];
    }
}

/* Returns 0 when the program halts, 1 on any fault (bad index, stack overflow). Values
 * are computed in uint32_t so that overflow wraps instead of being undefined. */
static int run(const program *p) {
    int pc = 0;
    int sp = 0;
    int frame = 0;
    int32_t *loc = locals;
    for (;;) {
        int32_t op = p->op[pc];
        int32_t arg = p->arg[pc];
        ++pc;
        switch (op) {
        case OP_HALT:
            return 0;
        case OP_PUSH:
            if (sp >= STACK_MAX) return 1;
            stack[sp++] = arg;
            break;
        case OP_LOAD:
            if (sp >= STACK_MAX) return 1;
            stack[sp++] = loc[arg];
            break;
        case OP_STORE:
            if (sp < 1) return 1;
            loc[arg] = stack[--sp];
            break;
        case OP_INC:
            loc[arg] = (int32_t)((uint32_t)loc[arg] + 1u);
            break;
        case OP_MLOAD: {
            if (sp < 1) return 1;
            uint32_t addr = (uint32_t)stack[sp - 1];
            if (addr >= MEM_WORDS) return 1;
            stack[sp - 1] = mem[addr];
            break;
        }
        case OP_MSTORE: {
            if (sp < 2) return 1;
            uint32_t addr = (uint32_t)stack[sp - 2];
            if (addr >= MEM_WORDS) return 1;
            mem[addr] = stack[sp - 1];
            sp -= 2;
            break;
        }
        case OP_ADD:
            if (sp < 2) return 1;
            stack[sp - 2] = (int32_t)((uint32_t)stack[sp - 2] + (uint32_t)stack[sp - 1]);
            --sp;
            break;
        case OP_SUB:
            if (sp < 2) return 1;
            stack[sp - 2] = (int32_t)((uint32_t)stack[sp - 2] - (uint32_t)stack[sp - 1]);
            --sp;
            break;
        case OP_MUL:
            if (sp < 2) return 1;
            stack[sp - 2] = (int32_t)((uint32_t)stack[sp - 2] * (uint32_t)stack[sp - 1]);
            --sp;
            break;
        case OP_LT:
            if (sp < 2) return 1;
            stack[sp - 2] = stack[sp - 2] < stack[sp - 1];
            --sp;
            break;
        case OP_LE:
            if (sp < 2) return 1;
            stack[sp - 2] = stack[sp - 2] <= stack[sp - 1];
            --sp;
            break;
        case OP_JZ:
            if (sp < 1) return 1;
            if (stack[--sp] == 0) pc = arg;
            break;
        case OP_JMP:
            pc = arg;
            break;
        case OP_CALL: {
            int32_t nargs = p->arg2[pc - 1];
            if (frame + 1 >= FRAME_MAX || sp < nargs) return 1;
            ret_pc[frame] = pc;
            ++frame;
            loc = locals + frame * LOCALS;
            for (int i = nargs - 1; i >= 0; --i) {
                loc[i] = stack[--sp];
            }
            pc = arg;
            break;
        }
        case OP_RET:
            if (frame == 0) return 1;
            --frame;
            loc = locals + frame * LOCALS;
            pc = ret_pc[frame];
            break;
        default:
            return 1;
        }
        if (pc < 0 || pc >= p->len) return 1;
    }
}

/* pi(n) values are OEIS A000720 and Fibonacci numbers OEIS A000045, so the results are
 * checked against published values. */
int bench_main(int argc, char **argv) {
    int quick = bench_is_quick(argc, argv);
    static const int32_t sieve_n[] = {500000, 1000000, 2000000};
    static const uint32_t primes[] = {41538, 78498, 148933};
    static const int32_t fib_n[] = {25, 27, 32};
    static const uint32_t fibs[] = {75025, 196418, 2178309};
    const int first = quick ? 0 : 1;
    const int last = quick ? 0 : 2;
    const int rounds = quick ? 1 : 10;
    uint32_t checksum = 0;
    uint32_t expected = 0;
    for (int round = 0; round < rounds; ++round) {
        for (int k = first; k <= last; ++k) {
            build_program(&prog, sieve_n[k], fib_n[k]);
            if (run(&prog) != 0) {
                bench_println("interp: VM fault", NULL);
                return 1;
            }
            checksum = bench_mix(bench_mix(checksum, (uint32_t)mem[0]), (uint32_t)mem[1]);
            expected = bench_mix(bench_mix(expected, primes[k]), fibs[k]);
            if (round == 0) {
                char a[21];
                char b[21];
                bench_println("interp: primes ", bench_format_u64(a, (uint32_t)mem[0]), " fib ",
                              bench_format_u64(b, (uint32_t)mem[1]), NULL);
            }
        }
    }
    return bench_report("interp", checksum, expected);
}
