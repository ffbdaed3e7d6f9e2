/* The reference interpreter's kernels: elementwise ops in PyTorch's opmath
 * type, linear/matmul with exact products and a double sum, strided copies.
 *
 * Float math (opmath f32 for bf16/f16/f32 values) is carried out in double
 * on the f32 operands and rounded to f32 once: for + - * / and sqrt that is
 * exactly IEEE f32 arithmetic (double has more than 2p+2 bits), and for the
 * transcendentals it is a near-correctly-rounded reference. The result is
 * then rounded to the value's dtype, as PyTorch stores it. */
#include "ir/interp.h"
#include "ir/numeric.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- walking strided layouts --------------------------------------------- */

/* A row-major counter over a shape that moves up to three offsets, each by
 * its own strides. */
typedef struct cursor {
    int rank, n;
    const int64_t *shape;
    int64_t idx[NF_MAX_DIMS];
    const int64_t *strides[3];
    int64_t off[3];
} cursor;

static void cursor_next(cursor *c)
{
    for (int d = c->rank - 1; d >= 0; d--) {
        for (int k = 0; k < c->n; k++)
            c->off[k] += c->strides[k][d];
        if (++c->idx[d] < c->shape[d])
            return;
        for (int k = 0; k < c->n; k++)
            c->off[k] -= c->strides[k][d] * c->shape[d];
        c->idx[d] = 0;
    }
}

static void cursor_add(cursor *c, const nf_layout *l)
{
    c->strides[c->n] = l->strides;
    c->off[c->n] = l->offset;
    c->n++;
}

void nf_interp_copy(const nf_strided *src, const nf_strided *dst)
{
    size_t size = nf_dtype_size(dst->dtype);
    int64_t n = nf_shape_numel(dst->lay.rank, dst->lay.shape);
    cursor c = {.rank = dst->lay.rank, .shape = dst->lay.shape};
    cursor_add(&c, &src->lay);
    cursor_add(&c, &dst->lay);
    for (int64_t i = 0; i < n; i++, cursor_next(&c))
        memcpy(dst->data + (size_t)c.off[1] * size, src->data + (size_t)c.off[0] * size, size);
}

/* ---- the math, each op defined once ---------------------------------------- */

static double f_neg(double x) { return -x; }
static double f_abs(double x) { return fabs(x); }
static double f_exp(double x) { return exp(x); }
static double f_log(double x) { return log(x); }
static double f_sqrt(double x) { return sqrt(x); }
static double f_rsqrt(double x) { return 1.0 / sqrt(x); }
static double f_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double f_tanh(double x) { return tanh(x); }
/* relu is clamp_min(x, 0) in PyTorch: NaN stays NaN, and -0.0 stays -0.0
 * (what PyTorch's CPU kernels return). */
static double f_relu(double x) { return x < 0 ? 0.0 : x; }
static double f_silu(double x) { return x * f_sigmoid(x); }
static double f_gelu_erf(double x) { return 0.5 * x * (1.0 + erf(x * M_SQRT1_2)); }
static double f_gelu_tanh(double x)
{
    const double sqrt_2_over_pi = M_SQRT2 * M_2_SQRTPI * 0.5;
    return 0.5 * x * (1.0 + tanh(sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
}

static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }
/* torch.maximum/minimum: NaN wins; on equal values (+0 vs -0) the first
 * operand, as PyTorch's CPU kernels return. */
static double f_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : (a < b ? b : a); }
static double f_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : (b < a ? b : a); }
static double f_pow(double a, double b) { return pow(a, b); }

/* Integer math wraps (two's complement) through unsigned arithmetic. */
static int64_t i_neg(int64_t x) { return (int64_t)(0 - (uint64_t)x); }
static int64_t i_abs(int64_t x) { return x < 0 ? i_neg(x) : x; }
static int64_t i_relu(int64_t x) { return x < 0 ? 0 : x; }
static int64_t i_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t i_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t i_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static int64_t i_max(int64_t a, int64_t b) { return a < b ? b : a; }
static int64_t i_min(int64_t a, int64_t b) { return b < a ? b : a; }
/* PyTorch's integer pow: negative exponents give 0 except for bases 1 and -1. */
static int64_t i_pow(int64_t a, int64_t b)
{
    if (b < 0) {
        if (a == 1)
            return 1;
        if (a == -1)
            return (b & 1) ? -1 : 1;
        return 0;
    }
    uint64_t result = 1, base = (uint64_t)a;
    for (uint64_t e = (uint64_t)b; e; e >>= 1) {
        if (e & 1)
            result *= base;
        base *= base;
    }
    return (int64_t)result;
}

typedef double (*unary_f)(double);
typedef double (*binary_f)(double, double);
typedef int64_t (*unary_i)(int64_t);
typedef int64_t (*binary_i)(int64_t, int64_t);

static unary_f float_unary(const nf_value *v)
{
    switch (v->op) {
    case NF_OP_NEG: return f_neg;
    case NF_OP_ABS: return f_abs;
    case NF_OP_EXP: return f_exp;
    case NF_OP_LOG: return f_log;
    case NF_OP_SQRT: return f_sqrt;
    case NF_OP_RSQRT: return f_rsqrt;
    case NF_OP_SIGMOID: return f_sigmoid;
    case NF_OP_TANH: return f_tanh;
    case NF_OP_RELU: return f_relu;
    case NF_OP_SILU: return f_silu;
    case NF_OP_GELU: return v->attr.approx_tanh ? f_gelu_tanh : f_gelu_erf;
    default: return NULL;
    }
}

static binary_f float_binary(nf_op op)
{
    switch (op) {
    case NF_OP_ADD: return f_add;
    case NF_OP_SUB: return f_sub;
    case NF_OP_MUL: return f_mul;
    case NF_OP_DIV: return f_div;
    case NF_OP_MAX: return f_max;
    case NF_OP_MIN: return f_min;
    case NF_OP_POW: return f_pow;
    default: return NULL;
    }
}

static unary_i int_unary(nf_op op)
{
    switch (op) {
    case NF_OP_NEG: return i_neg;
    case NF_OP_ABS: return i_abs;
    case NF_OP_RELU: return i_relu;
    default: return NULL;
    }
}

static binary_i int_binary(nf_op op)
{
    switch (op) {
    case NF_OP_ADD: return i_add;
    case NF_OP_SUB: return i_sub;
    case NF_OP_MUL: return i_mul;
    case NF_OP_MAX: return i_max;
    case NF_OP_MIN: return i_min;
    case NF_OP_POW: return i_pow;
    default: return NULL;
    }
}

/* ---- elementwise ------------------------------------------------------------ */

/* An operand as the op sees it, in the float domain: a tensor element is
 * first converted to the op's dtype (TensorIterator's common-dtype cast; exact
 * unless a wider 0-d tensor or an integer meets a narrower float), then read
 * exactly as opmath. A literal goes straight to opmath, as PyTorch's kernels
 * take it (`opmath_t b = iter.original_scalar_value<opmath_t>(2)`): a Python
 * float in bf16 math is float(0.0883...), never bf16(0.0883...). */
static double float_operand(const nf_operand *o, int64_t off, nf_dtype common, nf_dtype opmath)
{
    const nf_value *v = o->value;
    if (nf_value_is_scalar(v)) {
        if (v->dtype == NF_I64)
            return nf_int_to_float(v->attr.scalar_int, opmath);
        return opmath == NF_F32 ? (double)(float)v->attr.scalar : v->attr.scalar;
    }
    nf_dtype t = o->t.dtype;
    if (!nf_dtype_is_float(t))
        return nf_int_to_float(nf_load_i64(o->t.data, t, off), common);
    double x = nf_load_f64(o->t.data, t, off);
    return t == common ? x : nf_round_f64(x, common);
}

static int64_t int_operand(const nf_operand *o, int64_t off, nf_dtype common)
{
    const nf_value *v = o->value;
    if (nf_value_is_scalar(v))
        return nf_wrap_int(v->attr.scalar_int, common);
    return nf_wrap_int(nf_load_i64(o->t.data, o->t.dtype, off), common);
}

void nf_interp_elementwise(const nf_value *v, const nf_operand *args, const nf_strided *out)
{
    const nf_layout *ol = &out->lay;
    int64_t n = nf_shape_numel(ol->rank, ol->shape);
    nf_layout bl[2];
    cursor c = {.rank = ol->rank, .shape = ol->shape};
    cursor_add(&c, ol);
    for (int j = 0; j < v->nargs; j++) {
        if (nf_value_is_scalar(args[j].value)) {
            memset(&bl[j], 0, sizeof bl[j]); /* read at offset 0, never moves */
            bl[j].rank = ol->rank;
        } else {
            nf_broadcast_layout(&args[j].t.lay, ol->rank, ol->shape, &bl[j]);
        }
        cursor_add(&c, &bl[j]);
    }
    nf_dtype dt = out->dtype;

    if (v->op == NF_OP_CAST) {
        const nf_strided *src = &args[0].t;
        bool from_float = nf_dtype_is_float(src->dtype);
        for (int64_t i = 0; i < n; i++, cursor_next(&c)) {
            if (from_float)
                nf_store_f64(out->data, dt, c.off[0], nf_load_f64(src->data, src->dtype, c.off[1]));
            else
                nf_store_i64(out->data, dt, c.off[0], nf_load_i64(src->data, src->dtype, c.off[1]));
        }
        return;
    }

    bool unary = v->nargs == 1;
    if (nf_dtype_is_float(dt)) {
        nf_dtype opmath = nf_opmath_dtype(dt);
        unary_f fu = unary ? float_unary(v) : NULL;
        binary_f fb = unary ? NULL : float_binary(v->op);
        for (int64_t i = 0; i < n; i++, cursor_next(&c)) {
            double a = float_operand(&args[0], c.off[1], dt, opmath), r;
            r = unary ? fu(a) : fb(a, float_operand(&args[1], c.off[2], dt, opmath));
            if (opmath == NF_F32)
                r = (float)r;
            nf_store_f64(out->data, dt, c.off[0], r);
        }
        return;
    }
    unary_i iu = unary ? int_unary(v->op) : NULL;
    binary_i ib = unary ? NULL : int_binary(v->op);
    for (int64_t i = 0; i < n; i++, cursor_next(&c)) {
        int64_t a = int_operand(&args[0], c.off[1], dt), r;
        r = unary ? iu(a) : ib(a, int_operand(&args[1], c.off[2], dt));
        nf_store_i64(out->data, dt, c.off[0], r);
    }
}

/* ---- linear and matmul -------------------------------------------------------- */

/* The reference GEMM: every product is exact in double (bf16, f16 and f32
 * significands have at most 24 bits), each output's products are summed in
 * double in increasing k, and the sum is rounded once to f32 (for
 * bf16/f16/f32 inputs) and then to the output dtype. That is "fp32
 * accumulation" made as accurate as it gets: a real f32 GEMM differs from it
 * by its own accumulation error, which comparisons must allow for. f64 inputs
 * keep the double sum. */

enum { BLOCK = 4 };                           /* 4x4 outputs per inner loop */
static const size_t panel_bytes = (size_t)64 << 20; /* cap on B's double panel */

/* acc[i][j] = sum_k a[k][i] * b[k][j] for a 4x4 block, each sum in
 * increasing k. Operands are packed four rows side by side ([k][4]) so that
 * the compiler can vectorize across j without reordering any sum. */
static void dot_block(const double *a, const double *b, int64_t K, double acc[BLOCK][BLOCK])
{
    double c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    double c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    for (int64_t k = 0; k < K; k++) {
        const double *ak = a + k * BLOCK, *bk = b + k * BLOCK;
        double b0 = bk[0], b1 = bk[1], b2 = bk[2], b3 = bk[3], x;
        x = ak[0];
        c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
        x = ak[1];
        c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
        x = ak[2];
        c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
        x = ak[3];
        c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
    }
    double r[BLOCK][BLOCK] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23},
                              {c30, c31, c32, c33}};
    memcpy(acc, r, sizeof r);
}

/* Storage offset of row m of a[..., K]: m runs over the leading dims. */
static int64_t row_offset(const nf_layout *l, int64_t m)
{
    int64_t off = l->offset;
    for (int d = l->rank - 2; d >= 0; d--) {
        off += (m % l->shape[d]) * l->strides[d];
        m /= l->shape[d];
    }
    return off;
}

/* Row of K elements into dst[k * BLOCK]: one lane of a packed block. */
static void load_row(const nf_strided *t, int64_t off, int64_t stride, int64_t K, double *dst)
{
    switch (t->dtype) {
    case NF_BF16: /* the common case, decoded inline */
        for (int64_t k = 0; k < K; k++) {
            uint16_t h;
            memcpy(&h, t->data + (size_t)(off + k * stride) * sizeof h, sizeof h);
            dst[k * BLOCK] = nf_bf16_to_f32(h);
        }
        break;
    case NF_F32:
        for (int64_t k = 0; k < K; k++) {
            float f;
            memcpy(&f, t->data + (size_t)(off + k * stride) * sizeof f, sizeof f);
            dst[k * BLOCK] = f;
        }
        break;
    default:
        for (int64_t k = 0; k < K; k++)
            dst[k * BLOCK] = nf_load_f64(t->data, t->dtype, off + k * stride);
        break;
    }
}

static void zero_row(int64_t K, double *dst)
{
    for (int64_t k = 0; k < K; k++)
        dst[k * BLOCK] = 0;
}

nf_status nf_interp_gemm(const nf_value *v, const nf_strided *a, const nf_strided *b, const nf_strided *out,
                         nf_error *err)
{
    const nf_layout *al = &a->lay, *bl = &b->lay;
    int64_t K = al->shape[al->rank - 1], M = nf_shape_numel(al->rank - 1, al->shape);
    bool b_is_nk = v->op == NF_OP_LINEAR || v->attr.trans_b;
    int nd = b_is_nk ? 0 : 1;
    int64_t N = bl->shape[nd], bsn = bl->strides[nd], bsk = bl->strides[1 - nd], ask = al->strides[al->rank - 1];
    bool round_f32 = nf_opmath_dtype(a->dtype) == NF_F32;
    if (M == 0 || N == 0)
        return NF_OK;

    /* B goes to a panel of rows as double, A four rows at a time, both
     * packed by four; rows past the end are zeros and their outputs dropped. */
    int64_t k_alloc = K > 0 ? K : 1;
    if (k_alloc > (int64_t)(panel_bytes / (sizeof(double) * BLOCK)))
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "%s: K = %lld is too large for the reference interpreter",
                            nf_op_name(v->op), (long long)K);
    int64_t per_row = (int64_t)sizeof(double) * k_alloc;
    int64_t panel = (int64_t)(panel_bytes / (size_t)per_row) / BLOCK * BLOCK;
    if (panel < BLOCK)
        panel = BLOCK;
    int64_t n_pad = (N + BLOCK - 1) / BLOCK * BLOCK;
    if (panel > n_pad)
        panel = n_pad;
    double *bp = calloc((size_t)(panel * k_alloc), sizeof *bp);
    double *ap = calloc((size_t)(BLOCK * k_alloc), sizeof *ap);
    if (!bp || !ap) {
        free(bp);
        free(ap);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "%s: out of memory for a [%lld x %lld] operand panel",
                            nf_op_name(v->op), (long long)panel, (long long)K);
    }
    double acc[BLOCK][BLOCK];
    for (int64_t n0 = 0; n0 < N; n0 += panel) {
        int64_t nb = N - n0 < panel ? N - n0 : panel;
        for (int64_t j = 0; j < panel; j++) {
            double *lane = bp + (j / BLOCK) * BLOCK * K + j % BLOCK;
            if (j < nb)
                load_row(b, bl->offset + (n0 + j) * bsn, bsk, K, lane);
            else
                zero_row(K, lane);
        }
        for (int64_t m0 = 0; m0 < M; m0 += BLOCK) {
            int64_t mb = M - m0 < BLOCK ? M - m0 : BLOCK;
            for (int64_t i = 0; i < BLOCK; i++) {
                if (i < mb)
                    load_row(a, row_offset(al, m0 + i), ask, K, ap + i);
                else
                    zero_row(K, ap + i);
            }
            for (int64_t j0 = 0; j0 < nb; j0 += BLOCK) {
                dot_block(ap, bp + j0 * K, K, acc);
                for (int64_t i = 0; i < mb; i++) {
                    for (int64_t j = 0; j < BLOCK && j0 + j < nb; j++) {
                        double r = round_f32 ? (double)(float)acc[i][j] : acc[i][j];
                        nf_store_f64(out->data, out->dtype, (m0 + i) * N + n0 + j0 + j, r);
                    }
                }
            }
        }
    }
    free(bp);
    free(ap);
    return NF_OK;
}
