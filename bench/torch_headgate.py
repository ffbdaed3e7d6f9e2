"""The NSA head gate (ANCHORS.md; examples/nsa/logits_head_gate.nf) in PyTorch:
eager, torch.compile(dynamic=True) and torch.compile(mode="max-autotune-no-cudagraphs")
in its three forms, timed as nsafuse-bench headgate times nsafuse (per call inside a
CUDA graph of 50 calls, one call per replay, plain launches), with the relative error
against float64. With --nsafuse-csv (nsafuse-bench headgate --csv) it prints both
side by side. Run through bench/torch_bench.py:

    python3 bench/torch_bench.py headgate [--sizes 1,8,...] [--forms bf16,f32out,f32w]
            [--autotune-sizes 1,32,2048,16384] [--time-budget 300] [--csv F] [--nsafuse-csv F]
"""
import csv
import math
import time
import types

import torch
import torch.nn.functional as F

from torch_bench import Clock, count_kernels, rand, time_call  # noqa: F401 - Clock for callers

K, N = 7168, 64  # hidden size, heads (DeepSeek-V3.2)
N_HEADS_SCALE = 0.125  # n_heads ** -0.5
SOFTMAX_SCALE = 0.08838834764831845  # head_dim ** -0.5
SIZES = [1, 8, 32, 128, 512, 2048, 8192, 16384]
AUTOTUNE_SIZES = [1, 32, 2048, 16384]
AUTOTUNE_ORDER = [1, 16384, 32, 2048]  # when the time budget runs short, the ends come first
AUTOTUNE_GUESS_S = 15.0  # compile time of one max-autotune shape before one was seen (ANCHORS: 5-16 s)


# ---- the three forms: the same programs as examples/nsa/logits_head_gate.nf ------

def gate_bf16(x, w, q):
    """bf16-rounded: linear in bf16, then .float() (the seed change's code)."""
    return (F.linear(x, w).float() * N_HEADS_SCALE).unsqueeze(-1) * q * SOFTMAX_SCALE


def gate_f32out(x, w, q):
    """f32-output: sglang on NVIDIA today."""
    return (torch.mm(x, w.t(), out_dtype=torch.float32) * N_HEADS_SCALE).unsqueeze(-1) * q * SOFTMAX_SCALE


def gate_f32w(x, w, q):
    """fp32 weights: x.to(fp32) first, then an fp32 GEMM (the AMD path, rtp-llm)."""
    return (F.linear(x.float(), w) * N_HEADS_SCALE).unsqueeze(-1) * q * SOFTMAX_SCALE


# (graph name in the .nf file and nsafuse's CSV, alias, fn, fp32 weights, best peer in a graph of 50 from ANCHORS)
ANCHOR_BEST = {1: 2.05, 8: 2.70, 32: 5.43, 128: 7.57, 512: 7.89, 2048: 11.40, 8192: 46.36, 16384: 83.55}
ANCHOR_RTP_F32W = {1: 2.44, 8: 3.17, 32: 6.63, 128: 37.37, 512: 37.20, 2048: 37.71, 8192: 76.24, 16384: 146.25}
FORMS = [
    ("logits_head_gate", "bf16", gate_bf16, False, ANCHOR_BEST),
    ("logits_head_gate_f32out", "f32out", gate_f32out, False, ANCHOR_BEST),
    ("logits_head_gate_f32w", "f32w", gate_f32w, True, ANCHOR_RTP_F32W),
]
FORM_TITLES = {
    "logits_head_gate": "bf16-rounded (`linear` in bf16, then `cast(f32)`)",
    "logits_head_gate_f32out": "f32-output (`linear(out_dtype=f32)`; torch: `torch.mm(x, W.t(), out_dtype=torch.float32)`)",
    "logits_head_gate_f32w": "fp32 weights (`cast(x, f32)`, fp32 `linear`; torch: `F.linear(x.float(), W32)`)",
}
PEER_NOTE = {
    "logits_head_gate": "ANCHORS' best of all forms and peers",
    "logits_head_gate_f32out": "ANCHORS' best of all forms and peers",
    "logits_head_gate_f32w": "ANCHORS' rtp-llm with fp32 W",
}
# The targets for nsafuse fused, us per call in a graph of 50.
TARGETS = [(8, 1.8), (32, 2.5), (128, 3.0), (512, 4.5), (2048, 11.0), (8192, 43.0), (16384, 83.0)]

FIELDS = ["tool", "chain", "elements", "bytes", "variant", "kernels", "graph_us", "replay_us", "plain_us",
          "host_us", "rel_err", "check", "first_ms"]


def target_us(t, f32w=False):
    if f32w and 8192 < t <= 16384:  # the fp32-weight form's own target
        return 95.0
    return next((us for max_t, us in TARGETS if t <= max_t), math.nan)


def fresh(fn, tag):
    """fn with a code object of its own: torch.compile keeps its cache on the code
    object, so the dynamic and the max-autotune compilations never share entries."""
    return types.FunctionType(fn.__code__.replace(co_name=f"{fn.__name__}_{tag}"), fn.__globals__,
                              f"{fn.__name__}_{tag}", fn.__defaults__, fn.__closure__)


def floor_bytes(t, f32_weights):
    return t * K * 2 + N * K * (4 if f32_weights else 2) + 2 * t * N * 4


def rel_error(out, x, w, q):
    """max |got - ref| / max |ref|, ref = the exact float64 math on the same inputs."""
    ref = (x.double() @ w.double().t() * N_HEADS_SCALE).unsqueeze(-1) * q.double() * SOFTMAX_SCALE
    diff = (out.double() - ref).abs().max()
    if not torch.isfinite(diff):
        return math.inf
    return (diff / ref.abs().max()).item()


class Inputs:
    """Inputs for the largest T; a case of T tokens views the first T rows."""

    def __init__(self, t_max, device):
        self.x = rand((t_max, K), torch.bfloat16, device)
        self.w16 = rand((N, K), torch.bfloat16, device)
        self.w32 = rand((N, K), torch.float32, device)
        self.q = rand((t_max, N, 1), torch.float32, device)

    def case(self, t, f32_weights):
        return self.x[:t], self.w32 if f32_weights else self.w16, self.q[:t]


# ---- the run -------------------------------------------------------------------------

def run_case(opts, clock, name, t, f32_weights, variant, fn, args):
    """First call (compiles), the three times, the error vs float64: one CSV row."""
    t0 = time.perf_counter()
    out = fn(*args)
    if clock.cuda:
        torch.cuda.synchronize()
    first_ms = 1e3 * (time.perf_counter() - t0)
    err = rel_error(out, *args)
    del out
    graph, replay, plain, calls = time_call(clock, fn, args, opts.graph_calls)
    note = "" if calls in (0, opts.graph_calls) else f" (graph of {calls})"
    print(f"{name:24} {t:6} {variant:13} {graph:9.2f} {replay:9.2f} {plain:9.2f} {err:10.2g} {first_ms:10.1f}{note}",
          flush=True)
    return ["torch", name, t, floor_bytes(t, f32_weights), variant, -1, graph, replay, plain, math.nan, err, "-",
            first_ms]


def run(opts, clock):
    t_start = time.perf_counter()
    sizes = opts.sizes or SIZES
    autotune_sizes = opts.autotune_sizes if opts.autotune_sizes is not None else AUTOTUNE_SIZES
    wanted = set(filter(None, (opts.forms or "").split(",")))
    forms = [f for f in FORMS if not wanted or f[0] in wanted or f[1] in wanted]
    if not forms:
        raise ValueError(f"no form named in --forms {opts.forms} (bf16, f32out, f32w or the graph names)")
    for attr in ("recompile_limit", "cache_size_limit"):  # 8 T per form, well past the default of 8 shapes
        if hasattr(torch._dynamo.config, attr):
            setattr(torch._dynamo.config, attr, 64)
    inputs = Inputs(max(sizes + autotune_sizes), opts.device)
    print(f"{'form':24} {'T':>6} {'variant':13} {'graph':>9} {'replay':>9} {'plain':>9} {'rel err':>10} "
          f"{'1st ms':>10}", flush=True)
    rows, fns = [], {}
    failed = False

    def attempt(name, t, f32w, variant, fn):
        nonlocal failed
        try:
            rows.append(run_case(opts, clock, name, t, f32w, variant, fn, inputs.case(t, f32w)))
            fns[(name, t, variant)] = fn
        except Exception as e:  # noqa: BLE001 - report, go on with the next case
            failed = True
            print(f"{name:24} {t:6} {variant:13} FAILED: {type(e).__name__}: {str(e)[:300]}", flush=True)
        if clock.cuda:
            torch.cuda.empty_cache()

    # eager and torch.compile(dynamic=True), every T
    for name, _, fn, f32w, _ in forms:
        compiled = torch.compile(fresh(fn, "dynamic"), dynamic=True)
        for t in sizes:
            attempt(name, t, f32w, "eager", fn)
            attempt(name, t, f32w, "compiled", compiled)
    # max-autotune: a few T, the ends first, while the time budget lasts
    autotuned = {name: torch.compile(fresh(fn, "autotune"), mode="max-autotune-no-cudagraphs", dynamic=False)
                 for name, _, fn, _, _ in forms}
    seen = []  # seconds per max-autotune case so far (compile + timing)
    order = [t for t in AUTOTUNE_ORDER if t in autotune_sizes] + [t for t in autotune_sizes
                                                                   if t not in AUTOTUNE_ORDER]
    skipped = []
    for t in order:
        for name, _, fn, f32w, _ in forms:
            elapsed = time.perf_counter() - t_start
            if elapsed + (max(seen) if seen else AUTOTUNE_GUESS_S) + 3 > opts.time_budget:
                skipped.append(f"{name} T={t}")
                continue
            t0 = time.perf_counter()
            attempt(name, t, f32w, "max-autotune", autotuned[name])
            seen.append(time.perf_counter() - t0)
    if skipped:
        print(f"max-autotune skipped (time budget {opts.time_budget:.0f} s): {', '.join(skipped)}", flush=True)
    # kernels per call, last: the profiler (CUPTI) stays out of the graph captures above
    if clock.cuda and time.perf_counter() - t_start < opts.time_budget + 30:
        for r in rows:
            fn = fns.get((r[1], r[2], r[4]))
            f32w = next(f[3] for f in forms if f[0] == r[1])
            if fn is not None:
                r[5] = count_kernels(fn, inputs.case(r[2], f32w))
        print("kernels per call (profiler): " + ", ".join(f"{r[1]} T={r[2]} {r[4]} {r[5]}" for r in rows),
              flush=True)
    print(f"torch head gate: {time.perf_counter() - t_start:.0f} s in all", flush=True)
    return rows, failed


# ---- side by side ------------------------------------------------------------------------

def as_record(row):
    r = dict(zip(FIELDS, row)) if not isinstance(row, dict) else dict(row)
    r["elements"], r["bytes"], r["kernels"] = int(r["elements"]), int(r["bytes"]), int(r["kernels"])
    for k in ("graph_us", "replay_us", "plain_us", "host_us", "rel_err"):
        r[k] = float(r.get(k) or "nan")
    r["us"] = r["graph_us"] if math.isfinite(r["graph_us"]) else r["plain_us"]  # the figure that counts
    return r


def us_text(v):
    return f"{v:.2f}" if math.isfinite(v) else "-"


def cell(r, kernels=True):
    if r is None:
        return "-"
    kn = f" ({r['kernels']})" if kernels and r["kernels"] >= 0 else ""
    return f"{r['us']:.2f}{kn}"


def merge(nf_csv, torch_rows):
    """Markdown tables: nsafuse fused / unfused beside eager / compiled / max-autotune."""
    records = []
    if nf_csv:
        with open(nf_csv) as f:
            records = [as_record(r) for r in csv.DictReader(f)]
    records += [as_record(r) for r in torch_rows]
    by_key = {(r["chain"], r["elements"], r["variant"]): r for r in records}
    ref = next((r for r in records if r["variant"] == "memcpy"), None)
    tbps = ref["bytes"] / ref["us"] / 1e6 if ref else 3.0
    source = "the driver memcpy's, measured by nsafuse-bench in this run" if ref else "ANCHORS' figure"
    print(f"\n## NSA head gate side by side\n\nus per call inside a CUDA graph of 50 calls; (n) = kernels per call; "
          f"floor = bytes that must move (x, W, q_scale, out) / {tbps:.2f} TB/s ({source}).\n")
    for name, _, _, f32w, peer in FORMS:
        ts = sorted({r["elements"] for r in records if r["chain"] == name})
        if not ts:
            continue
        print(f"### {FORM_TITLES[name]}\n")
        print(f"| T | floor | nsafuse fused | nsafuse unfused | eager | compiled | max-autotune | best peer "
              f"| target | fused / floor |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for t in ts:
            floor = floor_bytes(t, f32w) / (tbps * 1e6)
            fused = by_key.get((name, t, "fused"))
            goal = target_us(t, f32w)
            mark = "" if fused is None or math.isnan(goal) else (" met" if fused["us"] <= goal else " **missed**")
            goal_text = f"{goal:.1f}{mark}" if math.isfinite(goal) else "-"
            cells = [cell(by_key.get((name, t, v))) for v in ("fused", "unfused", "eager", "compiled",
                                                              "max-autotune")]
            ratio = f"{fused['us'] / floor:.1f}x" if fused else "-"
            print(f"| {t} | {floor:.2f} | " + " | ".join(cells) +
                  f" | {us_text(peer.get(t, math.nan))} | {goal_text} | {ratio} |")
        print(f"\nbest peer: {PEER_NOTE[name]} (graph of 50, same H100 model, an earlier run).\n")
    print("### All three timings and the error vs float64\n")
    print("graph = per call in a graph of 50 / replay = one call per graph replay / plain = back-to-back "
          "launches, us; host = host us per nf_kernel_run; rel err = max |got - ref| / max |ref| vs float64.\n")
    print("| form | T | variant | graph | replay | plain | host | rel err | check |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, alias, _, _, _ in FORMS:
        for t in sorted({r["elements"] for r in records if r["chain"] == name}):
            for v in ("fused", "unfused", "eager", "compiled", "max-autotune"):
                r = by_key.get((name, t, v))
                if r is None:
                    continue
                print(f"| {alias} | {t} | {v} | {us_text(r['graph_us'])} | {us_text(r['replay_us'])} "
                      f"| {us_text(r['plain_us'])} | {us_text(r['host_us'])} | {r['rel_err']:.2g} "
                      f"| {r.get('check') or '-'} |")
    print()


def main(opts, clock):
    try:
        rows, failed = run(opts, clock)
    except ValueError as e:
        print(f"torch_bench headgate: {e}")
        return 1
    if opts.csv:
        with open(opts.csv, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(FIELDS)
            writer.writerows(rows)
    merge(opts.nsafuse_csv, rows)
    return 1 if failed else 0
