/* Runs a host kernel over [0, n) on the machine's cores. Small work runs on
 * the calling thread: starting threads costs more than it saves. */
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct chunk {
    nf_host_fn fn;
    void **slots;
    int64_t begin, end;
} chunk;

static void *run_chunk(void *arg)
{
    chunk *c = arg;
    c->fn(c->slots, c->begin, c->end);
    return NULL;
}

static int cpus;
static pthread_once_t cpus_once = PTHREAD_ONCE_INIT;

static void count_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN); /* reads /sys: once, not per launch */
    cpus = n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int cpu_count(void)
{
    pthread_once(&cpus_once, count_cpus);
    return cpus;
}

void nf_host_parallel_for(nf_host_fn fn, void **slots, int64_t n, int64_t work_per_item)
{
    enum { MIN_WORK_PER_THREAD = 1 << 16 };
    int threads = cpu_count();
    int64_t total = n * (work_per_item > 0 ? work_per_item : 1);
    if (total / threads < MIN_WORK_PER_THREAD)
        threads = (int)(total / MIN_WORK_PER_THREAD);
    if (threads > n)
        threads = (int)n;
    if (threads <= 1) {
        fn(slots, 0, n);
        return;
    }
    chunk chunks[64];
    pthread_t tids[64];
    bool started[64] = {0};
    int64_t per = (n + threads - 1) / threads;
    for (int t = 0; t < threads; t++) {
        int64_t b = t * per, e = b + per < n ? b + per : n;
        chunks[t] = (chunk){fn, slots, b, e};
        if (t > 0)
            started[t] = pthread_create(&tids[t], NULL, run_chunk, &chunks[t]) == 0;
    }
    run_chunk(&chunks[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            run_chunk(&chunks[t]); /* could not start a thread: do it here */
    }
}

nf_status nf_host_execute(const nf_plan *p, const nf_slots *s, nf_host_fn *fns, const int64_t *rows,
                          const int64_t *work, const nf_tensor *inputs, const nf_tensor *outputs, nf_error *err)
{
    void *stack_slots[32];
    void **slots = s->n <= 32 ? stack_slots : malloc((size_t)s->n * sizeof *slots);
    if (!slots)
        return nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory");
    nf_status st = NF_OK;
    int first_temp = s->n_params + s->n_outputs;
    for (int i = 0; i < s->n; i++) {
        if (i < s->n_params) {
            slots[i] = inputs[i].data;
        } else if (i < first_temp) {
            slots[i] = outputs[i - s->n_params].data;
        } else {
            const nf_layout *l = &s->layout[i];
            size_t bytes = (size_t)nf_shape_numel(l->rank, l->shape) * nf_dtype_size(s->value[i]->dtype);
            slots[i] = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
            if (!slots[i] && bytes) {
                for (int j = first_temp; j < i; j++)
                    free(slots[j]);
                st = nf_set_error(err, NF_ERR_NOMEM, 0, 0, "out of memory for a %zu-byte temporary", bytes);
                goto done;
            }
        }
    }
    for (int i = 0; i < p->n_kernels; i++)
        if (rows[i] > 0)
            nf_host_parallel_for(fns[i], slots, rows[i], work[i]);
    for (int i = first_temp; i < s->n; i++)
        free(slots[i]);
done:
    if (slots != stack_slots)
        free(slots);
    return st;
}
