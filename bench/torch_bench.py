#!/usr/bin/env python3
"""The chains of bench/graphs/ in PyTorch eager and torch.compile, timed the
way nsafuse-bench times them (per call inside a CUDA graph of 50 calls, one
call per graph replay, plain launches under CUDA events), in the same run on
the same GPU. With --nsafuse-csv (nsafuse-bench elementwise --csv) it prints
both side by side as a markdown table.

    python3 bench/torch_bench.py [--sizes 1M,16M,256M] [--csv torch.csv] [--nsafuse-csv nf.csv]
    python3 bench/torch_bench.py headgate [...]   the NSA head gate (bench/torch_headgate.py)
"""
import argparse
import csv
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

PLAIN_BUDGET_US = 50e3
GRAPH_BUDGET_US = 200e3
REPLAY_BUDGET_US = 50e3


# ---- the chains: the same programs as bench/graphs/*.nf ----------------------

def bias_gelu_residual(x, bias, res):
    return (F.gelu(x + bias) * 0.5 + res).to(torch.bfloat16)


def transcendental_chain(x):
    m = torch.clamp_min(torch.rsqrt(x * x + 1e-6) * 0.5, 0.75)
    return torch.tanh(torch.log(torch.abs(-m))).to(torch.float16)


def upcast_two_scales(x):
    return x.float() * 0.125 * 0.08838834764831845


def rand(shape, dtype, device):
    """nsafuse's input distribution: uniform in +-[0.0625, 1], never zero."""
    mag = torch.rand(shape, device=device) * 0.9375 + 0.0625
    sign = torch.randint(0, 2, shape, device=device) * 2 - 1
    return (mag * sign).to(dtype)


# (name, fn, inner, default element counts, inputs(rows, device))
CHAINS = [
    ("bias_gelu_residual", bias_gelu_residual, 1536, [65536 * 1536],
     lambda n, d: (rand((n, 1536), torch.bfloat16, d), rand((1536,), torch.float32, d),
                   rand((n, 1536), torch.bfloat16, d))),
    ("transcendental_chain", transcendental_chain, 33, [(4 << 20) * 33],
     lambda n, d: (rand((n, 33), torch.float32, d),)),
    ("upcast_two_scales", upcast_two_scales, 1, [1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20],
     lambda n, d: (rand((n,), torch.bfloat16, d),)),
]


def parse_size(text):
    units = {"K": 10, "M": 20, "G": 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) << units[text[-1].upper()]
    return int(text)


def nbytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


# ---- timing --------------------------------------------------------------------

class Clock:
    def __init__(self, device):
        self.cuda = device == "cuda"
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)

    def calls(self, fn, args, n):
        """us for n back-to-back calls (events on the current stream)."""
        if not self.cuda:
            t0 = time.perf_counter()
            for _ in range(n):
                fn(*args)
            return 1e6 * (time.perf_counter() - t0)
        self.start.record()
        for _ in range(n):
            fn(*args)
        self.end.record()
        self.end.synchronize()
        return 1e3 * self.start.elapsed_time(self.end)

    def replays(self, graph, reps):
        """Median us of one replay of graph."""
        graph.replay()
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            self.start.record()
            graph.replay()
            self.end.record()
            self.end.synchronize()
            times.append(1e3 * self.start.elapsed_time(self.end))
        return statistics.median(times)


def capture(fn, args, calls):
    """A CUDA graph of `calls` calls; warmed on a side stream first, as
    torch.cuda.graphs asks. Outputs are dropped, so the graph's pool reuses them."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn(*args)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(calls):
            fn(*args)
    return g


def clamp(v, lo, hi):
    return max(lo, min(hi, int(v))) if math.isfinite(v) else lo


def time_call(clock, fn, args, graph_calls):
    """(graph_us per call, replay_us, plain_us, calls actually in the graph)."""
    clock.calls(fn, args, 1)
    est = max(clock.calls(fn, args, 1), 0.5)
    n = clamp(PLAIN_BUDGET_US / est, 3, 1000)
    plain = statistics.median(clock.calls(fn, args, n) / n for _ in range(3))
    if not clock.cuda:
        return math.nan, math.nan, plain, 0
    calls = graph_calls
    while True:
        try:
            g = capture(fn, args, calls)
            break
        except torch.cuda.OutOfMemoryError:
            if calls <= 10:
                raise
            calls = 10  # the graph's pool cannot hold 50 calls' temporaries: fewer calls
            torch.cuda.empty_cache()
    graph = clock.replays(g, clamp(GRAPH_BUDGET_US / (est * calls), 3, 20)) / calls
    del g
    g = capture(fn, args, 1)
    replay = clock.replays(g, clamp(REPLAY_BUDGET_US / est, 5, 200))
    del g
    torch.cuda.empty_cache()
    return graph, replay, plain, calls


def count_kernels(fn, args):
    """GPU kernels one call launches (the profiler's view); -1 if unknown."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as p:
            fn(*args)
            torch.cuda.synchronize()
        return sum(1 for e in p.events()
                   if e.device_type == torch.autograd.DeviceType.CUDA and "memcpy" not in e.name.lower()
                   and "memset" not in e.name.lower())
    except Exception:  # noqa: BLE001 - a count is a nicety, never a failure
        return -1


# ---- the runs ------------------------------------------------------------------

def run_chains(opts, clock):
    rows = []
    header = (f"{'chain':21} {'shape':15} {'MB':>8} {'variant':9} {'graph':>10} {'replay':>10} "
              f"{'plain':>10} {'TB/s':>6} {'1st ms':>9}")
    print(header)
    compiled_fns = {}
    for name, fn, inner, default_sizes, make in CHAINS:
        if opts.chain and opts.chain != name:
            continue
        sizes = opts.sizes or default_sizes
        compiled_fns[name] = compiled = torch.compile(fn, dynamic=False)
        for elements in sizes:
            n = max(1, elements // inner)
            args = make(n, opts.device)
            out = fn(*args)
            moved = nbytes(*args) + nbytes(out)
            del out
            shape = "x".join(str(s) for s in args[0].shape)
            for variant, f in (("eager", fn), ("compiled", compiled)):
                try:
                    rows.append(run_variant(opts, clock, name, shape, moved, n * inner, variant, f, args))
                except Exception as e:  # noqa: BLE001 - report, go on with the next case
                    print(f"{name:21} {shape:15} {variant}: FAILED: {type(e).__name__}: {e}", flush=True)
            del args
            if clock.cuda:
                torch.cuda.empty_cache()
    if clock.cuda:
        # Last, after every timing: the profiler (CUPTI) stays out of the graph captures above.
        counts = {}
        for name, fn, inner, default_sizes, make in CHAINS:
            if name not in compiled_fns:
                continue
            elements = (opts.sizes or default_sizes)[0]
            args = make(max(1, elements // inner), opts.device)
            for variant, f in (("eager", fn), ("compiled", compiled_fns[name])):
                counts[(name, variant)] = count_kernels(f, args)
            del args
        print("kernels per call (profiler): " +
              ", ".join(f"{n} {v} {k}" for (n, v), k in counts.items()))
        for r in rows:
            r[5] = counts.get((r[1], r[4]), -1)
    return rows


def run_variant(opts, clock, name, shape, moved, elements, variant, f, args):
    """One case: the first call (compile for torch.compile), kernels, the three times; a CSV row."""
    t0 = time.perf_counter()
    f(*args)
    if clock.cuda:
        torch.cuda.synchronize()
    first_ms = 1e3 * (time.perf_counter() - t0)
    graph, replay, plain, calls = time_call(clock, f, args, opts.graph_calls)
    best = plain if math.isnan(graph) else graph
    note = "" if calls in (0, opts.graph_calls) else f" (graph of {calls})"
    print(f"{name:21} {shape:15} {moved / 1e6:8.1f} {variant:9} {graph:10.2f} "
          f"{replay:10.2f} {plain:10.2f} {moved / best / 1e6:6.2f} {first_ms:9.1f}{note}", flush=True)
    return ["torch", name, elements, moved, variant, -1, graph, replay, plain]


def run_copy(opts, clock):
    x = torch.empty(opts.copy_elements, dtype=torch.float32, device=opts.device)
    y = torch.empty_like(x)
    fn = y.copy_
    graph, replay, plain, _ = time_call(clock, fn, (x,), opts.graph_calls)
    moved = 2 * nbytes(x)
    best = plain if math.isnan(graph) else graph
    print(f"copy bandwidth: torch copy_ of {opts.copy_elements} f32 ({moved / 1e6:.0f} MB read + written): "
          f"{best:.1f} us per call in a graph, {moved / best / 1e6:.2f} TB/s\n")
    row = ["torch", "copy", opts.copy_elements, moved, "copy_", 1, graph, replay, plain]
    del x, y
    return [row]


def launch_cost(opts):
    """Host us per call from Python with no synchronization (tiny f32[256] * 2)."""
    x = torch.ones(256, device=opts.device)
    y = torch.empty_like(x)
    eager = lambda: torch.mul(x, 2.0, out=y)  # noqa: E731
    compiled_fn = torch.compile(lambda a: a * 2.0, dynamic=False)
    compiled = lambda: compiled_fn(x)  # noqa: E731
    for label, f in (("eager torch.mul(out=)", eager), ("torch.compile", compiled)):
        for _ in range(10):
            f()
        if opts.device == "cuda":
            torch.cuda.synchronize()
        times = []
        for i in range(opts.calls):
            if opts.device == "cuda" and i % 256 == 0:
                torch.cuda.synchronize()  # untimed: keeps the launch queue from filling
            t0 = time.perf_counter()
            f()
            times.append(1e6 * (time.perf_counter() - t0))
        times.sort()
        q = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1)))]  # noqa: E731
        print(f"torch  host us per call, {label:22}: median {q(0.5):6.2f}  p10 {q(0.1):6.2f}  p90 {q(0.9):6.2f}  "
              f"p99 {q(0.99):7.2f}  ({opts.calls} calls)")


# ---- side by side ----------------------------------------------------------------

FIELDS = ["tool", "chain", "elements", "bytes", "variant", "kernels", "graph_us", "replay_us", "plain_us"]


def as_record(row):
    r = dict(zip(FIELDS, row)) if not isinstance(row, dict) else dict(row)
    r["elements"], r["bytes"], r["kernels"] = int(r["elements"]), int(r["bytes"]), int(r["kernels"])
    for k in ("graph_us", "replay_us", "plain_us"):
        r[k] = float(r[k])
    r["us"] = r["graph_us"] if math.isfinite(r["graph_us"]) else r["plain_us"]  # the figure that counts
    return r


def merge(nf_csv, torch_rows):
    """A markdown table: nsafuse fused / unfused beside eager / compiled."""
    with open(nf_csv) as f:
        records = [as_record(r) for r in csv.DictReader(f)]
    records += [as_record(r) for r in torch_rows]
    by_key = {(r["chain"], r["elements"], r["variant"]): r for r in records}
    ref = by_key.get(("copy", next((r["elements"] for r in records if r["variant"] == "memcpy"), 0), "memcpy"))
    ref_tbps = ref["bytes"] / ref["us"] / 1e6 if ref else math.nan
    print("\n## Side by side (us per call inside a CUDA graph; TB/s = input + output bytes / time; "
          f"% = of the driver memcpy's {ref_tbps:.2f} TB/s)\n")
    print("| chain | elements | MB | nsafuse fused | nsafuse unfused | eager | torch.compile | compile / fused |")
    print("|---|---|---|---|---|---|---|---|")
    order = [c[0] for c in CHAINS]
    cases = sorted({(r["chain"], r["elements"]) for r in records if r["chain"] in order},
                   key=lambda k: (order.index(k[0]), k[1]))
    for chain, elements in cases:
        cells, moved = [], 0
        for variant in ("fused", "unfused", "eager", "compiled"):
            r = by_key.get((chain, elements, variant))
            if r is None:
                cells.append("-")
                continue
            moved = r["bytes"]
            bw = r["bytes"] / r["us"] / 1e6
            kn = r["kernels"]
            kn_text = f", {kn} kernel{'s' if kn != 1 else ''}" if kn >= 0 else ""
            cells.append(f"{r['us']:.1f} us, {bw:.2f} TB/s ({100 * bw / ref_tbps:.0f}%){kn_text}")
        f, c = by_key.get((chain, elements, "fused")), by_key.get((chain, elements, "compiled"))
        ratio = f"{c['us'] / f['us']:.2f}x" if f and c else "-"
        print(f"| {chain} | {elements} | {moved / 1e6:.1f} | " + " | ".join(cells) + f" | {ratio} |")
    print("\ncompile / fused: torch.compile's time over nsafuse's (above 1: nsafuse is faster).")
    for r in records:
        if r["chain"] == "copy":
            label = {"memcpy": "driver memcpy (nsafuse-bench)", "kernel": "nsafuse copy kernel",
                     "copy_": "torch copy_"}.get(r["variant"], r["variant"])
            print(f"- copy, {label}: {r['us']:.1f} us, {r['bytes'] / r['us'] / 1e6:.2f} TB/s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", nargs="?", default="chains", choices=("chains", "headgate"),
                   help="chains (default): bench/graphs' chains, copy, launch cost; headgate: the NSA head gate")
    p.add_argument("--sizes", help="element counts for every chain, e.g. 1M,16M,256M")
    p.add_argument("--chain", help="only this chain")
    p.add_argument("--copy-size", default="256M", help="f32 elements of the bandwidth copy")
    p.add_argument("--graph-calls", type=int, default=50)
    p.add_argument("--calls", type=int, default=10000, help="calls timed for the host launch cost")
    p.add_argument("--csv", help="write rows here")
    p.add_argument("--nsafuse-csv", help="nsafuse-bench elementwise --csv output: print both side by side")
    p.add_argument("--device", default="cuda", help="cuda; cpu only to check the script itself")
    p.add_argument("--skip", default="", help="comma-separated: chains,copy,launch")
    p.add_argument("--forms", help="headgate: bf16,f32out,f32w (default all three)")
    p.add_argument("--autotune-sizes", help="headgate: T for max-autotune (default 1,32,2048,16384; '' none)")
    p.add_argument("--time-budget", type=float, default=300,
                   help="headgate: seconds; max-autotune cases that would not fit are skipped")
    opts = p.parse_args()
    opts.sizes = [parse_size(s) for s in opts.sizes.split(",")] if opts.sizes else None
    opts.copy_elements = parse_size(opts.copy_size)
    if opts.autotune_sizes is not None:
        opts.autotune_sizes = [parse_size(s) for s in opts.autotune_sizes.split(",") if s]
    skip = set(filter(None, opts.skip.split(",")))
    if opts.device == "cuda" and not torch.cuda.is_available():
        print("torch_bench: no CUDA device", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name() if opts.device == "cuda" else "CPU"
    print(f"torch_bench on {name}: torch {torch.__version__}; times in us per call; graph = inside a CUDA graph "
          f"of {opts.graph_calls} calls\n")
    clock = Clock(opts.device)
    if opts.mode == "headgate":
        import torch_headgate  # the file beside this one
        return torch_headgate.main(opts, clock)
    rows = []
    steps = [("copy", lambda: run_copy(opts, clock)), ("chains", lambda: run_chains(opts, clock)),
             ("launch", lambda: launch_cost(opts) or [])]
    failed = False
    for label, step in steps:
        if label in skip:
            continue
        try:
            rows += step()
        except Exception as e:  # noqa: BLE001 - the other steps' figures still count
            print(f"torch_bench: {label} FAILED: {type(e).__name__}: {e}", flush=True)
            failed = True
        print()
    if opts.csv:
        with open(opts.csv, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(FIELDS)
            writer.writerows(rows)
    if opts.nsafuse_csv:
        merge(opts.nsafuse_csv, rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
