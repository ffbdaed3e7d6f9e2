/* A bump allocator: a graph and everything in it is freed at once. */
#include "ir/ir.h"

#include <stdlib.h>
#include <string.h>

struct nf_arena_block {
    nf_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { NF_ARENA_BLOCK = 64 * 1024 };

void *nf_arena_alloc(nf_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    nf_arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > NF_ARENA_BLOCK ? size : NF_ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *nf_arena_strndup(nf_arena *a, const char *s, size_t n)
{
    char *p = nf_arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void nf_arena_free(nf_arena *a)
{
    nf_arena_block *b = a->head;
    while (b) {
        nf_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
