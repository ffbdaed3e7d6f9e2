# A copy: cast from f32 to f32. Its time on 256M elements (1 GiB read, 1 GiB
# written) gives the copy bandwidth the chains are measured against.
graph copy_f32(%x: f32[N]) {
  %o = cast(%x, f32)
  return %o
}
