/* Random valid graphs for the test suites: a chain of 2 to 8 elementwise,
 * cast and view ops over broadcastable shapes of 1 to 3 dims, optionally
 * behind a GEMM (linear or matmul in every dtype form the contract allows)
 * whose result the chain then reads, so it can become the GEMM's epilogue.
 * The same seed gives the same graph. Public API only (nsafuse.h). */
#ifndef NF_TESTS_RANDOM_GRAPH_H
#define NF_TESTS_RANDOM_GRAPH_H

#include "nsafuse.h"

#include <stdbool.h>
#include <stdint.h>

/* The graph for seed; n_ops (may be NULL): the ops of the chain. The caller
 * checks nf_graph_error() and frees it with nf_graph_free(). Without gemm
 * the graphs are those test_fused.c has always drawn for a seed. */
nf_graph *random_graph(uint64_t seed, bool gemm, int *n_ops);

#endif
