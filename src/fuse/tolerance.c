/* How far compiled code may be from the reference interpreter, per output
 * (docs/FUSION.md derives it). Zero where the rounding sequence is the same:
 * + - * / sqrt, casts and views are correctly rounded on both sides. Each
 * inexact step (a transcendental: a few f32 ulps from the interpreter's
 * correctly rounded double result; a GEMM: f32 summation in some order vs one
 * rounding of an f64 sum) may move a value across a rounding boundary of the
 * narrowest float dtype it flows through: one ulp of that dtype per step,
 * relative to the element, or to the output's largest magnitude where
 * cancellation after the step turned relative error into absolute error. */
#include "fuse/fuse.h"

#include <math.h>
#include <stdlib.h>

/* The largest relative spacing of a dtype: 2^(1 - precision). */
static double ulp_of(nf_dtype t)
{
    switch (t) {
    case NF_BF16: return 0x1p-7;
    case NF_F16: return 0x1p-10;
    case NF_F8E4M3: return 0x1p-3;
    case NF_F64: return 0x1p-52;
    default: return 0x1p-23;
    }
}

static bool inexact(const nf_value *v)
{
    switch (v->op) {
    case NF_OP_EXP: case NF_OP_LOG: case NF_OP_TANH: case NF_OP_SIGMOID: case NF_OP_SILU:
    case NF_OP_GELU: case NF_OP_POW: case NF_OP_RSQRT: case NF_OP_LINEAR: case NF_OP_MATMUL:
        return true;
    default:
        return false;
    }
}

/* f32 summation of K products: rounding errors of a random walk grow like
 * sqrt(K) ulps of the result (4 for the tail). */
static double gemm_error(const nf_value *v)
{
    const nf_value *a = v->args[0];
    int kd = a->shape.rank - 1;
    double k = a->shape.sym[kd] >= 0 ? 16384 : (double)a->shape.size[kd];
    double u = v->dtype == NF_F64 ? 0x1p-53 : 0x1p-24;
    return 4 * sqrt(k > 1 ? k : 1) * u;
}

nf_tolerance nf_graph_tolerance(const nf_graph *g, int output, double max_abs)
{
    nf_tolerance none = {0, 0};
    if (!g || output < 0 || output >= g->n_outputs)
        return none;
    bool *needed = calloc((size_t)g->n_values, sizeof *needed);
    if (!needed) /* no memory: say nothing rather than something wrong */
        return (nf_tolerance){INFINITY, INFINITY};
    needed[g->outputs[output]->id] = true;
    int steps = 0;
    double eps = ulp_of(g->outputs[output]->dtype);
    for (int i = g->n_values - 1; i >= 0; i--) {
        const nf_value *v = g->values[i];
        if (!needed[i])
            continue;
        for (int a = 0; a < v->nargs; a++)
            needed[v->args[a]->id] = true;
        /* computed values only: an input is exact whatever its dtype */
        if (nf_dtype_is_float(v->dtype) && v->op != NF_OP_SCALAR && v->op != NF_OP_PARAM && ulp_of(v->dtype) > eps)
            eps = ulp_of(v->dtype);
        if (inexact(v)) {
            steps++;
            bool gemm = v->op == NF_OP_LINEAR || v->op == NF_OP_MATMUL;
            /* the math library promises a few ulps of its compute type */
            double step = gemm ? gemm_error(v) : 4 * ulp_of(v->dtype == NF_F64 ? NF_F64 : NF_F32);
            if (step > eps)
                eps = step;
        }
    }
    free(needed);
    if (steps == 0)
        return none;
    double scale = max_abs > 1 ? max_abs : 1;
    return (nf_tolerance){steps * eps * scale, steps * eps};
}
