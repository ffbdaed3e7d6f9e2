# NSA indexer query/key RoPE (DeepSeek-V3.2 shapes): sglang's _get_q_k_bf16 rotates
# query[..., :64] and key[..., :64] (neox style) and copies the results back into
# query and key. Here the graph returns the rotated slices; a host program binds
# its outputs to the very views query[..., :64] and key[..., :64], and
# nf_kernel_run stores each one in place (one kernel per tensor, no copy):
# docs/ROPE.md. `nsafuse run` binds fresh outputs instead (out of place).
graph rope_writeback(%query: bf16[T, 64, 128], %key: bf16[T, 128],
                     %cos_sin_cache: f32[4096, 64], %positions: i64[T]) {
  %q = slice(%query, -1, 0, 64)         # the rope part of each head: a view, no copy
  %k = slice(%key, -1, 0, 64)
  %q_rot = rope(%q, %cos_sin_cache, %positions, style=neox)  # fp32 math, rounded to bf16
  %k_rot = rope(%k, %cos_sin_cache, %positions, style=neox)
  return %q_rot, %k_rot
}
