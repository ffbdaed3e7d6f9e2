/* The tensor IR: values, ops, graphs, shapes with symbolic sizes, views.
 * Internal header of src/ir/; other modules include only this one. */
#ifndef NF_IR_H
#define NF_IR_H

#include "nsafuse.h"
#include "ir/name_table.h"

#include <stdarg.h>

/* ---- arena: everything of a graph lives in one, freed at once ----------- */

typedef struct nf_arena_block nf_arena_block;
typedef struct nf_arena {
    nf_arena_block *head;
} nf_arena;

void *nf_arena_alloc(nf_arena *a, size_t size); /* zeroed; NULL when out of memory */
char *nf_arena_strndup(nf_arena *a, const char *s, size_t n);
void nf_arena_free(nf_arena *a);

/* ---- errors -------------------------------------------------------------- */

/* Fills err (if non-NULL) and returns s. */
nf_status nf_set_error(nf_error *err, nf_status s, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
nf_status nf_set_verror(nf_error *err, nf_status s, int line, int col, const char *fmt,
                        va_list ap);

/* ---- ops ----------------------------------------------------------------- */

typedef enum nf_op_kind {
    NF_KIND_LEAF,
    NF_KIND_UNARY,
    NF_KIND_BINARY,
    NF_KIND_CAST,
    NF_KIND_VIEW,
    NF_KIND_MATMUL,
    NF_KIND_ROPE, /* rotary embedding: elementwise, reading its input at a partner index too */
} nf_op_kind;

nf_op_kind nf_op_kind_of(nf_op op);
bool nf_op_from_name(const char *name, size_t len, nf_op *out);
/* Elementwise in the fusion sense: unary, binary, cast, rope. */
bool nf_op_is_elementwise(nf_op op);

/* ---- shapes -------------------------------------------------------------- */

/* A dimension is a size, or a symbol (sym >= 0, an index into the graph's
 * symbol table; size is then 0 and meaningless). */
typedef struct nf_shape {
    int rank;
    int64_t size[NF_MAX_DIMS];
    int32_t sym[NF_MAX_DIMS];
} nf_shape;

bool nf_dim_equal(const nf_shape *a, int da, const nf_shape *b, int db);
/* Same rank and every dim equal (nf_dim_equal). */
bool nf_shape_equal(const nf_shape *a, const nf_shape *b);

/* ---- values -------------------------------------------------------------- */

typedef struct nf_attrs {
    int64_t dim0, dim1;        /* unsqueeze/squeeze: dim0; transpose: dim0, dim1 (normalized) */
    int64_t start, end, step;  /* slice, normalized: 0 <= start <= end <= size */
    nf_dtype dtype;            /* cast: target; linear/matmul: out_dtype (resolved) */
    bool trans_b;              /* matmul */
    bool approx_tanh;          /* gelu */
    bool rope_interleaved;     /* rope: style=interleaved (pairs 2j, 2j+1); false: neox (j, j + R/2) */
    bool full_slice;           /* slice over a symbolic dim: the whole range */
    double scalar;             /* SCALAR: value (float literal) */
    int64_t scalar_int;        /* SCALAR: value (int literal) */
} nf_attrs;

struct nf_value {
    int id;            /* index in graph->values, also the printing order */
    nf_op op;
    nf_dtype dtype;    /* SCALAR: NF_F64 for a float literal, NF_I64 for an int literal */
    nf_shape shape;
    int nargs;
    nf_value *args[3];  /* rope takes three; every other op one or two */
    nf_attrs attr;
    const char *name;  /* without '%'; NULL: unnamed (printer makes one) */
    int param_index;   /* PARAM only */
    int line, col;     /* where the text defined it; 0 from the C builder */
};

static inline bool nf_value_is_scalar(const nf_value *v) { return v->op == NF_OP_SCALAR; }

/* ---- graphs -------------------------------------------------------------- */

struct nf_graph {
    nf_arena arena;
    char *name;
    nf_value **values;
    int n_values, cap_values;
    nf_value **params;
    int n_params, cap_params;
    nf_value **outputs;
    int n_outputs;
    char **syms;
    int n_syms, cap_syms;
    nf_name_table param_names; /* name -> value, for duplicate checks */
    nf_name_table sym_names;   /* name -> symbol index + 1 */
    bool failed;
    nf_error err;
    int cur_line, cur_col; /* position attached to values built now (parser sets it) */
};

/* Records the first error; later calls are no-ops. Uses cur_line/cur_col. */
void nf_graph_fail(nf_graph *g, nf_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int nf_graph_intern_symbol(nf_graph *g, const char *name, size_t len); /* -1: no memory */
/* A new value appended to the graph; NULL (graph failed) when out of memory. */
nf_value *nf_graph_new_value(nf_graph *g, nf_op op);

/* A deep copy (the kernel keeps its own). NULL and err on failure. */
nf_graph *nf_graph_clone(const nf_graph *src, nf_error *err);

/* An argument as the text spells it; the parser and the Python tracer (via
 * text) reach op construction through nf_build_from_args. */
typedef enum nf_arg_kind { NF_ARG_VALUE, NF_ARG_NUMBER, NF_ARG_DTYPE, NF_ARG_KEYWORD } nf_arg_kind;
typedef enum nf_kwval_kind { NF_KW_NUMBER, NF_KW_NAME, NF_KW_DTYPE, NF_KW_BOOL } nf_kwval_kind;

typedef struct nf_arg {
    nf_arg_kind kind;
    int line, col;
    nf_value *value;            /* VALUE */
    double number;              /* NUMBER, or keyword NUMBER */
    bool number_is_int;
    int64_t number_int;
    nf_dtype dtype;             /* DTYPE, or keyword DTYPE */
    const char *kw;             /* KEYWORD: the name before '=' */
    size_t kw_len;
    nf_kwval_kind kw_kind;
    const char *kw_name;        /* keyword NAME value */
    size_t kw_name_len;
    bool kw_bool;
} nf_arg;

/* Builds op from text arguments. Errors (arity, kinds, types) go to the
 * graph's error, located at the offending argument when possible. */
nf_value *nf_build_from_args(nf_graph *g, nf_op op, const nf_arg *args, int nargs);

/* The core constructor: checks and infers dtype and shape (src/ir/infer.c). */
nf_value *nf_build(nf_graph *g, nf_op op, int nargs, nf_value *const *args, const nf_attrs *attrs);

/* Type rules, shared with anything that needs them. */
nf_dtype nf_promote_types(nf_dtype a, nf_dtype b); /* NF_DTYPE_NONE: no promotion */
/* torch.result_type over the operands of an elementwise op. */
nf_dtype nf_result_type(const nf_value *const *operands, int n);
/* The dtype arithmetic is carried out in (PyTorch's opmath): f32 for
 * bf16/f16/f32, f64 for f64, i64 for integers. */
nf_dtype nf_opmath_dtype(nf_dtype t);

/* Formats a type as the text writes it ("bf16[T, 64]") into buf. */
int nf_format_type(const nf_graph *g, nf_dtype t, const nf_shape *s, char *buf, size_t n);

/* ---- concrete layouts ---------------------------------------------------- */

/* Per-symbol sizes (index = symbol id) from public bindings; checks that
 * every symbol is bound and positive. */
nf_status nf_resolve_symbols(const nf_graph *g, const nf_bindings *b, int64_t *sym_sizes,
                             nf_error *err);
void nf_concrete_shape(const nf_shape *s, const int64_t *sym_sizes, int64_t *out);
int64_t nf_shape_numel(int rank, const int64_t *shape);

/* A strided layout in elements over some storage. */
typedef struct nf_layout {
    int rank;
    int64_t shape[NF_MAX_DIMS];
    int64_t strides[NF_MAX_DIMS];
    int64_t offset;
} nf_layout;

void nf_layout_contiguous(nf_layout *l, int rank, const int64_t *shape);
/* The layout of a view value given its base's layout. */
void nf_view_layout(const nf_value *view, const nf_layout *base, nf_layout *out);
/* The layout that reads `from` broadcast to rank/shape `to` (stride 0 on
 * broadcast dims, leading dims added). */
void nf_broadcast_layout(const nf_layout *from, int rank, const int64_t *to, nf_layout *out);

#endif
