# bf16 -> f32 and two scales (the head gate's chain without the GEMM), on
# N elements: 1M .. 256M in bench/.
graph upcast_two_scales(%x: bf16[N]) {
  %f = cast(%x, f32)
  %a = mul(%f, 0.125)
  %o = mul(%a, 0.08838834764831845)
  return %o
}
