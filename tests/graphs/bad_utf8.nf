# expect 3:18 parse invalid UTF-8 byte 0xFF
graph g(%x: f32[4]) {
  %y = neg(%x) # ÿ
  return %y
}
