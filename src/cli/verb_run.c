/* nsafuse run: one call on seeded random inputs, a summary of each output,
 * and with --check a comparison with the reference interpreter. */
#include "cli/cli.h"

#include <string.h>

/* Everything one run holds, freed in one place. */
typedef struct run_state {
    nf_graph *g;
    nf_bindings b;
    nf_device_kind device;
    cli_tensors in, out, ref;
    nf_kernel *k;
} run_state;

static void run_state_free(run_state *r)
{
    if (r->k)
        nf_kernel_free(r->k);
    cli_tensors_free(&r->in);
    cli_tensors_free(&r->out);
    cli_tensors_free(&r->ref);
    if (r->g)
        nf_graph_free(r->g);
}

static void print_inputs(const run_state *r, const cli_args *a, const char *target)
{
    char dims[512];
    cli_format_bindings(&r->b, dims, sizeof dims);
    printf("run %s on %s%s%s%s, seed %llu, %s\n", nf_graph_name(r->g), target, dims[0] ? " (" : "", dims,
           dims[0] ? ")" : "", (unsigned long long)a->seed, a->unfused ? "unfused" : "fused");
    for (int i = 0; i < r->in.n; i++) {
        char label[128], type[256];
        cli_value_label(nf_graph_param(r->g, i), "input", i, label, sizeof label);
        cli_format_type(&r->in.host[i], type, sizeof type);
        printf("input  %s: %s\n", label, type);
    }
}

static nf_status print_outputs(const run_state *r, nf_error *err)
{
    for (int i = 0; i < r->out.n; i++) {
        char label[128], type[256];
        cli_value_label(nf_graph_output(r->g, i), "output", i, label, sizeof label);
        cli_format_type(&r->out.host[i], type, sizeof type);
        printf("output %s: %s  ", label, type);
        nf_status s = cli_print_summary(stdout, &r->out.host[i], err);
        if (s != NF_OK)
            return s;
    }
    return NF_OK;
}

static nf_status compile(run_state *r, const char *target, bool unfused, uint32_t constants, nf_error *err)
{
    nf_compile_options o;
    nf_compile_options_init(&o);
    o.target = target;
    o.unfused = unfused;
    o.constant_inputs = constants;
    return nf_compile(r->g, &o, &r->k, err);
}

/* Runs once; outputs end up in r->out.host. */
static nf_status run_once(run_state *r, nf_error *err)
{
    nf_status s = nf_kernel_run(r->k, r->in.dev, r->in.n, r->out.dev, r->out.n, NULL, err);
    if (s == NF_OK)
        s = nf_device_synchronize(r->device, err);
    if (s == NF_OK) {
        nf_kernel_stats st;
        nf_kernel_get_stats(r->k, &st);
        printf("kernels %d\n", st.kernels);
        /* timing varies run to run: stderr keeps stdout reproducible */
        if (st.last_from_disk_cache)
            fprintf(stderr, "loaded from the disk cache (no LLVM, no driver JIT) in %.2f ms\n", st.last_compile_ms);
        else
            fprintf(stderr, "compiled in %.2f ms (LLVM %.2f, driver %.2f)\n", st.last_compile_ms, st.last_llvm_ms,
                    st.last_driver_ms);
    }
    if (s == NF_OK)
        s = cli_download(&r->out, err);
    return s;
}

/* Runs the reference on the host inputs and compares every output. Returns
 * the number of outputs outside the tolerance (or -1 with err filled). */
static int check_outputs(run_state *r, nf_error *err)
{
    if (cli_alloc_outputs(r->g, &r->b, NF_DEVICE_HOST, &r->ref, err) != NF_OK ||
        cli_poison(&r->ref, err) != NF_OK ||
        nf_interpret(r->g, r->in.host, r->in.n, r->ref.host, r->ref.n, err) != NF_OK)
        return -1;
    int n_failed = 0;
    for (int i = 0; i < r->out.n; i++) {
        const nf_tensor *got = &r->out.host[i], *want = &r->ref.host[i];
        nf_tolerance tol = cli_tolerance(r->g, i, want);
        nf_compare_result res;
        if (nf_tensor_compare(got, want, tol, &res, err) != NF_OK)
            return -1;
        char label[128];
        cli_value_label(nf_graph_output(r->g, i), "output", i, label, sizeof label);
        printf("check  %s: max abs err %.3g  max rel err %.3g  (atol %.3g, rtol %.3g)  %s\n", label,
               res.max_abs_err, res.max_rel_err, tol.atol, tol.rtol, res.n_mismatch ? "FAIL" : "PASS");
        if (res.n_mismatch) {
            char where[256];
            cli_format_index(got, res.first_mismatch, where, sizeof where);
            printf("       %lld of %lld elements outside the tolerance; first at %s: got %.9g, want %.9g\n",
                   (long long)res.n_mismatch, (long long)nf_tensor_numel(got), where, res.first_got, res.first_want);
            n_failed++;
        }
    }
    return n_failed;
}

int cli_verb_run(const cli_args *a)
{
    const char *target = a->target ? a->target : "host";
    run_state r;
    memset(&r, 0, sizeof r);
    if (!nf_target_device(target, &r.device))
        return cli_usage_error(a->verb, "unknown --target %s (" CLI_TARGETS ")",
                               target);
    int status;
    r.g = cli_load_graph(a, &status);
    if (!r.g)
        return status;
    uint32_t constants;
    if (!cli_bindings(a, r.g, &r.b, &status) || !cli_constant_inputs(a, r.g, &constants, &status)) {
        run_state_free(&r);
        return status;
    }
    nf_error err = {0};
    /* Compile first: a bad target or graph fails before any allocation. */
    if (compile(&r, target, a->unfused, constants, &err) != NF_OK || cli_alloc_params(r.g, &r.b, r.device, &r.in, &err) != NF_OK ||
        cli_alloc_outputs(r.g, &r.b, r.device, &r.out, &err) != NF_OK || cli_fill_inputs(&r.in, a->seed, &err) != NF_OK ||
        cli_poison(&r.out, &err) != NF_OK)
        goto failed;
    print_inputs(&r, a, target);
    if (run_once(&r, &err) != NF_OK || print_outputs(&r, &err) != NF_OK)
        goto failed;
    status = CLI_EXIT_OK;
    if (a->check) {
        int n_failed = check_outputs(&r, &err);
        if (n_failed < 0)
            goto failed;
        printf("%s\n", n_failed ? "FAIL" : "PASS");
        fflush(stdout);
        if (n_failed) {
            fprintf(stderr,
                    "nsafuse run: error: graph %s: %d output%s outside the tolerance of the reference (seed %llu); "
                    "compare with --unfused and inspect with nsafuse dump --emit fused\n",
                    nf_graph_name(r.g), n_failed, n_failed > 1 ? "s" : "", (unsigned long long)a->seed);
            status = CLI_EXIT_USER;
        }
    }
    run_state_free(&r);
    return status;

failed:
    fflush(stdout);
    status = cli_report(a->verb, a->positional, &err);
    run_state_free(&r);
    return status;
}
