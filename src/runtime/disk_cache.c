/* The on-disk kernel cache: one self-verifying file per entry.
 *
 * File layout (integers little-endian):
 *    0  magic "NSAFUSEK"
 *    8  u32 format version
 *   12  u32 key length
 *   16  u64 payload size
 *   24  u64 payload checksum
 *   32  u64 header checksum (bytes 0..31 and the key)
 *   40  key bytes, then payload bytes; the file ends exactly there. */
#include "runtime/disk_cache.h"

#include "ir/ir.h"
#include "runtime/hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_VERSION 1u
#define HEADER_SIZE 40
#define SEED_NAME 0x4e414d45ull     /* file name from the key */
#define SEED_PAYLOAD 0x5041594cull  /* payload checksum */
#define SEED_HEADER 0x48454144ull   /* header checksum */
#define TEMP_PREFIX ".nfk-tmp-"

static const unsigned char MAGIC[8] = {'N', 'S', 'A', 'F', 'U', 'S', 'E', 'K'};

/* ---- little-endian fields ------------------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t header_checksum(const unsigned char *header, const char *key, size_t key_len)
{
    nf_hasher h;
    nf_hasher_init(&h, SEED_HEADER);
    nf_hasher_update(&h, header, 32);
    nf_hasher_update(&h, key, key_len);
    return nf_hasher_final(&h);
}

/* ---- the directory ------------------------------------------------------- */

static nf_status make_dirs(char *path, nf_error *err)
{
    /* mkdir -p: intermediate failures (EEXIST, EACCES on a parent that
     * exists) are judged by the final check alone. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        (void)mkdir(path, 0700);
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot create cache directory %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return nf_set_error(err, NF_ERR_IO, 0, 0,
                            "cache directory %s is not a directory; set NSAFUSE_CACHE_DIR", path);
    return NF_OK;
}

nf_status nf_disk_cache_dir(char *buf, size_t n, nf_error *err)
{
    if (!buf || n == 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_disk_cache_dir: no buffer");
    const char *env;
    int w;
    if ((env = getenv("NSAFUSE_CACHE_DIR")) && *env)
        w = snprintf(buf, n, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) && env[0] == '/') /* XDG: relative is invalid */
        w = snprintf(buf, n, "%s/nsafuse", env);
    else if ((env = getenv("HOME")) && *env)
        w = snprintf(buf, n, "%s/.cache/nsafuse", env);
    else
        return nf_set_error(err, NF_ERR_IO, 0, 0,
                            "no cache directory: set NSAFUSE_CACHE_DIR (or HOME)");
    if (w < 0 || (size_t)w >= n)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "cache directory path is too long");
    size_t len = (size_t)w;
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    return make_dirs(buf, err);
}

nf_status nf_disk_cache_entry_path(const char *dir, const char *key, char *buf, size_t n,
                                   nf_error *err)
{
    if (!dir || !key || !buf)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_disk_cache_entry_path: null argument");
    char hex[17];
    nf_hash_hex(nf_hash_string(key, SEED_NAME), hex);
    int w = snprintf(buf, n, "%s/%s%s", dir, hex, NF_DISK_CACHE_SUFFIX);
    if (w < 0 || (size_t)w >= n)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "cache entry path is too long");
    return NF_OK;
}

/* ---- reading and verifying an entry ------------------------------------- */

typedef enum read_result { READ_OK, READ_CORRUPT, READ_OTHER_KEY, READ_IO, READ_NOMEM } read_result;

typedef struct entry {
    char *key;
    void *payload;
    size_t payload_size;
    const char *reason; /* why it is not READ_OK */
} entry;

static bool read_at(int fd, void *buf, size_t len, off_t offset)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        len -= (size_t)r;
        offset += r;
    }
    return true;
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->payload);
    e->key = NULL;
    e->payload = NULL;
}

/* Reads the whole entry from fd and checks every field. With expected_key,
 * stops before the payload when the stored key differs. */
static read_result read_entry(int fd, const char *expected_key, entry *e)
{
    memset(e, 0, sizeof *e);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        e->reason = "cannot stat";
        return READ_IO;
    }
    unsigned char header[HEADER_SIZE];
    if (st.st_size < HEADER_SIZE || !read_at(fd, header, HEADER_SIZE, 0)) {
        e->reason = "truncated header";
        return READ_CORRUPT;
    }
    uint64_t version = get_le(header + 8, 4), key_len = get_le(header + 12, 4);
    uint64_t payload_size = get_le(header + 16, 8), payload_sum = get_le(header + 24, 8);
    if (memcmp(header, MAGIC, sizeof MAGIC) != 0) {
        e->reason = "not an nsafuse cache entry";
        return READ_CORRUPT;
    }
    if (version != FORMAT_VERSION) {
        e->reason = "other format version";
        return READ_CORRUPT;
    }
    uint64_t file_size = (uint64_t)st.st_size;
    if (key_len > NF_DISK_CACHE_MAX_KEY || payload_size > file_size ||
        HEADER_SIZE + key_len + payload_size != file_size) {
        e->reason = "size mismatch (truncated or corrupt)";
        return READ_CORRUPT;
    }
    e->key = malloc((size_t)key_len + 1);
    if (!e->key)
        return READ_NOMEM;
    if (!read_at(fd, e->key, (size_t)key_len, HEADER_SIZE)) {
        e->reason = "truncated key";
        return READ_CORRUPT;
    }
    e->key[key_len] = '\0';
    if (header_checksum(header, e->key, (size_t)key_len) != get_le(header + 32, 8) ||
        memchr(e->key, '\0', (size_t)key_len)) {
        e->reason = "header checksum mismatch";
        return READ_CORRUPT;
    }
    if (expected_key && strcmp(expected_key, e->key) != 0) {
        e->reason = "entry holds another key";
        return READ_OTHER_KEY;
    }
    e->payload = malloc(payload_size ? (size_t)payload_size : 1);
    if (!e->payload)
        return READ_NOMEM;
    if (!read_at(fd, e->payload, (size_t)payload_size, (off_t)(HEADER_SIZE + key_len))) {
        e->reason = "truncated payload";
        return READ_CORRUPT;
    }
    if (nf_hash64(e->payload, (size_t)payload_size, SEED_PAYLOAD) != payload_sum) {
        e->reason = "payload checksum mismatch";
        return READ_CORRUPT;
    }
    e->payload_size = (size_t)payload_size;
    return READ_OK;
}

/* Removes path if it is still the file fd has open: another process may have
 * renamed a fresh, valid entry into place since we opened ours. */
static void remove_if_unchanged(const char *path, int fd)
{
    struct stat opened, now;
    if (fstat(fd, &opened) == 0 && stat(path, &now) == 0 && opened.st_dev == now.st_dev &&
        opened.st_ino == now.st_ino)
        (void)unlink(path);
}

static nf_status check_key(const char *key, nf_error *err)
{
    if (!key)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "disk cache: null key");
    if (strlen(key) > NF_DISK_CACHE_MAX_KEY)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "disk cache: key longer than %u bytes",
                            NF_DISK_CACHE_MAX_KEY);
    return NF_OK;
}

nf_status nf_disk_cache_get_in(const char *dir, const char *key, void **data, size_t *size,
                               nf_error *err)
{
    if (!data || !size || !dir)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_disk_cache_get: null argument");
    *data = NULL;
    *size = 0;
    nf_status s = check_key(key, err);
    if (s != NF_OK)
        return s;
    char path[PATH_MAX];
    if ((s = nf_disk_cache_entry_path(dir, key, path, sizeof path, err)) != NF_OK)
        return s;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NF_OK; /* absent or unreadable: a miss either way */
    entry e;
    read_result r = read_entry(fd, key, &e);
    if (r == READ_CORRUPT || r == READ_OTHER_KEY)
        remove_if_unchanged(path, fd);
    close(fd);
    if (r == READ_NOMEM) {
        entry_free(&e);
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory reading cache entry %s", path);
    }
    if (r == READ_OK) {
        *data = e.payload;
        *size = e.payload_size;
        e.payload = NULL;
    }
    entry_free(&e);
    return NF_OK;
}

nf_status nf_disk_cache_get(const char *key, void **data, size_t *size, nf_error *err)
{
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    char dir[PATH_MAX];
    nf_status s = nf_disk_cache_dir(dir, sizeof dir, err);
    if (s != NF_OK)
        return s;
    return nf_disk_cache_get_in(dir, key, data, size, err);
}

/* ---- writing ------------------------------------------------------------- */

static bool write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

nf_status nf_disk_cache_put_in(const char *dir, const char *key, const void *data, size_t size,
                               nf_error *err)
{
    if (!dir || (!data && size > 0))
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_disk_cache_put: null argument");
    nf_status s = check_key(key, err);
    if (s != NF_OK)
        return s;
    char path[PATH_MAX], temp[PATH_MAX];
    if ((s = nf_disk_cache_entry_path(dir, key, path, sizeof path, err)) != NF_OK)
        return s;
    char hex[17];
    nf_hash_hex(nf_hash_string(key, SEED_NAME), hex);
    int w = snprintf(temp, sizeof temp, "%s/" TEMP_PREFIX "%s-XXXXXX", dir, hex);
    if (w < 0 || (size_t)w >= sizeof temp)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "cache entry path is too long");

    size_t key_len = strlen(key);
    unsigned char header[HEADER_SIZE];
    memcpy(header, MAGIC, sizeof MAGIC);
    put_le(header + 8, FORMAT_VERSION, 4);
    put_le(header + 12, key_len, 4);
    put_le(header + 16, size, 8);
    put_le(header + 24, nf_hash64(data, size, SEED_PAYLOAD), 8);
    put_le(header + 32, header_checksum(header, key, key_len), 8);

    int fd = mkostemp(temp, O_CLOEXEC);
    if (fd < 0)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot create a file in cache directory %s: %s",
                            dir, strerror(errno));
    bool ok = write_all(fd, header, sizeof header) && write_all(fd, key, key_len) &&
              (size == 0 || write_all(fd, data, size));
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(temp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        (void)unlink(temp);
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot write cache entry %s: %s", path,
                            strerror(saved));
    }
    return NF_OK;
}

nf_status nf_disk_cache_put(const char *key, const void *data, size_t size, nf_error *err)
{
    char dir[PATH_MAX];
    nf_status s = nf_disk_cache_dir(dir, sizeof dir, err);
    if (s != NF_OK)
        return s;
    return nf_disk_cache_put_in(dir, key, data, size, err);
}

/* ---- listing and clearing ------------------------------------------------ */

nf_status nf_disk_cache_describe(const char *path, char *buf, size_t n)
{
    char scratch[1];
    if (!buf || n == 0) {
        buf = scratch;
        n = sizeof scratch;
    }
    if (!path) {
        snprintf(buf, n, "null path");
        return NF_ERR_ARG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(buf, n, "cannot open: %s", strerror(errno));
        return NF_ERR_IO;
    }
    entry e;
    read_result r = read_entry(fd, NULL, &e);
    close(fd);
    nf_status s = r == READ_OK ? NF_OK
                  : r == READ_NOMEM ? NF_ERR_NOMEM
                  : r == READ_IO ? NF_ERR_IO
                                 : NF_ERR_PARSE;
    snprintf(buf, n, "%s", r == READ_OK ? e.key : r == READ_NOMEM ? "out of memory" : e.reason);
    entry_free(&e);
    return s;
}

static bool is_entry_name(const char *name)
{
    size_t len = strlen(name), suffix = strlen(NF_DISK_CACHE_SUFFIX);
    return name[0] != '.' && len > suffix && strcmp(name + len - suffix, NF_DISK_CACHE_SUFFIX) == 0;
}

/* The cache directory, created if need be, open for listing. */
static nf_status open_cache_dir(char *dir, size_t n, DIR **d, nf_error *err)
{
    nf_status s = nf_disk_cache_dir(dir, n, err);
    if (s != NF_OK)
        return s;
    *d = opendir(dir);
    if (!*d)
        return nf_set_error(err, NF_ERR_IO, 0, 0, "cannot read cache directory %s: %s", dir, strerror(errno));
    return NF_OK;
}

nf_status nf_disk_cache_foreach(nf_disk_cache_visit_fn visit, void *ctx, nf_error *err)
{
    if (!visit)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_disk_cache_foreach: null callback");
    char dir[PATH_MAX], path[PATH_MAX];
    DIR *d;
    nf_status s = open_cache_dir(dir, sizeof dir, &d, err);
    if (s != NF_OK)
        return s;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_entry_name(de->d_name))
            continue;
        int w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof path)
            continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        entry e;
        read_result r = read_entry(fd, NULL, &e);
        close(fd);
        int stop = 0;
        if (r == READ_OK)
            stop = visit(path, e.key, e.payload_size, ctx);
        entry_free(&e);
        if (r == READ_NOMEM) {
            s = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory reading %s", path);
            break;
        }
        if (stop)
            break;
    }
    closedir(d);
    return s;
}

nf_status nf_disk_cache_clear(size_t *removed, nf_error *err)
{
    if (removed)
        *removed = 0;
    char dir[PATH_MAX], path[PATH_MAX];
    DIR *d;
    nf_status s = open_cache_dir(dir, sizeof dir, &d, err);
    if (s != NF_OK)
        return s;
    struct dirent *de;
    while ((de = readdir(d))) {
        bool entry_file = is_entry_name(de->d_name);
        if (!entry_file && strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
            continue;
        int w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (w < 0 || (size_t)w >= sizeof path)
            continue;
        if (unlink(path) != 0) {
            if (errno == ENOENT)
                continue; /* another process removed it first */
            s = nf_set_error(err, NF_ERR_IO, 0, 0, "cannot remove %s: %s", path, strerror(errno));
            break;
        }
        if (entry_file && removed)
            (*removed)++;
    }
    closedir(d);
    return s;
}
