/* The on-disk kernel cache and its hash: round trips, every kind of damage
 * reads as a miss (and is removed), concurrent writers, directory choice. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/disk_cache.h"
#include "runtime/hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t test_seed;

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill_random(void *buf, size_t n, uint64_t *state)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)next_random(state);
}

/* ---- a temporary cache directory per test ------------------------------- */

typedef struct fixture {
    char dir[256];
} fixture;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/nf_disk_cache_test_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void entry_path(const fixture *f, const char *key, char *buf, size_t n)
{
    assert_int_equal(nf_disk_cache_entry_path(f->dir, key, buf, n, NULL), NF_OK);
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static unsigned char *read_file(const char *path, size_t *n)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), (ssize_t)st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return buf;
}

static bool file_exists(const char *path) { return access(path, F_OK) == 0; }

static void expect_miss(const fixture *f, const char *key)
{
    void *data = (void *)1;
    size_t size = 99;
    assert_int_equal(nf_disk_cache_get_in(f->dir, key, &data, &size, NULL), NF_OK);
    assert_null(data);
    assert_int_equal(size, 0);
}

static void expect_hit(const fixture *f, const char *key, const void *want, size_t want_size)
{
    void *data = NULL;
    size_t size = 0;
    nf_error err = {0};
    assert_int_equal(nf_disk_cache_get_in(f->dir, key, &data, &size, &err), NF_OK);
    if (!data)
        fail_msg("expected a hit for key \"%s\" (%zu bytes), got a miss", key, want_size);
    assert_int_equal(size, want_size);
    if (want_size && memcmp(data, want, want_size) != 0)
        fail_msg("payload of \"%s\" differs", key);
    free(data);
}

/* ---- the hash ------------------------------------------------------------ */

static void test_hash_is_stable(void **state)
{
    (void)state;
    /* Pinned: entry file names depend on these. A change needs a new disk
     * cache format version. */
    assert_int_equal(nf_hash64("", 0, 0), 0xd070b252b6a34da5ull);
    assert_int_equal(nf_hash64("abc", 3, 0), 0x69eac0cc2c56cae4ull);
    assert_int_equal(nf_hash64("abc", 3, 1), 0x2b8e9a14c745fee9ull);
    char hex[17];
    nf_hash_hex(0x0123456789abcdefull, hex);
    assert_string_equal(hex, "0123456789abcdef");
}

static void test_hash_streaming_matches_one_shot(void **state)
{
    (void)state;
    uint64_t rng = test_seed;
    unsigned char buf[300];
    fill_random(buf, sizeof buf, &rng);
    for (size_t len = 0; len <= sizeof buf; len++) {
        uint64_t want = nf_hash64(buf, len, 7);
        for (int trial = 0; trial < 4; trial++) {
            nf_hasher h;
            nf_hasher_init(&h, 7);
            size_t done = 0;
            while (done < len) {
                size_t chunk = (size_t)(next_random(&rng) % 40);
                if (chunk > len - done)
                    chunk = len - done;
                nf_hasher_update(&h, buf + done, chunk);
                done += chunk;
            }
            if (nf_hasher_final(&h) != want)
                fail_msg("seed %llu: streamed hash of %zu bytes differs",
                         (unsigned long long)test_seed, len);
        }
    }
}

static void test_hash_avalanche(void **state)
{
    (void)state;
    uint64_t rng = test_seed;
    unsigned char buf[48];
    long total_flipped = 0, trials = 0;
    int worst = 64;
    for (int round = 0; round < 20; round++) {
        size_t len = 1 + (size_t)(next_random(&rng) % sizeof buf);
        fill_random(buf, len, &rng);
        uint64_t base = nf_hash64(buf, len, 0);
        for (size_t bit = 0; bit < len * 8; bit++) {
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            int d = __builtin_popcountll(base ^ nf_hash64(buf, len, 0));
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            total_flipped += d;
            trials++;
            worst = d < worst ? d : worst;
        }
    }
    double mean = (double)total_flipped / (double)trials;
    if (mean < 31.0 || mean > 33.0 || worst < 12)
        fail_msg("seed %llu: one input bit flips %.2f output bits on average (worst %d)",
                 (unsigned long long)test_seed, mean, worst);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_hash_no_collisions_on_similar_keys(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *h = malloc(N * sizeof *h);
    assert_non_null(h);
    char key[64];
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "graph=%d;shape=[%d,64];dtype=bf16", i / 7, i % 7);
        h[i] = nf_hash64(key, (size_t)len, 0);
    }
    qsort(h, N, sizeof *h, cmp_u64);
    for (int i = 1; i < N; i++)
        if (h[i] == h[i - 1])
            fail_msg("collision among %d similar keys", N);
    free(h);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_miss_on_empty_cache(void **state)
{
    fixture *f = *state;
    expect_miss(f, "no such key");
}

static void test_put_get_round_trip(void **state)
{
    fixture *f = *state;
    uint64_t rng = test_seed;
    size_t sizes[] = {0, 1, 15, 16, 17, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *payload = malloc(sizes[i] + 1);
        assert_non_null(payload);
        fill_random(payload, sizes[i], &rng);
        char key[64];
        snprintf(key, sizeof key, "round trip %zu", sizes[i]);
        nf_error err = {0};
        assert_int_equal(nf_disk_cache_put_in(f->dir, key, payload, sizes[i], &err), NF_OK);
        expect_hit(f, key, payload, sizes[i]);
        free(payload);
    }
    /* Writing a key again replaces its entry. */
    assert_int_equal(nf_disk_cache_put_in(f->dir, "k", "first", 5, NULL), NF_OK);
    assert_int_equal(nf_disk_cache_put_in(f->dir, "k", "second!", 7, NULL), NF_OK);
    expect_hit(f, "k", "second!", 7);
}

static void test_public_functions_use_env_dir(void **state)
{
    fixture *f = *state;
    char *old = getenv("NSAFUSE_CACHE_DIR") ? strdup(getenv("NSAFUSE_CACHE_DIR")) : NULL;
    setenv("NSAFUSE_CACHE_DIR", f->dir, 1);
    assert_int_equal(nf_disk_cache_put("env key", "payload", 7, NULL), NF_OK);
    void *data = NULL;
    size_t size = 0;
    assert_int_equal(nf_disk_cache_get("env key", &data, &size, NULL), NF_OK);
    assert_non_null(data);
    assert_memory_equal(data, "payload", 7);
    free(data);
    expect_hit(f, "env key", "payload", 7);
    if (old)
        setenv("NSAFUSE_CACHE_DIR", old, 1);
    else
        unsetenv("NSAFUSE_CACHE_DIR");
    free(old);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    void *data;
    size_t size;
    nf_error err = {0};
    assert_int_equal(nf_disk_cache_get_in(f->dir, NULL, &data, &size, &err), NF_ERR_ARG);
    assert_null(data);
    assert_int_equal(nf_disk_cache_put_in(f->dir, NULL, "x", 1, &err), NF_ERR_ARG);
    assert_int_equal(nf_disk_cache_put_in(f->dir, "k", NULL, 1, &err), NF_ERR_ARG);
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/no/such/dir", f->dir);
    assert_int_equal(nf_disk_cache_put_in(missing, "k", "x", 1, &err), NF_ERR_IO);
    assert_non_null(strstr(err.message, "cache"));
}

/* ---- damage reads as a miss ---------------------------------------------- */

static void test_other_key_under_same_name_is_a_miss(void **state)
{
    fixture *f = *state;
    char path_a[PATH_MAX], path_b[PATH_MAX];
    entry_path(f, "key A", path_a, sizeof path_a);
    entry_path(f, "key B", path_b, sizeof path_b);
    assert_string_not_equal(path_a, path_b);
    assert_int_equal(nf_disk_cache_put_in(f->dir, "key A", "code of A", 9, NULL), NF_OK);
    /* As if hash("key A") == hash("key B"): A's entry sits at B's name. */
    assert_int_equal(rename(path_a, path_b), 0);
    expect_miss(f, "key B");
    assert_false(file_exists(path_b));
    expect_miss(f, "key A");
}

static void put_sample(const fixture *f, const char *key, unsigned char **bytes, size_t *n,
                       char *path, size_t path_n)
{
    uint64_t rng = test_seed;
    unsigned char payload[64];
    fill_random(payload, sizeof payload, &rng);
    assert_int_equal(nf_disk_cache_put_in(f->dir, key, payload, sizeof payload, NULL), NF_OK);
    entry_path(f, key, path, path_n);
    *bytes = read_file(path, n);
    assert_int_equal(*n, 40 + strlen(key) + sizeof payload);
}

static void test_truncation_at_every_length_is_a_miss(void **state)
{
    fixture *f = *state;
    const char *key = "truncated entry key";
    unsigned char *bytes;
    size_t n;
    char path[PATH_MAX];
    put_sample(f, key, &bytes, &n, path, sizeof path);
    for (size_t len = 0; len < n; len++) {
        write_file(path, bytes, len);
        expect_miss(f, key);
        if (file_exists(path))
            fail_msg("entry truncated to %zu of %zu bytes was not removed", len, n);
    }
    /* Appended garbage is damage too. */
    unsigned char *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, bytes, n);
    longer[n] = 0;
    write_file(path, longer, n + 1);
    expect_miss(f, key);
    free(longer);
    write_file(path, bytes, n);
    expect_hit(f, key, bytes + n - 64, 64);
    free(bytes);
}

static void test_bit_flips_anywhere_are_a_miss(void **state)
{
    fixture *f = *state;
    const char *key = "bit flip entry key";
    unsigned char *bytes;
    size_t n;
    char path[PATH_MAX];
    put_sample(f, key, &bytes, &n, path, sizeof path);
    for (size_t bit = 0; bit < n * 8; bit++) {
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        write_file(path, bytes, n);
        bytes[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        expect_miss(f, key);
        if (file_exists(path))
            fail_msg("seed %llu: entry with bit %zu (byte %zu of %zu) flipped was not removed",
                     (unsigned long long)test_seed, bit, bit / 8, n);
    }
    write_file(path, bytes, n);
    expect_hit(f, key, bytes + n - 64, 64);
    free(bytes);
}

/* ---- several processes at once ------------------------------------------- */

enum { WRITERS = 6, ROUNDS = 30, SHARED_KEYS = 4, MAX_PAYLOAD = 16 + 2000 * 64 };

/* A payload that says who wrote it and checks itself: writer, round, size
 * class, length, then bytes derived from those. Big ones make a torn write
 * (a reader seeing half a file) likely if writes were not atomic. */
static size_t make_payload(unsigned char *buf, int writer, int round, int big)
{
    size_t len = 16 + (size_t)((writer * 131 + round * 17) % 2000) * (big ? 64 : 1);
    uint64_t rng = (uint64_t)writer << 32 | (uint64_t)round << 1 | (uint64_t)big;
    int32_t header[3] = {writer, round, big};
    memcpy(buf, header, sizeof header);
    memset(buf + 12, 0, 4);
    fill_random(buf + 16, len - 16, &rng);
    return len;
}

static bool payload_is_consistent(const unsigned char *data, size_t size, unsigned char *scratch)
{
    int32_t header[3];
    if (size < 16)
        return false;
    memcpy(header, data, sizeof header);
    if (header[0] < 0 || header[0] >= WRITERS || header[1] < 0 || header[1] >= ROUNDS ||
        (header[2] != 0 && header[2] != 1))
        return false;
    size_t len = make_payload(scratch, header[0], header[1], header[2]);
    return len == size && memcmp(scratch, data, size) == 0;
}

/* In a child process: writes, and checks what other writers left. */
static int write_and_read(const fixture *f, int w)
{
    unsigned char *buf = malloc(MAX_PAYLOAD), *scratch = malloc(MAX_PAYLOAD);
    if (!buf || !scratch)
        return 1;
    char key[64], path[PATH_MAX], what[256];
    int failures = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = make_payload(buf, w, r, 1);
        snprintf(key, sizeof key, "shared %d", r % SHARED_KEYS);
        failures += nf_disk_cache_put_in(f->dir, key, buf, len, NULL) != NF_OK;
        len = make_payload(buf, w, r, 0);
        snprintf(key, sizeof key, "own %d %d", w, r);
        failures += nf_disk_cache_put_in(f->dir, key, buf, len, NULL) != NF_OK;
        for (int k = 0; k < SHARED_KEYS; k++) {
            snprintf(key, sizeof key, "shared %d", k);
            /* Whatever sits at an entry's name is whole: never a torn file. */
            if (nf_disk_cache_entry_path(f->dir, key, path, sizeof path, NULL) != NF_OK ||
                nf_disk_cache_describe(path, what, sizeof what) == NF_ERR_PARSE)
                failures++;
            void *data = NULL;
            size_t size = 0;
            failures += nf_disk_cache_get_in(f->dir, key, &data, &size, NULL) != NF_OK;
            failures += data && !payload_is_consistent(data, size, scratch);
            free(data);
        }
    }
    free(buf);
    free(scratch);
    return failures;
}

static void test_concurrent_writers_lose_nothing(void **state)
{
    fixture *f = *state;
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0)
            _exit(write_and_read(f, w) ? 1 : 0);
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("writer %d saw a failed put or a damaged entry", w);
    }
    unsigned char *want = malloc(MAX_PAYLOAD);
    assert_non_null(want);
    char key[64];
    for (int w = 0; w < WRITERS; w++)
        for (int r = 0; r < ROUNDS; r++) {
            size_t len = make_payload(want, w, r, 0);
            snprintf(key, sizeof key, "own %d %d", w, r);
            expect_hit(f, key, want, len);
        }
    for (int k = 0; k < SHARED_KEYS; k++) {
        void *data = NULL;
        size_t size = 0;
        snprintf(key, sizeof key, "shared %d", k);
        assert_int_equal(nf_disk_cache_get_in(f->dir, key, &data, &size, NULL), NF_OK);
        assert_non_null(data);
        assert_true(payload_is_consistent(data, size, want));
        int32_t round;
        memcpy(&round, (unsigned char *)data + 4, sizeof round);
        assert_int_equal(round % SHARED_KEYS, k);
        free(data);
    }
    free(want);
    /* Exactly the entries written, and no temp file left behind. */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".nfk-tmp", 8) == 0) {
            files++;
            size_t len = strlen(de->d_name);
            assert_true(len > 4 && strcmp(de->d_name + len - 4, ".nfk") == 0);
        }
    closedir(d);
    assert_int_equal(files, WRITERS * ROUNDS + SHARED_KEYS);
}

/* ---- the directory ------------------------------------------------------- */

typedef struct saved_env {
    char *values[3];
} saved_env;

static const char *const env_names[3] = {"NSAFUSE_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};

static void save_env(saved_env *s)
{
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(env_names[i]);
        s->values[i] = v ? strdup(v) : NULL;
        unsetenv(env_names[i]);
    }
}

static void restore_env(saved_env *s)
{
    for (int i = 0; i < 3; i++) {
        if (s->values[i])
            setenv(env_names[i], s->values[i], 1);
        else
            unsetenv(env_names[i]);
        free(s->values[i]);
    }
}

static void expect_dir(const char *want)
{
    char dir[PATH_MAX];
    nf_error err = {0};
    assert_int_equal(nf_disk_cache_dir(dir, sizeof dir, &err), NF_OK);
    assert_string_equal(dir, want);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_directory_precedence(void **state)
{
    fixture *f = *state;
    saved_env saved;
    save_env(&saved);
    char a[PATH_MAX], x[PATH_MAX], h[PATH_MAX], want[PATH_MAX + 32];
    snprintf(a, sizeof a, "%s/explicit/deeper", f->dir);
    snprintf(x, sizeof x, "%s/xdg", f->dir);
    snprintf(h, sizeof h, "%s/home", f->dir);
    setenv("NSAFUSE_CACHE_DIR", a, 1);
    setenv("XDG_CACHE_HOME", x, 1);
    setenv("HOME", h, 1);
    expect_dir(a); /* NSAFUSE_CACHE_DIR wins, and mkdir -p makes it */

    setenv("NSAFUSE_CACHE_DIR", "", 1); /* empty counts as unset */
    snprintf(want, sizeof want, "%s/nsafuse", x);
    expect_dir(want);

    setenv("XDG_CACHE_HOME", "relative/path", 1); /* XDG says: ignore relative */
    snprintf(want, sizeof want, "%s/.cache/nsafuse", h);
    expect_dir(want);

    unsetenv("XDG_CACHE_HOME");
    expect_dir(want);

    unsetenv("HOME");
    char dir[PATH_MAX];
    nf_error err = {0};
    assert_int_equal(nf_disk_cache_dir(dir, sizeof dir, &err), NF_ERR_IO);
    assert_non_null(strstr(err.message, "NSAFUSE_CACHE_DIR"));

    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/plain_file", f->dir);
    write_file(file, "x", 1);
    setenv("NSAFUSE_CACHE_DIR", file, 1);
    assert_int_equal(nf_disk_cache_dir(dir, sizeof dir, &err), NF_ERR_IO);
    restore_env(&saved);
}

/* ---- listing and clearing ------------------------------------------------ */

typedef struct seen {
    int count;
    size_t bytes;
    bool saw[3];
} seen;

static int visit(const char *path, const char *key, size_t payload_size, void *ctx)
{
    seen *s = ctx;
    assert_non_null(strstr(path, ".nfk"));
    s->count++;
    s->bytes += payload_size;
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "listed %d", i);
        if (strcmp(key, want) == 0)
            s->saw[i] = true;
    }
    return 0;
}

static void test_describe_list_and_clear(void **state)
{
    fixture *f = *state;
    char *old = getenv("NSAFUSE_CACHE_DIR") ? strdup(getenv("NSAFUSE_CACHE_DIR")) : NULL;
    setenv("NSAFUSE_CACHE_DIR", f->dir, 1);
    char key[32], path[PATH_MAX], buf[256];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "listed %d", i);
        assert_int_equal(nf_disk_cache_put(key, "0123456789", 10, NULL), NF_OK);
    }
    entry_path(f, "listed 1", path, sizeof path);
    assert_int_equal(nf_disk_cache_describe(path, buf, sizeof buf), NF_OK);
    assert_string_equal(buf, "listed 1");
    assert_int_equal(nf_disk_cache_describe(path, buf, 4), NF_OK);
    assert_string_equal(buf, "lis");

    char junk[PATH_MAX + 32], temp[PATH_MAX + 32];
    snprintf(junk, sizeof junk, "%s/0000000000000000.nfk", f->dir);
    write_file(junk, "not an entry", 12);
    assert_int_equal(nf_disk_cache_describe(junk, buf, sizeof buf), NF_ERR_PARSE);
    assert_true(strlen(buf) > 0);
    snprintf(temp, sizeof temp, "%s/.nfk-tmp-dead-123456", f->dir);
    write_file(temp, "left by a crash", 15);
    snprintf(path, sizeof path, "%s/unrelated.txt", f->dir);
    write_file(path, "keep me", 7);

    seen s = {0};
    assert_int_equal(nf_disk_cache_foreach(visit, &s, NULL), NF_OK);
    assert_int_equal(s.count, 3); /* the corrupt one is skipped */
    assert_int_equal(s.bytes, 30);
    assert_true(s.saw[0] && s.saw[1] && s.saw[2]);

    size_t removed = 0;
    assert_int_equal(nf_disk_cache_clear(&removed, NULL), NF_OK);
    assert_int_equal(removed, 4);
    assert_false(file_exists(junk));
    assert_false(file_exists(temp));
    assert_true(file_exists(path));
    s = (seen){0};
    assert_int_equal(nf_disk_cache_foreach(visit, &s, NULL), NF_OK);
    assert_int_equal(s.count, 0);
    if (old)
        setenv("NSAFUSE_CACHE_DIR", old, 1);
    else
        unsetenv("NSAFUSE_CACHE_DIR");
    free(old);
}

int main(void)
{
    const char *env = getenv("NF_TEST_SEED");
    test_seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("test_disk_cache: seed %llu (set NF_TEST_SEED to repeat)\n",
           (unsigned long long)test_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_stable),
        cmocka_unit_test(test_hash_streaming_matches_one_shot),
        cmocka_unit_test(test_hash_avalanche),
        cmocka_unit_test(test_hash_no_collisions_on_similar_keys),
        cmocka_unit_test_setup_teardown(test_miss_on_empty_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_functions_use_env_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_key_under_same_name_is_a_miss, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncation_at_every_length_is_a_miss, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips_anywhere_are_a_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_lose_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_list_and_clear, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
