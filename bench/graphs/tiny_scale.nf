# A tiny graph for the host-side cost of a cached launch.
graph tiny_scale(%x: f32[N]) {
  %o = mul(%x, 2.0)
  return %o
}
