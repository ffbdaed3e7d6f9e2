# NSA indexer: sglang's _get_logits_head_gate (DeepSeek-V3.2 shapes: hidden
# 7168, n_heads 64, head_dim 128), in the three forms in use:
#
#   (linear(x, W).float() * n_heads ** -0.5).unsqueeze(-1) * q_scale * head_dim ** -0.5
#
# T is the number of tokens: 1 (decode) .. 16384 (prefill).

# bf16-rounded: the GEMM result is stored in bf16, then cast to f32 (the seed code).
graph logits_head_gate(%x: bf16[T, 7168], %w: bf16[64, 7168], %q_scale: f32[T, 64, 1]) {
  %y  = linear(%x, %w)                  : bf16[T, 64]
  %yf = cast(%y, f32)                   : f32[T, 64]
  %s  = mul(%yf, 0.125)                 : f32[T, 64]      # n_heads ** -0.5
  %u  = unsqueeze(%s, -1)               : f32[T, 64, 1]
  %g  = mul(%u, %q_scale)               : f32[T, 64, 1]
  %o  = mul(%g, 0.08838834764831845)    : f32[T, 64, 1]   # softmax_scale = head_dim ** -0.5
  return %o
}

# f32-output: torch.mm(x, W.t(), out_dtype=torch.float32), no bf16 rounding
# (sglang on NVIDIA today).
graph logits_head_gate_f32out(%x: bf16[T, 7168], %w: bf16[64, 7168], %q_scale: f32[T, 64, 1]) {
  %y  = linear(%x, %w, out_dtype=f32)   : f32[T, 64]
  %s  = mul(%y, 0.125)                  : f32[T, 64]
  %u  = unsqueeze(%s, -1)               : f32[T, 64, 1]
  %g  = mul(%u, %q_scale)               : f32[T, 64, 1]
  %o  = mul(%g, 0.08838834764831845)    : f32[T, 64, 1]
  return %o
}

# fp32 weights: x.to(fp32) first, then an fp32 GEMM (the AMD path, rtp-llm).
graph logits_head_gate_f32w(%x: bf16[T, 7168], %w: f32[64, 7168], %q_scale: f32[T, 64, 1]) {
  %xf = cast(%x, f32)                   : f32[T, 7168]
  %y  = linear(%xf, %w)                 : f32[T, 64]
  %s  = mul(%y, 0.125)                  : f32[T, 64]
  %u  = unsqueeze(%s, -1)               : f32[T, 64, 1]
  %g  = mul(%u, %q_scale)               : f32[T, 64, 1]
  %o  = mul(%g, 0.08838834764831845)    : f32[T, 64, 1]
  return %o
}
