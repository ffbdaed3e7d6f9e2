/* The per-element body of a fused kernel, shared by every target: a value at
 * a multi-index, computed from loads, the GEMM accumulator and the ops of
 * the chain, each rounded where PyTorch eager would store it. */
#include "codegen/codegen.h"
#include "codegen/mathlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct memo_entry {
    const nf_value *v;
    LLVMValueRef idx[NF_MAX_DIMS];
    LLVMValueRef result;
} memo_entry;

struct nf_body {
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMContextRef c;
    const nf_plan *plan;
    const nf_fused_kernel *k;
    const nf_slots *s;
    LLVMValueRef *ptrs;
    bool owns_ptrs; /* nf_body_new_params made them */
    bool *is_input;  /* by value id: read from memory in this kernel */
    const nf_value *acc_value;
    LLVMValueRef acc;
    memo_entry *memo;
    int n_memo, cap_memo;
    bool failed;
    char why[256];
};

static LLVMValueRef i64c(nf_body *body, int64_t x) { return LLVMConstInt(LLVMInt64TypeInContext(body->c), (unsigned long long)x, 1); }

nf_body *nf_body_new(LLVMModuleRef m, LLVMBuilderRef b, const nf_plan *p, const nf_fused_kernel *k,
                     const nf_slots *s, LLVMValueRef *slot_ptrs)
{
    nf_body *body = calloc(1, sizeof *body);
    if (!body)
        return NULL;
    body->is_input = calloc((size_t)p->graph->n_values, sizeof *body->is_input);
    if (!body->is_input) {
        free(body);
        return NULL;
    }
    body->m = m;
    body->b = b;
    body->c = LLVMGetModuleContext(m);
    body->plan = p;
    body->k = k;
    body->s = s;
    body->ptrs = slot_ptrs;
    for (int i = 0; i < k->n_inputs; i++)
        body->is_input[k->inputs[i]->id] = true;
    return body;
}

nf_body *nf_body_new_params(LLVMModuleRef m, LLVMBuilderRef b, const nf_plan *p, const nf_fused_kernel *k,
                            const nf_slots *s, LLVMValueRef fn)
{
    LLVMValueRef *ptrs = calloc((size_t)s->n + 1, sizeof *ptrs);
    if (!ptrs)
        return NULL;
    for (int i = 0; i < s->n; i++)
        ptrs[i] = LLVMGetParam(fn, (unsigned)i);
    nf_body *body = nf_body_new(m, b, p, k, s, ptrs);
    if (!body)
        free(ptrs);
    else
        body->owns_ptrs = true;
    return body;
}

LLVMValueRef nf_body_base(nf_body *body, const nf_value *v, LLVMTypeRef elem)
{
    int slot = body->s->first_slot[v->id];
    LLVMValueRef offset = i64c(body, body->s->layout[slot].offset);
    return LLVMBuildGEP2(body->b, elem, body->ptrs[slot], &offset, 1, "");
}

void nf_body_free(nf_body *body)
{
    if (!body)
        return;
    if (body->owns_ptrs)
        free(body->ptrs);
    free(body->memo);
    free(body->is_input);
    free(body);
}

bool nf_body_failed(const nf_body *body, nf_error *err)
{
    if (body->failed)
        nf_set_error(err, NF_ERR_COMPILE, 0, 0, "codegen: %s", body->why);
    return body->failed;
}

void nf_body_fail(nf_body *body, const char *why)
{
    if (!body->failed) {
        body->failed = true;
        snprintf(body->why, sizeof body->why, "%s", why);
    }
}

static void fail(nf_body *body, const char *why) { nf_body_fail(body, why); }

LLVMBuilderRef nf_body_builder(const nf_body *body) { return body->b; }

void nf_body_reset(nf_body *body) { body->n_memo = 0; }

static bool rounds(const nf_body *body, const nf_value *v)
{
    return !nf_dtype_is_float(v->dtype) || nf_plan_rounds(body->plan, body->k, v);
}

void nf_body_set_accumulator(nf_body *body, const nf_value *gemm, LLVMValueRef acc)
{
    body->acc_value = gemm;
    body->acc = rounds(body, gemm) ? nf_emit_round(body->b, body->m, acc, gemm->dtype) : acc;
    nf_body_reset(body);
}

LLVMValueRef nf_body_address(nf_body *body, int slot, LLVMValueRef *idx)
{
    const nf_layout *l = &body->s->layout[slot];
    LLVMValueRef off = i64c(body, l->offset);
    for (int d = 0; d < l->rank; d++) {
        if (l->strides[d] == 0 || l->shape[d] == 1)
            continue;
        LLVMValueRef term = LLVMBuildMul(body->b, idx[d], i64c(body, l->strides[d]), "");
        off = LLVMBuildAdd(body->b, off, term, "");
    }
    LLVMTypeRef st = nf_storage_type(body->c, body->s->value[slot]->dtype);
    return LLVMBuildGEP2(body->b, st, body->ptrs[slot], &off, 1, "");
}

static LLVMValueRef load(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    int slot = body->s->first_slot[v->id];
    if (slot < 0 || !body->ptrs[slot]) {
        fail(body, "a kernel input has no buffer");
        return LLVMGetUndef(nf_compute_type(body->c, v->dtype));
    }
    LLVMTypeRef st = nf_storage_type(body->c, v->dtype);
    LLVMValueRef bits = LLVMBuildLoad2(body->b, st, nf_body_address(body, slot, idx), "");
    return nf_emit_from_storage(body->b, body->m, bits, v->dtype);
}

/* The index of an operand of shape `from` read by broadcasting to `to`. */
static void broadcast_index(nf_body *body, const nf_shape *from, const nf_value *consumer, LLVMValueRef *idx,
                            LLVMValueRef *out)
{
    int lead = consumer->shape.rank - from->rank;
    for (int d = 0; d < from->rank; d++) {
        bool one = from->sym[d] < 0 && from->size[d] == 1;
        out[d] = one ? i64c(body, 0) : idx[d + lead];
    }
}

/* The base's index for a view's element idx. */
static void view_base_index(nf_body *body, const nf_value *v, LLVMValueRef *idx, LLVMValueRef *out)
{
    const nf_value *base = v->args[0];
    int d = (int)v->attr.dim0;
    for (int i = 0; i < base->shape.rank; i++)
        out[i] = i < v->shape.rank ? idx[i] : NULL;
    switch (v->op) {
    case NF_OP_UNSQUEEZE:
        for (int i = d; i < base->shape.rank; i++)
            out[i] = idx[i + 1];
        break;
    case NF_OP_SQUEEZE:
        if (base->shape.rank == v->shape.rank)
            break; /* the dim was not 1: no change */
        for (int i = base->shape.rank - 1; i > d; i--)
            out[i] = idx[i - 1];
        out[d] = i64c(body, 0);
        break;
    case NF_OP_TRANSPOSE:
        out[d] = idx[v->attr.dim1];
        out[v->attr.dim1] = idx[d];
        break;
    case NF_OP_SLICE:
        if (!v->attr.full_slice) {
            LLVMValueRef scaled = LLVMBuildMul(body->b, idx[d], i64c(body, v->attr.step), "");
            out[d] = LLVMBuildAdd(body->b, scaled, i64c(body, v->attr.start), "");
        }
        break;
    default:
        break;
    }
}

static LLVMValueRef const_scalar(nf_body *body, const nf_value *lit, nf_dtype t)
{
    LLVMTypeRef ct = nf_compute_type(body->c, t);
    if (!nf_dtype_is_float(t))
        return i64c(body, lit->dtype == NF_I64 ? lit->attr.scalar_int : (int64_t)lit->attr.scalar);
    double x = lit->dtype == NF_I64 ? (double)lit->attr.scalar_int : lit->attr.scalar;
    if (t != NF_F64) /* PyTorch's opmath: a float literal becomes a float, once */
        x = lit->dtype == NF_I64 ? (double)(float)lit->attr.scalar_int : (double)(float)x;
    return LLVMConstReal(ct, x);
}

/* An operand of v in v's compute type, cast to v's dtype first as
 * TensorIterator does (literals go straight to the compute type). */
static LLVMValueRef operand(nf_body *body, const nf_value *v, int i, LLVMValueRef *idx)
{
    const nf_value *a = v->args[i];
    if (nf_value_is_scalar(a))
        return const_scalar(body, a, v->dtype);
    LLVMValueRef aidx[NF_MAX_DIMS];
    broadcast_index(body, &a->shape, v, idx, aidx);
    LLVMValueRef x = nf_body_value(body, a, aidx);
    return nf_emit_convert(body->b, body->m, x, a->dtype, v->dtype);
}

static LLVMValueRef is_nan(nf_body *body, LLVMValueRef x) { return LLVMBuildFCmp(body->b, LLVMRealUNO, x, x, ""); }

/* torch.maximum / minimum: NaN wins; otherwise std::max / std::min. */
static LLVMValueRef max_min(nf_body *body, bool is_max, bool fp, LLVMValueRef a, LLVMValueRef x)
{
    LLVMBuilderRef b = body->b;
    if (!fp) {
        LLVMValueRef lt = LLVMBuildICmp(b, LLVMIntSLT, is_max ? a : x, is_max ? x : a, "");
        return LLVMBuildSelect(b, lt, x, a, "");
    }
    LLVMValueRef lt = LLVMBuildFCmp(b, LLVMRealOLT, is_max ? a : x, is_max ? x : a, "");
    LLVMValueRef r = LLVMBuildSelect(b, lt, x, a, "");
    r = LLVMBuildSelect(b, is_nan(body, x), x, r, "");
    return LLVMBuildSelect(b, is_nan(body, a), a, r, "");
}

/* Integer power by squaring (64 steps, branch-free). Negative exponents
 * give 0 except for bases 1 and -1, as integer division would. */
static LLVMValueRef int_pow(nf_body *body, LLVMValueRef base, LLVMValueRef e)
{
    LLVMBuilderRef b = body->b;
    LLVMValueRef r = i64c(body, 1), p = base, ee = e;
    for (int i = 0; i < 63; i++) {
        LLVMValueRef bit = LLVMBuildTrunc(b, ee, LLVMInt1TypeInContext(body->c), "");
        r = LLVMBuildSelect(b, bit, LLVMBuildMul(b, r, p, ""), r, "");
        p = LLVMBuildMul(b, p, p, "");
        ee = LLVMBuildLShr(b, ee, i64c(body, 1), "");
    }
    LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, e, i64c(body, 0), "");
    LLVMValueRef odd = LLVMBuildTrunc(b, e, LLVMInt1TypeInContext(body->c), "");
    LLVMValueRef neg_r = LLVMBuildSelect(
        b, LLVMBuildICmp(b, LLVMIntEQ, base, i64c(body, 1), ""), i64c(body, 1),
        LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, base, i64c(body, -1), ""),
                        LLVMBuildSelect(b, odd, i64c(body, -1), i64c(body, 1), ""), i64c(body, 0), ""),
        "");
    return LLVMBuildSelect(b, neg, neg_r, r, "");
}

static LLVMValueRef binary(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    LLVMBuilderRef b = body->b;
    LLVMValueRef x = operand(body, v, 0, idx), y = operand(body, v, 1, idx);
    bool fp = nf_dtype_is_float(v->dtype);
    switch (v->op) {
    case NF_OP_ADD: return fp ? LLVMBuildFAdd(b, x, y, "") : LLVMBuildAdd(b, x, y, "");
    case NF_OP_SUB: return fp ? LLVMBuildFSub(b, x, y, "") : LLVMBuildSub(b, x, y, "");
    case NF_OP_MUL: return fp ? LLVMBuildFMul(b, x, y, "") : LLVMBuildMul(b, x, y, "");
    case NF_OP_DIV: return LLVMBuildFDiv(b, x, y, "");
    case NF_OP_MAX: return max_min(body, true, fp, x, y);
    case NF_OP_MIN: return max_min(body, false, fp, x, y);
    case NF_OP_POW: return fp ? nf_math_emit(body->m, b, NF_MATH_POW, x, y) : int_pow(body, x, y);
    default: fail(body, "unknown binary op"); return x;
    }
}

static LLVMValueRef unary(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    LLVMBuilderRef b = body->b;
    LLVMValueRef x = operand(body, v, 0, idx);
    bool fp = nf_dtype_is_float(v->dtype);
    LLVMValueRef zero = fp ? LLVMConstReal(LLVMTypeOf(x), 0.0) : i64c(body, 0);
    switch (v->op) {
    case NF_OP_NEG: return fp ? LLVMBuildFNeg(b, x, "") : LLVMBuildSub(b, zero, x, "");
    case NF_OP_ABS:
        if (fp) {
            LLVMTypeRef t = LLVMTypeOf(x);
            return nf_emit_intrinsic(b, body->m, "llvm.fabs", &t, 1, &x, 1);
        }
        return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, zero, ""), LLVMBuildSub(b, zero, x, ""), x, "");
    case NF_OP_RELU: {
        /* x < 0 ? 0 : x, as the interpreter and torch's CPU kernel: NaN and -0.0 pass */
        LLVMValueRef neg = fp ? LLVMBuildFCmp(b, LLVMRealOLT, x, zero, "") : LLVMBuildICmp(b, LLVMIntSLT, x, zero, "");
        return LLVMBuildSelect(b, neg, zero, x, "");
    }
    case NF_OP_EXP: return nf_math_emit(body->m, b, NF_MATH_EXP, x, NULL);
    case NF_OP_LOG: return nf_math_emit(body->m, b, NF_MATH_LOG, x, NULL);
    case NF_OP_SQRT: return nf_math_emit(body->m, b, NF_MATH_SQRT, x, NULL);
    case NF_OP_RSQRT: return nf_math_emit(body->m, b, NF_MATH_RSQRT, x, NULL);
    case NF_OP_SIGMOID: return nf_math_emit(body->m, b, NF_MATH_SIGMOID, x, NULL);
    case NF_OP_TANH: return nf_math_emit(body->m, b, NF_MATH_TANH, x, NULL);
    case NF_OP_SILU: return nf_math_emit(body->m, b, NF_MATH_SILU, x, NULL);
    case NF_OP_GELU:
        return nf_math_emit(body->m, b, v->attr.approx_tanh ? NF_MATH_GELU_TANH : NF_MATH_GELU_ERF, x, NULL);
    default: fail(body, "unknown unary op"); return x;
    }
}

/* A float in another float compute type (f32 <-> f64), not rounded to any
 * narrower dtype: the cos and sin enter rope's arithmetic this way. */
static LLVMValueRef to_compute_type(nf_body *body, LLVMValueRef x, nf_dtype to)
{
    LLVMTypeRef want = nf_compute_type(body->c, to), have = LLVMTypeOf(x);
    if (have == want)
        return x;
    return LLVMGetTypeKind(want) == LLVMDoubleTypeKind ? LLVMBuildFPExt(body->b, x, want, "")
                                                       : LLVMBuildFPTrunc(body->b, x, want, "");
}

/* rope at idx (docs/ROPE.md): x at idx and at its partner, the cos and sin
 * of the token's cache row, x*cos -/+ partner*sin in the compute type. A
 * position outside the cache is clamped to its first or last row, so that a
 * kernel never reads outside it (the interpreter reports it instead). */
static LLVMValueRef rope(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    LLVMBuilderRef b = body->b;
    const nf_value *x = v->args[0], *cache = v->args[1], *pos = v->args[2];
    int rank = v->shape.rank;
    int64_t half = v->shape.size[rank - 1] / 2, cache_shape[NF_MAX_DIMS];
    nf_slots_shape(body->s, cache, cache_shape);
    LLVMValueRef i = idx[rank - 1], j, partner, second;
    if (v->attr.rope_interleaved) {
        second = LLVMBuildTrunc(b, i, LLVMInt1TypeInContext(body->c), "");
        j = LLVMBuildLShr(b, i, i64c(body, 1), "");
        partner = LLVMBuildXor(b, i, i64c(body, 1), "");
    } else {
        second = LLVMBuildICmp(b, LLVMIntSGE, i, i64c(body, half), "");
        LLVMValueRef lo = LLVMBuildSub(b, i, i64c(body, half), ""), hi = LLVMBuildAdd(b, i, i64c(body, half), "");
        j = LLVMBuildSelect(b, second, lo, i, "");
        partner = LLVMBuildSelect(b, second, lo, hi, "");
    }
    LLVMValueRef p = nf_body_value(body, pos, idx); /* positions are x's leading dims */
    LLVMValueRef rows = i64c(body, cache_shape[0]), zero = i64c(body, 0);
    LLVMValueRef row = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, p, zero, ""), LLVMBuildAdd(b, p, rows, ""), p, "");
    row = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, row, zero, ""), zero, row, "");
    LLVMValueRef last = i64c(body, cache_shape[0] > 0 ? cache_shape[0] - 1 : 0);
    row = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, row, last, ""), last, row, "");
    LLVMValueRef cidx[2] = {row, j}, sidx[2] = {row, LLVMBuildAdd(b, j, i64c(body, half), "")};
    LLVMValueRef c = to_compute_type(body, nf_body_value(body, cache, cidx), v->dtype);
    LLVMValueRef sn = to_compute_type(body, nf_body_value(body, cache, sidx), v->dtype);
    LLVMValueRef pidx[NF_MAX_DIMS];
    memcpy(pidx, idx, (size_t)rank * sizeof *idx);
    pidx[rank - 1] = partner;
    LLVMValueRef a = nf_body_value(body, x, idx), other = nf_body_value(body, x, pidx);
    LLVMValueRef ac = LLVMBuildFMul(b, a, c, ""), bs = LLVMBuildFMul(b, other, sn, "");
    return LLVMBuildSelect(b, second, LLVMBuildFAdd(b, ac, bs, ""), LLVMBuildFSub(b, ac, bs, ""), "");
}

static LLVMValueRef *memo_find(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    for (int i = 0; i < body->n_memo; i++) {
        memo_entry *e = &body->memo[i];
        if (e->v == v && memcmp(e->idx, idx, (size_t)v->shape.rank * sizeof *idx) == 0)
            return &e->result;
    }
    return NULL;
}

static void memo_add(nf_body *body, const nf_value *v, LLVMValueRef *idx, LLVMValueRef r)
{
    if (body->n_memo == body->cap_memo) {
        int cap = body->cap_memo ? body->cap_memo * 2 : 32;
        memo_entry *p = realloc(body->memo, (size_t)cap * sizeof *p);
        if (!p)
            return; /* only a cache */
        body->memo = p;
        body->cap_memo = cap;
    }
    memo_entry *e = &body->memo[body->n_memo++];
    e->v = v;
    memcpy(e->idx, idx, (size_t)v->shape.rank * sizeof *idx);
    e->result = r;
}

LLVMValueRef nf_body_value(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    if (v == body->acc_value)
        return body->acc;
    LLVMValueRef *hit = memo_find(body, v, idx);
    if (hit)
        return *hit;
    LLVMValueRef r;
    if (body->is_input[v->id]) {
        r = load(body, v, idx);
    } else {
        switch (nf_op_kind_of(v->op)) {
        case NF_KIND_VIEW: {
            LLVMValueRef bidx[NF_MAX_DIMS];
            view_base_index(body, v, idx, bidx);
            r = nf_body_value(body, v->args[0], bidx);
            break;
        }
        case NF_KIND_UNARY: r = unary(body, v, idx); break;
        case NF_KIND_BINARY: r = binary(body, v, idx); break;
        case NF_KIND_CAST: r = operand(body, v, 0, idx); break; /* operand() converts */
        case NF_KIND_ROPE: r = rope(body, v, idx); break;
        default:
            fail(body, "a value is neither loaded nor computable in this kernel");
            return LLVMGetUndef(nf_compute_type(body->c, v->dtype));
        }
        if (nf_op_kind_of(v->op) != NF_KIND_VIEW && nf_op_kind_of(v->op) != NF_KIND_CAST && rounds(body, v))
            r = nf_emit_round(body->b, body->m, r, v->dtype);
    }
    memo_add(body, v, idx, r);
    return r;
}

void nf_body_store_value(nf_body *body, const nf_value *v, LLVMValueRef *idx, LLVMValueRef x)
{
    LLVMValueRef bits = nf_emit_to_storage(body->b, body->m, x, v->dtype);
    for (int s = body->s->n_params; s < body->s->n; s++) {
        if (body->s->value[s] != v || !body->ptrs[s] || (body->s->skip && body->s->skip[s]))
            continue;
        LLVMBuildStore(body->b, bits, nf_body_address(body, s, idx));
    }
}

void nf_body_store_output(nf_body *body, const nf_value *v, LLVMValueRef *idx)
{
    nf_body_store_value(body, v, idx, nf_body_value(body, v, idx));
}

void nf_body_unflatten(nf_body *body, LLVMValueRef flat, int rank, const int64_t *shape, LLVMValueRef *idx)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (shape[d] == 1) {
            idx[d] = i64c(body, 0);
        } else if (d == 0) {
            idx[d] = flat;
        } else {
            idx[d] = LLVMBuildURem(body->b, flat, i64c(body, shape[d]), "");
            flat = LLVMBuildUDiv(body->b, flat, i64c(body, shape[d]), "");
        }
    }
}

void nf_body_store_outputs_flat(nf_body *body, LLVMValueRef flat)
{
    for (int i = 0; i < body->k->n_outputs; i++) {
        const nf_value *v = body->k->outputs[i];
        int64_t shape[NF_MAX_DIMS];
        LLVMValueRef idx[NF_MAX_DIMS];
        nf_slots_shape(body->s, v, shape);
        nf_body_unflatten(body, flat, v->shape.rank, shape, idx);
        nf_body_store_output(body, v, idx);
    }
}
