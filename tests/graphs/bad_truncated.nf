# expect 3:14 parse expected ',' or ')' in the arguments of 'neg', found end of file
graph g(%x: f32[4]) {
  %y = neg(%x