/* String-keyed hash map: FNV-1a, linear probing, grown at half full. */
#include "name_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

static nf_name_entry *find_slot(nf_name_entry *slots, size_t cap, const char *key, size_t len)
{
    size_t i = (size_t)hash_bytes(key, len) & (cap - 1);
    while (slots[i].value && !(slots[i].len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

void *nf_name_table_get(const nf_name_table *t, const char *key, size_t len)
{
    if (t->cap == 0)
        return NULL;
    return find_slot(t->slots, t->cap, key, len)->value;
}

static bool grow(nf_name_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    if (cap < t->cap || cap > SIZE_MAX / sizeof(nf_name_entry))
        return false;
    nf_name_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].value)
            *find_slot(slots, cap, t->slots[i].key, t->slots[i].len) = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return true;
}

bool nf_name_table_put(nf_name_table *t, const char *key, size_t len, void *value)
{
    if ((t->count + 1) * 2 > t->cap && !grow(t))
        return false;
    nf_name_entry *e = find_slot(t->slots, t->cap, key, len);
    if (!e->value)
        t->count++;
    e->key = key;
    e->len = len;
    e->value = value;
    return true;
}

void nf_name_table_free(nf_name_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}
