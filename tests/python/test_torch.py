"""Calling compiled graphs on torch tensors (host, and GPU where there is
one): the NSA head gates against PyTorch eager, strided and sliced inputs,
out=, several outputs, every elementwise op, the signature cache, threads."""

import os
import threading

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import nsafuse  # noqa: E402
from nfcheck import assert_matches, generator, poisoned_like, rand, seed, torch_1x_cpu  # noqa: E402


def example(root, name):
    return os.path.join(root, "examples/nsa", name)


# sglang's head gates (ANCHORS.md), eager.
def gate_bf16(x, w, q_scale):
    return (F.linear(x, w).float() * 64 ** -0.5).unsqueeze(-1) * q_scale * 128 ** -0.5


def f32_linear(x, w):
    # torch.mm(x, w.t(), out_dtype=torch.float32) where this torch has it; the
    # same math otherwise: products of bf16 values are exact in f32.
    try:
        return torch.mm(x, w.t(), out_dtype=torch.float32)
    except (TypeError, RuntimeError, NotImplementedError):  # older torch; torch 2.11 on the CPU
        return F.linear(x.float(), w.float())


def gate_f32out(x, w, q_scale):
    return (f32_linear(x, w) * 64 ** -0.5).unsqueeze(-1) * q_scale * 128 ** -0.5


def gate_f32w(x, w, q_scale):
    return (F.linear(x.to(torch.float32), w) * 64 ** -0.5).unsqueeze(-1) * q_scale * 128 ** -0.5


GATES = [("logits_head_gate", torch.bfloat16, gate_bf16), ("logits_head_gate_f32out", torch.bfloat16, gate_f32out),
         ("logits_head_gate_f32w", torch.float32, gate_f32w)]


@pytest.mark.parametrize("graph,w_dtype,eager", GATES, ids=[g[0] for g in GATES])
@pytest.mark.parametrize("T", [1, 7, 33])
def test_head_gate_matches_eager(root, device, graph, w_dtype, eager, T):
    g = generator(seed())
    k = nsafuse.compile(example(root, "logits_head_gate.nf"), graph=graph)
    x = rand((T, 7168), torch.bfloat16, g, device)
    w = rand((64, 7168), w_dtype, g, device) / 16
    q = rand((T, 64, 1), torch.float32, g, device)
    assert_matches(k(x, w, q), eager(x, w, q), k, what=f"{graph} T={T}")


def test_projected_gates_match_eager(root, device):
    g = generator(seed())
    k = nsafuse.compile(example(root, "project_and_scale_head_gates.nf"))
    x = rand((5, 7168), torch.bfloat16, g, device)
    w = rand((64, 7168), torch.bfloat16, g, device) / 16
    assert_matches(k(x, w), F.linear(x, w).float() * 64 ** -0.5, k)


def test_strided_and_sliced_inputs_are_read_where_they_are(root, device):
    g = generator(seed())
    k = nsafuse.compile(example(root, "logits_head_gate.nf"))
    T = 9
    x = rand((T, 7168 + 300), torch.bfloat16, g, device)[:, 100:7268]   # offset rows, row stride 7468
    w = (rand((128, 7168), torch.bfloat16, g, device) / 16)[::2]         # every other row
    q = rand((64, T, 1), torch.float32, g, device).permute(1, 0, 2)     # transposed
    assert not x.is_contiguous() and not w.is_contiguous() and not q.is_contiguous()
    assert_matches(k(x, w, q), gate_bf16(x, w, q), k, what="strided inputs")
    qb = rand((T, 1, 1), torch.float32, g, device).expand(T, 64, 1)     # a broadcast view (stride 0)
    assert_matches(k(x, w, qb), gate_bf16(x, w, qb), k, what="broadcast q_scale")


def test_out_is_written_with_its_strides_and_returned(root, device):
    g = generator(seed())
    k = nsafuse.compile(example(root, "logits_head_gate.nf"))
    x = rand((6, 7168), torch.bfloat16, g, device)
    w = rand((64, 7168), torch.bfloat16, g, device) / 16
    q = rand((6, 64, 1), torch.float32, g, device)
    want = gate_bf16(x, w, q)
    out = poisoned_like(want)
    assert k(x, w, q, out=out) is out
    assert_matches(out, want, k)
    big = torch.full((64, 12, 1), float("nan"), device=device)
    view = big.permute(1, 0, 2)[::2]        # T=6 rows of a transposed buffer
    assert k(x, w, q, out=view) is view
    assert_matches(view, want, k, what="strided out")
    assert torch.isnan(big.permute(1, 0, 2)[1::2]).all(), "wrote outside the out= view"
    outs = (poisoned_like(want),)
    assert k(x, w, q, out=outs) is outs
    assert_matches(outs[0], want, k)


def test_several_outputs_come_back_as_a_tuple(root, device):
    g = generator(seed())
    k = nsafuse.compile(os.path.join(root, "tests/graphs/multi.nf"), graph="second")
    x = rand((4, 8), torch.bfloat16, g, device)
    y = rand((8,), torch.bfloat16, g, device)
    t, s = k(x, y)
    assert_matches(s, x + y, k, output=1)
    assert_matches(t, F.silu(x + y), k, output=0)


UNARY = [("neg", torch.neg), ("abs", torch.abs), ("exp", torch.exp), ("log", lambda a: torch.log(a.abs())),
         ("sqrt", lambda a: torch.sqrt(a.abs())), ("rsqrt", lambda a: torch.rsqrt(a.abs())),
         ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu), ("silu", F.silu),
         ("gelu", F.gelu), ("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"))]
DTYPES = [("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16), ("f64", torch.float64)]


@pytest.mark.parametrize("op,eager", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dt,tdt", DTYPES, ids=[d[0] for d in DTYPES])
def test_unary_ops_match_eager(device, op, eager, dt, tdt):
    if tdt == torch.float16 and device == "cpu" and torch_1x_cpu() and op in ("gelu", "gelu_tanh", "silu"):
        pytest.skip("torch 1.x has no CPU half kernel for this op")
    prep = "%b = abs(%a)\n  " if op in ("log", "sqrt", "rsqrt") else ""
    arg = "%b" if prep else "%a"
    call = f"gelu({arg}, approximate=tanh)" if op == "gelu_tanh" else f"{op}({arg})"
    k = nsafuse.compile(f"graph u(%a: {dt}[N, 5]) {{\n  {prep}%o = {call}\n  return %o\n}}\n")
    x = rand((37, 5), tdt, generator(seed()), device) * 4
    try:
        want = eager(x)
    except RuntimeError as e:
        pytest.skip(f"torch has no kernel for it here: {e}")
    # torch 2.x's CPU sqrt is not correctly rounded (0.6% of f32 and f64 values
    # one ulp off np.sqrt, measured with torch 2.11); nsafuse's is
    off = 1 if op in ("sqrt", "rsqrt") and device == "cpu" and not torch_1x_cpu(device) else 0
    assert_matches(k(x), want, k, torch_ulps=off, what=f"{op} {dt}")


BINARY = [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div),
          ("max", torch.maximum), ("min", torch.minimum), ("pow", lambda a, b: torch.pow(a.abs(), b))]


@pytest.mark.parametrize("op,eager", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("dt,tdt", DTYPES[:3], ids=[d[0] for d in DTYPES[:3]])
def test_binary_ops_broadcast_and_literals_match_eager(device, op, eager, dt, tdt):
    g = generator(seed())
    a_text = "%p = abs(%a)\n  " if op == "pow" else ""
    a = "%p" if op == "pow" else "%a"
    k = nsafuse.compile(f"graph b(%a: {dt}[N, 6], %b: {dt}[6]) {{\n  {a_text}%o = {op}({a}, %b)\n  return %o\n}}\n")
    x, y = rand((11, 6), tdt, g, device), rand((6,), tdt, g, device)
    assert_matches(k(x, y), eager(x, y), k, what=f"{op} {dt} broadcast")
    if op in ("max", "min"):
        return  # torch.maximum takes no number
    lit = 0.3
    k = nsafuse.compile(f"graph l(%a: {dt}[N, 6]) {{\n  {a_text}%o = {op}({a}, {lit})\n  return %o\n}}\n")
    assert_matches(k(x), eager(x, lit), k, torch_ulps=torch_literal_ulps(op, tdt, device),
                   what=f"{op} {dt} literal")


def torch_literal_ulps(op, dtype, device):
    """Where PyTorch eager itself departs from using a Python number in f32
    (nsafuse's rule, docs/FUSION.md), by one ulp of the result: its CPU add/sub
    kernels (and every CPU kernel of torch 1.x) round the number to a bf16/f16
    tensor's dtype first; its CUDA division by a number multiplies by the
    reciprocal."""
    narrow = dtype in (torch.bfloat16, torch.float16)
    if device == "cpu" and narrow and (op in ("add", "sub") or torch_1x_cpu(device)):
        return 1
    if device == "cuda" and op == "div":
        return 1
    return 0


def test_integer_and_bool_dtypes(device):
    g = generator(seed())
    k = nsafuse.compile("graph i(%a: i32[N], %b: i64[N]) {\n  %s = add(%a, %b)\n  %d = div(%a, 3)\n"
                        "  %c = cast(%a, bool)\n  return %s, %d, %c\n}\n")
    a, b = rand((17,), torch.int32, g, device), rand((17,), torch.int64, g, device)
    s, d, c = k(a, b)
    assert_matches(s, a + b, k, 0)
    assert_matches(d, a / 3, k, 1, torch_ulps=torch_literal_ulps("div", torch.float32, device))
    assert_matches(c, a.bool(), k, 2)


def test_empty_leading_size(root, device):
    k = nsafuse.compile(example(root, "logits_head_gate.nf"))
    x = torch.empty((0, 7168), dtype=torch.bfloat16, device=device)
    w = torch.ones((64, 7168), dtype=torch.bfloat16, device=device)
    q = torch.empty((0, 64, 1), device=device)
    o = k(x, w, q)
    assert o.shape == (0, 64, 1) and o.dtype == torch.float32


def test_code_is_generated_once_per_signature():
    k = nsafuse.compile("graph s(%a: f32[N]) {\n  %o = mul(%a, 2)\n  return %o\n}\n")
    a = torch.ones(5)
    for _ in range(3):
        k(a)
    assert k.stats()["compiled_signatures"] == 1
    k(torch.ones(6))
    k(torch.ones(10)[::2])       # same shape, other strides: another signature
    assert k.stats()["compiled_signatures"] == 3


def test_calls_from_several_threads_do_not_mix_their_tensors():
    k = nsafuse.compile("graph s(%a: f32[N], %b: f32[N]) {\n  %o = add(%a, %b)\n  return %o\n}\n")
    errors = []

    def work(i):
        a, b = torch.full((1000,), float(i)), torch.full((1000,), 0.5)
        for _ in range(200):
            o = k(a, b)
            if not bool((o == i + 0.5).all()):
                errors.append(i)
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_parameters_under_no_grad():
    k = nsafuse.compile("graph s(%a: f32[N]) {\n  %o = mul(%a, 2)\n  return %o\n}\n")
    p = torch.nn.Parameter(torch.ones(3))
    with torch.no_grad():
        assert torch.equal(k(p), torch.full((3,), 2.0))
