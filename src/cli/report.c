/* Errors on one line each, with what to do, and the exit status they mean. */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

nf_status cli_error(nf_error *err, nf_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->status = s;
    err->line = err->col = 0;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return s;
}

int cli_exit_status(nf_status s)
{
    if (s == NF_OK)
        return CLI_EXIT_OK;
    return nf_status_is_user_error(s) ? CLI_EXIT_USER : CLI_EXIT_ENV;
}

/* What to do about an error of this kind; NULL where the message says it. */
static const char *hint(nf_status s)
{
    switch (s) {
    case NF_ERR_NO_DEVICE: return "run with --target host, or on a machine with the GPU and its driver";
    case NF_ERR_DRIVER: return "check the GPU and its driver (nvidia-smi or rocm-smi)";
    case NF_ERR_COMPILE: return "a bug in nsafuse: please report it with the graph file and the command";
    case NF_ERR_NOMEM: return "free memory or use smaller --dim sizes";
    case NF_ERR_IO: return "check the path and its permissions";
    default: return NULL;
    }
}

int cli_report(const char *verb, const char *file, const nf_error *err)
{
    nf_status s = err->status != NF_OK ? err->status : NF_ERR_ARG;
    const char *msg = err->message[0] ? err->message : nf_status_name(s);
    if ((s == NF_ERR_PARSE || s == NF_ERR_TYPE) && file) {
        /* The compiler-style location editors and CI logs understand. */
        if (err->line > 0)
            fprintf(stderr, "%s:%d:%d: error: %s\n", file, err->line, err->col, msg);
        else
            fprintf(stderr, "%s: error: %s\n", file, msg);
        return cli_exit_status(s);
    }
    char h[128] = "";
    /* The library's message may already say it (a missing driver names the
     * host target); say it once. */
    bool already_said = s == NF_ERR_NO_DEVICE && strstr(msg, "host");
    if (hint(s) && !already_said)
        snprintf(h, sizeof h, " (%s)", hint(s));
    else if (s == NF_ERR_ARG)
        snprintf(h, sizeof h, " (see nsafuse %s --help)", verb);
    if (file && err->line > 0)
        fprintf(stderr, "%s:%d:%d: error: %s%s\n", file, err->line, err->col, msg, h);
    else
        fprintf(stderr, "nsafuse %s: error: %s%s\n", verb, msg, h);
    return cli_exit_status(s);
}
