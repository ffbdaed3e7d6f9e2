"""Every bad call raises nsafuse.Error with a message that says what is
wrong: wrong dtype, rank, size, count, device, layout, alignment, outputs that share memory,
read-only or non-tensor arguments (an out= that overlaps an input is
allowed: test_out_may_overlap_an_input). Never a crash, never a silent answer; the
kernel keeps working afterwards."""

import os

import numpy as np
import pytest

import nsafuse

torch = pytest.importorskip("torch")

GATE = "examples/nsa/logits_head_gate.nf"


@pytest.fixture
def gate(root):
    return nsafuse.compile(os.path.join(root, GATE))


def good(T=3, device="cpu"):
    return (torch.ones((T, 7168), dtype=torch.bfloat16, device=device),
            torch.ones((64, 7168), dtype=torch.bfloat16, device=device),
            torch.ones((T, 64, 1), device=device))


def raises(fn, *needles, status="NF_ERR_ARG"):
    with pytest.raises(nsafuse.Error) as e:
        fn()
    text = str(e.value)
    for n in needles:
        assert n in text, f"{n!r} not in the message: {text}"
    assert e.value.status == status, text
    return e.value


def still_works(k):
    x, w, q = good()
    o = k(x, w, q)
    assert float(o[0, 0, 0]) == pytest.approx(7168 * 0.125 * 0.08838834764831845, rel=1e-2)


def test_wrong_dtype(gate):
    x, w, q = good()
    raises(lambda: gate(x, w.float(), q), "input 1 (%w)", "expected bf16[64, 7168]", "f32")
    raises(lambda: gate(x.numpy() if False else x.float().numpy(), w, q), "input 0 (%x)", "f32")
    still_works(gate)


def test_wrong_rank_and_fixed_size(gate):
    x, w, q = good()
    raises(lambda: gate(x, w, q[:, :, 0]), "input 2 (%q_scale)", "expected f32[T, 64, 1]")
    raises(lambda: gate(x[:, :100], w, q), "input 0 (%x)", "7168")
    raises(lambda: gate(x, w[:32], q), "input 1 (%w)", "64")
    still_works(gate)


def test_symbolic_sizes_must_agree(gate):
    x, w, _ = good(T=4)
    _, _, q = good(T=5)
    e = raises(lambda: gate(x, w, q), "T")
    assert "4" in str(e) and "5" in str(e)


def test_wrong_number_of_inputs(gate):
    x, w, q = good()
    raises(lambda: gate(x, w), "takes 3 inputs, got 2")
    raises(lambda: gate(x, w, q, q), "takes 3 inputs, got 4")
    raises(lambda: gate(), "takes 3 inputs, got 0")


@pytest.mark.parametrize("bad", [None, 1.5, [1.0, 2.0], "x"], ids=["None", "float", "list", "str"])
def test_arguments_that_are_not_tensors(gate, bad):
    x, w, _ = good()
    raises(lambda: gate(x, w, bad), "input 2 (%q_scale)", "expected a tensor", type(bad).__name__)


def test_dtypes_nsafuse_does_not_have():
    k = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n")
    raises(lambda: k(torch.ones(3, dtype=torch.uint8)), "input 0 (%a)", "uint8")
    raises(lambda: k(torch.ones(3, dtype=torch.complex64)), "complex64")
    raises(lambda: k(np.ones(3, np.int16)), "int16")
    raises(lambda: k(np.ones(3, np.dtype(">f4"))), "byte order")


def test_tensors_on_a_device_nsafuse_does_not_run_on():
    k = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n", target="host")
    raises(lambda: k(torch.ones(3, device="meta")), "meta")


def test_sparse_and_high_rank_tensors():
    k = nsafuse.compile("graph a(%a: f32[N, M]) {\n  %o = neg(%a)\n  return %o\n}\n")
    raises(lambda: k(torch.eye(3).to_sparse()), "strided")
    k9 = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n")
    raises(lambda: k9(torch.ones([1] * 9)), "rank 9")


def test_requires_grad_while_grad_is_on():
    k = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n")
    a = torch.ones(3, requires_grad=True)
    raises(lambda: k(a), "requires grad", "no_grad")
    with torch.no_grad():
        assert k(a).tolist() == [-1.0, -1.0, -1.0]
    raises(lambda: k(a), "requires grad")  # the cached signature checks too


def test_negative_strides_and_misaligned_data():
    k = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n")
    a = np.arange(6, dtype=np.float32)
    raises(lambda: k(a[::-1]), "negative strides")
    buf = np.zeros(4 * 6 + 1, np.uint8)
    misaligned = buf[1:].view(np.float32)
    raises(lambda: k(misaligned), "not aligned")
    assert k(a).tolist() == [-0.0, -1.0, -2.0, -3.0, -4.0, -5.0]


def test_bad_out(gate):
    x, w, q = good()
    out = torch.empty((3, 64, 1))
    raises(lambda: gate(x, w, q, out=torch.empty((3, 64))), "output 0", "expected f32[T, 64, 1]")
    raises(lambda: gate(x, w, q, out=torch.empty((4, 64, 1))), "output 0", "4")
    raises(lambda: gate(x, w, q, out=torch.empty((3, 64, 1), dtype=torch.float64)), "output 0", "f64")
    raises(lambda: gate(x, w, q, out=(out, out)), "returns 1 value", "2 tensors")
    raises(lambda: gate(x, w, q, out=torch.empty((1, 1, 1)).expand(3, 64, 1)), "share memory")
    ro = np.zeros((3, 64, 1), np.float32)
    ro.flags.writeable = False
    raises(lambda: gate(x, w, q, out=ro), "read-only")
    still_works(gate)


def test_out_may_overlap_an_input(device):
    """out= may share memory with the inputs (sglang's RoPE write-back): the
    result is what the graph computes from the inputs as they were, whether
    nsafuse writes in place or stages through a temporary (docs/ROPE.md)."""
    k = nsafuse.compile("graph a(%a: f32[N], %b: f32[N]) {\n  %s = add(%a, %b)\n  %o = mul(%s, 0.5)\n  return %o\n}\n")
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    g = torch.Generator().manual_seed(seed)
    for case in ("same view", "shifted", "other input", "same address, other strides"):
        a = (torch.rand(16, generator=g) + 0.5).to(device)
        b = (torch.rand(16, generator=g) + 0.5).to(device)
        ia, ib, out = {"same view": (a[:8], b[:8], a[:8]), "shifted": (a[:8], b[:8], a[2:10]),
                       "other input": (a[:8], b[:8], b[3:11]),
                       "same address, other strides": (a[:8], b[:8], a[::2])}[case]
        want = (ia + ib) * 0.5  # from the inputs before the call
        got = k(ia, ib, out=out)
        assert got.data_ptr() == out.data_ptr()
        assert torch.equal(out, want), f"{case} (seed {seed}): {out.tolist()} != {want.tolist()}"
    o = k(a[:4], b[:4], out=a[4:8])  # next to the input, not over it
    assert torch.equal(o, (a[:4] + b[:4]) * 0.5)


def test_a_graph_target_for_another_device():
    k = nsafuse.compile("graph a(%a: f32[N]) {\n  %o = neg(%a)\n  return %o\n}\n", target="sm_90")
    raises(lambda: k(torch.ones(3)), "input 0 (%a) is on the host", "sm_90")
