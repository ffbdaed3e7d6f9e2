# A transcendental-heavy chain on f32, stored as f16:
# tanh(log(|-max(rsqrt(x^2 + eps) * s, 0.75)|)). ANCHORS.md shape: N = 4M rows of 33.
graph transcendental_chain(%x: f32[N, 33]) {
  %sq = mul(%x, %x)
  %e = add(%sq, 1e-6)
  %r = rsqrt(%e)
  %s = mul(%r, 0.5)
  %m = max(%s, 0.75)
  %n = neg(%m)
  %a = abs(%n)
  %l = log(%a)
  %t = tanh(%l)
  %o = cast(%t, f16)
  return %o
}
