# expect 3:8 type wrong number of arguments
graph g(%x: f32[4]) {
  %y = add(%x)
  return %y
}
