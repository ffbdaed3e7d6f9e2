/* A string-keyed hash map (open addressing) for the parser's and the
 * printer's name lookups, so that big graphs stay linear. Keys are not
 * copied: they must outlive the table. */
#ifndef NF_NAME_TABLE_H
#define NF_NAME_TABLE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nf_name_entry {
    const char *key;
    size_t len;
    void *value; /* NULL marks an empty slot */
} nf_name_entry;

typedef struct nf_name_table {
    nf_name_entry *slots;
    size_t cap, count; /* cap is 0 or a power of two */
} nf_name_table;

/* NULL when absent. */
void *nf_name_table_get(const nf_name_table *t, const char *key, size_t len);
/* Inserts or replaces; value must be non-NULL. False when out of memory. */
bool nf_name_table_put(nf_name_table *t, const char *key, size_t len, void *value);
void nf_name_table_free(nf_name_table *t);

#endif
