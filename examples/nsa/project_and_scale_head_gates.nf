# NSA indexer: the per-head weights of sglang's _project_and_scale_head_gates
# (DeepSeek-V3.2 shapes: hidden 7168, n_heads 64), in the three forms in use:
#
#   w = linear(x, W).float() * n_heads ** -0.5
#
# T is the number of tokens: 1 (decode) .. 16384 (prefill).

# bf16-rounded: the GEMM result is stored in bf16, then cast to f32 (the seed code).
graph project_and_scale_head_gates(%x: bf16[T, 7168], %w: bf16[64, 7168]) {
  %y  = linear(%x, %w)                  : bf16[T, 64]
  %yf = cast(%y, f32)                   : f32[T, 64]
  %o  = mul(%yf, 0.125)                 : f32[T, 64]   # n_heads ** -0.5
  return %o
}

# f32-output: torch.mm(x, W.t(), out_dtype=torch.float32), no bf16 rounding
# (sglang on NVIDIA today).
graph project_and_scale_head_gates_f32out(%x: bf16[T, 7168], %w: bf16[64, 7168]) {
  %y  = linear(%x, %w, out_dtype=f32)   : f32[T, 64]
  %o  = mul(%y, 0.125)                  : f32[T, 64]
  return %o
}

# fp32 weights: x.to(fp32) first, then an fp32 GEMM (the AMD path, rtp-llm).
graph project_and_scale_head_gates_f32w(%x: bf16[T, 7168], %w: f32[64, 7168]) {
  %xf = cast(%x, f32)                   : f32[T, 7168]
  %y  = linear(%xf, %w)                 : f32[T, 64]
  %o  = mul(%y, 0.125)                  : f32[T, 64]
  return %o
}
