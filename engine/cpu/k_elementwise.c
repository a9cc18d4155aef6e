// k_elementwise.c: per-channel and per-element layers for channels [c0, c1):
// ReLU, BatchNorm, Scale, Eltwise, Concat, and the copies Dropout/Flatten.
//
// Each works on the contiguous slice [c0*HW, c1*HW) of its output, split
// across the pool in chunks of whole channels when the slice is large.
#include "cpu_impl.h"

#include <math.h>
#include <string.h>

typedef struct ew_job {
    const het_graph *g;
    const het_layer *l;
    const void *state;
    float *const *in;
    float *out;
    int hw, c0, c1, n_tasks;
    void (*fn)(const struct ew_job *j, int ch0, int ch1);
} ew_job;

static void ew_task(void *ctx, int task, int worker)
{
    (void)worker;
    const ew_job *j = ctx;
    int ch0, ch1;
    cpu_task_range(j->c0, j->c1, task, j->n_tasks, &ch0, &ch1);
    if (ch1 > ch0) j->fn(j, ch0, ch1);
}

// Runs fn over [c0, c1) in parallel chunks; small slices stay on one thread
// because a pool hand-off costs more than a few thousand additions.
static het_status ew_run(cpu_ctx *cx, const het_graph *g, const het_layer *l, const void *state, float *const *in,
                         float *out, int c0, int c1, void (*fn)(const ew_job *, int, int))
{
    const het_shape *os = &g->blobs[l->top[0]].shape;
    ew_job j = {.g = g, .l = l, .state = state, .in = in, .out = out, .hw = os->h * os->w, .c0 = c0, .c1 = c1, .fn = fn};
    j.n_tasks = cpu_n_tasks(cx, (long)(c1 - c0) * j.hw, 32768);
    if (j.n_tasks > c1 - c0) j.n_tasks = c1 - c0;
    het_pool_parallel(cx->pool, ew_task, &j, j.n_tasks);
    return HET_OK;
}

static void relu_fn(const ew_job *j, int ch0, int ch1)
{
    float slope = j->l->p.relu.negative_slope;
    const float *x = j->in[0] + (size_t)ch0 * j->hw;
    float *y = j->out + (size_t)ch0 * j->hw;
    size_t n = (size_t)(ch1 - ch0) * j->hw;
    if (slope == 0.0f)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

CPU_KERNEL_DECL(relu) { return ew_run(cx, g, l, state, in, out, c0, c1, relu_fn); }

// Dropout (identity at inference) and Flatten (same bytes, new shape).
static void copy_fn(const ew_job *j, int ch0, int ch1)
{
    if (j->in[0] == j->out) return; // in place: nothing to do
    memcpy(j->out + (size_t)ch0 * j->hw, j->in[0] + (size_t)ch0 * j->hw, (size_t)(ch1 - ch0) * j->hw * sizeof(float));
}

CPU_KERNEL_DECL(copy) { return ew_run(cx, g, l, state, in, out, c0, c1, copy_fn); }

// BatchNorm: y = (x - mean) / sqrt(var + eps) with Caffe's stored
// moving-average factor divided out; folded at prepare into y = a*x + b.
CPU_PREPARE_DECL(batchnorm)
{
    (void)cx;
    (void)g;
    int C = (int)l->params[0].count;
    float *ab = het_alloc_aligned(2 * (size_t)C * sizeof(float));
    if (!ab) return HET_E_NOMEM;
    for (int c = 0; c < C; c++) {
        double a, b;
        het_batchnorm_affine(l, c, &a, &b);
        ab[c] = (float)a, ab[C + c] = (float)b;
    }
    *state_out = ab;
    return HET_OK;
}

static void affine(const ew_job *j, int ch0, int ch1, const float *a, const float *b)
{
    for (int c = ch0; c < ch1; c++) {
        const float *x = j->in[0] + (size_t)c * j->hw;
        float *y = j->out + (size_t)c * j->hw;
        float av = a[c], bv = b ? b[c] : 0.0f;
        for (int i = 0; i < j->hw; i++) y[i] = x[i] * av + bv;
    }
}

static void batchnorm_fn(const ew_job *j, int ch0, int ch1)
{
    const float *ab = j->state;
    int C = (int)j->l->params[0].count;
    affine(j, ch0, ch1, ab, ab + C);
}

CPU_KERNEL_DECL(batchnorm) { return ew_run(cx, g, l, state, in, out, c0, c1, batchnorm_fn); }

static void scale_fn(const ew_job *j, int ch0, int ch1)
{
    affine(j, ch0, ch1, j->l->params[0].data, j->l->p.scale.bias_term ? j->l->params[1].data : NULL);
}

CPU_KERNEL_DECL(scale) { return ew_run(cx, g, l, state, in, out, c0, c1, scale_fn); }

static void eltwise_fn(const ew_job *j, int ch0, int ch1)
{
    const struct het_eltwise_params *p = &j->l->p.eltwise;
    size_t off = (size_t)ch0 * j->hw, n = (size_t)(ch1 - ch0) * j->hw;
    float *y = j->out + off;
    const float *a = j->in[0] + off, *b = j->in[1] + off;
    switch (p->op) {
    case HET_ELTWISE_SUM: {
        float ca = p->coeff[0], cb = p->coeff[1];
        for (size_t i = 0; i < n; i++) y[i] = ca * a[i] + cb * b[i];
        for (int k = 2; k < j->l->n_bottom; k++) {
            const float *x = j->in[k] + off;
            float ck = p->coeff[k];
            for (size_t i = 0; i < n; i++) y[i] += ck * x[i];
        }
        break;
    }
    case HET_ELTWISE_PROD:
        for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
        for (int k = 2; k < j->l->n_bottom; k++) {
            const float *x = j->in[k] + off;
            for (size_t i = 0; i < n; i++) y[i] *= x[i];
        }
        break;
    case HET_ELTWISE_MAX:
        for (size_t i = 0; i < n; i++) y[i] = a[i] > b[i] ? a[i] : b[i];
        for (int k = 2; k < j->l->n_bottom; k++) {
            const float *x = j->in[k] + off;
            for (size_t i = 0; i < n; i++) y[i] = x[i] > y[i] ? x[i] : y[i];
        }
        break;
    }
}

CPU_KERNEL_DECL(eltwise) { return ew_run(cx, g, l, state, in, out, c0, c1, eltwise_fn); }

// Concat along channels: output channels [ch0, ch1) come from whichever
// inputs own them, each piece one memcpy.
static void concat_fn(const ew_job *j, int ch0, int ch1)
{
    int base = 0;
    for (int k = 0; k < j->l->n_bottom && base < ch1; k++) {
        int ck = j->g->blobs[j->l->bottom[k]].shape.c;
        int lo = ch0 > base ? ch0 : base;
        int hi = ch1 < base + ck ? ch1 : base + ck;
        // A producer placed inside the output (zero-copy concat, see
        // exec/single.c) already wrote its slice: nothing to copy.
        const float *src = j->in[k] + (size_t)(lo - base) * j->hw;
        float *dst = j->out + (size_t)lo * j->hw;
        if (hi > lo && src != dst)
            memcpy(dst, src, (size_t)(hi - lo) * j->hw * sizeof(float));
        base += ck;
    }
}

CPU_KERNEL_DECL(concat) { return ew_run(cx, g, l, state, in, out, c0, c1, concat_fn); }
