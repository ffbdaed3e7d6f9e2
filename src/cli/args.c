/* Flags of the verbs: `--flag VALUE` or `--flag=VALUE`, switches, one
 * positional argument, `--` ending the flags. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nsafuse %s: error: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see nsafuse %s --help)\n", verb);
    va_end(ap);
    return CLI_EXIT_USER;
}

typedef struct flag_spec {
    const char *name;
    unsigned bit;
    bool takes_value;
} flag_spec;

static const flag_spec FLAGS[] = {
    {"--graph", CLI_FLAG_GRAPH, true},   {"--target", CLI_FLAG_TARGET, true}, {"--dim", CLI_FLAG_DIM, true},
    {"--seed", CLI_FLAG_SEED, true},     {"--check", CLI_FLAG_CHECK, false},  {"--unfused", CLI_FLAG_UNFUSED, false},
    {"--emit", CLI_FLAG_EMIT, true},     {"-o", CLI_FLAG_OUT, true},      {"--constant", CLI_FLAG_CONSTANT, true},
};
#define N_FLAGS ((int)(sizeof FLAGS / sizeof FLAGS[0]))

static bool parse_int64(const char *s, int64_t *out)
{
    if (!*s)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Decimal or 0x-prefixed hexadecimal, no sign. */
static bool parse_uint64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool valid_symbol(const char *s, size_t len)
{
    if (len == 0 || len >= CLI_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool add_dim(const char *verb, const char *arg, cli_args *a)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : 0;
    int64_t size;
    if (!eq || !valid_symbol(arg, len) || !parse_int64(eq + 1, &size)) {
        cli_usage_error(verb, "--dim wants NAME=INT (for example --dim T=7), got '%s'", arg);
        return false;
    }
    if (size < 0) {
        cli_usage_error(verb, "--dim %s: sizes are >= 0", arg);
        return false;
    }
    for (int i = 0; i < a->n_dims; i++)
        if (strlen(a->dim_names[i]) == len && memcmp(a->dim_names[i], arg, len) == 0) {
            cli_usage_error(verb, "--dim %.*s is given twice", (int)len, arg);
            return false;
        }
    if (a->n_dims == CLI_MAX_DIMS) {
        cli_usage_error(verb, "too many --dim flags (at most %d)", CLI_MAX_DIMS);
        return false;
    }
    memcpy(a->dim_names[a->n_dims], arg, len);
    a->dim_names[a->n_dims][len] = '\0';
    a->dim_sizes[a->n_dims] = size;
    a->n_dims++;
    return true;
}

static bool add_constant(const char *verb, const char *name, cli_args *a)
{
    if (name[0] == '%')
        name++;
    if (!*name || strlen(name) >= CLI_MAX_NAME) {
        cli_usage_error(verb, "--constant wants an input's name (for example --constant w)");
        return false;
    }
    if (a->n_constants == CLI_MAX_DIMS) {
        cli_usage_error(verb, "too many --constant flags (at most %d)", CLI_MAX_DIMS);
        return false;
    }
    snprintf(a->constant_names[a->n_constants++], CLI_MAX_NAME, "%s", name);
    return true;
}

static bool set_value(const char *verb, const flag_spec *f, const char *value, cli_args *a)
{
    switch (f->bit) {
    case CLI_FLAG_GRAPH: a->graph = value; return true;
    case CLI_FLAG_TARGET: a->target = value; return true;
    case CLI_FLAG_EMIT: a->emit = value; return true;
    case CLI_FLAG_OUT: a->out_path = value; return true;
    case CLI_FLAG_DIM: return add_dim(verb, value, a);
    case CLI_FLAG_CONSTANT: return add_constant(verb, value, a);
    case CLI_FLAG_SEED:
        if (!parse_uint64(value, &a->seed)) {
            cli_usage_error(verb, "--seed wants a non-negative integer, got '%s'", value);
            return false;
        }
        return true;
    }
    return false;
}

static const flag_spec *find_flag(const char *arg, size_t len)
{
    for (int i = 0; i < N_FLAGS; i++)
        if (strlen(FLAGS[i].name) == len && memcmp(FLAGS[i].name, arg, len) == 0)
            return &FLAGS[i];
    return NULL;
}

bool cli_parse_args(int argc, char **argv, int first, const char *verb, unsigned flags, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->verb = verb;
    bool flags_done = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        bool is_flag = !flags_done && arg[0] == '-' && arg[1] != '\0';
        if (!is_flag) {
            if (a->positional) {
                cli_usage_error(verb, "unexpected argument '%s'", arg);
                return false;
            }
            a->positional = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
            return true;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const flag_spec *f = find_flag(arg, name_len);
        if (!f || !(flags & f->bit)) {
            cli_usage_error(verb, "unknown flag %.*s", (int)name_len, arg);
            return false;
        }
        if (!f->takes_value) {
            if (eq) {
                cli_usage_error(verb, "%s takes no value", f->name);
                return false;
            }
            if (f->bit == CLI_FLAG_CHECK)
                a->check = true;
            else
                a->unfused = true;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                cli_usage_error(verb, "%s needs a value", f->name);
                return false;
            }
            value = argv[++i];
        }
        if (!set_value(verb, f, value, a))
            return false;
    }
    return true;
}
