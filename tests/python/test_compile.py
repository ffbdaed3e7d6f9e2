"""nsafuse.compile: text and files, graph names, targets, errors with
positions, and Kernel.source matching what `nsafuse dump` prints."""

import os
import subprocess

import numpy as np
import pytest

import nsafuse

ADD = """graph add_f32(%a: f32[N], %b: f32[N]) {
  %c = add(%a, %b)
  return %c
}
"""


def nsafuse_command():
    exe = os.path.join(os.path.dirname(os.environ["NSAFUSE_LIBRARY"]), "nsafuse")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"no nsafuse command beside the library ({exe})")
    return exe


def test_compile_from_text_describes_the_graph():
    k = nsafuse.compile(ADD)
    assert k.name == "add_f32"
    assert k.params == [("a", "f32", 1), ("b", "f32", 1)]
    assert k.outputs == [("c", "f32", 1)]
    assert k.symbols == ["N"]
    assert "graph add_f32(%a: f32[N], %b: f32[N])" in k.text


def test_compile_from_a_path_and_a_pathlike(root):
    import pathlib
    path = os.path.join(root, "examples/nsa/logits_head_gate.nf")
    for arg in (path, pathlib.Path(path)):
        k = nsafuse.compile(arg)
        assert k.name == "logits_head_gate"
        assert [p[0] for p in k.params] == ["x", "w", "q_scale"]


def test_graph_picks_one_graph_of_a_file(root):
    path = os.path.join(root, "examples/nsa/logits_head_gate.nf")
    k = nsafuse.compile(path, graph="logits_head_gate_f32w")
    assert k.name == "logits_head_gate_f32w"
    assert k.params[1] == ("w", "f32", 2)
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile(path, graph="no_such_graph")
    assert "no_such_graph" in str(e.value)


def test_parse_error_carries_status_line_and_column():
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile("graph g(%a: f32[N]) {\n  %c = foo(%a)\n  return %c\n}\n")
    err = e.value
    assert err.status == "NF_ERR_PARSE"
    assert (err.line, err.col) == (2, 8)
    assert "unknown op 'foo'" in err.message
    assert str(err).startswith("<text>:2:8: ")


def test_errors_in_files_name_the_file(root):
    path = os.path.join(root, "tests/graphs/bad_dtype.nf")
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile(path)
    assert str(e.value).startswith(path + ":2:13: ")
    assert "f31" in e.value.message


def test_type_errors_are_reported_as_such():
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile("graph g(%a: f32[4], %b: f32[5]) {\n  %c = add(%a, %b)\n  return %c\n}\n")
    assert e.value.status == "NF_ERR_TYPE"
    assert e.value.line == 2


def test_missing_file_and_wrong_argument_types():
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile("/no/such/file.nf")
    assert e.value.status == "NF_ERR_IO"
    assert "/no/such/file.nf" in str(e.value)
    with pytest.raises(nsafuse.Error):
        nsafuse.compile(42)


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile(ADD, target="sm_12")
    assert "sm_12" in str(e.value) and "host" in str(e.value)
    with pytest.raises(nsafuse.Error):
        nsafuse.compile(ADD, target=3)


def test_source_fused_is_what_the_command_dumps(root):
    exe = nsafuse_command()
    path = os.path.join(root, "examples/nsa/logits_head_gate.nf")
    k = nsafuse.compile(path)
    for what in ("ir", "fused"):
        cli = subprocess.run([exe, "dump", path, "--emit", what, "--dim", "T=5"], capture_output=True, text=True,
                             check=True).stdout
        assert k.source(what) == cli


def test_source_llvm_takes_sizes_or_those_of_the_last_call(root):
    exe = nsafuse_command()
    k = nsafuse.compile(ADD, target="host")
    cli = subprocess.run([exe, "dump", "-", "--emit", "llvm", "--dim", "N=7"], input=ADD, capture_output=True,
                         text=True)
    if cli.returncode != 0:  # the command may not read standard input
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nsafuse-test-{os.getpid()}.nf")
        with open(path, "w") as f:
            f.write(ADD)
        try:
            cli = subprocess.run([exe, "dump", path, "--emit", "llvm", "--dim", "N=7"], capture_output=True,
                                 text=True, check=True)
        finally:
            os.unlink(path)
    assert k.source("llvm", N=7) == cli.stdout
    with pytest.raises(nsafuse.Error) as e:
        k.source("llvm")  # no call yet: N is not bound
    assert "N" in str(e.value)
    k(np.ones(7, np.float32), np.ones(7, np.float32))
    assert k.source("llvm") == cli.stdout


def test_source_ptx_for_an_nvidia_target_without_a_gpu(root):
    exe = nsafuse_command()
    path = os.path.join(root, "examples/nsa/project_and_scale_head_gates.nf")
    k = nsafuse.compile(path, target="sm_90")
    cli = subprocess.run([exe, "dump", path, "--emit", "ptx", "--target", "sm_90", "--dim", "T=5"],
                         capture_output=True, text=True, check=True).stdout
    ptx = k.source("ptx", T=5)
    assert ptx == cli
    assert ".target sm_90" in ptx
    with pytest.raises(nsafuse.Error) as e:
        nsafuse.compile(path, target="host").source("ptx", T=5)
    assert "ptx" in str(e.value)
    with pytest.raises(nsafuse.Error):
        k.source("nonsense", T=5)


def test_stats_and_tolerance():
    k = nsafuse.compile(ADD)
    k(np.ones(3, np.float32), np.ones(3, np.float32))
    s = k.stats()
    assert s["kernels"] == 1 and s["compiled_signatures"] == 1 and s["last_compile_ms"] > 0
    # on the host all of it is LLVM; a field past the C struct's end would read garbage
    assert s["last_llvm_ms"] == s["last_compile_ms"] and s["last_driver_ms"] == 0
    assert k.tolerance(0, 1.0) == (0.0, 0.0)  # add is correctly rounded: bit for bit
    e = nsafuse.compile("graph e(%a: f32[N]) {\n  %c = exp(%a)\n  return %c\n}\n")
    atol, rtol = e.tolerance(0, 10.0)
    assert 0 < rtol < 1e-5 and atol >= rtol * 10


def test_prepare_compiles_sizes_ahead_of_their_calls():
    k = nsafuse.compile(ADD, target="host")
    k.prepare(N=[1, 5, 9], threads=2)
    assert k.stats()["compiled_signatures"] == 3
    k.prepare({"N": 5}, N=9)  # there already: nothing new
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(5, dtype=np.float32), rng.standard_normal(5, dtype=np.float32)
    assert np.array_equal(k(a, b), a + b)
    assert k.stats()["compiled_signatures"] == 3  # the call found its code ready


def test_prepare_takes_the_device_of_the_last_call_and_says_what_is_wrong():
    k = nsafuse.compile(ADD)  # no target: each call's device
    with pytest.raises(nsafuse.Error) as e:
        k.prepare(N=4)
    assert "device=" in str(e.value)
    k.prepare(N=[2, 3], device="host")
    k(np.ones(3, np.float32), np.ones(3, np.float32))
    k.prepare(N=7)  # the last call's device: the host
    assert k.stats()["compiled_signatures"] == 3
    with pytest.raises(nsafuse.Error) as e:
        k.prepare(M=4, device="host")
    assert "preparing M=4: M is not a symbolic size of graph add_f32" in str(e.value)
    with pytest.raises(nsafuse.Error) as e:
        k.prepare(N=[1, 2], M=[3], device="host")
    assert "differ in length" in str(e.value)
    with pytest.raises(nsafuse.Error) as e:
        k.prepare(N=1, device="tpu")
    assert "unknown device 'tpu'" in str(e.value)
    host_only = nsafuse.compile(ADD, target="host")
    with pytest.raises(nsafuse.Error) as e:
        host_only.prepare(N=1, device="cuda")
    assert "compiled for target 'host'" in str(e.value)


F32W = """graph g(%x: bf16[T, 64], %w: f32[32, 64]) {
  %xf = cast(%x, f32)
  %y = linear(%xf, %w)
  return %y
}
"""


def test_constants_name_inputs_and_change_nothing_on_the_host():
    import torch
    k = nsafuse.compile(F32W, target="host", constants=["w"])
    assert k.constant_inputs == 2
    assert nsafuse.compile(F32W, target="host", constants=[1]).constant_inputs == 2
    g = torch.Generator().manual_seed(11)
    x = torch.randn(5, 64, generator=g).to(torch.bfloat16)
    w = torch.randn(32, 64, generator=g)
    assert torch.equal(k(x, w), nsafuse.compile(F32W, target="host")(x, w))
    w.mul_(-2)  # in place: say so
    k.constants_changed()
    assert torch.equal(k(x, w), nsafuse.compile(F32W, target="host")(x, w))
    for bad in (["v"], [2], ["%w"]):
        with pytest.raises(nsafuse.Error) as e:
            nsafuse.compile(F32W, constants=bad)
        assert "is not an input of graph g (%x, %w)" in str(e.value)
