# expect 4:1 parse missing return statement
graph g(%x: f32[4]) {
  %y = neg(%x)
}
