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
    // The configured convolution path (het_cpu_cfg.conv): conv_force -1
    // het's choice, 0 sgemm, 1 direct; conv_max_vw the widest vector, floats.
    int conv_force, conv_max_vw;
} cpu_ctx;

/// Reads het_cpu_cfg.conv into (force, max_vw); HET_E_INVALID, with a
/// message, for a path that is not one.
het_status het_cpu_conv_path(const char *conv, int *force, int *max_vw);

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

// Bias and (fused) ReLU over one output row segment: one pass, not two.
static inline void cpu_conv_epilogue(float *row, int n, float bias, bool relu, float slope)
{
    if (!relu) {
        if (bias != 0.0f)
            for (int q = 0; q < n; q++) row[q] += bias;
    } else if (slope == 0.0f) {
        for (int q = 0; q < n; q++) {
            float v = row[q] + bias;
            row[q] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (int q = 0; q < n; q++) {
            float v = row[q] + bias;
            row[q] = v > 0.0f ? v : v * slope;
        }
    }
}

// The direct convolution (k_conv_direct.c). One output row of one block of
// eight output channels, as its inner loop sees it:
typedef struct direct_row {
    const float *rows;  // n_rows padded input rows, row_stride floats apart
    size_t row_stride;
    int n_rows;         // input channels x kernel rows
    int kw;
    const int *offs;    // per kx: where its columns start in a row
    const float *w;     // the block's packed weights: n_rows x kw x 8
    const float *bias;  // 8
    float *out;         // channel 0 of the block, this output row
    size_t out_stride;  // floats from one channel to the next
    int wo;
    int m_lo, m_hi;     // the block's channels to store
} direct_row;

#define DIRECT_MAX_KW 32

typedef struct conv_direct {
    void (*kernel)(const direct_row *r);
    int vw;              // the kernel's vector width, in floats
    int cin_g, mg;       // input and output channels per group
    int n_blocks;        // blocks of eight output channels per group
    int phase_len;       // floats per stride phase of a padded row
    size_t row_stride;   // stride phases x phase_len
    size_t rows_floats;  // one worker's row buffer
    int offs[DIRECT_MAX_KW];
    float *packed;       // [group][block][cin_g x kh x kw][8]
    float *bias;         // [group][block][8]
    float *rows;         // n_threads row buffers
} conv_direct;

bool conv_direct_supported(const struct het_conv_params *c);
// Floats of memory conv_direct_init needs (packed weights, row buffers).
size_t conv_direct_floats(const het_graph *g, const het_layer *l, int n_threads);
// Repacks the weights into mem and picks the widest inner loop of at most
// max_vw floats that the CPU runs.
void conv_direct_init(conv_direct *d, const het_graph *g, const het_layer *l, int max_vw, float *mem);
// Whether the direct path should run `rows` output channels per group of a
// layer whose output rows are `wo` wide, rather than im2col + sgemm.
bool conv_direct_wins(const conv_direct *d, int rows, int wo);
void conv_direct_run(cpu_ctx *cx, const conv_direct *d, const het_graph *g, const het_layer *l, const float *in,
                     float *out, int c0, int c1);

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
