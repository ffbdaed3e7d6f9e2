# expect 3:16 parse bad number '1.2.3'
graph g(%x: f32[4]) {
  %y = mul(%x, 1.2.3)
  return %y
}
