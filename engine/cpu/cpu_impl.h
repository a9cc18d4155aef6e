// cpu_impl.h: private to engine/cpu.
#ifndef HET_CPU_CPU_IMPL_H
#define HET_CPU_CPU_IMPL_H

#include "het/backend.h"

#include <stdbool.h>

// A fixed set of worker threads, optionally pinned one per core. The caller
// of het_pool_parallel is worker 0. Idle workers spin for spin_us before
// blocking, because waking a sleeping thread costs ~45 us on these machines
// while a layer of SqueezeNet can take less than that.
typedef struct het_pool het_pool;
typedef void (*het_pool_fn)(void *ctx, int task, int worker);

het_status het_pool_create(int n_threads, const int *cores, int n_cores, int spin_us, het_pool **pool_out);
void het_pool_destroy(het_pool *p);
// Pins the calling thread to worker 0's core (it runs worker 0's tasks).
void het_pool_pin_caller(het_pool *p);
int het_pool_size(const het_pool *p);
// Runs fn(ctx, task, worker) for task in [0, n_tasks) on all workers and
// returns when all are done. Tasks are handed out dynamically.
void het_pool_parallel(het_pool *p, het_pool_fn fn, void *ctx, int n_tasks);

typedef struct cpu_ctx {
    het_pool *pool;
    int n_threads;
    void **state;        // per-layer kernel state, indexed by layer id
    bool *prepared;
    int n_layers;
    const het_graph *graph;
    // Epilogue for the convolution being run: apply ReLU with this slope
    // (set only for the duration of one fused run, see run_with_relu).
    bool relu;
    float relu_slope;
} cpu_ctx;

// A kernel: prepare (optional) builds per-layer state; run computes [c0,c1).
typedef struct cpu_kernel {
    het_status (*prepare)(cpu_ctx *cx, const het_graph *g, const het_layer *l, void **state_out);
    het_status (*run)(cpu_ctx *cx, const het_graph *g, const het_layer *l, void *state, float *const *in,
                      float *out, int c0, int c1);
} cpu_kernel;

#define CPU_KERNEL_DECL(name)                                                                          \
    het_status name##_run(cpu_ctx *cx, const het_graph *g, const het_layer *l, void *state, float *const *in, \
                          float *out, int c0, int c1)
#define CPU_PREPARE_DECL(name)                                                                         \
    het_status name##_prepare(cpu_ctx *cx, const het_graph *g, const het_layer *l, void **state_out)

CPU_PREPARE_DECL(conv);
CPU_KERNEL_DECL(conv);
CPU_KERNEL_DECL(fc);
CPU_KERNEL_DECL(pool);
CPU_KERNEL_DECL(relu);
CPU_KERNEL_DECL(lrn);
CPU_KERNEL_DECL(concat);
CPU_KERNEL_DECL(eltwise);
CPU_KERNEL_DECL(softmax);
CPU_KERNEL_DECL(copy);
CPU_PREPARE_DECL(batchnorm);
CPU_KERNEL_DECL(batchnorm);
CPU_KERNEL_DECL(scale);

// Task `task` of `n_tasks`'s share of [lo, hi): near-equal contiguous
// pieces that together cover the range exactly once.
static inline void cpu_task_range(int lo, int hi, int task, int n_tasks, int *a_out, int *b_out)
{
    long n = hi - lo;
    *a_out = lo + (int)(n * task / n_tasks);
    *b_out = lo + (int)(n * (task + 1) / n_tasks);
}

// Free function for kernel state (all states are single allocations or NULL).
void cpu_state_free(void *state);

// Splits [0, n) into chunks for the pool: returns the number of tasks so
// that each has at least `min_work` items (and at most 4 per thread).
int cpu_n_tasks(const cpu_ctx *cx, long n, long min_work);

#endif
