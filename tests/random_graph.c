/* The random graph generator shared by the test suites (random_graph.h). */
#include "random_graph.h"

#include <stdio.h>
#include <string.h>

typedef struct gen {
    uint64_t state;
} gen;

/* splitmix64 */
static uint64_t rnd(gen *s)
{
    uint64_t z = (s->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int pick(gen *s, int n) { return (int)(rnd(s) % (uint64_t)n); }

typedef struct gen_value {
    nf_value *v;
    int rank;
    int64_t shape[NF_MAX_DIMS];
} gen_value;

enum { POOL = 32 };

static bool broadcastable(const gen_value *a, const gen_value *b)
{
    for (int i = 1; i <= a->rank && i <= b->rank; i++) {
        int64_t x = a->shape[a->rank - i], y = b->shape[b->rank - i];
        if (x != y && x != 1 && y != 1)
            return false;
    }
    return true;
}

static void broadcast(const gen_value *a, const gen_value *b, gen_value *out)
{
    out->rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 1; i <= out->rank; i++) {
        int64_t x = i <= a->rank ? a->shape[a->rank - i] : 1, y = i <= b->rank ? b->shape[b->rank - i] : 1;
        out->shape[out->rank - i] = x == 1 ? y : x;
    }
}

static const nf_op unary_ops[] = {NF_OP_NEG, NF_OP_ABS, NF_OP_RELU, NF_OP_SQRT, NF_OP_EXP, NF_OP_TANH,
                                  NF_OP_SIGMOID, NF_OP_SILU, NF_OP_GELU, NF_OP_LOG, NF_OP_RSQRT};
static const nf_op binary_ops[] = {NF_OP_ADD, NF_OP_SUB, NF_OP_MUL, NF_OP_DIV, NF_OP_MAX, NF_OP_MIN};
static const nf_dtype float_types[] = {NF_F32, NF_BF16, NF_F16};
static const int64_t sizes[] = {1, 7, 33, 64, 129};

/* A parameter of rank <= base_rank whose shape is a suffix of base, some
 * sizes replaced by 1: it broadcasts against anything of shape base. */
static void add_param(gen *s, nf_graph *g, gen_value *p, int index, int base_rank, const int64_t *base)
{
    p->rank = base_rank - pick(s, base_rank);
    nf_dim dims[NF_MAX_DIMS];
    for (int d = 0; d < p->rank; d++) {
        p->shape[d] = pick(s, 4) == 0 ? 1 : base[base_rank - p->rank + d];
        dims[d] = (nf_dim){p->shape[d], NULL};
    }
    char name[16];
    snprintf(name, sizeof name, "p%d", index);
    p->v = nf_param(g, name, float_types[pick(s, 3)], p->rank, dims);
}

/* Adds 1 to 3 parameters over a random base shape; returns how many. */
static int elementwise_start(gen *s, nf_graph *g, gen_value *pool)
{
    int n_params = 1 + pick(s, 3);
    int base_rank = 1 + pick(s, 3);
    int64_t base[3];
    for (int d = 0; d < base_rank; d++)
        base[d] = sizes[pick(s, 5)];
    for (int i = 0; i < n_params; i++)
        add_param(s, g, &pool[i], i, base_rank, base);
    return n_params;
}

static nf_value *gemm_param(nf_graph *g, const char *name, nf_dtype dt, int rank, const int64_t *shape)
{
    nf_dim dims[NF_MAX_DIMS];
    for (int d = 0; d < rank; d++)
        dims[d] = (nf_dim){shape[d], NULL};
    return nf_param(g, name, dt, rank, dims);
}

/* A GEMM in one of the forms in use (linear, linear with out_dtype=f32,
 * x.to(f32) then an f32 linear, matmul, matmul with trans_b), then 0 to 2
 * parameters that broadcast against its result; the result comes last in
 * the pool. Returns the number of pool entries. */
static int gemm_start(gen *s, nf_graph *g, gen_value *pool)
{
    static const int64_t m_sizes[] = {1, 7, 33}, k_sizes[] = {1, 7, 64, 129}, n_sizes[] = {1, 7, 64};
    int form = pick(s, 5);
    nf_dtype dt = float_types[pick(s, 3)];
    if (form == 2 && dt == NF_F32)
        dt = NF_BF16; /* the cast form starts narrow */
    int64_t k = k_sizes[pick(s, 4)], n = n_sizes[pick(s, 3)];
    int x_rank = form >= 3 ? 2 : 1 + pick(s, 3);
    int64_t xs[3], ws[2];
    for (int d = 0; d < x_rank - 1; d++)
        xs[d] = m_sizes[pick(s, 3)];
    xs[x_rank - 1] = k;
    bool k_first = form == 3; /* matmul without trans_b: b[K, N] */
    ws[0] = k_first ? k : n;
    ws[1] = k_first ? n : k;
    nf_value *x = gemm_param(g, "x", dt, x_rank, xs);
    nf_value *w = gemm_param(g, "w", form == 2 ? NF_F32 : dt, 2, ws);
    nf_value *y;
    switch (form) {
    case 0: y = nf_linear(g, x, w, NF_DTYPE_NONE); break;
    case 1: y = nf_linear(g, x, w, dt == NF_F32 ? NF_DTYPE_NONE : NF_F32); break;
    case 2: y = nf_linear(g, nf_cast(g, x, NF_F32), w, NF_DTYPE_NONE); break;
    default: y = nf_matmul(g, x, w, form == 4, pick(s, 2) && dt != NF_F32 ? NF_F32 : NF_DTYPE_NONE); break;
    }
    gen_value result = {y, x_rank, {0}};
    memcpy(result.shape, xs, sizeof xs);
    result.shape[x_rank - 1] = n;
    int extra = pick(s, 3);
    for (int i = 0; i < extra; i++)
        add_param(s, g, &pool[i], i, result.rank, result.shape);
    pool[extra] = result;
    return extra + 1;
}

/* One op on pool[*n - 1 - (0..2)] (first: the given one), appended to the pool. */
static void add_op(gen *s, nf_graph *g, gen_value *pool, int n, gen_value *a)
{
    gen_value *r = &pool[n];
    *r = *a;
    switch (pick(s, 8)) {
    case 0: case 1: case 2: {
        nf_value *x = a->v;
        nf_op op = unary_ops[pick(s, sizeof unary_ops / sizeof unary_ops[0])];
        if (op == NF_OP_LOG || op == NF_OP_SQRT || op == NF_OP_RSQRT) /* keep operands positive */
            x = nf_binary(g, NF_OP_ADD, nf_unary(g, NF_OP_ABS, x), nf_scalar(g, 0.5));
        r->v = nf_unary(g, op, x);
        break;
    }
    case 3: case 4: case 5: {
        nf_op op = binary_ops[pick(s, sizeof binary_ops / sizeof binary_ops[0])];
        gen_value *b = &pool[pick(s, n)];
        if (op == NF_OP_DIV || !broadcastable(a, b) || pick(s, 4) == 0) {
            r->v = nf_binary(g, op, a->v, nf_scalar(g, op == NF_OP_DIV ? 3.0 : 0.3 + pick(s, 10) * 0.25));
        } else {
            broadcast(a, b, r);
            r->v = nf_binary(g, op, a->v, b->v);
        }
        break;
    }
    case 6:
        r->v = nf_cast(g, a->v, float_types[pick(s, 3)]);
        break;
    default:
        if (a->rank >= 2 && pick(s, 2)) {
            r->v = nf_transpose(g, a->v, 0, -1);
            r->shape[0] = a->shape[a->rank - 1];
            r->shape[a->rank - 1] = a->shape[0];
        } else if (a->rank >= 1 && a->shape[a->rank - 1] >= 3 && pick(s, 2)) {
            r->v = nf_slice(g, a->v, -1, 1, INT64_MAX, 2);
            r->shape[a->rank - 1] = (a->shape[a->rank - 1] - 1 + 1) / 2;
        } else if (a->rank < 4) {
            r->v = nf_unsqueeze(g, a->v, 0);
            memmove(r->shape + 1, a->shape, (size_t)a->rank * sizeof r->shape[0]);
            r->shape[0] = 1;
            r->rank = a->rank + 1;
        } else {
            r->v = nf_unary(g, NF_OP_NEG, a->v);
        }
    }
}

nf_graph *random_graph(uint64_t seed, bool gemm, int *n_ops_out)
{
    gen s = {seed};
    nf_graph *g = nf_graph_new("random");
    gen_value pool[POOL];
    int n = gemm ? gemm_start(&s, g, pool) : elementwise_start(&s, g, pool);
    /* the ops' results are the output candidates; a GEMM's result is one too */
    int first_result = gemm ? n - 1 : n;
    int n_ops = 2 + pick(&s, 7);
    for (int i = 0; i < n_ops && n < POOL; i++) {
        int back = pick(&s, n > 3 ? 3 : n);
        add_op(&s, g, pool, n, gemm && i == 0 ? &pool[n - 1] : &pool[n - 1 - back]);
        n++;
    }
    nf_value *outs[2] = {pool[n - 1].v, pool[first_result + pick(&s, n - first_result)].v};
    nf_graph_return(g, outs[0] == outs[1] || pick(&s, 2) ? 1 : 2, outs);
    if (n_ops_out)
        *n_ops_out = n_ops;
    return g;
}
