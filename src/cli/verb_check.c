/* nsafuse check: parse, verify, print the typed graph. */
#include "cli/cli.h"

#include <stdlib.h>

int cli_verb_check(const cli_args *a)
{
    int status;
    nf_graph *g = cli_load_graph(a, &status);
    if (!g)
        return status;
    char *text = nf_graph_print(g);
    nf_graph_free(g);
    if (!text) {
        fprintf(stderr, "nsafuse check: error: out of memory printing the graph (free memory and retry)\n");
        return CLI_EXIT_ENV;
    }
    fputs(text, stdout);
    free(text);
    return CLI_EXIT_OK;
}
