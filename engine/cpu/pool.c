// pool.c: a pinned thread pool that spins briefly between jobs.
//
// Protocol. The caller publishes a job in the single job slot, bumps `gen`
// (and broadcasts to sleepers), runs tasks itself, and waits until every
// task is done: not until every worker has woken, so a worker that is
// asleep or descheduled (common on a many-vCPU VM) costs nothing. A worker
// that wakes late must never touch the slot once the caller has moved on,
// so workers enter the slot through `active`: increment, re-check that the
// job is still the published one, take tasks, decrement. The caller
// unpublishes the job and waits for `active` to reach zero (only workers
// mid-task or mid-check count, which is short) before it returns and the
// slot may be reused.
#define _GNU_SOURCE
#include "cpu_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

typedef struct pool_job {
    het_pool_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next_task;
    atomic_int done_tasks;
} pool_job;

struct het_pool {
    int n;                 // workers including the caller
    pthread_t *threads;    // n - 1 helper threads
    int *cores;            // core per worker, or NULL
    int spin_us;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;       // bumped for every job
    atomic_int stop;
    pool_job job;          // the slot
    _Atomic(pool_job *) published; // &job while tasks may be taken, else NULL
    atomic_int active;     // workers inside the slot
};

typedef struct worker_arg {
    het_pool *p;
    int id;
} worker_arg;

static void pin_self(const het_pool *p, int id)
{
#if defined(__linux__)
    if (!p->cores) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p->cores[id], &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
        het_log(HET_LOG_WARN, "could not pin worker %d to core %d", id, p->cores[id]);
#else
    (void)p;
    (void)id;
#endif
}

static void run_tasks(pool_job *j, int id)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&j->next_task, 1, memory_order_relaxed);
        if (t >= j->n_tasks) break;
        j->fn(j->ctx, t, id);
        atomic_fetch_add_explicit(&j->done_tasks, 1, memory_order_release);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    het_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    pin_self(p, id);
    unsigned seen = atomic_load(&p->gen);
    for (;;) {
        // Spin, then sleep, until a new generation (or stop) appears.
        uint64_t t0 = het_now_ns();
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            CPU_RELAX();
            if (++spins % 64 == 0 && het_now_ns() - t0 > (uint64_t)p->spin_us * 1000u) {
                pthread_mutex_lock(&p->mu);
                while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
                pthread_mutex_unlock(&p->mu);
                t0 = het_now_ns();
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        pool_job *j = atomic_load(&p->published);
        if (!j) continue; // that job already finished
        atomic_fetch_add(&p->active, 1);
        if (atomic_load(&p->published) == j) run_tasks(j, id);
        atomic_fetch_sub(&p->active, 1);
    }
}

int het_pool_size(const het_pool *p) { return p->n; }

void het_pool_pin_caller(het_pool *p) { pin_self(p, 0); }

void het_pool_parallel(het_pool *p, het_pool_fn fn, void *ctx, int n_tasks)
{
    if (n_tasks <= 0) return;
    if (p->n == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pool_job *j = &p->job;
    j->fn = fn;
    j->ctx = ctx;
    j->n_tasks = n_tasks;
    atomic_store_explicit(&j->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&j->done_tasks, 0, memory_order_relaxed);
    atomic_store(&p->published, j);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(j, 0);
    while (atomic_load_explicit(&j->done_tasks, memory_order_acquire) < n_tasks) CPU_RELAX();
    atomic_store(&p->published, NULL);
    while (atomic_load(&p->active) > 0) CPU_RELAX();
}

het_status het_pool_create(int n_threads, const int *cores, int n_cores, int spin_us, het_pool **pool_out)
{
    het_pool *p = calloc(1, sizeof *p);
    if (!p) return HET_E_NOMEM;
    p->n = n_threads > 0 ? n_threads : 1;
    p->spin_us = spin_us > 0 ? spin_us : 200;
    if (cores && n_cores > 0) {
        p->cores = malloc((size_t)p->n * sizeof(int));
        if (!p->cores) goto fail;
        for (int i = 0; i < p->n; i++) p->cores[i] = cores[i % n_cores];
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)p->n, sizeof(pthread_t));
    if (!p->threads) goto fail;
    pin_self(p, 0);
    for (int i = 1; i < p->n; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            p->n = i;
            goto fail_threads;
        }
        wa->p = p;
        wa->id = i;
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            het_log(HET_LOG_ERROR, "het_pool_create: failed to start worker thread %d", i);
            p->n = i; // join only those started
            goto fail_threads;
        }
    }
    *pool_out = p;
    return HET_OK;
fail_threads:
    het_pool_destroy(p);
    return HET_E_NOMEM;
fail:
    free(p->cores);
    free(p->threads);
    free(p);
    return HET_E_NOMEM;
}

void het_pool_destroy(het_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->cores);
    free(p);
}
