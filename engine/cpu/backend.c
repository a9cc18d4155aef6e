// backend.c: the CPU backend's ops table and kernel registry.
#define _GNU_SOURCE
#include "cpu_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

// The kernel table: one entry per registered layer kind. A missing entry
// would mean "unsupported on the CPU"; the static assert in build.c keeps
// the registry and this table the same length.
static const cpu_kernel kernels[HET_LAYER_COUNT] = {
    [HET_LAYER_CONV] = {.prepare = conv_prepare, .run = conv_run},
    [HET_LAYER_POOL] = {.run = pool_run},
    [HET_LAYER_RELU] = {.run = relu_run},
    [HET_LAYER_LRN] = {.run = lrn_run},
    [HET_LAYER_CONCAT] = {.run = concat_run},
    [HET_LAYER_ELTWISE] = {.run = eltwise_run},
    [HET_LAYER_FC] = {.run = fc_run},
    [HET_LAYER_SOFTMAX] = {.run = softmax_run},
    [HET_LAYER_DROPOUT] = {.run = copy_run},
    [HET_LAYER_BATCHNORM] = {.prepare = batchnorm_prepare, .run = batchnorm_run},
    [HET_LAYER_SCALE] = {.run = scale_run},
    [HET_LAYER_FLATTEN] = {.run = copy_run},
};

void cpu_state_free(void *state) { het_free_aligned(state); }

int cpu_n_tasks(const cpu_ctx *cx, long n, long min_work)
{
    if (cx->n_threads <= 1 || n <= min_work) return 1;
    long t = n / min_work;
    long cap = 4L * cx->n_threads;
    return (int)(t < cap ? t : cap);
}

static void cpu_destroy(het_backend *be)
{
    cpu_ctx *cx = be->ctx;
    if (cx) {
        for (int i = 0; i < cx->n_layers; i++) cpu_state_free(cx->state[i]);
        free(cx->state);
        free(cx->prepared);
        het_pool_destroy(cx->pool);
        free(cx);
    }
    free(be);
}

static bool cpu_supports(const het_backend *be, const het_graph *g, const het_layer *l)
{
    (void)be;
    (void)g;
    return (unsigned)l->kind < HET_LAYER_COUNT && kernels[l->kind].run != NULL;
}

// Per-layer state is indexed by layer id; the first prepare fixes the graph.
static het_status cpu_prepare(het_backend *be, const het_graph *g, const het_layer *l)
{
    cpu_ctx *cx = be->ctx;
    het_status gst = het_backend_check_graph(be, cx->graph, g);
    if (gst != HET_OK) return gst;
    if (!cx->graph) {
        cx->state = calloc((size_t)g->n_layers, sizeof(void *));
        cx->prepared = calloc((size_t)g->n_layers, sizeof(bool));
        if (!cx->state || !cx->prepared) return HET_E_NOMEM;
        cx->n_layers = g->n_layers;
        cx->graph = g;
    }
    if (!cpu_supports(be, g, l)) {
        het_log(HET_LOG_ERROR, "cpu backend: layer '%s' of type %s is not supported", l->name, het_layer_kind_name(l->kind));
        return HET_E_UNSUPPORTED;
    }
    if (cx->prepared[l->id]) return HET_OK;
    const cpu_kernel *k = &kernels[l->kind];
    if (k->prepare) {
        het_status st = k->prepare(cx, g, l, &cx->state[l->id]);
        if (st != HET_OK) return st;
    }
    cx->prepared[l->id] = true;
    return HET_OK;
}

static het_status cpu_run(het_backend *be, const het_graph *g, const het_layer *l, const het_blob_data *blobs,
                          int c0, int c1)
{
    cpu_ctx *cx = be->ctx;
    het_status st = het_backend_check_run(be, cx->graph == g && cx->prepared[l->id], g, l, c0, c1);
    if (st != HET_OK) return st;
    float *in[HET_MAX_BOTTOMS];
    for (int i = 0; i < l->n_bottom; i++) in[i] = blobs[l->bottom[i]].host;
    float *out = blobs[l->top[0]].host;
    return kernels[l->kind].run(cx, g, l, cx->state[l->id], in, out, c0, c1);
}

static het_status cpu_run_with_relu(het_backend *be, const het_graph *g, const het_layer *conv,
                                    const het_layer *relu, const het_blob_data *blobs, int c0, int c1)
{
    cpu_ctx *cx = be->ctx;
    het_status fst = het_backend_check_fuse(be, conv, relu);
    if (fst != HET_OK) return fst;
    cx->relu = true;
    cx->relu_slope = relu->p.relu.negative_slope;
    het_status st = cpu_run(be, g, conv, blobs, c0, c1);
    cx->relu = false;
    return st;
}

static void cpu_pin_thread(het_backend *be)
{
    cpu_ctx *cx = be->ctx;
    het_pool_pin_caller(cx->pool);
}

typedef struct copy_job {
    float *dst;
    const float *src;
    size_t n;
    int n_tasks;
} copy_job;

static void copy_task(void *ctx, int task, int worker)
{
    (void)worker;
    const copy_job *j = ctx;
    // Chunks of whole 64-byte lines, so no two tasks share one.
    size_t per = ((j->n + (size_t)j->n_tasks - 1) / (size_t)j->n_tasks + 15) & ~(size_t)15;
    size_t a = (size_t)task * per, b = a + per < j->n ? a + per : j->n;
    if (a < b) memcpy(j->dst + a, j->src + a, (b - a) * sizeof(float));
}

static void cpu_host_copy(het_backend *be, float *dst, const float *src, size_t n)
{
    cpu_ctx *cx = be->ctx;
    copy_job j = {dst, src, n, cpu_n_tasks(cx, (long)n, 16384)};
    het_pool_parallel(cx->pool, copy_task, &j, j.n_tasks);
}

static const struct het_backend_ops cpu_ops = {
    .api_version = HET_BACKEND_API,
    .name = "cpu",
    .destroy = cpu_destroy,
    .supports = cpu_supports,
    .prepare = cpu_prepare,
    .run = cpu_run,
    .sync = NULL,
    .run_with_relu = cpu_run_with_relu,
    .pin_thread = cpu_pin_thread,
    .host_copy = cpu_host_copy,
};

het_status het_cpu_backend_create(const het_cpu_cfg *cfg, het_backend **be_out)
{
    het_cpu_cfg def = {0};
    if (!cfg) cfg = &def;
    het_backend *be = calloc(1, sizeof *be);
    cpu_ctx *cx = calloc(1, sizeof *cx);
    if (!be || !cx) {
        free(be);
        free(cx);
        return HET_E_NOMEM;
    }
    be->ops = &cpu_ops;
    be->ctx = cx;
    int n = cfg->n_threads;
    if (n <= 0) n = cfg->n_cores > 0 ? cfg->n_cores : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0) n = 1;
    cx->n_threads = n;
    // OpenBLAS picks its kernels from the CPU model at load time; on a VM
    // whose model it does not know it may fall back to much slower ones, so
    // the choice is part of every result's description.
    const char *core = openblas_get_corename();
    snprintf(be->desc, sizeof be->desc, "cpu: %d thread%s%s, OpenBLAS %s", n, n == 1 ? "" : "s",
             cfg->cores && cfg->n_cores ? ", pinned" : "", core);
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    // Seen on the GPU machine: OpenBLAS 0.3.21 did not know its CPU model and
    // ran SSE3 ("Prescott") kernels, 4x slower than its AVX-512 ones.
    if (core && (!strcmp(core, "Prescott") || !strcmp(core, "Core2") || !strcmp(core, "Nehalem") ||
                 !strcmp(core, "Atom")) && __builtin_cpu_supports("avx2"))
        het_log(HET_LOG_WARN, "OpenBLAS chose its %s kernels on a CPU with AVX2%s: GEMMs will be several times slower; "
                "use a newer OpenBLAS or set OPENBLAS_CORETYPE (e.g. SkylakeX)", core,
                __builtin_cpu_supports("avx512f") ? " and AVX-512" : "");
#endif
    // het parallelises GEMMs itself (tiles across its own pinned pool), so
    // OpenBLAS must not start threads of its own that would fight for the
    // same cores.
    openblas_set_num_threads(1);
    // How long idle workers spin before they sleep: a sleeping worker costs
    // the next layer a wake-up, a spinning one a core's power.
    int spin_us = cfg->spin_us;
    het_status st0;
    if ((st0 = het_cpu_conv_path(cfg->conv, &cx->conv_force, &cx->conv_max_vw)) != HET_OK) {
        het_backend_destroy(be);
        return st0;
    }
    het_status st = het_pool_create(n, cfg->cores, cfg->n_cores, spin_us, &cx->pool);
    if (st != HET_OK) {
        het_backend_destroy(be);
        return st;
    }
    *be_out = be;
    return HET_OK;
}

