#!/usr/bin/env python3
"""sglang's NSA indexer head gates (DeepSeek-V3.2 shapes), PyTorch eager
against the same functions under @nsafuse.jit: both results are checked
against each other and timed per call.

    NSAFUSE_LIBRARY=build/libnsafuse.so python3 examples/nsa/head_gate.py
    python3 examples/nsa/head_gate.py --device cuda --tokens 1,8,128,2048,16384

From the source tree it imports nsafuse from python/; NSAFUSE_LIBRARY names
the library the build made (an installed nsafuse finds its own). Exits 1 if
nsafuse and eager disagree beyond nsafuse's stated tolerance."""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

_SOURCE_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
if os.path.isdir(os.path.join(_SOURCE_PACKAGE, "nsafuse")):
    sys.path.insert(0, os.path.abspath(_SOURCE_PACKAGE))
import nsafuse  # noqa: E402

N_HEADS, HEAD_DIM, HIDDEN = 64, 128, 7168


def project_and_scale_head_gates(x, weight, n_heads=N_HEADS):
    """sglang's _project_and_scale_head_gates: the per-head weights."""
    return F.linear(x, weight).float() * n_heads ** -0.5


def get_logits_head_gate(x, weight, q_scale, n_heads=N_HEADS, softmax_scale=HEAD_DIM ** -0.5):
    """sglang's _get_logits_head_gate: the weights, gated by q_scale."""
    weights = F.linear(x, weight).float() * n_heads ** -0.5
    weights = weights.unsqueeze(-1) * q_scale * softmax_scale
    return weights


fused_project_and_scale_head_gates = nsafuse.jit(project_and_scale_head_gates)
fused_get_logits_head_gate = nsafuse.jit(get_logits_head_gate)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def per_call_us(fn, args, iters, device):
    """Plain calls from Python, back to back: what one call costs the host and device."""
    for _ in range(3):
        fn(*args)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        fn(*args)
    sync(device)
    return (time.perf_counter() - t0) / iters * 1e6


def in_graph_us(fn, args, calls=50, replays=20):
    """Per call inside one CUDA graph of `calls` calls (how a decode step runs it)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn(*args)  # compiles and warms up outside the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn(*args)
    graph.replay()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(replays):
        graph.replay()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (replays * calls) * 1e6


def check(name, got, want, kernel):
    """Relative error, and whether it is within twice nsafuse's stated tolerance
    (PyTorch's own GEMM is no closer to exact than nsafuse's)."""
    g, w = got.double(), want.double()
    max_abs = float(w.abs().max()) if w.numel() else 0.0
    atol, rtol = kernel.tolerance(0, max_abs)
    ok = bool(((g - w).abs() <= 2 * (atol + rtol * w.abs())).all())
    rel = float((g - w).abs().max() / max(max_abs, 1e-30)) if w.numel() else 0.0
    return ok, rel


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    p.add_argument("--tokens", default=None, help="comma-separated T values (default: 1,8,128 on the host, "
                   "1,8,128,2048,16384 on a GPU)")
    p.add_argument("--iters", type=int, default=None, help="calls per timing")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    tokens = [int(t) for t in (a.tokens or ("1,8,128" if a.device == "cpu" else "1,8,128,2048,16384")).split(",")]
    iters = a.iters or (20 if a.device == "cpu" else 200)
    torch.manual_seed(a.seed)
    print(f"seed {a.seed}, device {a.device}, torch {torch.__version__}")
    weight = (torch.randn(N_HEADS, HIDDEN, device=a.device) / HIDDEN ** 0.5).to(torch.bfloat16)

    x = torch.randn(tokens[0], HIDDEN, device=a.device).to(torch.bfloat16)
    q = torch.rand(tokens[0], N_HEADS, 1, device=a.device)
    print("\nThe graph @nsafuse.jit traced from get_logits_head_gate:\n")
    print(nsafuse.trace(get_logits_head_gate, x, weight, q))

    funcs = [("project_and_scale_head_gates", project_and_scale_head_gates, fused_project_and_scale_head_gates,
              lambda x, q: (x, weight)),
             ("get_logits_head_gate", get_logits_head_gate, fused_get_logits_head_gate,
              lambda x, q: (x, weight, q))]
    failures = 0
    with torch.no_grad():
        for name, eager, fused, args_of in funcs:
            print(f"\n{name}: per call in us (plain calls{'; in a CUDA graph of 50' if a.device == 'cuda' else ''})")
            head = "| T | first call ms | eager | nsafuse |"
            if a.device == "cuda":
                head += " eager in graph | nsafuse in graph |"
            print(head + " max rel diff | check |")
            print("|" + "---|" * (head.count("|") + 1))
            for T in tokens:
                x = torch.randn(T, HIDDEN, device=a.device).to(torch.bfloat16)
                q = torch.rand(T, N_HEADS, 1, device=a.device)
                args = args_of(x, q)
                sync(a.device)
                t0 = time.perf_counter()
                got = fused(*args)
                sync(a.device)
                first_ms = (time.perf_counter() - t0) * 1e3
                ok, rel = check(name, got, eager(*args), fused.kernel_for(*args))
                failures += not ok
                row = f"| {T} | {first_ms:.1f} | {per_call_us(eager, args, iters, a.device):.1f} | " \
                      f"{per_call_us(fused, args, iters, a.device):.1f} |"
                if a.device == "cuda":
                    row += f" {in_graph_us(eager, args):.2f} | {in_graph_us(fused, args):.2f} |"
                print(row + f" {rel:.2e} | {'PASS' if ok else 'FAIL'} |")
    print("\nfirst call: the first of a new T (the first row also traces and compiles the graph)")
    if failures:
        print(f"{failures} check(s) FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
