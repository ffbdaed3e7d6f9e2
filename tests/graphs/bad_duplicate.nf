# expect 4:3 type duplicate name %y
graph g(%x: f32[4]) {
  %y = neg(%x)
  %y = exp(%x)
  return %y
}
