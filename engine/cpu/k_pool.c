// k_pool.c: MAX and AVE pooling (Caffe semantics) for channels [c0, c1).
//
// MAX ignores padding. AVE divides by the window clipped to the padded
// input (Caffe's rule), so border windows count padded zeros. Ceil rounding
// without padding can leave a last window entirely past the input (e.g.
// W=9, k=2, s=3); Caffe divides by zero there, het writes 0.
#include "cpu_impl.h"

#include <float.h>

typedef struct pool_job {
    const struct het_pool_params *p;
    const float *in;
    float *out;
    int H, W, Ho, Wo, c0, c1, n_tasks;
} pool_job;

// Output columns [ow0, ow1) of row oh by the general rule.
static void pool_row_general(const pool_job *j, const float *plane, float *o, int oh, int ow0, int ow1)
{
    const struct het_pool_params *p = j->p;
    int hs = oh * p->sh - p->ph;
    int he = hs + p->kh;
    if (he > j->H + p->ph) he = j->H + p->ph;
    int pool_h = he - hs;
    if (hs < 0) hs = 0;
    if (he > j->H) he = j->H;
    for (int ow = ow0; ow < ow1; ow++) {
        int ws = ow * p->sw - p->pw;
        int we = ws + p->kw;
        if (we > j->W + p->pw) we = j->W + p->pw;
        int pool_size = pool_h * (we - ws);
        if (ws < 0) ws = 0;
        if (we > j->W) we = j->W;
        float v;
        if (he <= hs || we <= ws) {
            v = 0.0f; // window entirely outside the input
        } else if (p->method == HET_POOL_MAX) {
            v = -FLT_MAX;
            for (int y = hs; y < he; y++)
                for (int x = ws; x < we; x++) {
                    float t = plane[y * j->W + x];
                    if (t > v) v = t;
                }
        } else {
            float sum = 0.0f;
            for (int y = hs; y < he; y++)
                for (int x = ws; x < we; x++) sum += plane[y * j->W + x];
            v = sum / (float)pool_size;
        }
        o[oh * j->Wo + ow] = v;
    }
}

// 3x3 MAX windows of row oh that lie wholly inside the input, with fixed
// trip counts so the compiler unrolls them (the SqueezeNet/GoogLeNet case).
// Returns the columns done as [*ow0_out, return value).
static int pool_row_max3x3(const pool_job *j, const float *plane, float *o, int oh, int *ow0_out)
{
    const struct het_pool_params *p = j->p;
    int y = oh * p->sh - p->ph;
    int ow = (p->pw + p->sw - 1) / p->sw; // first column whose window starts inside
    *ow0_out = ow;
    if (y < 0 || y + 3 > j->H) return ow;
    const float *r0 = plane + (size_t)y * j->W, *r1 = r0 + j->W, *r2 = r1 + j->W;
    for (; ow < j->Wo && ow * p->sw - p->pw + 3 <= j->W; ow++) {
        int x = ow * p->sw - p->pw;
        float m0 = r0[x] > r0[x + 1] ? r0[x] : r0[x + 1];
        float m1 = r1[x] > r1[x + 1] ? r1[x] : r1[x + 1];
        float m2 = r2[x] > r2[x + 1] ? r2[x] : r2[x + 1];
        m0 = m0 > r0[x + 2] ? m0 : r0[x + 2];
        m1 = m1 > r1[x + 2] ? m1 : r1[x + 2];
        m2 = m2 > r2[x + 2] ? m2 : r2[x + 2];
        m0 = m0 > m1 ? m0 : m1;
        o[oh * j->Wo + ow] = m0 > m2 ? m0 : m2;
    }
    return ow;
}

static void pool_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pool_job *j = ctx;
    const struct het_pool_params *p = j->p;
    bool fast = p->method == HET_POOL_MAX && p->kh == 3 && p->kw == 3;
    int ch0, ch1;
    cpu_task_range(j->c0, j->c1, task, j->n_tasks, &ch0, &ch1);
    for (int ch = ch0; ch < ch1; ch++) {
        const float *plane = j->in + (size_t)ch * j->H * j->W;
        float *o = j->out + (size_t)ch * j->Ho * j->Wo;
        for (int oh = 0; oh < j->Ho; oh++) {
            if (!fast) {
                pool_row_general(j, plane, o, oh, 0, j->Wo);
                continue;
            }
            int lo, hi = pool_row_max3x3(j, plane, o, oh, &lo);
            if (hi <= lo) lo = hi = 0; // nothing done: the whole row is general
            pool_row_general(j, plane, o, oh, 0, lo);
            pool_row_general(j, plane, o, oh, hi, j->Wo);
        }
    }
}

CPU_KERNEL_DECL(pool)
{
    (void)state;
    const het_shape *is = &g->blobs[l->bottom[0]].shape;
    const het_shape *os = &g->blobs[l->top[0]].shape;
    pool_job j = {.p = &l->p.pool, .in = in[0], .out = out, .H = is->h, .W = is->w, .Ho = os->h, .Wo = os->w,
                  .c0 = c0, .c1 = c1};
    j.n_tasks = cpu_n_tasks(cx, (long)(c1 - c0) * is->h * is->w, 16384);
    if (j.n_tasks > c1 - c0) j.n_tasks = c1 - c0;
    het_pool_parallel(cx->pool, pool_task, &j, j.n_tasks);
    return HET_OK;
}
