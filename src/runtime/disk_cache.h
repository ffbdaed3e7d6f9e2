/* The on-disk cache of compiled device code (cubins, code objects).
 *
 * Keys are strings the caller builds from everything the code depends on
 * (graph hash, shapes, strides, dtypes, target, options, compiler version,
 * device name). Each entry is one file `<hex of hash(key)>.nfk` holding the
 * full key, so a hash collision reads as a miss, never as the wrong code.
 *
 * Writes are atomic (unique temp file in the same directory, rename):
 * readers see a whole entry or none, and processes writing at once lose
 * nothing. A corrupt, truncated or mismatching entry is a miss and is removed.
 * Nothing is fsync'd: the write sits on a first call's path, and an entry a
 * crash tore is caught by its checksums and compiled again.
 *
 * The directory: $NSAFUSE_CACHE_DIR, else $XDG_CACHE_HOME/nsafuse (when
 * absolute), else $HOME/.cache/nsafuse; created with mode 0700. */
#ifndef NF_RUNTIME_DISK_CACHE_H
#define NF_RUNTIME_DISK_CACHE_H

#include "nsafuse.h"

#define NF_DISK_CACHE_SUFFIX ".nfk"
#define NF_DISK_CACHE_MAX_KEY (1u << 20)

/* Resolves (and creates) the cache directory into buf. */
nf_status nf_disk_cache_dir(char *buf, size_t n, nf_error *err);

/* Hit: NF_OK, *data malloc'd (free() it; non-NULL even for an empty payload),
 * *size its length. Miss: NF_OK and *data == NULL. Errors only for the
 * directory itself (cannot be resolved or created). */
nf_status nf_disk_cache_get(const char *key, void **data, size_t *size, nf_error *err);
nf_status nf_disk_cache_put(const char *key, const void *data, size_t size, nf_error *err);

/* The same, in a given directory (which must exist). */
nf_status nf_disk_cache_get_in(const char *dir, const char *key, void **data, size_t *size,
                               nf_error *err);
nf_status nf_disk_cache_put_in(const char *dir, const char *key, const void *data, size_t size,
                               nf_error *err);

/* The path of key's entry in dir. */
nf_status nf_disk_cache_entry_path(const char *dir, const char *key, char *buf, size_t n,
                                   nf_error *err);

/* For `nsafuse cache list`: NF_OK and the key stored in the entry file at
 * path (truncated to fit buf) when the entry is whole and valid, payload
 * checksum included; otherwise NF_ERR_IO (unreadable) or NF_ERR_PARSE
 * (corrupt), buf then holds a reason. Never removes anything. */
nf_status nf_disk_cache_describe(const char *path, char *buf, size_t n);

/* Calls visit for each valid entry in the cache directory (corrupt ones are
 * skipped); a nonzero return from visit stops the walk. */
typedef int (*nf_disk_cache_visit_fn)(const char *path, const char *key, size_t payload_size,
                                      void *ctx);
nf_status nf_disk_cache_foreach(nf_disk_cache_visit_fn visit, void *ctx, nf_error *err);

/* For `nsafuse cache clear`: removes every entry and every temp file left by a
 * writer that died, in the cache directory; *removed (may be NULL) counts the
 * entries removed. */
nf_status nf_disk_cache_clear(size_t *removed, nf_error *err);

#endif
