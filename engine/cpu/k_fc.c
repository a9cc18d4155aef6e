// k_fc.c: inner product on the CPU for an output range [c0, c1).
#include "cpu_impl.h"

#include <cblas.h>

// Inner product: y[c0:c1] = W[c0:c1, :] x + b, rows split across the pool.
typedef struct fc_job {
    const het_layer *l;
    const float *x;
    float *y;
    int K, c0, c1, n_tasks;
} fc_job;

static void fc_task(void *ctx, int task, int worker)
{
    (void)worker;
    const fc_job *j = ctx;
    int r0, r1;
    cpu_task_range(j->c0, j->c1, task, j->n_tasks, &r0, &r1);
    if (r1 <= r0) return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, r1 - r0, j->K, 1.0f, j->l->params[0].data + (size_t)r0 * j->K, j->K,
                j->x, 1, 0.0f, j->y + r0, 1);
    if (j->l->p.fc.bias_term)
        for (int r = r0; r < r1; r++) j->y[r] += j->l->params[1].data[r];
}

CPU_KERNEL_DECL(fc)
{
    (void)state;
    fc_job j = {.l = l, .x = in[0], .y = out, .K = (int)het_shape_count(&g->blobs[l->bottom[0]].shape), .c0 = c0,
                .c1 = c1};
    j.n_tasks = cpu_n_tasks(cx, (long)(c1 - c0) * j.K, 65536);
    if (j.n_tasks > c1 - c0) j.n_tasks = c1 - c0;
    het_pool_parallel(cx->pool, fc_task, &j, j.n_tasks);
    return HET_OK;
}
