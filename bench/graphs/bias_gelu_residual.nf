# A transformer MLP tail: bias + gelu + scale + residual, bf16 activations with
# an f32 bias (PyTorch promotes bf16 + f32 to f32), stored as bf16.
# ANCHORS.md shape: N = 65536 rows of 1536.
graph bias_gelu_residual(%x: bf16[N, 1536], %bias: f32[1536], %res: bf16[N, 1536]) {
  %a = add(%x, %bias)      # f32
  %g = gelu(%a)
  %s = mul(%g, 0.5)
  %r = add(%s, %res)       # f32
  %o = cast(%r, bf16)
  return %o
}
