/* The disk cache as people see it: `nsafuse cache list|clear`. Entries are
 * the files ending in ".nfk" in the cache directory; nothing else there is
 * listed or removed. */
#include "ir/ir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENTRY_SUFFIX ".nfk"

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* $NSAFUSE_CACHE_DIR, else $XDG_CACHE_HOME/nsafuse, else ~/.cache/nsafuse. */
static nf_status cache_dir(char *buf, size_t n, nf_error *err)
{
    const char *dir = env_nonempty("NSAFUSE_CACHE_DIR"), *xdg = env_nonempty("XDG_CACHE_HOME"),
               *home = env_nonempty("HOME");
    int len;
    if (dir)
        len = snprintf(buf, n, "%s", dir);
    else if (xdg)
        len = snprintf(buf, n, "%s/nsafuse", xdg);
    else if (home)
        len = snprintf(buf, n, "%s/.cache/nsafuse", home);
    else
        return nf_set_error(err, NF_ERR_IO, 0, 0,
                            "no cache directory: HOME is not set; set NSAFUSE_CACHE_DIR to a directory");
    if (len < 0 || (size_t)len >= n)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cache directory path is too long; set NSAFUSE_CACHE_DIR");
    return NF_OK;
}

static bool is_entry_name(const char *name)
{
    size_t len = strlen(name), suffix = strlen(ENTRY_SUFFIX);
    return len > suffix && strcmp(name + len - suffix, ENTRY_SUFFIX) == 0;
}

typedef struct entry {
    char *name;
    long long size;
    time_t mtime;
} entry;

typedef struct entry_list {
    entry *items;
    int n, cap;
} entry_list;

static void entry_list_free(entry_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i].name);
    free(l->items);
}

static bool entry_list_push(entry_list *l, const char *name, const struct stat *st)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        entry *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items)
            return false;
        l->items = items;
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return false;
    l->items[l->n++] = (entry){copy, (long long)st->st_size, st->st_mtime};
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* Regular files named *.nfk in dir; a missing directory is an empty list. */
static nf_status read_entries(const char *dir, entry_list *l, nf_error *err)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return NF_OK;
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot open cache directory %s: %s", dir, strerror(errno));
    }
    nf_status s = NF_OK;
    struct dirent *de;
    while (s == NF_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        if (!is_entry_name(de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (!entry_list_push(l, de->d_name, &st))
            s = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory listing %s", dir);
    }
    closedir(d);
    if (s != NF_OK) {
        entry_list_free(l);
        return s;
    }
    if (l->n > 1)
        qsort(l->items, (size_t)l->n, sizeof *l->items, by_name);
    return NF_OK;
}

/* A growing text buffer; `failed` sticks after the first allocation failure. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void text_printf(text_buf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_buf *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (need < 0) {
            t->failed = true;
            return;
        }
        if (t->data && t->len + (size_t)need < t->cap) {
            t->len += (size_t)need;
            return;
        }
        size_t cap = t->cap ? t->cap : 256;
        while (cap <= t->len + (size_t)need)
            cap *= 2;
        char *data = realloc(t->data, cap);
        if (!data) {
            t->failed = true;
            return;
        }
        t->data = data;
        t->cap = cap;
    }
}

nf_status nf_cache_list(char **text, nf_error *err)
{
    if (!text)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "text is NULL");
    *text = NULL;
    char dir[4096];
    entry_list l;
    nf_status s = cache_dir(dir, sizeof dir, err);
    if (s == NF_OK)
        s = read_entries(dir, &l, err);
    if (s != NF_OK)
        return s;
    long long total = 0;
    int width = 4;
    for (int i = 0; i < l.n; i++) {
        total += l.items[i].size;
        int w = (int)strlen(l.items[i].name);
        width = w > width ? w : width;
    }
    text_buf t = {0};
    if (l.n == 0)
        text_printf(&t, "cache %s: empty\n", dir);
    else
        text_printf(&t, "cache %s: %d entr%s, %lld bytes\n", dir, l.n, l.n == 1 ? "y" : "ies", total);
    for (int i = 0; i < l.n; i++) {
        char when[32] = "?";
        struct tm tm;
        if (gmtime_r(&l.items[i].mtime, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        text_printf(&t, "  %-*s  %12lld  %s\n", width, l.items[i].name, l.items[i].size, when);
    }
    entry_list_free(&l);
    if (t.failed) {
        free(t.data);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory listing the cache");
    }
    *text = t.data;
    return NF_OK;
}

nf_status nf_cache_clear(nf_error *err)
{
    char dir[4096];
    entry_list l;
    nf_status s = cache_dir(dir, sizeof dir, err);
    if (s == NF_OK)
        s = read_entries(dir, &l, err);
    if (s != NF_OK)
        return s;
    /* Remove what can be removed; report the first failure. */
    for (int i = 0; i < l.n; i++) {
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, l.items[i].name);
        if (unlink(path) != 0 && errno != ENOENT && s == NF_OK)
            s = nf_set_error(err, NF_ERR_IO, 0, 0, "cannot remove %s: %s", path, strerror(errno));
    }
    entry_list_free(&l);
    return s;
}
