/* Error values: every failure is reported through an nf_error. */
#include "ir/ir.h"

#include <stdio.h>

nf_status nf_set_verror(nf_error *err, nf_status s, int line, int col, const char *fmt, va_list ap)
{
    if (err) {
        err->status = s;
        err->line = line;
        err->col = col;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return s;
}

nf_status nf_set_error(nf_error *err, nf_status s, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nf_set_verror(err, s, line, col, fmt, ap);
    va_end(ap);
    return s;
}

const char *nf_status_name(nf_status s)
{
    switch (s) {
    case NF_OK: return "ok";
    case NF_ERR_PARSE: return "parse error";
    case NF_ERR_TYPE: return "type error";
    case NF_ERR_ARG: return "invalid argument";
    case NF_ERR_UNSUPPORTED: return "unsupported";
    case NF_ERR_NOMEM: return "out of memory";
    case NF_ERR_IO: return "i/o error";
    case NF_ERR_NO_DEVICE: return "no device";
    case NF_ERR_DRIVER: return "driver error";
    case NF_ERR_COMPILE: return "compile error";
    }
    return "unknown error";
}

bool nf_status_is_user_error(nf_status s)
{
    return s == NF_ERR_PARSE || s == NF_ERR_TYPE || s == NF_ERR_ARG || s == NF_ERR_UNSUPPORTED;
}
