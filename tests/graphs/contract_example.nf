# NSA indexer head gate (DeepSeek-V3.2 shapes): weights_proj GEMM + cast/scale/gate chain
graph logits_head_gate(%x: bf16[T, 7168], %w: bf16[64, 7168], %q_scale: f32[T, 64, 1]) {
  %y  = linear(%x, %w)                  # bf16[T, 64]; fp32 accumulation, result rounded to bf16
  %yf = cast(%y, f32)
  %s  = mul(%yf, 0.125)                 # n_heads ** -0.5
  %u  = unsqueeze(%s, -1)               # f32[T, 64, 1]
  %g  = mul(%u, %q_scale)
  %o  = mul(%g, 0.08838834764831845)    # softmax_scale = head_dim ** -0.5
  return %o
}
