// measure.c: the timing primitives of hetprof (measure.h).
#define _GNU_SOURCE
#include "measure.h"

#include "het/exec.h"
#include "het/plan.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct het_prof {
    const het_graph *g;
    het_backend *be[2];
    het_workspace *ws, *busy_ws;
    het_rep_policy policy;
    const volatile sig_atomic_t *stop;
    float **saved; // per blob: its value after the reference run (in-place tops only)
    // The busy loop of co-run measurements.
    pthread_t busy_thread;
    bool busy_running;
    int busy_dev;
    atomic_int busy_stop;
    het_status busy_status;
    atomic_long busy_runs;
    atomic_int busy_exited; // the loop ended (stopped, or an error)
    // The GPU streaming images as an image-parallel plan runs it
    // (stream_sample), made at its first use.
    het_plan *stream_plan;
    het_stream *stream;
    float *stream_in;
    int stream_images;
};

static het_backend *gpu_of(het_prof *p) { return p->be[HET_DEV_GPU]; }

static het_status gpu_sync(het_prof *p)
{
    het_backend *gpu = gpu_of(p);
    return gpu && gpu->ops->sync ? gpu->ops->sync(gpu) : HET_OK;
}

static int channels(const het_graph *g, int blob) { return g->blobs[blob].shape.c; }

// Uploads every blob (whole), so that any layer finds its inputs on the GPU.
static het_status upload_all(het_prof *p, het_workspace *ws)
{
    het_backend *gpu = gpu_of(p);
    for (int b = 0; gpu && b < p->g->n_blobs; b++) {
        het_status st = gpu->ops->to_device(gpu, p->g, het_workspace_table(ws), b, 0, channels(p->g, b));
        if (st != HET_OK) return st;
    }
    return HET_OK;
}

het_status het_prof_create(const het_graph *g, het_backend *cpu, het_backend *gpu, bool corun, uint64_t seed,
                           const het_rep_policy *policy, const volatile sig_atomic_t *stop, het_prof **out)
{
    if (!cpu && !gpu) return HET_E_INVALID;
    if (gpu && (!gpu->ops->to_device || !gpu->ops->to_host)) {
        het_log(HET_LOG_ERROR, "the %s backend cannot transfer blobs", gpu->ops->name);
        return HET_E_UNSUPPORTED;
    }
    het_prof *p = calloc(1, sizeof *p);
    if (!p) return HET_E_NOMEM;
    p->g = g;
    p->be[HET_DEV_CPU] = cpu;
    p->be[HET_DEV_GPU] = gpu;
    p->policy = *policy;
    p->stop = stop;
    // In the GPU's host memory, as hetrun's workspaces: transfers are
    // measured as the plans will pay them.
    het_status st = het_workspace_create_for(g, gpu, &p->ws);
    if (st == HET_OK && gpu) st = het_exec_bind(gpu, g, p->ws);
    if (st == HET_OK && corun && cpu && gpu) {
        st = het_workspace_create_for(g, gpu, &p->busy_ws);
        if (st == HET_OK) st = het_exec_bind(gpu, g, p->busy_ws);
        if (st == HET_OK) het_exec_synthetic_inputs(g, p->busy_ws, seed);
    }
    if (st != HET_OK) goto fail;
    // One reference run gives every blob a realistic value (the data a
    // layer sees decides nothing for dense kernels, but NaNs or denormals
    // would), then everything goes to the GPU.
    het_exec_synthetic_inputs(g, p->ws, seed);
    het_backend *ref = cpu ? cpu : gpu;
    het_prof_pin(p, cpu ? HET_DEV_CPU : HET_DEV_GPU);
    if ((st = het_exec_run_single(ref, g, p->ws, NULL)) != HET_OK) goto fail;
    if (!cpu) {
        for (int b = 0; b < g->n_blobs && st == HET_OK; b++) st = het_exec_fetch(gpu, g, p->ws, b);
        if (st != HET_OK) goto fail;
    }
    if ((st = upload_all(p, p->ws)) != HET_OK || (st = gpu_sync(p)) != HET_OK) goto fail;
    if (!(p->saved = calloc((size_t)g->n_blobs, sizeof *p->saved))) goto oom;
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        int b = l->top[0];
        if (!l->in_place || p->saved[b]) continue;
        size_t bytes = het_shape_count(&g->blobs[b].shape) * sizeof(float);
        if (!(p->saved[b] = malloc(bytes))) goto oom;
        memcpy(p->saved[b], het_workspace_blob(p->ws, b), bytes);
    }
    *out = p;
    return HET_OK;
oom:
    st = HET_E_NOMEM;
    het_log(HET_LOG_ERROR, "hetprof: out of memory for the measuring workspace of '%s'", g->name);
fail:
    het_prof_destroy(p);
    return st;
}

void het_prof_destroy(het_prof *p)
{
    if (!p) return;
    if (p->busy_running) het_prof_busy_stop(p, NULL);
    for (int b = 0; p->saved && b < p->g->n_blobs; b++) free(p->saved[b]);
    free(p->saved);
    het_workspace_destroy(p->busy_ws);
    het_workspace_destroy(p->ws);
    het_stream_destroy(p->stream);
    het_plan_destroy(p->stream_plan);
    het_host_free(gpu_of(p), p->stream_in);
    free(p);
}

void het_prof_pin(het_prof *p, int dev)
{
    het_backend *be = p->be[dev];
    if (be && be->ops->pin_thread) be->ops->pin_thread(be);
}

// Puts an in-place layer's blob back to its reference value wherever the
// next repetition reads it (untimed).
static het_status restore(het_prof *p, const het_layer *l, bool on_gpu)
{
    int b = l->top[0];
    if (!l->in_place || !p->saved[b]) return HET_OK;
    memcpy(het_workspace_blob(p->ws, b), p->saved[b], het_shape_count(&p->g->blobs[b].shape) * sizeof(float));
    if (!on_gpu) return HET_OK;
    het_backend *gpu = gpu_of(p);
    return gpu->ops->to_device(gpu, p->g, het_workspace_table(p->ws), b, 0, channels(p->g, b));
}

static het_status run_part(het_prof *p, int dev, const het_layer *l, const het_layer *relu, int c0, int c1)
{
    het_backend *be = p->be[dev];
    const het_blob_data *t = het_workspace_table(p->ws);
    return relu ? be->ops->run_with_relu(be, p->g, l, relu, t, c0, c1) : be->ops->run(be, p->g, l, t, c0, c1);
}

typedef struct layer_job {
    het_prof *p;
    const het_layer *l, *relu;
    int dev, k, C;            // split: [0, k) CPU, [k, C) GPU; alone: [k, C) on dev
    bool split;
    bool merge_on_gpu;        // split: the CPU's channels go to the GPU, not the GPU's to the host
    double *compute;          // split: compute-only samples; GPU alone: issue-only samples
    int n_compute, cap_compute;
} layer_job;

static het_status rep_layer(void *ctx, double *ms)
{
    layer_job *j = ctx;
    het_prof *p = j->p;
    bool gpu_reads = j->split || j->dev == HET_DEV_GPU;
    het_status st = restore(p, j->l, gpu_reads);
    if (st != HET_OK) return st;
    uint64_t t0 = het_now_ns();
    if (!j->split) {
        st = run_part(p, j->dev, j->l, j->relu, j->k, j->C);
        uint64_t t1 = het_now_ns(); // issued: the host's part of a GPU layer
        if (st == HET_OK && j->dev == HET_DEV_GPU) st = gpu_sync(p);
        *ms = (het_now_ns() - t0) / 1e6;
        if (j->n_compute < j->cap_compute) j->compute[j->n_compute++] = (t1 - t0) / 1e6;
        return st;
    }
    // GPU part first (asynchronous), the CPU part while it runs, then the
    // GPU's channels back to the host: the merge.
    st = run_part(p, HET_DEV_GPU, j->l, j->relu, j->k, j->C);
    het_backend *gpu = gpu_of(p);
    if (st == HET_OK && gpu->ops->flush_workspace) st = gpu->ops->flush_workspace(gpu, het_workspace_table(p->ws));
    if (st == HET_OK) st = run_part(p, HET_DEV_CPU, j->l, j->relu, 0, j->k);
    const het_blob_data *t = het_workspace_table(p->ws);
    uint64_t t1;
    if (j->merge_on_gpu) {
        // As the executor merges for a consumer on the GPU: the CPU's
        // channels uploaded while the GPU may still compute its own, so
        // `compute` stops at the CPU part.
        t1 = het_now_ns();
        if (st == HET_OK) st = gpu->ops->to_device(gpu, p->g, t, j->l->top[0], 0, j->k);
        if (st == HET_OK) st = gpu_sync(p);
    } else {
        if (st == HET_OK) st = gpu_sync(p);
        t1 = het_now_ns();
        if (st == HET_OK) st = gpu->ops->to_host(gpu, p->g, t, j->l->top[0], j->k, j->C);
    }
    *ms = (het_now_ns() - t0) / 1e6;
    if (j->n_compute < j->cap_compute) j->compute[j->n_compute++] = (t1 - t0) / 1e6;
    return st;
}

static const het_layer *fused_relu(const het_prof *p, const het_layer *l, bool fused, int dev)
{
    if (!fused) return NULL;
    const het_layer *r = het_exec_fusable_relu(p->g, l);
    if (!r) return NULL;
    // A backend without the fused path runs the two apart (as executors do).
    for (int d = 0; d < 2; d++)
        if ((dev < 0 || d == dev) && p->be[d] && !p->be[d]->ops->run_with_relu) return NULL;
    return r;
}

// The statistics of a job's side samples (split: compute only; GPU layer:
// issue only), taken at every repetition: the first run apart, and the
// last `n_timed`, the repetitions het_measure timed.
static void side_stats(const het_prof *p, layer_job *j, int n_timed, het_stats *out)
{
    out->first = j->compute[0];
    het_stats_compute(j->compute + (j->n_compute - n_timed), n_timed, p->policy.ci_target, out);
}

// Room for a sample of every repetition, first run and warm-up included.
static int rep_capacity(const het_prof *p)
{
    return 1 + p->policy.warmup + (p->policy.max_reps > p->policy.min_reps ? p->policy.max_reps : p->policy.min_reps);
}

het_status het_prof_layer(het_prof *p, int layer, int dev, bool fused, het_stats *out, het_stats *issue)
{
    return het_prof_part(p, layer, dev, fused, 0, het_layer_out_channels(p->g, &p->g->layers[layer]), out, issue);
}

het_status het_prof_part(het_prof *p, int layer, int dev, bool fused, int c0, int c1, het_stats *out,
                         het_stats *issue)
{
    if (layer < 0 || layer >= p->g->n_layers || !p->be[dev]) return HET_E_INVALID;
    const het_layer *l = &p->g->layers[layer];
    int C = het_layer_out_channels(p->g, l);
    if (c0 < 0 || c1 > C || c0 >= c1 || ((c0 > 0 || c1 < C) && !het_layer_kind_splittable(l->kind)))
        return HET_E_INVALID;
    layer_job j = {.p = p, .l = l, .relu = fused_relu(p, l, fused, dev), .dev = dev, .k = c0, .C = c1};
    if (fused && !j.relu) return HET_E_INVALID;
    if (issue) {
        j.cap_compute = rep_capacity(p);
        if (!(j.compute = malloc((size_t)j.cap_compute * sizeof *j.compute))) return HET_E_NOMEM;
    }
    het_status st = het_measure(&p->policy, rep_layer, &j, p->stop, out);
    if (st == HET_OK && issue) side_stats(p, &j, out->n, issue);
    free(j.compute);
    return st;
}

het_status het_prof_split(het_prof *p, int layer, bool fused, double ratio, het_stats *wall, het_stats *compute)
{
    if (layer < 0 || layer >= p->g->n_layers) return HET_E_INVALID;
    int C = het_layer_out_channels(p->g, &p->g->layers[layer]);
    return het_prof_split_at(p, layer, fused, het_split_cpu_channels(C, (float)ratio), false, wall, compute);
}

het_status het_prof_split_at(het_prof *p, int layer, bool fused, int k, bool merge_on_gpu, het_stats *wall,
                             het_stats *compute)
{
    if (layer < 0 || layer >= p->g->n_layers || !p->be[0] || !p->be[1]) return HET_E_INVALID;
    const het_layer *l = &p->g->layers[layer];
    int C = het_layer_out_channels(p->g, l);
    layer_job j = {.p = p, .l = l, .relu = fused_relu(p, l, fused, -1), .split = true, .C = C, .k = k,
                   .merge_on_gpu = merge_on_gpu};
    if ((fused && !j.relu) || j.k <= 0 || j.k >= C || !het_layer_kind_splittable(l->kind))
        return HET_E_INVALID; // not a split
    // Every repetition (first run and warm-up included) may add a sample.
    j.cap_compute = rep_capacity(p);
    if (!(j.compute = malloc((size_t)j.cap_compute * sizeof *j.compute))) return HET_E_NOMEM;
    het_status st = het_measure(&p->policy, rep_layer, &j, p->stop, wall);
    if (st == HET_OK) side_stats(p, &j, wall->n, compute);
    free(j.compute);
    return st;
}

typedef struct xfer_job {
    het_prof *p;
    int blob, channels;
    bool to_gpu;
} xfer_job;

// The executor moves a blob after computing something else, not right after
// another transfer, and a driver may have let its threads sleep meanwhile:
// PoCL on the build machine moved a blob in 0.05 ms back to back and in
// 0.17-0.22 ms after 0.3-1 ms of host work, which is what the executor
// saw (0.10-0.16 ms). So each repetition first keeps the host busy, as a
// layer would, for this long (untimed).
#define XFER_IDLE_NS 500000

// A GPU that waits on a layer hands back after a whole stage or branch of
// host work, usually milliseconds: long enough for PoCL's threads to sleep.
#define HANDOFF_IDLE_NS 5000000

static void host_work(uint64_t ns)
{
    for (uint64_t until = het_now_ns() + ns; het_now_ns() < until;) {
    }
}

static het_status rep_xfer(void *ctx, double *ms)
{
    xfer_job *j = ctx;
    het_backend *gpu = gpu_of(j->p);
    const het_blob_data *t = het_workspace_table(j->p->ws);
    host_work(XFER_IDLE_NS);
    uint64_t t0 = het_now_ns();
    het_status st = j->to_gpu ? gpu->ops->to_device(gpu, j->p->g, t, j->blob, 0, j->channels)
                              : gpu->ops->to_host(gpu, j->p->g, t, j->blob, 0, j->channels);
    *ms = (het_now_ns() - t0) / 1e6;
    return st;
}

static het_status rep_layer_after_host(void *ctx, double *ms)
{
    host_work(HANDOFF_IDLE_NS);
    return rep_layer(ctx, ms);
}

het_status het_prof_handoff(het_prof *p, int layer, double *ms)
{
    if (!gpu_of(p) || layer < 0 || layer >= p->g->n_layers) return HET_E_INVALID;
    const het_layer *l = &p->g->layers[layer];
    layer_job j = {.p = p, .l = l, .dev = HET_DEV_GPU, .C = het_layer_out_channels(p->g, l)};
    het_stats warm, cold;
    het_status st = het_prof_layer(p, layer, HET_DEV_GPU, false, &warm, NULL);
    if (st == HET_OK) st = het_measure(&p->policy, rep_layer_after_host, &j, p->stop, &cold);
    if (st != HET_OK) return st;
    *ms = cold.median > warm.median ? cold.median - warm.median : 0.0;
    return HET_OK;
}

het_status het_prof_transfer(het_prof *p, int blob, bool to_gpu, int n_channels, het_stats *out)
{
    if (!gpu_of(p) || n_channels < 1 || n_channels > channels(p->g, blob)) return HET_E_INVALID;
    xfer_job j = {.p = p, .blob = blob, .channels = n_channels, .to_gpu = to_gpu};
    return het_measure(&p->policy, rep_xfer, &j, p->stop, out);
}

typedef struct net_job {
    het_prof *p;
    int dev;
    double *ms;         // per repetition, first run and warm-up included
    uint64_t *unit_ns;  // the same, n_layers each (per-unit timing), or NULL
    int n_reps, cap_reps;
} net_job;

static het_status rep_net(void *ctx, double *ms)
{
    net_job *j = ctx;
    const het_graph *g = j->p->g;
    het_backend *be = j->p->be[j->dev];
    uint64_t t0 = het_now_ns();
    het_status st;
    if (j->unit_ns && j->n_reps < j->cap_reps)
        st = het_exec_run_units(be, g, j->p->ws, j->unit_ns + (size_t)j->n_reps * g->n_layers);
    else
        st = het_exec_run_single(be, g, j->p->ws, NULL);
    *ms = (het_now_ns() - t0) / 1e6;
    if (j->n_reps < j->cap_reps) j->ms[j->n_reps++] = *ms;
    return st;
}

typedef struct alone_job {
    const het_graph *g;
    het_backend *be;
    het_workspace *ws;
} alone_job;

static het_status rep_alone(void *ctx, double *ms)
{
    alone_job *j = ctx;
    uint64_t t0 = het_now_ns();
    het_status st = het_exec_run_single(j->be, j->g, j->ws, NULL);
    *ms = (het_now_ns() - t0) / 1e6;
    return st;
}

het_status het_prof_network_alone(het_prof *p, het_backend *be, het_stats *out)
{
    const het_graph *g = p->g;
    het_workspace *ws = NULL;
    het_status st = het_workspace_create(g, &ws);
    if (st == HET_OK) st = het_exec_prepare(be, g);
    if (st == HET_OK) {
        // The context's own image: its first blob values are the seeded ones.
        for (int k = 0; k < g->n_inputs; k++)
            memcpy(het_workspace_blob(ws, g->inputs[k]), het_workspace_blob(p->ws, g->inputs[k]),
                   het_shape_count(&g->blobs[g->inputs[k]].shape) * sizeof(float));
        if (be->ops->pin_thread) be->ops->pin_thread(be);
        alone_job j = {g, be, ws};
        st = het_measure(&p->policy, rep_alone, &j, p->stop, out);
        het_prof_pin(p, HET_DEV_CPU); // back where the sweep's CPU work is driven from
    }
    het_workspace_destroy(ws);
    return st;
}

#define STREAM_MAX_IMAGES 48
#define STREAM_TARGET_MS 60.0
#define STREAM_SAMPLES 3 // per burst

// The GPU streaming images, as an image-parallel plan's GPU lane runs
// them: on a device that runs images at once, the next image issued before
// the lane waits for the current one, two in flight (stream.c, lane_ahead);
// elsewhere image by image. On the H100 machine that ran
// GoogLeNet and SqueezeNet v1.0 1.4x faster than image by image, so the
// whole network's time alone would misprice image-parallel plans.
// `latency_ms`, the network's time image by image, sizes each stream to
// take about 60 ms (4 to 48 images): the first image issued has nothing to
// overlap, and in streams of 16 that alone made SqueezeNet v1.1's stream
// 7% slower than its network on the H100 machine, where 100 images in
// hetrun ran 2% faster. One sample: ms an image.
static het_status stream_sample(het_prof *p, double latency_ms, double *ms)
{
    const het_graph *g = p->g;
    het_status st = HET_OK;
    if (!p->stream) {
        int n = latency_ms > 0 ? (int)ceil(STREAM_TARGET_MS / latency_ms) : STREAM_MAX_IMAGES;
        p->stream_images = n < 4 ? 4 : (n > STREAM_MAX_IMAGES ? STREAM_MAX_IMAGES : n);
        size_t count = het_shape_count(&g->blobs[g->inputs[0]].shape);
        p->stream_in = het_host_alloc(gpu_of(p), (size_t)p->stream_images * count * sizeof(float));
        if (!p->stream_in) return HET_E_NOMEM;
        // The seeded image of the reference run, for every image: what
        // the GPU computes on does not change its speed.
        for (int i = 0; i < p->stream_images; i++)
            memcpy(p->stream_in + (size_t)i * count, het_workspace_blob(p->ws, g->inputs[0]), count * sizeof(float));
        st = het_plan_single(g, true, &p->stream_plan);
        if (st == HET_OK) {
            p->stream_plan->mode = HET_MODE_IMAGE_PARALLEL;
            st = het_stream_create(g, p->stream_plan, NULL, gpu_of(p), &p->stream);
        }
        if (st == HET_OK) st = het_stream_warm(p->stream, p->stream_in);
        if (st != HET_OK) return st;
    }
    het_stream_report rep;
    st = het_stream_run(p->stream, p->stream_images, p->stream_in, g->outputs[0], NULL, &rep);
    if (st != HET_OK) return st;
    *ms = rep.wall_ms / p->stream_images;
    het_stream_report_free(&rep);
    return HET_OK;
}

// n stream samples (stream_sample) into s[], and their median into *median.
static het_status stream_samples(het_prof *p, double latency_ms, int n, double *s, double *median)
{
    for (int k = 0; k < n; k++) {
        het_status st = stream_sample(p, latency_ms, &s[k]);
        if (st != HET_OK) return st;
    }
    double sorted[HET_NET_STREAM_CAP];
    int m = n < HET_NET_STREAM_CAP ? n : HET_NET_STREAM_CAP;
    memcpy(sorted, s, (size_t)m * sizeof *s); // het_stats_compute sorts what it is given
    het_stats x = {0};
    het_stats_compute(sorted, m, p->policy.ci_target, &x);
    *median = x.median;
    return HET_OK;
}

het_status het_prof_network_burst(het_prof *p, int dev, bool units, het_net_acc *acc)
{
    if (!p->be[dev] || (acc->bursts > 0 && (acc->dev != dev || acc->units != units))) return HET_E_INVALID;
    const het_graph *g = p->g;
    net_job j = {.p = p, .dev = dev, .cap_reps = rep_capacity(p)};
    j.ms = malloc((size_t)j.cap_reps * sizeof *j.ms);
    if (units) j.unit_ns = malloc((size_t)j.cap_reps * g->n_layers * sizeof *j.unit_ns);
    // Room for this burst's timed repetitions in the accumulator.
    int cap = acc->n + j.cap_reps;
    double *ms = j.ms ? realloc(acc->ms, (size_t)cap * sizeof *ms) : NULL;
    if (ms) acc->ms = ms;
    double *um = ms && units ? realloc(acc->unit_ms, (size_t)cap * g->n_layers * sizeof *um) : NULL;
    if (um) acc->unit_ms = um;
    if (!ms || (units && (!um || !j.unit_ns))) {
        free(j.ms);
        free(j.unit_ns);
        return HET_E_NOMEM;
    }
    het_stats burst;
    het_status st = het_measure(&p->policy, rep_net, &j, p->stop, &burst);
    if (st == HET_OK) {
        // The timed repetitions are the last burst.n.
        int first = j.n_reps - burst.n;
        if (acc->bursts == 0) {
            acc->first = burst.first;
            for (int i = 0; units && i < g->n_layers; i++) acc->unit_first[i] = j.unit_ns[i] / 1e6;
        }
        for (int r = first; r < j.n_reps; r++, acc->n++) {
            acc->ms[acc->n] = j.ms[r];
            for (int i = 0; units && i < g->n_layers; i++)
                acc->unit_ms[(size_t)acc->n * g->n_layers + i] = j.unit_ns[(size_t)r * g->n_layers + i] / 1e6;
        }
        acc->dev = dev;
        acc->units = units;
        if (acc->bursts < HET_NET_BURSTS_CAP) acc->burst_ms[acc->bursts] = burst.median;
        acc->bursts++;
    }
    // The GPU streaming, too (stream_sample).
    if (st == HET_OK && dev == HET_DEV_GPU) {
        double s[STREAM_SAMPLES], median;
        st = stream_samples(p, burst.median, STREAM_SAMPLES, s, &median);
        for (int k = 0; st == HET_OK && k < STREAM_SAMPLES && acc->n_stream < HET_NET_STREAM_CAP; k++)
            acc->stream_ms[acc->n_stream++] = s[k];
        if (st == HET_OK && acc->bursts <= HET_NET_BURSTS_CAP) acc->burst_stream_ms[acc->bursts - 1] = median;
    }
    acc->stream_images = p->stream_images;
    acc->stream_in_flight = het_stream_gpu_in_flight(gpu_of(p));
    free(j.ms);
    free(j.unit_ns);
    // The network overwrote blobs that later measurements read on the GPU.
    if (st == HET_OK && dev == HET_DEV_CPU) st = upload_all(p, p->ws);
    return st == HET_OK ? gpu_sync(p) : st;
}

het_status het_net_acc_stats(const het_prof *p, het_net_acc *acc, het_stats *out, het_stats *units, het_stats *stream)
{
    if (stream && acc->n_stream > 0) {
        het_stats_compute(acc->stream_ms, acc->n_stream, p->policy.ci_target, stream);
        stream->first = acc->stream_ms[0];
    }
    if (acc->n == 0 || (units && !acc->units)) return HET_E_STATE;
    const het_graph *g = p->g;
    double *col = malloc((size_t)acc->n * sizeof *col);
    if (!col) return HET_E_NOMEM;
    for (int r = 0; r < acc->n; r++) col[r] = acc->ms[r];
    out->first = acc->first;
    het_stats_compute(col, acc->n, p->policy.ci_target, out);
    for (int i = 0; units && i < g->n_layers; i++) {
        for (int r = 0; r < acc->n; r++) col[r] = acc->unit_ms[(size_t)r * g->n_layers + i];
        units[i].first = acc->unit_first[i];
        het_stats_compute(col, acc->n, p->policy.ci_target, &units[i]);
    }
    free(col);
    return HET_OK;
}

// max / min of v[0..n) (1 below two values or with one not above 0).
static double spread(const double *v, int n)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++) {
        if (!(v[i] > 0)) return 1.0;
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    return n >= 2 ? hi / lo : 1.0;
}

void het_net_acc_drift(const het_net_acc *acc, double *net, double *stream)
{
    int n = acc->bursts < HET_NET_BURSTS_CAP ? acc->bursts : HET_NET_BURSTS_CAP;
    *net = spread(acc->burst_ms, n);
    *stream = acc->n_stream > 0 ? spread(acc->burst_stream_ms, n) : 1.0;
}

het_status het_net_acc_init(const het_prof *p, het_net_acc *acc)
{
    *acc = (het_net_acc){.unit_first = calloc((size_t)p->g->n_layers, sizeof *acc->unit_first)};
    return acc->unit_first ? HET_OK : HET_E_NOMEM;
}

void het_net_acc_free(het_net_acc *acc)
{
    free(acc->ms);
    free(acc->unit_ms);
    free(acc->unit_first);
    *acc = (het_net_acc){0};
}

static void *busy_main(void *arg)
{
    het_prof *p = arg;
    het_backend *be = p->be[p->busy_dev];
    if (be->ops->pin_thread) be->ops->pin_thread(be);
    while (!atomic_load(&p->busy_stop)) {
        het_status st = het_exec_run_single(be, p->g, p->busy_ws, NULL);
        if (st != HET_OK) {
            p->busy_status = st;
            break;
        }
        atomic_fetch_add(&p->busy_runs, 1);
    }
    atomic_store(&p->busy_exited, 1);
    return NULL;
}

het_status het_prof_busy_start(het_prof *p, int dev)
{
    if (!p->busy_ws || p->busy_running || !p->be[dev]) return HET_E_STATE;
    p->busy_dev = dev;
    p->busy_status = HET_OK;
    atomic_store(&p->busy_runs, 0);
    atomic_store(&p->busy_exited, 0);
    atomic_store(&p->busy_stop, 0);
    if (pthread_create(&p->busy_thread, NULL, busy_main, p) != 0) {
        het_log(HET_LOG_ERROR, "hetprof: cannot start the co-run thread");
        return HET_E_NOMEM;
    }
    p->busy_running = true;
    // Under load from the first timed run on: once the loop has run a
    // whole network (a tiny network's measurement was over before the new
    // thread had run one).
    while (atomic_load(&p->busy_runs) == 0 && !atomic_load(&p->busy_exited) && !(p->stop && *p->stop))
        nanosleep(&(struct timespec){0, 100 * 1000}, NULL);
    return atomic_load(&p->busy_exited) ? het_prof_busy_stop(p, NULL) : HET_OK;
}

het_status het_prof_busy_stop(het_prof *p, long *runs)
{
    if (!p->busy_running) return HET_E_STATE;
    atomic_store(&p->busy_stop, 1);
    pthread_join(p->busy_thread, NULL);
    p->busy_running = false;
    if (runs) *runs = atomic_load(&p->busy_runs);
    return p->busy_status;
}

// The whole network on `dev` alone, then with the other device busy, in
// alternating rounds: the slowdown is the median of the rounds' ratios, so
// a machine whose speed drifts from minute to minute (shared hosts, PoCL
// switching speed mid-study) changes both sides of each ratio alike. The
// per-layer co-run rows compare with the layers phase instead, minutes
// earlier: on the build machine they put GoogLeNet's CPU at 1.51x under
// load and its PoCL at 0.89x (a speed-up), where the image-parallel
// replays ran at 97-100% of 1/T_cpu + 1/T_gpu.
//
// A GPU that runs images at once is timed streaming too, as image-parallel
// lanes and early-handing pipeline stages run it (stream_sample): a stream
// is limited by other things than one image (on the H100 machine, the host
// thread's issuing, ~7 us a kernel), so it may slow where one image does
// not. There, one image slowed 1.00x under the CPU's load and the stream
// 1.02-1.11x.
#define CORUN_STREAM_SAMPLES 3 // per side and round

// The median of CORUN_STREAM_SAMPLES stream samples (ms an image) into *ms.
static het_status stream_median(het_prof *p, double latency_ms, double *ms)
{
    double s[CORUN_STREAM_SAMPLES];
    return stream_samples(p, latency_ms, CORUN_STREAM_SAMPLES, s, ms);
}

het_status het_prof_corun_network(het_prof *p, int dev, int rounds, het_prof_corun *out)
{
    int other = 1 - dev;
    if (rounds < 1 || !p->be[dev] || !p->be[other] || !p->busy_ws || p->busy_running) return HET_E_INVALID;
    *out = (het_prof_corun){.stream_alone_ms = NAN, .stream_slowdown = NAN};
    bool stream = dev == HET_DEV_GPU && het_stream_gpu_in_flight(gpu_of(p)) > 1;
    int cap = rep_capacity(p);
    double *busy_ms = malloc((size_t)rounds * cap * sizeof *busy_ms), *ratio = malloc((size_t)rounds * sizeof *ratio),
           *alone = malloc((size_t)rounds * sizeof *alone), *s_ratio = malloc((size_t)rounds * sizeof *s_ratio),
           *s_alone = malloc((size_t)rounds * sizeof *s_alone);
    net_job j = {.p = p, .dev = dev, .cap_reps = cap, .ms = malloc((size_t)cap * sizeof *j.ms)};
    het_status st = busy_ms && ratio && alone && s_ratio && s_alone && j.ms ? HET_OK : HET_E_NOMEM;
    int n_busy = 0;
    for (int r = 0; st == HET_OK && r < rounds; r++) {
        het_stats a, b;
        double sa = NAN, sb = NAN;
        j.n_reps = 0;
        st = het_measure(&p->policy, rep_net, &j, p->stop, &a);
        if (st == HET_OK && stream) st = stream_median(p, a.median, &sa);
        if (st != HET_OK) break;
        if ((st = het_prof_busy_start(p, other)) != HET_OK) break;
        j.n_reps = 0;
        st = het_measure(&p->policy, rep_net, &j, p->stop, &b);
        if (st == HET_OK && stream) st = stream_median(p, a.median, &sb);
        long runs = 0;
        het_status bst = het_prof_busy_stop(p, &runs);
        if (st == HET_OK) st = bst;
        if (st != HET_OK) break;
        for (int k = j.n_reps - b.n; k < j.n_reps; k++) busy_ms[n_busy++] = j.ms[k];
        alone[r] = a.median;
        ratio[r] = b.median / a.median;
        s_alone[r] = sa;
        s_ratio[r] = sb / sa;
        out->busy_runs += runs;
        if (r == 0) out->busy.first = b.first;
    }
    if (st == HET_OK) {
        double first = out->busy.first;
        het_stats_compute(busy_ms, n_busy, p->policy.ci_target, &out->busy);
        out->busy.first = first;
        het_stats s = {0}; // het_stats_compute keeps its .first
        het_stats_compute(alone, rounds, p->policy.ci_target, &s);
        out->alone_ms = s.median;
        het_stats_compute(ratio, rounds, p->policy.ci_target, &s);
        out->slowdown = s.median;
        out->rounds = rounds;
        if (stream) {
            het_stats_compute(s_alone, rounds, p->policy.ci_target, &s);
            out->stream_alone_ms = s.median;
            het_stats_compute(s_ratio, rounds, p->policy.ci_target, &s);
            out->stream_slowdown = s.median;
        }
    }
    free(busy_ms);
    free(ratio);
    free(alone);
    free(s_ratio);
    free(s_alone);
    free(j.ms);
    // The CPU's network overwrote blobs that later measurements read on the GPU.
    if (st == HET_OK && dev == HET_DEV_CPU) st = upload_all(p, p->ws);
    return st == HET_OK ? gpu_sync(p) : st;
}

het_status het_prof_counters(het_prof *p, int layer, bool fused, het_counters *c, int n_events, int reps,
                             double *values)
{
    const het_layer *l = &p->g->layers[layer];
    const het_layer *relu = fused_relu(p, l, fused, HET_DEV_CPU);
    if (!p->be[HET_DEV_CPU] || (fused && !relu) || n_events > HET_MAX_EVENTS) return HET_E_INVALID;
    double sum[HET_MAX_EVENTS] = {0};
    int C = het_layer_out_channels(p->g, l);
    for (int r = 0; r < reps; r++) {
        long long v[HET_MAX_EVENTS];
        het_status st = restore(p, l, false);
        if (st == HET_OK) st = het_counters_start(c);
        if (st != HET_OK) return st;
        st = run_part(p, HET_DEV_CPU, l, relu, 0, C);
        het_status st2 = het_counters_stop(c, v);
        if (st != HET_OK) return st;
        if (st2 != HET_OK) return st2;
        for (int e = 0; e < n_events; e++) sum[e] += (double)v[e];
    }
    for (int e = 0; e < n_events; e++) values[e] = sum[e] / reps;
    return HET_OK;
}
