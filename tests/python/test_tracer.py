"""@nsafuse.jit and nsafuse.trace: sglang's head gates (examples/nsa/head_gate.py)
against PyTorch eager, one trace serving every leading size, the graph text,
the ops of the contract, and functions it must refuse, naming the op and
the line that used it."""

import importlib.util
import inspect
import os

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import nsafuse  # noqa: E402
from nfcheck import assert_matches, generator, rand, seed, torch_1x_cpu  # noqa: E402


@pytest.fixture(scope="module")
def head_gate():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("head_gate", os.path.join(root, "examples/nsa/head_gate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_logits_head_gate_matches_eager_for_every_T(head_gate, device):
    g = generator(seed())
    fused = nsafuse.jit(head_gate.get_logits_head_gate)
    w = rand((64, 7168), torch.bfloat16, g, device) / 16
    for T in (1, 5, 64, 33):  # T = 64 is also w's leading size
        x = rand((T, 7168), torch.bfloat16, g, device)
        q = rand((T, 64, 1), torch.float32, g, device)
        got = fused(x, w, q)
        assert_matches(got, head_gate.get_logits_head_gate(x, w, q), fused.kernel_for(x, w, q), what=f"T={T}")
    # one trace serves every T, T = 64 too (w is a GEMM weight: its 64 stays fixed)
    assert len(fused._plans) == 1


def test_project_and_scale_head_gates_matches_eager(head_gate, device):
    g = generator(seed())
    fused = nsafuse.jit(head_gate.project_and_scale_head_gates)
    w = rand((64, 7168), torch.bfloat16, g, device) / 16
    for T in (1, 7):
        x = rand((T, 7168), torch.bfloat16, g, device)
        assert_matches(fused(x, w), head_gate.project_and_scale_head_gates(x, w), fused.kernel_for(x, w))
    with torch.no_grad():
        x = rand((3, 7168), torch.bfloat16, g, device)
        assert_matches(fused(x, w, n_heads=32), head_gate.project_and_scale_head_gates(x, w, 32),
                       fused.kernel_for(x, w, n_heads=32), what="n_heads=32")
    assert len(fused._plans) == 2  # the constant is part of the signature


def test_trace_gives_the_contracts_graph(head_gate):
    x = torch.ones((4, 7168), dtype=torch.bfloat16)
    w = torch.ones((64, 7168), dtype=torch.bfloat16)
    q = torch.ones((4, 64, 1))
    text = nsafuse.trace(head_gate.get_logits_head_gate, x, w, q)
    header = "graph get_logits_head_gate(%x: bf16[T, 7168], %weight: bf16[64, 7168], %q_scale: f32[T, 64, 1]) {"
    assert text.splitlines()[0] == header
    body = [line.split("#")[0].strip() for line in text.splitlines()[1:-1]]
    assert body == ["%linear = linear(%x, %weight)", "%float_1 = cast(%linear, f32)", "%mul = mul(%float_1, 0.125)",
                    "%unsqueeze = unsqueeze(%mul, -1)", "%mul_1 = mul(%unsqueeze, %q_scale)",
                    "%mul_2 = mul(%mul_1, 0.08838834764831845)", "return %mul_2"]
    assert "head_gate.py:" in text.splitlines()[1]  # each statement says where it came from
    k = nsafuse.compile(text)  # the text is a graph file of its own
    assert "kernel 0: gemm" in k.source("fused", T=4).replace("GEMM", "gemm")
    assert k.source("fused", T=4).count("\nkernel ") + k.source("fused", T=4).startswith("kernel ") <= 1


def test_views_slices_and_unary_ops_match_eager(device):
    def chain(x, y):
        a = torch.sigmoid(x[:, 1:7:2]) + F.silu(x[..., None, -3:]).squeeze(1) * 0.5
        b = torch.exp(-x.abs()).t()[0:2] - torch.tanh(y.T)
        c = F.gelu(x[:, 0]) * F.gelu(x[:, -1], approximate="tanh") / torch.sqrt(y[:, 0].abs())
        d = torch.maximum(torch.relu(x.unsqueeze(0)), y.transpose(0, 1)[:1, :, None]) - torch.rsqrt(x.abs()) ** 2.0
        return a, b, c.to(torch.float64), d

    g = generator(seed())
    x = rand((5, 9), torch.float32, g, device)
    y = rand((5, 2), torch.float32, g, device)
    fused = nsafuse.jit(chain)
    got, want = fused(x, y), chain(x, y)
    assert isinstance(got, tuple) and len(got) == 4
    k = fused.kernel_for(x, y)
    for i, (gi, wi) in enumerate(zip(got, want)):
        assert_matches(gi, wi, k, output=i, what=f"output {i}")


def test_casts_literals_and_matmul_match_eager(device):
    def f(a, b, w):
        h = (a.half() * 3).float() + b.to(torch.bfloat16).to(dtype=torch.float32)
        return 1.5 - h / 4, torch.mm(a, w.t()), a @ w.T, (2 ** a.double()).float()

    g = generator(seed())
    a, b = rand((6, 8), torch.float32, g, device), rand((6, 8), torch.float32, g, device)
    w = rand((3, 8), torch.float32, g, device)
    got, want = nsafuse.jit(f)(a, b, w), f(a, b, w)
    k = nsafuse.jit(f).kernel_for(a, b, w)
    for i in range(4):
        assert_matches(got[i], want[i], k, output=i, torch_ulps=1 if torch_1x_cpu(device) else 0)


def test_keyword_arguments_and_targets():
    def f(x, scale=2.0, *, bias_free=True):
        return x * scale if bias_free else x

    fused = nsafuse.jit(target="host")(f)
    x = torch.arange(4.0)
    assert fused(x).tolist() == [0.0, 2.0, 4.0, 6.0]
    assert fused(x, scale=0.5).tolist() == [0.0, 0.5, 1.0, 1.5]
    assert fused(scale=3, x=x).tolist() == [0.0, 3.0, 6.0, 9.0]
    same = fused(x, bias_free=False)  # returns its argument: nsafuse returns a copy of it
    assert same.tolist() == [0.0, 1.0, 2.0, 3.0] and same.data_ptr() != x.data_ptr()
    assert fused.__name__ == "f" and fused.__wrapped__ is f


def test_constant_weights_declare_the_gemm_weights(device):
    @nsafuse.jit(constant_weights=True)
    def gate(x, weight, q_scale):
        return (F.linear(x.float(), weight) * 64 ** -0.5).unsqueeze(-1) * q_scale

    g = generator(seed())
    x, w, q = rand((5, 64), torch.bfloat16, g, device), rand((32, 64), torch.float32, g, device), \
        rand((5, 32, 1), torch.float32, g, device)
    out = gate(x, w, q)
    k = gate.kernel_for(x, w, q)
    assert k.constant_inputs == 1 << 1  # weight, the second tensor argument
    assert_matches(out, (F.linear(x.float(), w) * 64 ** -0.5).unsqueeze(-1) * q, k)
    w.mul_(3)
    k.constants_changed()
    assert_matches(gate(x, w, q), (F.linear(x.float(), w) * 64 ** -0.5).unsqueeze(-1) * q, k)


def test_prepare_compiles_leading_sizes_ahead():
    @nsafuse.jit(target="host")
    def scale(x, w):
        return F.linear(x, w) * 0.5

    g = generator(seed())
    x, w = rand((3, 16), torch.float32, g, "cpu"), rand((8, 16), torch.float32, g, "cpu")
    scale.prepare(x, w, sizes=[1, 5, 9])
    k = scale.kernel_for(x, w)
    assert k.stats()["compiled_signatures"] == 3  # the example's own T = 3 is not among them
    x5 = rand((5, 16), torch.float32, g, "cpu")
    assert_matches(scale(x5, w), F.linear(x5, w) * 0.5, k)
    assert k.stats()["compiled_signatures"] == 3


def test_keep_fp32_drops_intermediate_rounding():
    def f(x):
        return (x * 0.1).float() * 10  # bf16 * 0.1 is rounded to bf16 in eager

    x = torch.tensor([1.0, 3.0, 7.0], dtype=torch.bfloat16)
    exact = nsafuse.jit(f)(x)
    kept = nsafuse.jit(keep_fp32=True)(f)(x)
    assert torch.allclose(kept, x.float(), rtol=1e-6)  # no bf16 rounding of x * 0.1 in between
    assert not torch.equal(exact, kept)


# ---- refused functions: the op, and the line that used it -------------------------

GLOBAL = torch.ones(3)


def uses_cumsum(x):
    return torch.cumsum(x * 2, 0)  # refused


def uses_sum(x):
    return x.sum() * x  # refused


def uses_softmax(x):
    return torch.softmax(x, -1)  # refused


def uses_bias(x, w, b):
    return F.linear(x, w, b)  # refused


def in_place(x):
    y = x * 2
    y.mul_(3)  # refused
    return y


def moves(x):
    return x.to("cpu") * 2  # refused


def branches(x):
    if x.max() > 0:  # refused
        return x
    return -x


def uses_a_global(x):
    return x * GLOBAL  # refused


def squeezes_all(x):
    return x.squeeze()  # refused


def reduces(x):
    return torch.max(x, 0)  # refused


def reshapes(x):
    return x.reshape(-1)  # refused


def floor_divides(x):
    return x // 2  # refused


def indexes_with_a_tensor(x):
    return x[x > 0]  # refused


def returns_a_size(x):
    return x.shape[0]  # refused


def adds_with_alpha(x):
    return torch.add(x, x, alpha=2)  # refused


REFUSED = [(uses_cumsum, "torch.cumsum"), (uses_sum, "Tensor.sum"), (uses_softmax, "softmax"),
           (uses_bias, "bias"), (in_place, "Tensor.mul_"), (moves, "Tensor.to('cpu')"), (branches, "control flow"),
           (uses_a_global, "not one of its arguments"), (squeezes_all, "squeeze() without a dim"),
           (reduces, "reduction"), (reshapes, "Tensor.reshape"), (floor_divides, "floordiv"),
           (indexes_with_a_tensor, "operator gt"), (returns_a_size, "shape"), (adds_with_alpha, "alpha=2")]


@pytest.mark.parametrize("fn,needle", REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_ops_outside_the_contract_are_refused_with_their_line(fn, needle):
    lines, first = inspect.getsourcelines(fn)
    line = first + next(i for i, text in enumerate(lines) if "# refused" in text)
    x = torch.ones(4, 3)
    args = (x, torch.ones(5, 3), torch.ones(5)) if fn is uses_bias else (x,)
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.jit(fn)(*args)
    text = str(e.value)
    assert needle in text, text
    assert f"test_tracer.py:{line}:" in text, text
    assert "# refused" in text  # the source line itself is quoted
    with pytest.raises(nsafuse.Error):
        nsafuse.trace(fn, *args)


def test_verifier_errors_point_at_the_users_line():
    def mismatched(x, y):
        return x + y  # the line

    with pytest.raises(nsafuse.Error) as e:
        nsafuse.jit(mismatched)(torch.ones(4, 3), torch.ones(4, 5))
    text = str(e.value)
    line = inspect.getsourcelines(mismatched)[1] + 1
    assert f"test_tracer.py:{line}:" in text and "x + y" in text, text
    assert e.value.status == "NF_ERR_TYPE"


def test_tensors_must_be_arguments_not_containers():
    def f(xs):
        return xs[0] * 2

    with pytest.raises(nsafuse.Error) as e:
        nsafuse.jit(f)([torch.ones(2)])
    assert "tensors inside a list" in str(e.value)
