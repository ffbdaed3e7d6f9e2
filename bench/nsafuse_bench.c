/* nsafuse-bench: speed measurements of nsafuse (issue 4). Speed targets live
 * here, never in timed unit tests. Subcommands:
 *   elementwise  the chains of bench/graphs/, fused and unfused, vs copy bandwidth
 *   launch       host-side cost of a cached nf_kernel_run
 *   compile      first-call cost: empty disk cache vs warm, each in a fresh process
 *   headgate     the NSA head gate's three forms (examples/nsa/logits_head_gate.nf),
 *                fused and unfused, at T = 1 .. 16384, vs the bandwidth floor and float64
 *   all          the three in turn */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nsafuse-bench elementwise|launch|compile|all|headgate [options]\n"
            "  all: elementwise, launch, compile (headgate runs on its own)\n"
            "  --target T        cuda (default), host, sm_80, sm_90, gfx90a, gfx942, gfx950\n"
            "  --sizes LIST      elementwise: element counts for every chain, e.g. 1M,16M,256M\n"
            "                    (default: each chain's shape from ANCHORS.md)\n"
            "                    headgate: token counts T (default 1,8,32,128,512,2048,8192,16384)\n"
            "  --forms LIST      headgate: bf16, f32out, f32w, f32w-const (or the labels; default all four)\n"
            "  --chain NAME      elementwise: only this chain (bias_gelu_residual, transcendental_chain,\n"
            "                    upcast_two_scales)\n"
            "  --copy-size N     f32 elements of the bandwidth copy (default 256M: 1 GiB)\n"
            "  --graph-calls N   calls captured into one CUDA graph (default 50)\n"
            "  --calls N         launch: nf_kernel_run calls timed (default 10000)\n"
            "  --csv FILE        elementwise, headgate: rows for bench/torch_bench.py --nsafuse-csv\n"
            "  --graphs DIR      the .nf files (default $NF_SOURCE_ROOT/bench/graphs, else the source tree's)\n"
            "  --seed N          input data seed (default 1)\n"
            "  --no-check        elementwise: do not compare fused with unfused outputs\n"
            "  (headgate always checks: vs nf_interpret up to T = 128, vs float64 at every T)\n");
}

static bool parse_sizes(const char *text, bench_opts *o)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    o->n_sizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_sizes == BENCH_MAX_SIZES || !bench_parse_size(tok, &o->sizes[o->n_sizes]))
            return false;
        o->n_sizes++;
    }
    return o->n_sizes > 0;
}

static bool parse_count(const char *text, int lo, int *out)
{
    int64_t v;
    if (!bench_parse_size(text, &v) || v < lo || v > 100000000)
        return false;
    *out = (int)v;
    return true;
}

static int bad_arg(const char *flag, const char *value)
{
    fprintf(stderr, "nsafuse-bench: bad value for %s: '%s'\n", flag, value ? value : "(missing)");
    usage(stderr);
    return 1;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->target = "cuda";
    o->copy_elements = 256LL << 20;
    o->graph_calls = 50;
    o->launch_calls = 10000;
    o->check = true;
    o->seed = 1;
    o->self = argv[0];
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;
        if (strcmp(flag, "--target") == 0 && value)
            o->target = value;
        else if (strcmp(flag, "--graphs") == 0 && value)
            o->graphs_dir = value;
        else if (strcmp(flag, "--chain") == 0 && value)
            o->chain = value;
        else if (strcmp(flag, "--forms") == 0 && value)
            o->forms = value;
        else if (strcmp(flag, "--csv") == 0 && value)
            o->csv_path = value;
        else if (strcmp(flag, "--child") == 0 && value)
            o->child_cache = value;
        else if (strcmp(flag, "--sizes") == 0) {
            if (!value || !parse_sizes(value, o))
                return bad_arg(flag, value);
        } else if (strcmp(flag, "--copy-size") == 0) {
            if (!value || !bench_parse_size(value, &o->copy_elements))
                return bad_arg(flag, value);
        } else if (strcmp(flag, "--graph-calls") == 0) {
            if (!value || !parse_count(value, 1, &o->graph_calls))
                return bad_arg(flag, value);
        } else if (strcmp(flag, "--calls") == 0) {
            if (!value || !parse_count(value, 1, &o->launch_calls))
                return bad_arg(flag, value);
        } else if (strcmp(flag, "--seed") == 0) {
            int64_t seed;
            if (!value || !bench_parse_size(value, &seed))
                return bad_arg(flag, value);
            o->seed = (uint64_t)seed;
        } else if (strcmp(flag, "--no-check") == 0) {
            o->check = false;
            takes_value = false;
        } else if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "nsafuse-bench: unknown option or missing value: %s\n", flag);
            usage(stderr);
            return 1;
        }
        if (takes_value)
            i++;
    }
    if (!nf_target_device(o->target, &o->device))
        return bad_arg("--target", o->target);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argv[1];
    if (strcmp(cmd, "elementwise") == 0)
        return bench_elementwise(&o);
    if (strcmp(cmd, "launch") == 0)
        return bench_launch(&o);
    if (strcmp(cmd, "headgate") == 0)
        return bench_headgate(&o);
    if (strcmp(cmd, "compile") == 0) {
        if (o.child_cache) {
            setenv("NSAFUSE_CACHE_DIR", o.child_cache, 1);
            return bench_compile_child(&o);
        }
        return bench_compile(&o);
    }
    if (strcmp(cmd, "all") == 0) {
        int worst = 0;
        int (*steps[])(const bench_opts *) = {bench_elementwise, bench_launch, bench_compile};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            rc = steps[i](&o);
            if (rc > worst)
                worst = rc;
            printf("\n");
        }
        return worst;
    }
    fprintf(stderr, "nsafuse-bench: unknown subcommand '%s'\n", cmd);
    usage(stderr);
    return 1;
}
