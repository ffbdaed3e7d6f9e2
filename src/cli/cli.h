/* The `nsafuse` command: shared declarations of its files. The command sees
 * only the public header; it parses arguments and prints, nothing more. */
#ifndef NF_CLI_H
#define NF_CLI_H

#include "nsafuse.h"

#include <stdio.h>

/* Exit statuses (CONTRACT.md section 2). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_USER = 1, CLI_EXIT_ENV = 2 };

/* ---- arguments (args.c) -------------------------------------------------- */

/* Which flags a verb accepts. */
enum {
    CLI_FLAG_GRAPH = 1 << 0,
    CLI_FLAG_TARGET = 1 << 1,
    CLI_FLAG_DIM = 1 << 2,
    CLI_FLAG_SEED = 1 << 3,
    CLI_FLAG_CHECK = 1 << 4,
    CLI_FLAG_UNFUSED = 1 << 5,
    CLI_FLAG_EMIT = 1 << 6,
    CLI_FLAG_OUT = 1 << 7,
    CLI_FLAG_CONSTANT = 1 << 8,
};

#define CLI_MAX_DIMS 16
#define CLI_MAX_NAME 64

typedef struct cli_args {
    const char *verb;
    const char *positional; /* FILE, or the cache action */
    const char *graph;      /* --graph, NULL: the first graph */
    const char *target;     /* --target, NULL: not given */
    const char *emit;       /* --emit */
    const char *out_path;   /* -o */
    uint64_t seed;          /* --seed, 0 unless given */
    bool check, unfused, help;
    int n_dims;             /* --dim NAME=INT, in the order given */
    char dim_names[CLI_MAX_DIMS][CLI_MAX_NAME];
    int64_t dim_sizes[CLI_MAX_DIMS];
    int n_constants;        /* --constant NAME: inputs declared constant */
    char constant_names[CLI_MAX_DIMS][CLI_MAX_NAME];
} cli_args;

/* Parses argv[first..argc) for a verb that accepts `flags`. On a bad
 * argument prints a usage error and returns false. */
bool cli_parse_args(int argc, char **argv, int first, const char *verb, unsigned flags, cli_args *a);

/* ---- errors and exit statuses (report.c) --------------------------------- */

/* The targets a run can name, for help and error texts ("cuda": the current
 * GPU's; dump takes the rest). */
#define CLI_ARCH_TARGETS "sm_80, sm_90, sm_90a, gfx90a, gfx942, gfx950"
#define CLI_TARGETS "host, cuda, " CLI_ARCH_TARGETS

/* Exit status for a library status: 1 for the user's mistakes, 2 for the
 * environment (no GPU, driver, compiler, memory, I/O). */
int cli_exit_status(nf_status s);
/* Prints err on one line with what to do, located at FILE:LINE:COL when the
 * error is about graph text; returns the exit status. file may be NULL. */
int cli_report(const char *verb, const char *file, const nf_error *err);
/* Fills err (status, message; no position) and returns s. */
nf_status cli_error(nf_error *err, nf_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usage error (bad flag, missing argument): prints and returns 1. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the graph file (graph_file.c) --------------------------------------- */

/* Reads FILE ("-": standard input) and parses --graph (or the first graph).
 * On failure prints the error and returns NULL with *exit_status set. */
nf_graph *cli_load_graph(const cli_args *a, int *exit_status);
/* Bindings from --dim, checked against the graph's symbols: every symbol
 * bound (the error names the missing ones), no unknown names. Prints the
 * error and returns false with *exit_status set. */
bool cli_bindings(const cli_args *a, const nf_graph *g, nf_bindings *b, int *exit_status);
/* --constant's inputs as nf_compile_options.constant_inputs; an unknown
 * name prints the graph's inputs and returns false with *exit_status set. */
bool cli_constant_inputs(const cli_args *a, const nf_graph *g, uint32_t *mask, int *exit_status);
/* "T=7, H=3", or "" for a graph without symbols. */
void cli_format_bindings(const nf_bindings *b, char *buf, size_t n);

/* ---- tensors of one call (host_tensors.c) -------------------------------- */

/* The inputs or outputs of one call: host buffers and, for a GPU target,
 * device buffers of the same layout (on the host both are the same). */
typedef struct cli_tensors {
    int n;
    nf_device_kind device;
    nf_tensor *host;
    nf_tensor *dev;
} cli_tensors;

nf_status cli_alloc_params(const nf_graph *g, const nf_bindings *b, nf_device_kind device, cli_tensors *t,
                           nf_error *err);
nf_status cli_alloc_outputs(const nf_graph *g, const nf_bindings *b, nf_device_kind device, cli_tensors *t,
                            nf_error *err);
void cli_tensors_free(cli_tensors *t);
/* Seeded random host data (input i gets cli_input_seed(seed, i)), copied to
 * the device. */
nf_status cli_fill_inputs(cli_tensors *t, uint64_t seed, nf_error *err);
uint64_t cli_input_seed(uint64_t seed, int i);
/* NaN (or a sentinel) in host and device buffers. */
nf_status cli_poison(cli_tensors *t, nf_error *err);
/* Device buffers back to the host buffers. */
nf_status cli_download(cli_tensors *t, nf_error *err);

/* "bf16[7, 7168]" */
void cli_format_type(const nf_tensor *t, char *buf, size_t n);
/* "[3, 0, 1]": a flat row-major index as a multi-index of t's shape. */
void cli_format_index(const nf_tensor *t, int64_t flat, char *buf, size_t n);
/* One line: first values, min, max, mean (and a NaN count when any). */
nf_status cli_print_summary(FILE *f, const nf_tensor *t, nf_error *err);
/* A value's printed name: "%o", or "output 0" when it has none. */
void cli_value_label(const nf_value *v, const char *kind, int i, char *buf, size_t n);

/* The --check tolerance for output i given the reference (see host_tensors.c). */
nf_tolerance cli_tolerance(const nf_graph *g, int i, const nf_tensor *want);

/* ---- verbs --------------------------------------------------------------- */

int cli_verb_check(const cli_args *a);
int cli_verb_dump(const cli_args *a);
int cli_verb_run(const cli_args *a);
int cli_verb_bench(const cli_args *a);
int cli_verb_cache(const cli_args *a);

#endif
