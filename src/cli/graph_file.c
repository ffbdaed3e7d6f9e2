/* The graph file a verb works on, the --dim bindings of its symbols, and the
 * device a --target runs on. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The whole of f, NUL-terminated; NULL with errno set on failure. */
static char *read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (cap - n < 2) {
            char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                errno = ENOMEM;
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char *read_file(const char *path, size_t *len)
{
    if (strcmp(path, "-") == 0)
        return read_stream(stdin, len);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = read_stream(f, len);
    int saved = errno;
    fclose(f);
    errno = saved;
    return text;
}

nf_graph *cli_load_graph(const cli_args *a, int *exit_status)
{
    const char *label = strcmp(a->positional, "-") == 0 ? "<stdin>" : a->positional;
    size_t len = 0;
    char *text = read_file(a->positional, &len);
    if (!text) {
        /* A file that is not there is the user's mistake, like a bad one. */
        fprintf(stderr, "%s: error: cannot read the file: %s\n", label, strerror(errno));
        *exit_status = errno == ENOMEM ? CLI_EXIT_ENV : CLI_EXIT_USER;
        return NULL;
    }
    nf_error err = {0};
    nf_graph *g = nf_graph_parse(text, len, label, a->graph, &err);
    free(text);
    if (!g)
        *exit_status = cli_report(a->verb, label, &err);
    return g;
}

static bool graph_has_symbol(const nf_graph *g, const char *name)
{
    for (int i = 0; i < nf_graph_num_symbols(g); i++)
        if (strcmp(nf_graph_symbol(g, i), name) == 0)
            return true;
    return false;
}

static void list_symbols(const nf_graph *g, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < nf_graph_num_symbols(g) && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", nf_graph_symbol(g, i));
}

bool cli_bindings(const cli_args *a, const nf_graph *g, nf_bindings *b, int *exit_status)
{
    memset(b, 0, sizeof *b);
    char symbols[512];
    list_symbols(g, symbols, sizeof symbols);
    for (int i = 0; i < a->n_dims; i++) {
        if (!graph_has_symbol(g, a->dim_names[i])) {
            if (nf_graph_num_symbols(g) == 0)
                cli_usage_error(a->verb, "--dim %s: graph %s has no symbolic sizes", a->dim_names[i],
                                nf_graph_name(g));
            else
                cli_usage_error(a->verb, "--dim %s: graph %s has no symbol %s (its symbols: %s)", a->dim_names[i],
                                nf_graph_name(g), a->dim_names[i], symbols);
            *exit_status = CLI_EXIT_USER;
            return false;
        }
        b->names[b->n] = a->dim_names[i];
        b->sizes[b->n] = a->dim_sizes[i];
        b->n++;
    }
    char missing[512] = "", example[512] = "";
    size_t used = 0, used_ex = 0;
    int n_missing = 0;
    for (int i = 0; i < nf_graph_num_symbols(g); i++) {
        const char *sym = nf_graph_symbol(g, i);
        bool bound = false;
        for (int j = 0; j < b->n; j++)
            bound |= strcmp(b->names[j], sym) == 0;
        if (bound || used >= sizeof missing || used_ex >= sizeof example)
            continue;
        used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%s", n_missing ? ", " : "", sym);
        used_ex += (size_t)snprintf(example + used_ex, sizeof example - used_ex, " --dim %s=SIZE", sym);
        n_missing++;
    }
    if (n_missing > 0) {
        cli_usage_error(a->verb, "graph %s has symbolic size%s %s without a value: add%s", nf_graph_name(g),
                        n_missing > 1 ? "s" : "", missing, example);
        *exit_status = CLI_EXIT_USER;
        return false;
    }
    return true;
}

void cli_format_bindings(const nf_bindings *b, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < b->n && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s=%lld", i ? ", " : "", b->names[i],
                                 (long long)b->sizes[i]);
}

bool cli_constant_inputs(const cli_args *a, const nf_graph *g, uint32_t *mask, int *exit_status)
{
    *mask = 0;
    for (int c = 0; c < a->n_constants; c++) {
        int i = 0;
        while (i < nf_graph_num_params(g) && i < 32 &&
               !(nf_value_name(nf_graph_param(g, i)) && strcmp(nf_value_name(nf_graph_param(g, i)), a->constant_names[c]) == 0))
            i++;
        if (i == nf_graph_num_params(g) || i == 32) {
            char inputs[512] = "";
            size_t used = 0;
            for (int j = 0; j < nf_graph_num_params(g) && used < sizeof inputs; j++) {
                const char *name = nf_value_name(nf_graph_param(g, j));
                used += (size_t)snprintf(inputs + used, sizeof inputs - used, "%s%%%s", j ? ", " : "", name ? name : "?");
            }
            cli_usage_error(a->verb, "--constant %s: graph %s has no input %%%s (its inputs: %s)", a->constant_names[c],
                            nf_graph_name(g), a->constant_names[c], inputs);
            *exit_status = CLI_EXIT_USER;
            return false;
        }
        *mask |= 1u << i;
    }
    return true;
}
