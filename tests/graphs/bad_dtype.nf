# expect 2:13 parse unknown dtype 'f31'
graph g(%x: f31[4]) {
  %y = neg(%x)
  return %y
}
