/* Compiler-like workload: generates source text of a small statement language, tokenizes
 * it, parses it by recursive descent into an AST, evaluates the tree, constant-folds it
 * and evaluates again. The folder must never change a program's meaning: both
 * evaluations have to agree. */
#include "bench_env.h"

#define TEXT_MAX (1u << 20)
#define TOKENS_MAX (512u * 1024u)
#define NODES_MAX (512u * 1024u)
#define VARS_MAX 64
#define NAME_MAX 12

enum tok {
    T_EOF, T_NUM, T_IDENT, T_IF, T_ELSE, T_REPEAT, T_PRINT, T_LPAREN, T_RPAREN, T_LBRACE,
    T_RBRACE, T_SEMI, T_ASSIGN, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_LT, T_GT,
    T_EQ, T_NE, T_AND, T_XOR, T_ERROR
};

enum node_kind { N_NUM, N_VAR, N_BIN, N_NEG, N_ASSIGN, N_IF, N_REPEAT, N_PRINT };

typedef struct {
    uint8_t kind;
    uint32_t value; /* number, variable slot */
} token;

typedef struct {
    uint8_t kind;
    uint8_t op;      /* token kind of a binary operator */
    int32_t a;       /* operand / condition / assigned expression */
    int32_t b;       /* right operand / then-block / repeat body */
    int32_t c;       /* else-block */
    int32_t next;    /* next statement in a block */
    uint32_t value;  /* constant, variable slot, repeat count */
} node;

static char text[TEXT_MAX];
static uint32_t text_len;
static token tokens[TOKENS_MAX];
static uint32_t token_count;
static node nodes[NODES_MAX];
static uint32_t node_count;
static char var_names[VARS_MAX][NAME_MAX];
static uint32_t var_count;
static uint32_t vars[VARS_MAX];
static uint32_t printed;

/* ---------------- source generator ---------------- */

static const char *const kNames[] = {"alpha", "beta", "gamma", "delta", "eps", "zeta",
                                     "eta", "theta", "iota", "kappa", "x1", "x2", "y1",
                                     "y2", "acc", "tmp"};
static const char *const kOps[] = {" + ", " - ", " * ", " / ", " % ", " < ", " > ",
                                   " == ", " != ", " & ", " ^ "};

static void put(const char *s) {
    while (*s != '\0' && text_len + 1 < TEXT_MAX) {
        text[text_len++] = *s++;
    }
    text[text_len] = '\0';
}

static void put_number(uint32_t v) {
    char buf[21];
    put(bench_format_u64(buf, v));
}

static void gen_expr(bench_rng *rng, int depth) {
    uint32_t r = bench_rng_below(rng, 8);
    if (depth == 0 || r < 2) {
        if (bench_rng_below(rng, 2) == 0) {
            put_number(bench_rng_below(rng, 1000));
        } else {
            put(kNames[bench_rng_below(rng, 16)]);
        }
    } else if (r == 2) {
        put("-");
        gen_expr(rng, depth - 1);
    } else {
        put("(");
        gen_expr(rng, depth - 1);
        put(kOps[bench_rng_below(rng, 11)]);
        gen_expr(rng, depth - 1);
        put(")");
    }
}

static void gen_block(bench_rng *rng, int depth);

static void gen_stmt(bench_rng *rng, int depth) {
    uint32_t r = bench_rng_below(rng, 12);
    if (r == 0) {
        put("# a comment line the tokenizer skips\n");
    }
    if (depth < 3 && r == 9) {
        put("if (");
        gen_expr(rng, 3);
        put(") ");
        gen_block(rng, depth + 1);
        if (bench_rng_below(rng, 2) == 0) {
            put(" else ");
            gen_block(rng, depth + 1);
        }
        put("\n");
    } else if (depth < 3 && r == 10) {
        put("repeat (");
        put_number(2 + bench_rng_below(rng, 3));
        put(") ");
        gen_block(rng, depth + 1);
        put("\n");
    } else if (r == 11) {
        put("print ");
        gen_expr(rng, 4);
        put(";\n");
    } else {
        put(kNames[bench_rng_below(rng, 16)]);
        put(" = ");
        gen_expr(rng, 5);
        put(";\n");
    }
}

static void gen_block(bench_rng *rng, int depth) {
    put("{\n");
    uint32_t n = 1 + bench_rng_below(rng, 4);
    for (uint32_t i = 0; i < n; ++i) {
        gen_stmt(rng, depth);
    }
    put("}");
}

/* ---------------- tokenizer ---------------- */

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int name_equal(const char *a, const char *b, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return a[len] == '\0';
}

static uint8_t keyword_or_variable(const char *s, uint32_t len, uint32_t *slot) {
    if (name_equal("if", s, len)) return T_IF;
    if (name_equal("else", s, len)) return T_ELSE;
    if (name_equal("repeat", s, len)) return T_REPEAT;
    if (name_equal("print", s, len)) return T_PRINT;
    if (len >= NAME_MAX) return T_ERROR;
    for (uint32_t v = 0; v < var_count; ++v) {
        if (name_equal(var_names[v], s, len)) {
            *slot = v;
            return T_IDENT;
        }
    }
    if (var_count == VARS_MAX) return T_ERROR;
    for (uint32_t i = 0; i < len; ++i) {
        var_names[var_count][i] = s[i];
    }
    var_names[var_count][len] = '\0';
    *slot = var_count++;
    return T_IDENT;
}

static int tokenize(void) {
    uint32_t i = 0;
    token_count = 0;
    while (token_count + 1 < TOKENS_MAX) {
        char c = text[i];
        if (c == ' ' || c == '\n' || c == '\t') {
            ++i;
            continue;
        }
        if (c == '#') {
            while (text[i] != '\n' && text[i] != '\0') ++i;
            continue;
        }
        token *t = &tokens[token_count++];
        t->value = 0;
        if (c == '\0') {
            t->kind = T_EOF;
            return 1;
        }
        if (is_digit(c)) {
            uint32_t v = 0;
            while (is_digit(text[i])) v = v * 10u + (uint32_t)(text[i++] - '0');
            t->kind = T_NUM;
            t->value = v;
            continue;
        }
        if (is_alpha(c)) {
            uint32_t start = i;
            while (is_alpha(text[i]) || is_digit(text[i])) ++i;
            t->kind = keyword_or_variable(&text[start], i - start, &t->value);
            if (t->kind == T_ERROR) return 0;
            continue;
        }
        char d = text[i + 1];
        ++i;
        switch (c) {
        case '(': t->kind = T_LPAREN; break;
        case ')': t->kind = T_RPAREN; break;
        case '{': t->kind = T_LBRACE; break;
        case '}': t->kind = T_RBRACE; break;
        case ';': t->kind = T_SEMI; break;
        case '+': t->kind = T_PLUS; break;
        case '-': t->kind = T_MINUS; break;
        case '*': t->kind = T_STAR; break;
        case '/': t->kind = T_SLASH; break;
        case '%': t->kind = T_PERCENT; break;
        case '<': t->kind = T_LT; break;
        case '>': t->kind = T_GT; break;
        case '&': t->kind = T_AND; break;
        case '^': t->kind = T_XOR; break;
        case '=':
            if (d == '=') { t->kind = T_EQ; ++i; } else { t->kind = T_ASSIGN; }
            break;
        case '!':
            if (d != '=') return 0;
            t->kind = T_NE;
            ++i;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* ---------------- recursive-descent parser ---------------- */
/* Grammar: stmt := name '=' expr ';' | 'print' expr ';' | 'if' '(' expr ')' block
 * ['else' block] | 'repeat' '(' num ')' block;  block := '{' stmt* '}';
 * expr := bitwise; bitwise := compare (('&'|'^') compare)*; compare := sum
 * (('<'|'>'|'=='|'!=') sum)?; sum := term (('+'|'-') term)*; term := unary
 * (('*'|'/'|'%') unary)*; unary := '-' unary | num | name | '(' expr ')'. */

static uint32_t pos;
static int parse_failed;

static int32_t new_node(uint8_t kind) {
    if (node_count >= NODES_MAX) {
        parse_failed = 1;
        return 0;
    }
    node *n = &nodes[node_count];
    n->kind = kind;
    n->op = 0;
    n->a = n->b = n->c = n->next = -1;
    n->value = 0;
    return (int32_t)node_count++;
}

static int expect(uint8_t kind) {
    if (tokens[pos].kind != kind) {
        parse_failed = 1;
        return 0;
    }
    ++pos;
    return 1;
}

static int32_t parse_expr(void);

static int32_t parse_unary(void) {
    token t = tokens[pos];
    if (t.kind == T_MINUS) {
        ++pos;
        int32_t n = new_node(N_NEG);
        int32_t operand = parse_unary();
        nodes[n].a = operand;
        return n;
    }
    if (t.kind == T_NUM || t.kind == T_IDENT) {
        ++pos;
        int32_t n = new_node(t.kind == T_NUM ? N_NUM : N_VAR);
        nodes[n].value = t.value;
        return n;
    }
    if (expect(T_LPAREN)) {
        int32_t e = parse_expr();
        expect(T_RPAREN);
        return e;
    }
    return new_node(N_NUM);
}

static int32_t binary(uint8_t op, int32_t left, int32_t right) {
    int32_t n = new_node(N_BIN);
    nodes[n].op = op;
    nodes[n].a = left;
    nodes[n].b = right;
    return n;
}

static int32_t parse_term(void) {
    int32_t left = parse_unary();
    while (!parse_failed && (tokens[pos].kind == T_STAR || tokens[pos].kind == T_SLASH ||
                             tokens[pos].kind == T_PERCENT)) {
        uint8_t op = tokens[pos++].kind;
        int32_t right = parse_unary();
        left = binary(op, left, right);
    }
    return left;
}

static int32_t parse_sum(void) {
    int32_t left = parse_term();
    while (!parse_failed && (tokens[pos].kind == T_PLUS || tokens[pos].kind == T_MINUS)) {
        uint8_t op = tokens[pos++].kind;
        int32_t right = parse_term();
        left = binary(op, left, right);
    }
    return left;
}

static int32_t parse_compare(void) {
    int32_t left = parse_sum();
    uint8_t k = tokens[pos].kind;
    if (k == T_LT || k == T_GT || k == T_EQ || k == T_NE) {
        ++pos;
        int32_t right = parse_sum();
        left = binary(k, left, right);
    }
    return left;
}

static int32_t parse_expr(void) {
    int32_t left = parse_compare();
    while (!parse_failed && (tokens[pos].kind == T_AND || tokens[pos].kind == T_XOR)) {
        uint8_t op = tokens[pos++].kind;
        int32_t right = parse_compare();
        left = binary(op, left, right);
    }
    return left;
}

static int32_t parse_block(void);

static int32_t parse_stmt(void) {
    token t = tokens[pos];
    if (t.kind == T_IDENT) {
        ++pos;
        int32_t n = new_node(N_ASSIGN);
        nodes[n].value = t.value;
        expect(T_ASSIGN);
        int32_t e = parse_expr();
        nodes[n].a = e;
        expect(T_SEMI);
        return n;
    }
    if (t.kind == T_PRINT) {
        ++pos;
        int32_t n = new_node(N_PRINT);
        int32_t e = parse_expr();
        nodes[n].a = e;
        expect(T_SEMI);
        return n;
    }
    if (t.kind == T_IF) {
        ++pos;
        int32_t n = new_node(N_IF);
        expect(T_LPAREN);
        int32_t cond = parse_expr();
        nodes[n].a = cond;
        expect(T_RPAREN);
        int32_t then_block = parse_block();
        nodes[n].b = then_block;
        if (tokens[pos].kind == T_ELSE) {
            ++pos;
            int32_t else_block = parse_block();
            nodes[n].c = else_block;
        }
        return n;
    }
    if (t.kind == T_REPEAT) {
        ++pos;
        int32_t n = new_node(N_REPEAT);
        expect(T_LPAREN);
        nodes[n].value = tokens[pos].value;
        expect(T_NUM);
        expect(T_RPAREN);
        int32_t body = parse_block();
        nodes[n].b = body;
        return n;
    }
    parse_failed = 1;
    return -1;
}

/* Returns the first statement of a linked list (-1 for an empty block). */
static int32_t parse_statements(uint8_t end) {
    int32_t head = -1;
    int32_t tail = -1;
    while (!parse_failed && tokens[pos].kind != end) {
        int32_t s = parse_stmt();
        if (parse_failed) break;
        if (tail < 0) head = s; else nodes[tail].next = s;
        tail = s;
    }
    return head;
}

static int32_t parse_block(void) {
    expect(T_LBRACE);
    int32_t body = parse_statements(T_RBRACE);
    expect(T_RBRACE);
    return body;
}

/* ---------------- evaluation and folding ---------------- */
/* Arithmetic wraps modulo 2^32; x / 0 and x % 0 are 0; comparisons are signed. */
static uint32_t apply(uint8_t op, uint32_t x, uint32_t y) {
    switch (op) {
    case T_PLUS: return x + y;
    case T_MINUS: return x - y;
    case T_STAR: return x * y;
    case T_SLASH: return y == 0 ? 0 : x / y;
    case T_PERCENT: return y == 0 ? 0 : x % y;
    case T_LT: return (int32_t)x < (int32_t)y;
    case T_GT: return (int32_t)x > (int32_t)y;
    case T_EQ: return x == y;
    case T_NE: return x != y;
    case T_AND: return x & y;
    default: return x ^ y;
    }
}

static uint32_t eval_expr(int32_t e) {
    const node *n = &nodes[e];
    switch (n->kind) {
    case N_NUM: return n->value;
    case N_VAR: return vars[n->value];
    case N_NEG: return 0u - eval_expr(n->a);
    default: return apply(n->op, eval_expr(n->a), eval_expr(n->b));
    }
}

static void exec_block(int32_t s) {
    for (; s >= 0; s = nodes[s].next) {
        const node *n = &nodes[s];
        switch (n->kind) {
        case N_ASSIGN:
            vars[n->value] = eval_expr(n->a);
            break;
        case N_PRINT:
            printed = bench_mix(printed, eval_expr(n->a));
            break;
        case N_IF:
            if (eval_expr(n->a) != 0) exec_block(n->b); else exec_block(n->c);
            break;
        default:
            for (uint32_t i = 0; i < n->value; ++i) exec_block(n->b);
            break;
        }
    }
}

static uint32_t folds;

/* Replaces constant subtrees by their value and x+0, x-0, x*1, x^0 by x. Expressions have
 * no side effects, so dropping an operand is always safe. */
static int32_t fold_expr(int32_t e) {
    node *n = &nodes[e];
    if (n->kind == N_NEG) {
        n->a = fold_expr(n->a);
        if (nodes[n->a].kind == N_NUM) {
            n->kind = N_NUM;
            n->value = 0u - nodes[n->a].value;
            ++folds;
        }
        return e;
    }
    if (n->kind != N_BIN) {
        return e;
    }
    n->a = fold_expr(n->a);
    n->b = fold_expr(n->b);
    const node *l = &nodes[n->a];
    const node *r = &nodes[n->b];
    if (l->kind == N_NUM && r->kind == N_NUM) {
        n->value = apply(n->op, l->value, r->value);
        n->kind = N_NUM;
        ++folds;
        return e;
    }
    if (r->kind == N_NUM && ((r->value == 0 && (n->op == T_PLUS || n->op == T_MINUS ||
                                                n->op == T_XOR)) ||
                             (r->value == 1 && n->op == T_STAR))) {
        ++folds;
        return n->a;
    }
    return e;
}

static void fold_block(int32_t s) {
    for (; s >= 0; s = nodes[s].next) {
        node *n = &nodes[s];
        if (n->a >= 0) n->a = fold_expr(n->a);
        if (n->kind == N_IF || n->kind == N_REPEAT) {
            fold_block(n->b);
            fold_block(n->c);
        }
    }
}

static uint32_t run_program(int32_t program) {
    for (uint32_t v = 0; v < VARS_MAX; ++v) {
        vars[v] = v * 7u + 1u;
    }
    printed = 0;
    exec_block(program);
    uint32_t sum = printed;
    for (uint32_t v = 0; v < var_count; ++v) {
        sum = bench_mix(sum, vars[v]);
    }
    return sum;
}

/* One round: returns a checksum of the token/node/fold counts and of both evaluations;
 * clears *ok if parsing fails or folding changed the result. */
static uint32_t one_round(uint32_t seed, uint32_t statements, int *ok) {
    bench_rng rng;
    bench_rng_seed(&rng, seed);
    text_len = 0;
    for (uint32_t i = 0; i < statements; ++i) {
        gen_stmt(&rng, 0);
    }
    var_count = 0;
    node_count = 0;
    pos = 0;
    parse_failed = 0;
    folds = 0;
    if (!tokenize()) {
        *ok = 0;
        return 0;
    }
    int32_t program = parse_statements(T_EOF);
    if (parse_failed) {
        *ok = 0;
        return 0;
    }
    uint32_t before = run_program(program);
    fold_block(program);
    uint32_t after = run_program(program);
    if (before != after) {
        *ok = 0;
    }
    uint32_t sum = bench_mix(before, token_count);
    sum = bench_mix(sum, node_count);
    return bench_mix(sum, folds);
}

int bench_main(int argc, char **argv) {
    int quick = bench_is_quick(argc, argv);
    const uint32_t statements = quick ? 2000u : 5000u;
    const int rounds = quick ? 4 : 200;
    /* Recorded from a run whose parse succeeded and whose evaluations agreed. */
    const uint32_t expected = quick ? 0xc15aa565u : 0xe232e72au;
    uint32_t checksum = 0;
    int ok = 1;
    for (int r = 0; r < rounds; ++r) {
        checksum = bench_mix(checksum, one_round(0xc0de0000u + (uint32_t)r, statements, &ok));
    }
    char t[21];
    char n[21];
    char f[21];
    bench_println("compiler: last round tokens ", bench_format_u64(t, token_count), " nodes ",
                  bench_format_u64(n, node_count), " folds ", bench_format_u64(f, folds), NULL);
    if (!ok) {
        bench_println("compiler: parse failure or folding changed the result", NULL);
    }
    return bench_report("compiler", checksum, expected) | !ok;
}
