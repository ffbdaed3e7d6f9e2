/* libFuzzer target for the graph text format. Any input: parse must return
 * a graph or a located error, never crash. A graph that parses must print,
 * re-parse, and print to the same text (the printer's round-trip property).
 * Build: CC=clang-22 meson setup build-fuzz -Dfuzz=true; see tests/fuzz/meson.build. */
#include "ir/ir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_error(const nf_error *err)
{
    if (err->status == NF_OK || err->message[0] == '\0' || !memchr(err->message, '\0', sizeof err->message))
        __builtin_trap();
    /* syntax errors always point into the text */
    if (err->status == NF_ERR_PARSE && (err->line < 1 || err->col < 1))
        __builtin_trap();
}

/* print(g) parses back and prints to the same text. */
static void check_round_trip(const nf_graph *g)
{
    char *s1 = nf_graph_print(g);
    if (!s1)
        __builtin_trap();
    nf_error err;
    nf_graph *g2 = nf_graph_parse(s1, strlen(s1), "printed", NULL, &err);
    if (!g2)
        __builtin_trap();
    if (nf_graph_num_params(g2) != nf_graph_num_params(g) || nf_graph_num_outputs(g2) != nf_graph_num_outputs(g) ||
        g2->n_values != g->n_values)
        __builtin_trap();
    char *s2 = nf_graph_print(g2);
    if (!s2 || strcmp(s1, s2) != 0)
        __builtin_trap();
    free(s2);
    free(s1);
    nf_graph_free(g2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    nf_error err;
    nf_graph *g = nf_graph_parse(text, size, "fuzz.nf", NULL, &err);
    if (!g) {
        check_error(&err);
        /* listing agrees with parsing about whether the file is good */
        char *names = nf_graph_list(text, size, &err);
        if (names)
            __builtin_trap();
        return 0;
    }
    check_round_trip(g);
    nf_graph_free(g);

    /* select the last graph by name */
    char *names = nf_graph_list(text, size, &err);
    if (!names)
        __builtin_trap();
    char *last = strrchr(names, '\n');
    last = last ? last + 1 : names;
    g = nf_graph_parse(text, size, "fuzz.nf", last, &err);
    if (!g || strcmp(nf_graph_name(g), last) != 0)
        __builtin_trap();
    nf_graph_free(g);
    free(names);
    return 0;
}
