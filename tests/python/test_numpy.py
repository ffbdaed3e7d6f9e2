"""Calling compiled graphs on NumPy arrays: dtypes, strided and sliced
views, broadcast (read-only) inputs, out=, outputs NumPy cannot hold."""

import numpy as np
import pytest

import nsafuse
from nfcheck import assert_matches, poisoned_like, seed

try:
    import torch
except ImportError:
    torch = None


def eager(fn, *arrays):
    """The reference: PyTorch eager on the same data where torch is installed
    (NumPy computes these ops correctly rounded too, so it stands in)."""
    if torch is None:
        return fn(np, *arrays)
    out = fn(torch, *[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    return out.numpy()


def rng():
    return np.random.default_rng(seed())


LINEAR = """graph lin(%x: f32[T, 16], %w: f32[8, 16], %s: f32[T, 8]) {
  %y = linear(%x, %w)
  %z = mul(%y, %s)
  %o = add(%z, 0.5)
  return %o
}
"""


def torch_linear(xp, x, w, s):
    if xp is np:
        return (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.float32) * s + np.float32(0.5)
    return torch.nn.functional.linear(x, w) * s + 0.5


def test_linear_chain_on_numpy_arrays():
    r = rng()
    k = nsafuse.compile(LINEAR)
    x = r.uniform(-1, 1, (5, 16)).astype(np.float32)
    w = r.uniform(-1, 1, (8, 16)).astype(np.float32)
    s = r.uniform(-1, 1, (5, 8)).astype(np.float32)
    o = k(x, w, s)
    assert isinstance(o, np.ndarray) and o.dtype == np.float32 and o.shape == (5, 8)
    assert_matches(o, eager(torch_linear, x, w, s), k)


def test_strided_sliced_and_transposed_arrays():
    r = rng()
    k = nsafuse.compile(LINEAR)
    x = r.uniform(-1, 1, (12, 40)).astype(np.float32)[1:11:2, 3:19]     # offset, both dims strided
    w = r.uniform(-1, 1, (16, 8)).astype(np.float32).T                   # transposed
    s = np.broadcast_to(r.uniform(-1, 1, (1, 8)).astype(np.float32), (5, 8))  # stride 0, read-only
    assert not x.flags.c_contiguous and not w.flags.c_contiguous and not s.flags.writeable
    assert_matches(k(x, w, s), eager(torch_linear, x, w, s), k)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64"])
def test_dtypes(dtype):
    r = rng()
    nf = {"float16": "f16", "float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64"}[dtype]
    k = nsafuse.compile(f"graph d(%a: {nf}[N], %b: {nf}[N]) {{\n  %s = add(%a, %b)\n  %m = mul(%s, %a)\n"
                        f"  %c = max(%m, %b)\n  return %c\n}}\n")
    a = (r.uniform(-8, 8, 33)).astype(dtype)
    b = (r.uniform(-8, 8, 33)).astype(dtype)
    got = k(a, b)
    assert got.dtype == np.dtype(dtype)
    assert_matches(got, eager(lambda xp, a, b: xp.maximum((a + b) * a, b), a, b), k)


def test_bool_arrays():
    k = nsafuse.compile("graph b(%a: bool[N], %x: f32[N]) {\n  %f = cast(%a, f32)\n  %o = mul(%f, %x)\n"
                        "  %c = cast(%o, bool)\n  return %o, %c\n}\n")
    a = np.array([True, False, True, True])
    x = np.array([2.0, 3.0, 0.0, -1.5], np.float32)
    o, c = k(a, x)
    assert o.tolist() == [2.0, 0.0, 0.0, -1.5]
    assert c.dtype == np.bool_ and c.tolist() == [True, False, False, True]


def test_out_array_is_written_and_returned():
    r = rng()
    k = nsafuse.compile(LINEAR)
    x, w, s = (r.uniform(-1, 1, sh).astype(np.float32) for sh in ((3, 16), (8, 16), (3, 8)))
    want = eager(torch_linear, x, w, s)
    out = poisoned_like(want)
    assert k(x, w, s, out=out) is out
    assert_matches(out, want, k)
    big = np.full((8, 6), np.nan, np.float32)
    view = big.T[::2]                      # (3, 8), strided and transposed
    k(x, w, s, out=view)
    assert_matches(view, want, k)
    assert np.isnan(big.T[1::2]).all()


def test_a_bf16_output_needs_a_framework_with_bf16():
    k = nsafuse.compile("graph h(%a: f32[N]) {\n  %o = cast(%a, bf16)\n  return %o\n}\n")
    a = np.array([1.0, 2.5, 3.0], np.float32)
    with pytest.raises(nsafuse.Error) as e:
        k(a)
    assert "bf16" in str(e.value) and "out=" in str(e.value)
    if torch is not None:
        out = torch.empty(3, dtype=torch.bfloat16)
        assert k(a, out=out) is out
        assert out.float().tolist() == [1.0, 2.5, 3.0]


def test_zero_dim_and_empty_arrays():
    k = nsafuse.compile("graph z(%a: f32[], %b: f32[N]) {\n  %o = mul(%a, %b)\n  return %o\n}\n")
    o = k(np.array(3.0, np.float32), np.array([1.0, 2.0], np.float32))
    assert o.tolist() == [3.0, 6.0]
    assert k(np.array(3.0, np.float32), np.zeros(0, np.float32)).shape == (0,)
