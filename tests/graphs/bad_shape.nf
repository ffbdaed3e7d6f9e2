# expect 3:8 type shape mismatch
graph g(%a: f32[4, 3], %b: f32[5]) {
  %c = add(%a, %b)
  return %c
}
