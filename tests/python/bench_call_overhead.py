#!/usr/bin/env python3
"""Host-side cost of calling nsafuse from Python (a benchmark, not a test).

    NSAFUSE_LIBRARY=build/libnsafuse.so python3 tests/python/bench_call_overhead.py [--device cuda]

Prints, per call, in microseconds: a cached call of a tiny graph (torch
tensors, outputs allocated, then with out=), the bare nf_kernel_run under it
(pointers set, no Python work: the library's own share), PyTorch eager's
`a + b` for scale; and, in milliseconds, the first call of a new shape of the
NSA head gate (code generation for a new signature). On a GPU the calls are
issued back to back without synchronising (what the host spends; the GPU
works behind), in batches short enough not to fill the launch queue."""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import nsafuse  # noqa: E402
from nsafuse import _lib  # noqa: E402

TINY = "graph tiny(%a: f32[N], %b: f32[N]) {\n  %c = add(%a, %b)\n  %d = mul(%c, 0.5)\n  return %d\n}\n"


def per_call_us(fn, device, batch=200, repeats=30):
    for _ in range(20):
        fn()
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, time.perf_counter() - t0)
    if device == "cuda":
        torch.cuda.synchronize()
    return best / batch * 1e6


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    dev = a.device
    k = nsafuse.compile(TINY)
    x, y = torch.ones(4, device=dev), torch.ones(4, device=dev)
    out = torch.empty(4, device=dev)
    k(x, y)
    k(x, y, out=out)
    sig = next(s for key, s in k._sigs.items() if key[1])   # the signature that allocates
    prep = sig.prepared()
    prep.in_elems[0].data, prep.in_elems[1].data, prep.out_elems[0].data = x.data_ptr(), y.data_ptr(), out.data_ptr()
    stream = sig.stream() if sig.stream else None

    def bare():
        if _lib.kernel_run_raw(sig.handle, prep.ins_addr, 2, prep.outs_addr, 1, stream, prep.err_addr):
            raise _lib.error_from(prep.err)

    print(f"device {dev}, torch {torch.__version__}, library {_lib.path}")
    print("per call, best batch of 200, us:")
    rows = [("nsafuse k(a, b)", lambda: k(x, y)), ("nsafuse k(a, b, out=o)", lambda: k(x, y, out=out)),
            ("bare nf_kernel_run", bare), ("torch eager (a + b) * 0.5", lambda: (x + y) * 0.5)]
    for name, fn in rows:
        print(f"  {name:28s} {per_call_us(fn, dev):7.2f}")

    gate = nsafuse.compile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "nsa",
                                        "logits_head_gate.nf"))
    w = torch.ones((64, 7168), dtype=torch.bfloat16, device=dev)
    print("first call of a new shape (head gate), ms:")
    for T in (3, 17, 250):
        xs, qs = torch.ones((T, 7168), dtype=torch.bfloat16, device=dev), torch.ones((T, 64, 1), device=dev)
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        gate(xs, w, qs)
        if dev == "cuda":
            torch.cuda.synchronize()
        s = gate.stats()
        print(f"  T={T:<5d} {(time.perf_counter() - t0) * 1e3:7.2f}  (code generation {s['last_compile_ms']:.2f}, "
              f"from the disk cache: {s['last_from_disk_cache']})")


if __name__ == "__main__":
    main()
