# expect 3:8 parse unknown op 'lineer'
graph g(%x: bf16[T, 64], %w: bf16[32, 64]) {
  %y = lineer(%x, %w)
  return %y
}
