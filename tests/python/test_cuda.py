"""On the GPU machine: launches on the caller's current stream, capture in a
CUDA graph, device checks, DLPack objects told about the stream. (The other
test files run their torch tests on the GPU too, through the device fixture.)"""

import os

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import nsafuse  # noqa: E402
from nfcheck import assert_matches, generator, rand, seed  # noqa: E402

pytestmark = pytest.mark.cuda


def gate(x, w, q):
    return (F.linear(x, w).float() * 64 ** -0.5).unsqueeze(-1) * q * 128 ** -0.5


@pytest.fixture
def kernel(root):
    return nsafuse.compile(os.path.join(root, "examples/nsa/logits_head_gate.nf"), target="cuda")


def inputs(T=8):
    g = generator(seed())
    return (rand((T, 7168), torch.bfloat16, g, "cuda"), rand((64, 7168), torch.bfloat16, g, "cuda") / 16,
            rand((T, 64, 1), torch.float32, g, "cuda"))


def test_launches_on_the_current_stream(kernel):
    x, w, q = inputs()
    kernel(x, w, q)  # compiled outside the timing-sensitive part
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)  # ~tens of ms: a launch on another stream would overtake this
        x.mul_(2)
        out = kernel(x, w, q)
        assert out.device == x.device
    side.synchronize()
    assert_matches(out, gate(x, w, q), kernel)


def test_capture_in_a_cuda_graph(kernel):
    x, w, q = inputs()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        kernel(x, w, q)  # first call of the signature: code is generated outside the capture
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = kernel(x, w, q)
        out2 = torch.empty_like(out)
        kernel(x, w, q, out=out2)
    for scale in (1.0, -0.5, 3.0):
        x.copy_(x * scale)
        graph.replay()
        torch.cuda.synchronize()
        want = gate(x, w, q)
        assert_matches(out, want, kernel, what=f"replay, x scaled by {scale}")
        assert torch.equal(out, out2)


def test_capture_of_a_jitted_function():
    def f(x, y):
        return torch.sigmoid(x) * y + 1.0

    fused = nsafuse.jit(f)
    g = generator(seed())
    x, y = rand((33, 100), torch.float32, g, "cuda"), rand((33, 100), torch.float32, g, "cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fused(x, y)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fused(x, y)
    y.add_(1)
    graph.replay()
    torch.cuda.synchronize()
    assert_matches(out, f(x, y), fused.kernel_for(x, y))


def test_device_checks(kernel):
    x, w, q = inputs()
    with pytest.raises(nsafuse.Error) as e:
        kernel(x.cpu(), w, q)
    assert "input 0 (%x) is on the host" in str(e.value)
    host = nsafuse.compile(os.path.join(os.path.dirname(__file__), "../../examples/nsa/logits_head_gate.nf"),
                           target="host")
    with pytest.raises(nsafuse.Error) as e:
        host(x, w, q)
    assert "input 0 (%x) is on cuda:0" in str(e.value)
    auto = nsafuse.compile("graph a(%a: f32[N], %b: f32[N]) {\n  %o = add(%a, %b)\n  return %o\n}\n")
    with pytest.raises(nsafuse.Error) as e:
        auto(torch.ones(3, device="cuda"), torch.ones(3))
    assert "input 1 (%b) is on the host" in str(e.value)
    with pytest.raises(nsafuse.Error) as e:
        auto(torch.ones(3, device="cuda"), torch.ones(3, device="cuda"), out=torch.empty(3))
    assert "output 0" in str(e.value)
    assert auto(torch.ones(3, device="cuda"), torch.ones(3, device="cuda")).tolist() == [2.0] * 3


class Hidden:
    def __init__(self, inner):
        self.inner = inner
        self.streams = []

    def __dlpack__(self, stream=None):
        self.streams.append(stream)
        return self.inner.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.inner.__dlpack_device__()


def test_dlpack_producers_are_told_the_stream(kernel):
    x, w, q = inputs()
    want = gate(x, w, q)
    hidden = Hidden(x)
    out = kernel(hidden, w, q)  # allocated by torch, the first framework among the inputs
    assert_matches(out, want, kernel)
    assert hidden.streams == [torch.cuda.current_stream().cuda_stream or 1]
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        out = kernel(hidden, w, q)
    side.synchronize()
    assert hidden.streams[-1] == side.cuda_stream
    assert_matches(out, want, kernel)


def test_source_ptx_of_the_current_gpu(kernel):
    ptx = kernel.source("ptx", T=4)
    major, minor = torch.cuda.get_device_capability()
    assert ".target sm_" in ptx


def test_prepared_sizes_launch_without_compiling(kernel):
    kernel.prepare(T=[3, 8, 40])
    assert kernel.stats()["compiled_signatures"] == 3
    for T in (3, 8, 40):
        x, w, q = inputs(T)
        assert_matches(kernel(x, w, q), gate(x, w, q), kernel)
    assert kernel.stats()["compiled_signatures"] == 3


def test_constant_fp32_weights_split_once(root):
    path = os.path.join(root, "examples/nsa/logits_head_gate.nf")
    k = nsafuse.compile(path, graph="logits_head_gate_f32w", target="cuda", constants=["w"])
    g = generator(seed())
    w = rand((64, 7168), torch.float32, g, "cuda") / 16
    for T in (40, 700):
        x, q = rand((T, 7168), torch.bfloat16, g, "cuda"), rand((T, 64, 1), torch.float32, g, "cuda")
        want = (F.linear(x.double(), w.double()) * 64 ** -0.5).unsqueeze(-1) * q.double() * 128 ** -0.5
        assert_matches(k(x, w, q), want.float(), k)
        w.mul_(-0.5)  # new contents at the same address
        k.constants_changed()
        want = (F.linear(x.double(), w.double()) * 64 ** -0.5).unsqueeze(-1) * q.double() * 128 ** -0.5
        assert_matches(k(x, w, q), want.float(), k)
