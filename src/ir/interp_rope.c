/* The reference rope (docs/ROPE.md): for each element of x, its pair
 * partner, the cos and sin of its token's position, two products and a sum
 * in the compute type (f32 for bf16/f16/f32, f64 for f64), each rounded as
 * the compute type rounds, then the result rounded to x's dtype.
 *
 * f32 arithmetic is carried out in double on f32 operands and rounded to f32
 * after every step, which is exactly IEEE f32 (double has more than 2p+2
 * bits), so compiled kernels that do the same steps in f32 agree bit for bit. */
#include "ir/interp.h"
#include "ir/numeric.h"

static int64_t offset_of(const nf_layout *l, const int64_t *idx)
{
    int64_t off = l->offset;
    for (int d = 0; d < l->rank; d++)
        off += idx[d] * l->strides[d];
    return off;
}

static double rounded(double x, bool f32) { return f32 ? (double)(float)x : x; }

nf_status nf_interp_rope(const nf_value *v, const nf_strided *x, const nf_strided *cache, const nf_strided *pos,
                         const nf_strided *out, nf_error *err)
{
    int rank = x->lay.rank;
    int64_t rot = x->lay.shape[rank - 1], half = rot / 2, rows = cache->lay.shape[0];
    int64_t n = nf_shape_numel(rank, x->lay.shape);
    bool f32 = nf_opmath_dtype(v->dtype) == NF_F32;
    int64_t idx[NF_MAX_DIMS] = {0};
    for (int64_t flat = 0; flat < n; flat++) {
        int64_t rest = flat;
        for (int d = rank - 1; d >= 0; d--) {
            idx[d] = rest % x->lay.shape[d];
            rest /= x->lay.shape[d];
        }
        int64_t p = nf_load_i64(pos->data, pos->dtype, offset_of(&pos->lay, idx));
        int64_t row = p < 0 ? p + rows : p; /* cache[positions]: PyTorch indexing, negatives count from the end */
        if (row < 0 || row >= rows)
            return nf_set_error(err, NF_ERR_ARG, 0, 0,
                                "rope: position %lld is outside cos_sin_cache's %lld rows (element %lld of positions)",
                                (long long)p, (long long)rows, (long long)(flat / rot));
        int64_t i = idx[rank - 1], j, partner;
        bool second; /* the element that adds its partner's sine term */
        if (v->attr.rope_interleaved) {
            j = i / 2;
            second = i % 2 == 1;
            partner = second ? i - 1 : i + 1;
        } else {
            j = i % half;
            second = i >= half;
            partner = second ? i - half : i + half;
        }
        int64_t cidx[2] = {row, j};
        double c = nf_load_f64(cache->data, cache->dtype, offset_of(&cache->lay, cidx));
        cidx[1] = half + j;
        double s = nf_load_f64(cache->data, cache->dtype, offset_of(&cache->lay, cidx));
        c = rounded(c, f32);
        s = rounded(s, f32);
        double a = nf_load_f64(x->data, x->dtype, offset_of(&x->lay, idx));
        idx[rank - 1] = partner;
        double b = nf_load_f64(x->data, x->dtype, offset_of(&x->lay, idx));
        idx[rank - 1] = i;
        double ac = rounded(a * c, f32), bs = rounded(b * s, f32);
        double r = rounded(second ? ac + bs : ac - bs, f32);
        nf_store_f64(out->data, out->dtype, offset_of(&out->lay, idx), nf_round_f64(r, v->dtype));
    }
    return NF_OK;
}
