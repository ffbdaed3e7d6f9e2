# expect 4:16 type undefined value %zz
graph g(%x: f32[4]) {
  %y = neg(%x)
  %z = add(%y, %zz)
  return %z
}
