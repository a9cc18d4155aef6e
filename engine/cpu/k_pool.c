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

static void pool_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pool_job *j = ctx;
    const struct het_pool_params *p = j->p;
    int n = j->c1 - j->c0;
    int ch0 = j->c0 + (int)((long)n * task / j->n_tasks);
    int ch1 = j->c0 + (int)((long)n * (task + 1) / j->n_tasks);
    for (int ch = ch0; ch < ch1; ch++) {
        const float *plane = j->in + (size_t)ch * j->H * j->W;
        float *o = j->out + (size_t)ch * j->Ho * j->Wo;
        for (int oh = 0; oh < j->Ho; oh++) {
            int hs = oh * p->sh - p->ph;
            int he = hs + p->kh;
            if (he > j->H + p->ph) he = j->H + p->ph;
            int pool_h = he - hs;
            if (hs < 0) hs = 0;
            if (he > j->H) he = j->H;
            for (int ow = 0; ow < j->Wo; ow++) {
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
