// k_lrn.c: local response normalisation across channels (Caffe's LRN):
// y_c = x_c * (k + alpha/n * sum_{c' in window(c)} x_c'^2)^-beta, where the
// window of n channels is centred on c and clipped at the ends. A range
// [c0, c1) reads the input channels [c0 - n/2, c1 + n/2).
#include "cpu_impl.h"

#include <math.h>
#include <stdlib.h>

typedef struct lrn_job {
    const struct het_lrn_params *p;
    const float *in;
    float *out;
    int C, hw, c0, c1, n_tasks;
} lrn_job;

static void lrn_task(void *ctx, int task, int worker)
{
    (void)worker;
    const lrn_job *j = ctx;
    const struct het_lrn_params *p = j->p;
    int half = (p->local_size - 1) / 2;
    float an = p->alpha / (float)p->local_size;
    // Each task handles a block of spatial positions for all its channels,
    // sliding the window sum along the channel axis.
    int s0, s1;
    cpu_task_range(0, j->hw, task, j->n_tasks, &s0, &s1);
    for (int s = s0; s < s1; s++) {
        double sum = 0.0;
        int lo = j->c0 - half;
        for (int c = lo < 0 ? 0 : lo; c <= j->c0 + half && c < j->C; c++) {
            float v = j->in[(size_t)c * j->hw + s];
            sum += (double)v * v;
        }
        for (int c = j->c0; c < j->c1; c++) {
            if (c > j->c0) {
                int add = c + half, drop = c - half - 1;
                if (add < j->C) {
                    float v = j->in[(size_t)add * j->hw + s];
                    sum += (double)v * v;
                }
                if (drop >= 0) {
                    float v = j->in[(size_t)drop * j->hw + s];
                    sum -= (double)v * v;
                }
            }
            float scale = p->k + an * (float)sum;
            j->out[(size_t)c * j->hw + s] = j->in[(size_t)c * j->hw + s] * powf(scale, -p->beta);
        }
    }
}

CPU_KERNEL_DECL(lrn)
{
    (void)state;
    const het_shape *is = &g->blobs[l->bottom[0]].shape;
    lrn_job j = {.p = &l->p.lrn, .in = in[0], .out = out, .C = is->c, .hw = is->h * is->w, .c0 = c0, .c1 = c1};
    j.n_tasks = cpu_n_tasks(cx, (long)(c1 - c0) * j.hw, 8192);
    if (j.n_tasks > j.hw) j.n_tasks = j.hw;
    het_pool_parallel(cx->pool, lrn_task, &j, j.n_tasks);
    return HET_OK;
}
