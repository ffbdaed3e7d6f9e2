/* nsafuse cache list|clear: the on-disk kernel cache, through the runtime. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cli_verb_cache(const cli_args *a)
{
    nf_error err = {0};
    if (strcmp(a->positional, "list") == 0) {
        char *text = NULL;
        if (nf_cache_list(&text, &err) != NF_OK)
            return cli_report(a->verb, NULL, &err);
        fputs(text, stdout);
        free(text);
        return CLI_EXIT_OK;
    }
    if (strcmp(a->positional, "clear") == 0) {
        if (nf_cache_clear(&err) != NF_OK)
            return cli_report(a->verb, NULL, &err);
        printf("cache cleared\n");
        return CLI_EXIT_OK;
    }
    return cli_usage_error(a->verb, "unknown action '%s' (list or clear)", a->positional);
}
