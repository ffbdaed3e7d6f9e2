/* `nsafuse cache list|clear` over the disk cache (disk_cache.c owns the
 * directory rule, the entry format and the checks). */
#include "runtime/disk_cache.h"
#include "ir/ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct listing {
    char *data;
    size_t len, cap;
    bool failed;
    int entries;
    unsigned long long bytes;
} listing;

static void append(listing *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(listing *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
        } else if (t->data && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = t->cap * 2 + (size_t)n + 256;
            char *p = realloc(t->data, cap);
            if (!p)
                t->failed = true;
            t->data = p ? p : t->data;
            t->cap = p ? cap : t->cap;
        }
    }
}

/* One line per entry: file, payload size, and the first line of its key. */
static int list_entry(const char *path, const char *key, size_t payload_size, void *ctx)
{
    listing *t = ctx;
    const char *name = strrchr(path, '/');
    size_t first = strcspn(key, "\n");
    append(t, "  %s  %10zu  %.*s\n", name ? name + 1 : path, payload_size, (int)(first > 80 ? 80 : first), key);
    t->entries++;
    t->bytes += payload_size;
    return 0;
}

nf_status nf_cache_list(char **text, nf_error *err)
{
    if (!text)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "text is NULL");
    *text = NULL;
    char dir[4096];
    nf_status s = nf_disk_cache_dir(dir, sizeof dir, err);
    if (s != NF_OK)
        return s;
    listing body = {0}, out = {0};
    s = nf_disk_cache_foreach(list_entry, &body, err);
    if (s != NF_OK) {
        free(body.data);
        return s;
    }
    if (body.entries == 0)
        append(&out, "cache %s: empty\n", dir);
    else
        append(&out, "cache %s: %d entr%s, %llu bytes of code\n%s", dir, body.entries, body.entries == 1 ? "y" : "ies",
               body.bytes, body.data);
    free(body.data);
    if (out.failed) {
        free(out.data);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory listing the cache");
    }
    *text = out.data;
    return NF_OK;
}

nf_status nf_cache_clear(nf_error *err) { return nf_disk_cache_clear(NULL, err); }
