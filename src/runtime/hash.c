/* A 64-bit hash built from a folded 64x64->128 multiply per 16-byte block.
 *
 * Each block is mixed into the state twice: through the multiply (which also
 * takes the state as an operand, so the order of blocks matters) and through
 * an invertible rotate-multiply of the old state (so a block that happens to
 * zero one multiply operand cannot erase what came before). The final state
 * goes through a strong 64-bit finalizer so every input bit reaches every
 * output bit. */
#include "runtime/hash.h"

#include <string.h>

#define K_SEED 0x9e3779b97f4a7c15ull
#define K_A 0xa0761d6478bd642full
#define K_B 0xe7037ed1a0b428dbull
#define K_STATE 0x8ebc6af09c88c6e3ull

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fold_multiply(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static uint64_t finalize64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Little-endian whatever the host is, so hashes (file names) are portable. */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t absorb(uint64_t state, const unsigned char block[16])
{
    uint64_t a = load_le64(block), b = load_le64(block + 8);
    return (rotl64(state, 23) * K_STATE) ^ fold_multiply(a ^ K_A, b ^ K_B ^ state);
}

void nf_hasher_init(nf_hasher *h, uint64_t seed)
{
    h->state = finalize64(seed ^ K_SEED);
    h->total = 0;
    h->n_pending = 0;
}

void nf_hasher_update(nf_hasher *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h->total += len;
    if (h->n_pending) {
        size_t take = 16 - h->n_pending;
        if (take > len)
            take = len;
        memcpy(h->pending + h->n_pending, p, take);
        h->n_pending += take;
        p += take;
        len -= take;
        if (h->n_pending < 16)
            return;
        h->state = absorb(h->state, h->pending);
        h->n_pending = 0;
    }
    while (len >= 16) {
        h->state = absorb(h->state, p);
        p += 16;
        len -= 16;
    }
    memcpy(h->pending, p, len);
    h->n_pending = len;
}

uint64_t nf_hasher_final(const nf_hasher *h)
{
    /* The tail is zero-padded; mixing in the total length keeps "ab" and
     * "ab\0" apart. */
    unsigned char last[16] = {0};
    memcpy(last, h->pending, h->n_pending);
    uint64_t s = absorb(h->state, last);
    return finalize64(s ^ h->total);
}

uint64_t nf_hash64(const void *data, size_t len, uint64_t seed)
{
    nf_hasher h;
    nf_hasher_init(&h, seed);
    nf_hasher_update(&h, data, len);
    return nf_hasher_final(&h);
}

uint64_t nf_hash_string(const char *s, uint64_t seed) { return nf_hash64(s, strlen(s), seed); }

void nf_hash_hex(uint64_t h, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[h & 15];
        h >>= 4;
    }
    out[16] = '\0';
}
