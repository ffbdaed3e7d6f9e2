"""Comparing nsafuse's outputs with PyTorch eager's, and making test inputs.

Tolerance: nsafuse states how far its kernels may be from its correctly
rounded reference (Kernel.tolerance, docs/FUSION.md); PyTorch's own kernels
(its GEMM's summation order, its exp/tanh/erf) are no closer to exact, so the
comparison allows that twice. Where the tolerance is zero (+ - * / sqrt, casts
and views only) the results must agree bit for bit, except where PyTorch's
own kernel departs from the correctly rounded result: `torch_ulps` allows
that many ulps of the output's dtype (the tests say where, and why)."""

import math
import os
import random

import numpy as np

try:
    import torch
except ImportError:
    torch = None

ULP = {"bf16": 2.0**-7, "f16": 2.0**-10, "f32": 2.0**-23, "f64": 2.0**-52, "f8e4m3": 2.0**-3}


def seed():
    """A seed per test, printed on failure (pytest shows captured output)."""
    s = int(os.environ.get("NF_TEST_SEED", random.SystemRandom().randrange(1 << 31)))
    print(f"seed {s} (rerun with NF_TEST_SEED={s})")
    return s


def torch_1x_cpu(device="cpu"):
    return torch is not None and int(torch.__version__.split(".")[0]) < 2 and device == "cpu"


def to_f64(t):
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().to("cpu", torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)


def assert_matches(got, want, kernel, output=0, torch_ulps=0, what=""):
    """got (nsafuse) against want (PyTorch eager); shapes and dtypes must be equal."""
    if torch is not None and isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{what}: got {type(got).__name__}, expected a torch.Tensor"
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
        assert got.device == want.device, f"{what}: device {got.device}, expected {want.device}"
    else:
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    g, w = to_f64(got), to_f64(want)
    finite = w[np.isfinite(w)]
    max_abs = float(np.abs(finite).max()) if finite.size else 0.0
    atol, rtol = kernel.tolerance(output, max_abs)
    atol, rtol = 2 * atol, 2 * rtol
    if torch_ulps:
        ulp = ULP[kernel.outputs[output][1]] * torch_ulps
        atol += ulp * max(max_abs, 1.0)
        rtol += ulp
    both_nan = np.isnan(g) & np.isnan(w)
    bad = ~both_nan & ~(np.abs(g - w) <= atol + rtol * np.abs(w))
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), w.shape) if w.ndim else ()
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {w.size} elements differ (shape {w.shape}, atol {atol:.3g}, "
            f"rtol {rtol:.3g}); first at {i}: nsafuse {g[i]!r}, torch {w[i]!r}")


def poisoned_like(t):
    """An output buffer full of NaN (or a sentinel) so unwritten elements show."""
    if torch is not None and isinstance(t, torch.Tensor):
        out = torch.empty_like(t)
        out.fill_(math.nan if out.is_floating_point() else -7 if out.dtype != torch.bool else True)
        return out
    out = np.empty_like(t)
    out.fill(np.nan if out.dtype.kind == "f" else -7)
    return out


def rand(shape, dtype, gen, device="cpu"):
    """Random values in +-[0.0625, 1], never zero (as nsafuse's own tests)."""
    mag = torch.rand(shape, generator=gen, dtype=torch.float64) * (1 - 0.0625) + 0.0625
    sign = torch.randint(0, 2, shape, generator=gen, dtype=torch.int64) * 2 - 1
    v = (mag * sign)
    if dtype in (torch.int32, torch.int64):
        v = (v * 8).round().clamp(-8, 8)
        v[v == 0] = 1
    if dtype == torch.bool:
        return (v > 0).to(device)
    return v.to(dtype).to(device)


def generator(s):
    g = torch.Generator()
    g.manual_seed(s)
    return g
