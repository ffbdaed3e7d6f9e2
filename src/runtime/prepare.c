/* nf_kernel_prepare: a list of symbol sizes compiled ahead of the first
 * calls, several signatures at once. Each signature's LLVM run and driver
 * JIT are single-threaded and independent of the others' (kernel.c compiles
 * outside the kernel's lock), so a server's batch sizes warm up in about
 * (sizes / threads) compile times instead of one after another. */
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct prepare_job {
    nf_kernel *k;
    const nf_bindings *sizes;
    int n;
    atomic_int next;       /* the next binding to take */
    pthread_mutex_t lock;  /* guards the first error */
    int failed;            /* index of the first failure by position, or n */
    nf_error first;
} prepare_job;

/* "T=8, S=3" */
static void describe(const nf_bindings *b, char *text, size_t cap)
{
    size_t len = 0;
    snprintf(text, cap, "(no sizes)");
    for (int i = 0; i < b->n && len < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s%s=%lld", i ? ", " : "", b->names[i] ? b->names[i] : "?",
                                (long long)b->sizes[i]);
}

static void *prepare_worker(void *arg)
{
    prepare_job *job = arg;
    for (int i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) {
        nf_error err = {0};
        if (nf_kernel_prepare_signature(job->k, &job->sizes[i], &err) == NF_OK)
            continue;
        pthread_mutex_lock(&job->lock);
        if (i < job->failed) { /* the earliest binding's error, whatever the threads' timing */
            job->failed = i;
            job->first = err;
        }
        pthread_mutex_unlock(&job->lock);
    }
    return NULL;
}

nf_status nf_kernel_prepare(nf_kernel *k, const nf_bindings *sizes, int n, int threads, nf_error *err)
{
    if (!k || n < 0 || (n > 0 && !sizes))
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_kernel_prepare: %s",
                            !k ? "kernel is NULL" : n < 0 ? "negative count of sizes" : "sizes is NULL");
    if (threads < 0)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_kernel_prepare: threads is %d (0: one per core)", threads);
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 1;
    }
    if (threads > n)
        threads = n;
    if (threads > 64)
        threads = 64;

    prepare_job job = {.k = k, .sizes = sizes, .n = n, .failed = n};
    atomic_init(&job.next, 0);
    pthread_mutex_init(&job.lock, NULL);
    pthread_t pool[64];
    int started = 0;
    while (started < threads - 1 && pthread_create(&pool[started], NULL, prepare_worker, &job) == 0)
        started++;
    prepare_worker(&job); /* the caller works too, and alone if no thread could start */
    for (int i = 0; i < started; i++)
        pthread_join(pool[i], NULL);
    pthread_mutex_destroy(&job.lock);

    if (job.failed == n)
        return NF_OK;
    char what[256];
    describe(&sizes[job.failed], what, sizeof what);
    return nf_set_error(err, job.first.status, job.first.line, job.first.col, "preparing %s: %s", what,
                        job.first.message);
}
