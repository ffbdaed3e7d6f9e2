# Several graphs in one file; tools pick one with --graph NAME.
graph first(%x: f32[N]) {
  %y = exp(%x)
  return %y
}

graph second(%x: bf16[4, 8], %y: bf16[8]) {
  %s = add(%x, %y)   # broadcast over rows
  %t = silu(%s)
  return %t, %s
}

graph third(%p.0: f16[2, K]) {
  %q.1 = transpose(%p.0, 0, 1) : f16[K, 2]
  return %q.1
}
