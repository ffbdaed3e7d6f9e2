# Every op, every keyword, views and literal spellings: a round-trip sample.
graph all_ops(%a: f32[T, 16], %b: bf16[T, 16], %w: bf16[32, 16], %m: f16[8, 16], %n: f16[16, 8], %i: i32[T, 16], %z: f32[]) {
  %add = add(%a, 1)
  %sub = sub(2.5, %a)
  %mul = mul(%a, 1e-3)
  %div = div(%i, 3)                      # true division: f32
  %max = max(%a, -0.0)
  %min = min(%a, inf)
  %pow = pow(%a, 2.0)
  %neg = neg(%b)
  %abs = abs(%b)
  %exp = exp(%a)
  %log = log(%a)
  %sqrt = sqrt(%a)
  %rsqrt = rsqrt(%a)
  %sig = sigmoid(%b)
  %tanh = tanh(%b)
  %relu = relu(%i)
  %silu = silu(%b)
  %gelu = gelu(%a)
  %gelu_t = gelu(%a, approximate=tanh)
  %gelu_n = gelu(%a, approximate=none)
  %c = cast(%b, f32)
  %c8 = cast(%a, f8e4m3)
  %cb = cast(%a, bool)
  %u = unsqueeze(%a, -1) : f32[T, 16, 1]
  %u0 = unsqueeze(%a, 0)
  %sq = squeeze(%u, 2)
  %sq_noop = squeeze(%a, 1)              # size 16 is not 1: unchanged
  %tr = transpose(%a, 0, -1) : f32[16, T]
  %sl = slice(%a, 1, 2, 10)
  %sl_neg = slice(%a, -1, -4, 100)
  %sl_step = slice(%a, 1, 0, 16, 3)
  %sl_sym = slice(%a, 0, 0, 9223372036854775807)
  %lin = linear(%b, %w) : bf16[T, 32]
  %lin32 = linear(%b, %w, out_dtype=f32) : f32[T, 32]
  %mm = matmul(%m, %n) : f16[8, 8]
  %mmt = matmul(%m, %m, trans_b=true, out_dtype=f32) : f32[8, 8]
  %mmf = matmul(%m, %n, trans_b=false)
  %zs = add(%z, nan)
  %zb = mul(%a, %z)
  %big = mul(%a, 1.7976931348623157e308)
  %tiny = mul(%a, 5e-324)
  %ni = add(%i, -9223372036854775808)
  %ninf = max(%a, -inf)
  return %add, %sub, %mul, %div, %max, %min, %pow, %neg, %abs, %exp, %log, %sqrt, %rsqrt, %sig, %tanh, %relu, %silu, %gelu, %gelu_t, %gelu_n, %c, %c8, %cb, %u0, %sq, %sq_noop, %tr, %sl, %sl_neg, %sl_step, %sl_sym, %lin, %lin32, %mm, %mmt, %mmf, %zs, %zb, %big, %tiny, %ni, %ninf
}
