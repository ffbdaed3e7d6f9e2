/* A fast 64-bit non-cryptographic hash for cache keys and checksums.
 *
 * Streaming and one-shot forms give the same value for the same bytes, however
 * they are split. The value is part of the on-disk cache format (file names and
 * checksums): changing the algorithm means bumping the disk cache's version. */
#ifndef NF_RUNTIME_HASH_H
#define NF_RUNTIME_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct nf_hasher {
    uint64_t state;
    uint64_t total;          /* bytes consumed so far */
    unsigned char pending[16];
    size_t n_pending;        /* bytes in pending, < 16 */
} nf_hasher;

void nf_hasher_init(nf_hasher *h, uint64_t seed);
void nf_hasher_update(nf_hasher *h, const void *data, size_t len);
/* Does not modify h: more bytes may follow. */
uint64_t nf_hasher_final(const nf_hasher *h);

uint64_t nf_hash64(const void *data, size_t len, uint64_t seed);
uint64_t nf_hash_string(const char *s, uint64_t seed);

/* 16 lowercase hex digits and a NUL. */
void nf_hash_hex(uint64_t h, char out[17]);

#endif
