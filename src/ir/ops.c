/* The op table: names and kinds from nsafuse_ops.def. */
#include "ir/ir.h"

#include <string.h>

static const struct {
    const char *name;
    nf_op_kind kind;
} op_info[NF_OP_COUNT] = {
#define NF_OP(id, name, kind) [NF_OP_##id] = {name, NF_KIND_##kind},
#include "nsafuse_ops.def"
#undef NF_OP
};

const char *nf_op_name(nf_op op) { return op >= 0 && op < NF_OP_COUNT ? op_info[op].name : "?"; }

nf_op_kind nf_op_kind_of(nf_op op) { return op_info[op].kind; }

bool nf_op_is_elementwise(nf_op op)
{
    nf_op_kind k = op_info[op].kind;
    return k == NF_KIND_UNARY || k == NF_KIND_BINARY || k == NF_KIND_CAST || k == NF_KIND_ROPE;
}

bool nf_op_from_name(const char *name, size_t len, nf_op *out)
{
    for (int op = 0; op < NF_OP_COUNT; op++) {
        if (op_info[op].kind == NF_KIND_LEAF)
            continue;
        if (strlen(op_info[op].name) == len && memcmp(op_info[op].name, name, len) == 0) {
            *out = (nf_op)op;
            return true;
        }
    }
    return false;
}
