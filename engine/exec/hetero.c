// hetero.c: the executor for single-device, per-layer mapping and
// intra-layer split plans.
//
// Residence: for every blob and each device (0 host/CPU, 1 GPU), the
// channel interval [lo, hi) whose values are valid there. A layer first
// makes its inputs valid where it runs (only the missing interval moves:
// one contiguous transfer per side), runs, and marks its output interval
// valid where it ran and stale elsewhere. A split layer computes [0, k) on
// the CPU and [k, C) on the GPU; the merge is the one transfer that a later
// consumer needs, or none.
//
// Overlap: GPU work is enqueued asynchronously and awaited only when a
// transfer needs its result, so a split layer's CPU part, and CPU layers of
// branches independent of what the GPU is computing (a fire module's two
// expands, inception branches), run while the GPU works. With zero-copy
// buffers the GPU reads and writes het's host memory directly, so before the
// CPU writes or reads storage the GPU touched since the last sync, the GPU is
// synced (write-after-read and read-after-write through shared memory).
//
// Transfer times are measured after syncing the GPU, so that they do not
// include waiting for kernels.
#include "exec_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { DEV_CPU = 0, DEV_GPU = 1 };
enum { GPU_READ = 1, GPU_WROTE = 2 };

typedef struct residence {
    int lo[2], hi[2];
} residence;

struct het_hexec {
    const het_graph *g;
    const het_plan *p;
    het_backend *be[2];
    het_workspace *ws;
    residence *res;       // per blob
    unsigned char *gpu_touched; // per root blob since the last GPU sync: GPU_READ | GPU_WROTE (zero-copy hazards)
    bool gpu_pending;     // GPU work enqueued and not yet awaited
    bool gpu_unflushed;   // GPU work enqueued since the last flush or sync
    het_xfer_stats stats;
    het_fifo_lock *lock[2]; // per device, when several executors share the backends (streams)
};

static void lock_dev(het_hexec *x, int d)
{
    if (x->lock[d]) het_fifo_take(x->lock[d]);
}

static void unlock_dev(het_hexec *x, int d)
{
    if (x->lock[d]) het_fifo_give(x->lock[d]);
}

void het_hexec_set_locks(het_hexec *x, het_fifo_lock *cpu, het_fifo_lock *gpu)
{
    x->lock[DEV_CPU] = cpu;
    x->lock[DEV_GPU] = gpu;
}

static int channels(const het_graph *g, int blob) { return g->blobs[blob].shape.c; }

static het_status gpu_sync(het_hexec *x)
{
    if (!x->gpu_pending) return HET_OK;
    het_backend *gpu = x->be[DEV_GPU];
    het_status st = HET_OK;
    if (gpu->ops->sync_workspace) {
        // This image's queue only, and without the lock: other images'
        // stages keep enqueueing while this one waits.
        st = gpu->ops->sync_workspace(gpu, het_workspace_table(x->ws));
    } else if (gpu->ops->sync) {
        lock_dev(x, DEV_GPU);
        st = gpu->ops->sync(gpu);
        unlock_dev(x, DEV_GPU);
    }
    x->gpu_pending = x->gpu_unflushed = false;
    memset(x->gpu_touched, 0, (size_t)x->g->n_blobs);
    return st;
}

// Counts a move of channels [a, b) of `blob` to device `to` that took `ns`.
static void count_transfer(het_hexec *x, int blob, int to, int a, int b, uint64_t ns)
{
    const het_shape *s = &x->g->blobs[blob].shape;
    uint64_t bytes = (uint64_t)(b - a) * (het_shape_count(s) / (size_t)s->c) * sizeof(float);
    if (to == DEV_GPU) {
        x->stats.h2d_bytes += bytes, x->stats.h2d_ns += ns, x->stats.h2d_count++;
    } else {
        x->stats.d2h_bytes += bytes, x->stats.d2h_ns += ns, x->stats.d2h_count++;
    }
}

typedef het_status (*xfer_op)(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0,
                              int c1);

// Calls a transfer op of the GPU backend on channels [a, b) of `blob`,
// holding the GPU's lock unless the backend allows transfers beside other
// threads' calls; *ns: how long the call took.
static het_status xfer_call(het_hexec *x, xfer_op op, int blob, int a, int b, uint64_t *ns)
{
    het_backend *gpu = x->be[DEV_GPU];
    bool lock = !gpu->ops->concurrent_transfers;
    if (lock) lock_dev(x, DEV_GPU);
    uint64_t t0 = het_now_ns();
    het_status st = op(gpu, x->g, het_workspace_table(x->ws), blob, a, b);
    *ns = het_now_ns() - t0;
    if (lock) unlock_dev(x, DEV_GPU);
    return st;
}

// Moves channels [a, b) of `blob` to device `to` from the other device.
static het_status transfer(het_hexec *x, int blob, int to, int a, int b)
{
    het_status st = gpu_sync(x);
    if (st != HET_OK) return st;
    const struct het_backend_ops *ops = x->be[DEV_GPU]->ops;
    uint64_t dt;
    st = xfer_call(x, to == DEV_GPU ? ops->to_device : ops->to_host, blob, a, b, &dt);
    count_transfer(x, blob, to, a, b, dt);
    return st;
}

// Whether [a, b) of a blob is valid on `dev`.
static bool holds(const residence *r, int dev, int a, int b)
{
    return r->lo[dev] < r->hi[dev] && r->lo[dev] <= a && r->hi[dev] >= b;
}

// Adds [a, b) to what is valid on `dev`: the union when the intervals touch
// or overlap, else [a, b) alone (one interval per device is kept; losing the
// older piece only costs a transfer later, never correctness).
static void mark_valid(residence *r, int dev, int a, int b)
{
    bool overlaps = r->lo[dev] < r->hi[dev] && r->lo[dev] <= b && r->hi[dev] >= a;
    r->lo[dev] = overlaps && r->lo[dev] < a ? r->lo[dev] : a;
    r->hi[dev] = overlaps && r->hi[dev] > b ? r->hi[dev] : b;
}

// Makes [a, b) of `blob` valid on `dev`: moves what is missing from the
// other device (which must hold it), at most one interval on each side.
static het_status need(het_hexec *x, int blob, int dev, int a, int b)
{
    residence *r = &x->res[blob];
    if (holds(r, dev, a, b)) return HET_OK;
    int lo = r->lo[dev], hi = r->hi[dev];
    int other = 1 - dev;
    if (lo >= hi) lo = hi = a; // nothing valid here: treat as empty at a
    int parts[2][2] = {{a, lo < a ? a : (lo > b ? b : lo)}, {hi > b ? b : (hi < a ? a : hi), b}};
    if (lo >= b || hi <= a) parts[0][1] = b, parts[1][0] = b; // disjoint: move all of [a, b)
    for (int k = 0; k < 2; k++) {
        int pa = parts[k][0], pb = parts[k][1];
        if (pa >= pb) continue;
        if (!holds(r, other, pa, pb)) {
            het_log(HET_LOG_ERROR, "hetero executor: blob '%s' channels [%d, %d) are valid on no device",
                    x->g->blobs[blob].name, pa, pb);
            return HET_E_STATE;
        }
        het_status st = transfer(x, blob, dev, pa, pb);
        if (st != HET_OK) return st;
    }
    mark_valid(r, dev, a, b);
    return HET_OK;
}

// `dev` wrote [a, b) of `blob`: valid there, stale on the other device.
static void wrote(het_hexec *x, int blob, int dev, int a, int b)
{
    residence *r = &x->res[blob];
    mark_valid(r, dev, a, b);
    int o = 1 - dev, lo = r->lo[o], hi = r->hi[o];
    if (lo >= hi || hi <= a || lo >= b) return;
    // Keep the larger remaining piece of the other device's interval.
    int left = a - lo, right = hi - b;
    if (left <= 0 && right <= 0) r->lo[o] = r->hi[o] = 0;
    else if (left >= right) r->hi[o] = a;
    else r->lo[o] = b;
}

// Records that the GPU reads or writes the storage of `l`'s blobs until the
// next sync (zero-copy hazards).
static void gpu_touch(het_hexec *x, const het_layer *l)
{
    const het_blob_data *t = het_workspace_table(x->ws);
    x->gpu_pending = true;
    for (int i = 0; i < l->n_bottom; i++) x->gpu_touched[t[l->bottom[i]].root] |= GPU_READ;
    x->gpu_touched[t[l->top[0]].root] |= GPU_WROTE;
}

het_status het_hexec_flush(het_hexec *x)
{
    if (!x->gpu_unflushed) return HET_OK;
    het_backend *gpu = x->be[DEV_GPU];
    het_status st = gpu->ops->flush_workspace ? gpu->ops->flush_workspace(gpu, het_workspace_table(x->ws)) : HET_OK;
    x->gpu_unflushed = false;
    return st;
}

static het_status run_on(het_hexec *x, int dev, const het_layer *l, const het_layer *relu, int c0, int c1)
{
    het_backend *be = x->be[dev];
    const het_blob_data *t = het_workspace_table(x->ws);
    if (dev == DEV_CPU) {
        // The host is about to compute: start what the GPU has been given,
        // so that the two overlap (backend.h, flush_workspace).
        het_status st = het_hexec_flush(x);
        if (st != HET_OK) return st;
    }
    if (dev == DEV_CPU && x->gpu_pending) {
        // Zero-copy: the GPU may be reading or writing the same host memory.
        // Writing storage the GPU reads or writes, or reading storage it
        // writes; both only reading (branches of one input) is no hazard.
        bool hazard = x->gpu_touched[t[l->top[0]].root] != 0;
        for (int i = 0; i < l->n_bottom; i++) hazard |= (x->gpu_touched[t[l->bottom[i]].root] & GPU_WROTE) != 0;
        if (hazard) {
            het_status st = gpu_sync(x);
            if (st != HET_OK) return st;
        }
    }
    lock_dev(x, dev);
    het_status st = relu ? be->ops->run_with_relu(be, x->g, l, relu, t, c0, c1) : be->ops->run(be, x->g, l, t, c0, c1);
    unlock_dev(x, dev);
    if (dev == DEV_GPU) x->gpu_unflushed = true;
    return st;
}

het_status het_hexec_run(het_hexec *x) { return het_hexec_run_range(x, 0, x->g->n_layers, true, true, false); }

het_status het_hexec_sync(het_hexec *x) { return gpu_sync(x); }

het_status het_hexec_run_range(het_hexec *x, int first, int end, bool begin, bool finish, bool sync)
{
    const het_graph *g = x->g;
    if (begin) {
        for (int b = 0; b < g->n_blobs; b++) x->res[b] = (residence){{0, 0}, {0, 0}};
        for (int k = 0; k < g->n_inputs; k++) x->res[g->inputs[k]].hi[DEV_CPU] = channels(g, g->inputs[k]);
    }
    for (int i = first; i < end; i++) {
        const het_layer *l = &g->layers[i];
        int C = het_layer_out_channels(g, l);
        int k = het_plan_cpu_channels(x->p, g, i);
        // A following in-place ReLU with the same division runs as the
        // convolution's epilogue, as in the single-device executor.
        const het_layer *relu = het_exec_fusable_relu(g, l);
        if (relu && (relu->id >= end || het_plan_cpu_channels(x->p, g, relu->id) != k)) relu = NULL;
        for (int dev = 0; dev < 2; dev++) {
            bool runs = dev == DEV_CPU ? k > 0 : k < C;
            if (!runs) continue;
            if (relu && !x->be[dev]->ops->run_with_relu) relu = NULL;
            for (int b = 0; b < l->n_bottom; b++) {
                het_status st = need(x, l->bottom[b], dev, 0, channels(g, l->bottom[b]));
                if (st != HET_OK) return st;
            }
        }
        // GPU part first (asynchronous), then the CPU part while it runs.
        // The two parts write disjoint channels and only read the bottoms,
        // so the CPU part's hazard check looks at earlier GPU work only:
        // the GPU part's own touch is recorded after the CPU part is issued
        // (recorded before, it made every split wait for its GPU half).
        if (k < C) {
            het_status st = run_on(x, DEV_GPU, l, relu, k, C);
            if (st != HET_OK) return st;
            wrote(x, l->top[0], DEV_GPU, k, C);
        }
        if (k > 0) {
            het_status st = run_on(x, DEV_CPU, l, relu, 0, k);
            if (st != HET_OK) return st;
            wrote(x, l->top[0], DEV_CPU, 0, k);
        }
        if (k < C) gpu_touch(x, l);
        if (relu) i++;
    }
    for (int k = 0; finish && k < g->n_outputs; k++) {
        het_status st = het_hexec_fetch(x, g->outputs[k]);
        if (st != HET_OK) return st;
    }
    return finish || sync ? gpu_sync(x) : HET_OK;
}

// On the H100 machine, GoogLeNet's GPU | CPU pipeline moved three blobs
// to its CPU stage an image, each a read and a wait of ~0.13 ms while the
// GPU ran the next image (0.4 ms an image, against the 0.01-0.02 ms each
// the sweep's transfers take alone), on top of the wait for the image.
// The copy's time counted is its issue; the wait shows where the blob is
// used. The blob is marked as the GPU's writing (gpu_touched) until the
// next sync: the CPU waits before it reads it (run_on, het_hexec_fetch).
het_status het_hexec_prefetch_host(het_hexec *x, int first, int end)
{
    het_backend *gpu = x->be[DEV_GPU];
    if (!gpu || !gpu->ops->to_host_async) return HET_OK;
    const het_graph *g = x->g;
    const het_blob_data *t = het_workspace_table(x->ws);
    for (int i = first; i < end; i++) {
        const het_layer *l = &g->layers[i];
        if (het_plan_cpu_channels(x->p, g, i) == 0) continue;
        for (int k = 0; k < l->n_bottom; k++) {
            int blob = l->bottom[k], C = channels(g, blob);
            const residence *r = &x->res[blob];
            if (holds(r, DEV_CPU, 0, C) || !holds(r, DEV_GPU, 0, C)) continue; // need() moves any part as before
            uint64_t dt;
            het_status st = xfer_call(x, gpu->ops->to_host_async, blob, 0, C, &dt);
            if (st == HET_E_UNSUPPORTED) return HET_OK; // zero-copy: nothing to copy
            if (st != HET_OK) return st;
            count_transfer(x, blob, DEV_CPU, 0, C, dt);
            mark_valid(&x->res[blob], DEV_CPU, 0, C);
            x->gpu_touched[t[blob].root] |= GPU_WROTE;
            x->gpu_pending = x->gpu_unflushed = true;
        }
    }
    return HET_OK;
}

het_status het_hexec_fetch(het_hexec *x, int blob)
{
    if (!x->be[DEV_GPU]) return HET_OK;
    het_status st = need(x, blob, DEV_CPU, 0, channels(x->g, blob));
    if (st != HET_OK) return st;
    // Reading host memory the GPU may still write (zero-copy): wait.
    return x->gpu_touched[het_workspace_table(x->ws)[blob].root] & GPU_WROTE ? gpu_sync(x) : HET_OK;
}

void het_hexec_stats(const het_hexec *x, het_xfer_stats *out) { *out = x->stats; }

void het_xfer_stats_add(het_xfer_stats *sum, const het_xfer_stats *x)
{
    sum->h2d_bytes += x->h2d_bytes, sum->h2d_ns += x->h2d_ns, sum->h2d_count += x->h2d_count;
    sum->d2h_bytes += x->d2h_bytes, sum->d2h_ns += x->d2h_ns, sum->d2h_count += x->d2h_count;
}

void het_hexec_reset_stats(het_hexec *x) { memset(&x->stats, 0, sizeof x->stats); }

het_status het_hexec_create(const het_graph *g, const het_plan *p, het_backend *cpu, het_backend *gpu,
                            het_workspace *ws, het_hexec **x_out)
{
    if ((p->uses_cpu && !cpu) || (p->uses_gpu && !gpu)) {
        het_log(HET_LOG_ERROR, "the plan uses the %s, but no %s backend was given", p->uses_gpu && !gpu ? "GPU" : "CPU",
                p->uses_gpu && !gpu ? "GPU" : "CPU");
        return HET_E_INVALID;
    }
    if (gpu && (!gpu->ops->to_device || !gpu->ops->to_host)) {
        het_log(HET_LOG_ERROR, "the %s backend cannot transfer blobs", gpu->ops->name);
        return HET_E_UNSUPPORTED;
    }
    het_hexec *x = calloc(1, sizeof *x);
    if (!x) return HET_E_NOMEM;
    x->g = g;
    x->p = p;
    x->be[DEV_CPU] = cpu;
    x->be[DEV_GPU] = gpu;
    x->ws = ws;
    x->res = calloc((size_t)g->n_blobs, sizeof *x->res);
    x->gpu_touched = calloc((size_t)g->n_blobs, sizeof *x->gpu_touched);
    if (!x->res || !x->gpu_touched) {
        het_hexec_destroy(x);
        return HET_E_NOMEM;
    }
    *x_out = x;
    return HET_OK;
}

void het_hexec_destroy(het_hexec *x)
{
    if (!x) return;
    free(x->res);
    free(x->gpu_touched);
    free(x);
}
