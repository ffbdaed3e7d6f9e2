# expect 3:24 type type assertion failed: inferred f32[T, 64], written bf16[T, 64]
graph g(%x: bf16[T, 64]) {
  %y = cast(%x, f32) : bf16[T, 64]
  return %y
}
