# Ünïcödé is fine in comments: µs, ×, →, 🚀
graph g(%x: f32[4]) {  # größe
  %y = relu(%x)        # max(x, 0) ≥ 0
  return %y
}
