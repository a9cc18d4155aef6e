// backend.c: the OpenCL backend: context, queue, buffers, transfers, and
// the enqueue code of every layer kind for an output-channel range.
//
// Buffers mirror the workspace: one device buffer per root blob, and every
// blob addressed as (root buffer, float offset) in kernel arguments, so
// zero-copy concats hold on the device too (sub-buffers would need offsets
// aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN, which channel offsets are not).
//
// Two buffer policies:
//   copy       device-only buffers; to_device/to_host are clEnqueueWrite/
//              ReadBuffer of the channel range (discrete GPUs);
//   zero-copy  buffers made with CL_MEM_USE_HOST_PTR over het's own 64-byte
//              aligned host blobs; to_device maps the range with
//              CL_MAP_WRITE_INVALIDATE_REGION and unmaps it (a no-op on
//              unified memory, an upload elsewhere), to_host maps it for
//              reading. USE_HOST_PTR rather than ALLOC_HOST_PTR keeps het the
//              owner and aligner of its host memory; drivers for unified
//              memory (PoCL, Mali, Adreno, Intel) use such memory in place.
//   coherent   zero-copy on a CPU-type device (PoCL): the device's memory is
//              the host's, behind the same coherent caches, so a transfer
//              needs no map: to_device is nothing and to_host waits for the
//              queue. Each map/unmap pair was a round trip through PoCL's
//              worker threads, 0.2-0.4 ms on the build machine when they
//              sleep, about what a split of SqueezeNet's conv10 saves. GPUs
//              with unified memory keep the maps: their drivers may do
//              cache maintenance there. That the driver uses het's memory in
//              place is checked once per buffer when a workspace is bound.
//              HET_CL_MAP_TRANSFERS=1 keeps the maps, for measuring both.
#define _GNU_SOURCE
#include "cl_impl.h"
#include "het/exec.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Tile sizes of conv_gemm (conv.cl); passed to the compiler as -D options.
#define CONV_TM 32
#define CONV_TN 32
#define CONV_TK 16
#define CONV_LX (CONV_TN / 4)
#define CONV_LY (CONV_TM / 4)
#define FC_WG 64
#define SM_WG 128 // softmax work-group (layers.cl)
// conv_pix (CPU-type devices): output channels per work-item, pixels per group.
#define PIX_MB 16
#define PIX_VW 16 // output columns per work-item (one float16)

typedef struct cl_layer_state {
    cl_mem a, b; // conv/fc: weights, bias; BatchNorm: folded scale, shift; Scale: gamma, beta
    int ldw;     // conv_pix: row length of the transposed weights [K][ldw]
} cl_layer_state;

enum { K_CONV, K_DW, K_FC, K_POOL, K_LRN, K_SOFTMAX, K_AFFINE, K_ELT, K_PIX, K_REDUCE, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"conv_gemm", "conv_depthwise", "fc",       "pool",
                                                  "lrn",       "softmax",        "affine",   "eltwise2",
                                                  "conv_pix",  "conv_reduce"};

typedef struct cl_ctx {
    cl_dev_info dev;
    cl_context ctx;
    cl_command_queue q0; // until a workspace is bound
    cl_command_queue q;  // the current call's: its workspace's queue
    cl_program prog;
    cl_kernel k[K_COUNT];
    cl_mem dummy;         // bound to unused pointer arguments
    bool zero_copy;
    bool coherent;        // zero-copy on a CPU-type device: transfers are synchronisation only
    bool conv_pix;        // convolution kernel: conv_pix (CPU-type devices) or conv_gemm
    int overlap_images;   // het_gpu_cfg.overlap_images: 1 yes, -1 no, 0 by device type
    int splitk_groups;    // conv_gemm: split K when a launch has fewer tiles than this (0: never)
    int cores[HET_MAX_CORES]; // --gpu-cores: where host threads working for this device belong
    int n_cores;
    const het_graph *graph;
    cl_layer_state *ls;
    bool *prepared;
    // Bound workspaces: device storage mirroring each, selected by table.
    // Each has its own in-order queue: work on one workspace stays ordered
    // (a transfer waits for the kernels that wrote its blob), while images
    // in flight in a pipeline do not wait for each other. With one queue,
    // a stage's blocking read of image i waited behind the kernels another
    // stage had already enqueued for image i+1: the stages ran in turn.
    int n_bind, cap_bind;
    struct cl_binding {
        const het_blob_data *blobs; // borrowed workspace table
        cl_mem *root_buf;           // per blob id, non-NULL for roots
        cl_command_queue q;
        atomic_bool pending;        // commands enqueued since its last finish (read by cl_sync_workspace unlocked)
        cl_mem part;                // split-K partial sums (conv_gemm), per queue: queues run at once
        size_t part_n;              // its size in floats
        unsigned gen;               // bumped when a buffer that launches may hold is replaced (part)
        struct cl_launches {        // per layer: its launches on this workspace (see launch_args)
            int n, cap;
            struct cl_launch *v;
        } *lay;
    } *bind;
    // Page-locked host memory given by cl_host_alloc: buffers made with
    // CL_MEM_ALLOC_HOST_PTR, kept mapped while the caller uses them.
    pthread_mutex_t pin_mu;
    bool pin_mu_ok;
    int n_pin, cap_pin;
    struct cl_pinned {
        void *user;   // what the caller got (64-byte aligned)
        void *mapped; // the mapping
        cl_mem buf;
    } *pin;
    bool launch_cache;   // launches keep their own kernels and arguments (het_gpu_cfg.no_launch_cache: off)
    int ord[K_COUNT];    // launches of each kernel issued so far by the current run call
    int cur;             // the current call's binding, -1: none (q0)
    bool q0_pending;
    // The binding of the current call (set by select_binding).
    const het_blob_data *blobs;
    cl_mem *root_buf;
} cl_ctx;

// Room for one more element in array `v` of n elements and *cap slots of
// `elem` bytes, grown by doubling from `first`: v itself, the moved array
// (*cap updated), or NULL where memory ran out (v untouched).
static void *room(void *v, int n, int *cap, int first, size_t elem)
{
    if (n < *cap) return v;
    int c = *cap ? 2 * *cap : first;
    void *nv = realloc(v, (size_t)c * elem);
    if (nv) *cap = c;
    return nv;
}

// ---- kernel arguments -------------------------------------------------------
//
// Every launch of a layer on a workspace has a kernel object of its own, its
// arguments set when first enqueued and again only where one changed (a
// split's channel range in a sweep, a regrown split-K buffer). A shared
// kernel per kind had all ~25 arguments set before every launch, and the
// host's time to issue an image is what a GPU streaming images runs at when
// its kernels are short (SqueezeNet on the H100: ~7 us per launch).

#define LAUNCH_ARGS 32

typedef struct cl_launch {
    int kind;
    cl_kernel k;
    unsigned gen; // the binding's gen when the values below were set
    struct {
        unsigned char size; // 0: not set
        unsigned char v[8];
    } arg[LAUNCH_ARGS];
} cl_launch;

typedef struct args {
    cl_kernel k;
    cl_launch *memo; // NULL: set every argument
    cl_uint i;
    cl_int err;
} args;

// Sets argument a->i unless the launch's kernel already holds that value.
static void a_set(args *a, size_t size, const void *v)
{
    cl_launch *m = a->memo;
    bool known = m && a->i < LAUNCH_ARGS && size <= sizeof m->arg[0].v;
    if (a->err == CL_SUCCESS && !(known && m->arg[a->i].size == size && !memcmp(m->arg[a->i].v, v, size))) {
        a->err = clSetKernelArg(a->k, a->i, size, v);
        if (known) {
            m->arg[a->i].size = a->err == CL_SUCCESS ? (unsigned char)size : 0;
            memcpy(m->arg[a->i].v, v, size);
        }
    }
    a->i++;
}
static void a_mem(args *a, cl_mem m) { a_set(a, sizeof m, &m); }
static void a_int(args *a, long v)
{
    cl_int x = (cl_int)v;
    a_set(a, sizeof x, &x);
}
static void a_flt(args *a, float v) { a_set(a, sizeof v, &v); }
// A blob as (buffer, offset) argument pair.
static void a_blob(args *a, const cl_ctx *cx, int blob)
{
    a_mem(a, cx->root_buf[cx->blobs[blob].root]);
    a_int(a, (long)cx->blobs[blob].offset);
}

// Forgets every launch of a run call: the next uses each kernel's first.
static void launches_reset(cl_ctx *cx) { memset(cx->ord, 0, sizeof cx->ord); }

// Arguments for the next launch of kernel `kind` by layer `l` in the current
// run call: the n-th launch of a kind by a layer on a workspace is always
// the same kernel object (a layer issues its launches in a fixed order).
// Without a workspace, or where a kernel object cannot be made, the shared
// kernel with every argument set.
static args launch_args(cl_ctx *cx, const het_layer *l, int kind)
{
    args a = {.k = cx->k[kind]};
    int nth = cx->ord[kind]++;
    if (!cx->launch_cache || cx->cur < 0) return a;
    struct cl_binding *b = &cx->bind[cx->cur];
    if (!b->lay) {
        b->lay = calloc((size_t)cx->graph->n_layers, sizeof *b->lay);
        if (!b->lay) return a;
    }
    struct cl_launches *ls = &b->lay[l->id];
    cl_launch *m = NULL;
    for (int i = 0, seen = 0; i < ls->n && !m; i++)
        if (ls->v[i].kind == kind && seen++ == nth) m = &ls->v[i];
    if (!m) {
        cl_launch *nv = room(ls->v, ls->n, &ls->cap, 2, sizeof *nv);
        if (!nv) return a;
        ls->v = nv;
        cl_int err;
        cl_kernel k = clCreateKernel(cx->prog, kernel_names[kind], &err);
        if (!k) {
            het_log(HET_LOG_DEBUG, "opencl backend: no kernel of its own for a launch of '%s': %s", l->name,
                    het_cl_err_str(err));
            return a;
        }
        m = &ls->v[ls->n++];
        memset(m, 0, sizeof *m);
        m->kind = kind;
        m->k = k;
        m->gen = b->gen;
    }
    if (m->gen != b->gen) {
        // A buffer it may hold was replaced, and a new one can have the old
        // one's handle: set everything again.
        memset(m->arg, 0, sizeof m->arg);
        m->gen = b->gen;
    }
    a.k = m->k;
    a.memo = m;
    return a;
}

// Notes that the current queue has work a sync must wait for: a sync
// finishes only such queues (clFinish on an idle PoCL queue is not free,
// and sweeps sync after every layer).
static void queued(cl_ctx *cx)
{
    if (cx->cur >= 0) cx->bind[cx->cur].pending = true;
    else cx->q0_pending = true;
}

static het_status enqueue(cl_ctx *cx, args *a, int dims, const size_t *global, const size_t *local)
{
    if (a->err != CL_SUCCESS) return het_cl_fail("clSetKernelArg", a->err, __func__);
    for (int d = 0; d < dims; d++)
        if (global[d] == 0) return HET_OK;
    HET_CL(clEnqueueNDRangeKernel(cx->q, a->k, (cl_uint)dims, NULL, global, local, 0, NULL, NULL));
    queued(cx);
    return HET_OK;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// ---- per-kind enqueue -------------------------------------------------------

// One group's output channels [m0, m_end) with conv_pix (CPU-type devices).
static het_status enqueue_pix(cl_ctx *cx, const het_graph *g, const het_layer *l, cl_mem bias, int grp, int m0,
                              int m_end, bool relu, float slope)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    const cl_layer_state *st = &cx->ls[l->id];
    int cin_g = is->c / c->group, N = os->h * os->w;
    bool pw = het_conv_is_pointwise(c);
    // A pointwise layer is a plain GEMM over the H*W pixels: present it as
    // one row of H*W so that vectors run across row ends.
    int H = pw ? 1 : is->h, W = pw ? N : is->w, Wo = pw ? N : os->w, Ho = pw ? 1 : os->h;
    args a = launch_args(cx, l, K_PIX);
    a_blob(&a, cx, l->bottom[0]);
    a_mem(&a, st->a);
    a_int(&a, st->ldw);
    a_mem(&a, bias);
    a_int(&a, c->bias_term);
    a_blob(&a, cx, l->top[0]);
    a_int(&a, H), a_int(&a, W), a_int(&a, Wo);
    a_int(&a, c->kh), a_int(&a, c->kw), a_int(&a, c->sh), a_int(&a, c->sw), a_int(&a, c->ph), a_int(&a, c->pw);
    a_int(&a, c->dh), a_int(&a, c->dw), a_int(&a, cin_g), a_int(&a, N), a_int(&a, m0), a_int(&a, m_end);
    a_int(&a, grp * cin_g), a_int(&a, pw), a_int(&a, relu), a_flt(&a, slope);
    size_t gl[3] = {round_up((size_t)Wo, PIX_VW) / PIX_VW, (size_t)Ho, round_up((size_t)(m_end - m0), PIX_MB) / PIX_MB};
    return enqueue(cx, &a, 3, gl, NULL);
}

// The K slices of a conv_gemm launch with `tiles` output tiles: enough for
// about cx->splitk_groups work-groups, each slice at least 4 TK steps long
// (shorter ones spend more on the reduction than they save), at most 32.
// Returns the slice count; *kslice is its length (a multiple of TK, or K
// itself when there is one slice).
static int k_slices(const cl_ctx *cx, int K, size_t tiles, int *kslice)
{
    int S = 1;
    if (cx->splitk_groups > 0 && tiles < (size_t)cx->splitk_groups) {
        S = (int)((cx->splitk_groups + tiles - 1) / tiles);
        int most = K / (4 * CONV_TK);
        if (S > most) S = most;
        if (S > 32) S = 32;
    }
    if (S <= 1) {
        *kslice = K;
        return 1;
    }
    *kslice = (int)round_up((size_t)(K + S - 1) / (size_t)S, CONV_TK);
    return (K + *kslice - 1) / *kslice;
}

// *out: the current binding's split-K buffer, at least n floats. A smaller
// one is released: commands already enqueued that use it keep it alive
// until they finish.
static het_status part_buffer(cl_ctx *cx, size_t n, cl_mem *out)
{
    struct cl_binding *b = &cx->bind[cx->cur];
    if (!b->part || b->part_n < n) {
        if (b->part) clReleaseMemObject(b->part);
        b->part_n = 0;
        b->gen++;
        cl_int err;
        b->part = clCreateBuffer(cx->ctx, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &err);
        if (!b->part) return het_cl_fail("clCreateBuffer(split-K partial sums)", err, __func__);
        b->part_n = n;
    }
    *out = b->part;
    return HET_OK;
}

// One group's output channels [m0, m_end) with the tiled conv_gemm (GPUs).
static het_status enqueue_gemm(cl_ctx *cx, const het_graph *g, const het_layer *l, cl_mem bias, int grp, int m0,
                               int m_end, bool relu, float slope)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    int cin_g = is->c / c->group, K = cin_g * c->kh * c->kw, N = os->h * os->w, Mr = m_end - m0;
    size_t tiles_n = round_up((size_t)N, CONV_TN) / CONV_TN, tiles_m = round_up((size_t)Mr, CONV_TM) / CONV_TM;
    int kslice = K, S = cx->cur >= 0 ? k_slices(cx, K, tiles_n * tiles_m, &kslice) : 1;
    cl_mem part = cx->dummy;
    het_status st = S > 1 ? part_buffer(cx, (size_t)S * (size_t)Mr * (size_t)N, &part) : HET_OK;
    if (st != HET_OK) return st;
    args a = launch_args(cx, l, K_CONV);
    a_blob(&a, cx, l->bottom[0]);
    a_mem(&a, cx->ls[l->id].a);
    a_mem(&a, bias);
    a_int(&a, c->bias_term);
    a_blob(&a, cx, l->top[0]);
    a_int(&a, is->h), a_int(&a, is->w), a_int(&a, os->w);
    a_int(&a, c->kh), a_int(&a, c->kw), a_int(&a, c->sh), a_int(&a, c->sw), a_int(&a, c->ph), a_int(&a, c->pw);
    a_int(&a, c->dh), a_int(&a, c->dw), a_int(&a, K), a_int(&a, N), a_int(&a, m0), a_int(&a, m_end);
    a_int(&a, grp * cin_g), a_int(&a, het_conv_is_pointwise(c)), a_int(&a, relu), a_flt(&a, slope);
    a_int(&a, kslice), a_mem(&a, part);
    size_t local[3] = {CONV_LX, CONV_LY, 1};
    size_t gl[3] = {tiles_n * CONV_LX, tiles_m * CONV_LY, (size_t)S};
    st = enqueue(cx, &a, 3, gl, local);
    if (st != HET_OK || S == 1) return st;
    args r = launch_args(cx, l, K_REDUCE);
    a_mem(&r, part);
    a_int(&r, S), a_int(&r, N), a_int(&r, m0), a_int(&r, m_end);
    a_mem(&r, bias);
    a_int(&r, c->bias_term);
    a_blob(&r, cx, l->top[0]);
    a_int(&r, relu), a_flt(&r, slope);
    size_t rl[2] = {64, 1}, rg[2] = {round_up((size_t)N, 64), (size_t)Mr};
    return enqueue(cx, &r, 2, rg, rl);
}

static het_status run_conv(cl_ctx *cx, const het_graph *g, const het_layer *l, int c0, int c1, bool relu, float slope)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    const cl_layer_state *st = &cx->ls[l->id];
    int mg = c->num_output / c->group;
    cl_mem bias = c->bias_term ? st->b : cx->dummy;
    if (het_conv_is_depthwise(g, l)) {
        args a = launch_args(cx, l, K_DW);
        a_blob(&a, cx, l->bottom[0]);
        a_mem(&a, st->a);
        a_mem(&a, bias);
        a_int(&a, c->bias_term);
        a_blob(&a, cx, l->top[0]);
        a_int(&a, is->h), a_int(&a, is->w), a_int(&a, os->h), a_int(&a, os->w);
        a_int(&a, c->kh), a_int(&a, c->kw), a_int(&a, c->sh), a_int(&a, c->sw), a_int(&a, c->ph), a_int(&a, c->pw);
        a_int(&a, c->dh), a_int(&a, c->dw), a_int(&a, mg), a_int(&a, c0), a_int(&a, relu), a_flt(&a, slope);
        size_t gl[2] = {(size_t)os->h * os->w, (size_t)(c1 - c0)};
        return enqueue(cx, &a, 2, gl, NULL);
    }
    // One launch per group that [c0, c1) touches (AlexNet's two groups).
    for (int grp = c0 / mg; grp * mg < c1; grp++) {
        int m0 = grp * mg > c0 ? grp * mg : c0;
        int m_end = (grp + 1) * mg < c1 ? (grp + 1) * mg : c1;
        het_status s = cx->conv_pix ? enqueue_pix(cx, g, l, bias, grp, m0, m_end, relu, slope)
                                    : enqueue_gemm(cx, g, l, bias, grp, m0, m_end, relu, slope);
        if (s != HET_OK) return s;
    }
    return HET_OK;
}

// y = f(x) over channels [c0, c1) (affine kernel modes: 0 copy, 1 scale,
// 2 scale+shift, 3 ReLU).
static het_status run_affine(cl_ctx *cx, const het_graph *g, const het_layer *l, int mode, cl_mem a_buf, cl_mem b_buf,
                             float slope, int c0, int c1)
{
    const het_shape *os = &g->blobs[l->top[0]].shape;
    int hw = os->h * os->w;
    int in = l->bottom[0], out = l->top[0];
    if (mode == 0 && cx->blobs[in].root == cx->blobs[out].root && cx->blobs[in].offset == cx->blobs[out].offset)
        return HET_OK; // in-place copy (Dropout, Flatten over the same storage)
    args a = launch_args(cx, l, K_AFFINE);
    a_blob(&a, cx, in);
    a_blob(&a, cx, out);
    a_mem(&a, a_buf ? a_buf : cx->dummy);
    a_mem(&a, b_buf ? b_buf : cx->dummy);
    a_int(&a, mode), a_flt(&a, slope), a_int(&a, hw), a_int(&a, c0), a_int(&a, (long)(c1 - c0) * hw);
    size_t gl[1] = {(size_t)(c1 - c0) * hw};
    return enqueue(cx, &a, 1, gl, NULL);
}

static het_status run_layer(cl_ctx *cx, const het_graph *g, const het_layer *l, int c0, int c1, bool relu, float slope)
{
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    const cl_layer_state *st = &cx->ls[l->id];
    switch (l->kind) {
    case HET_LAYER_CONV:
        return run_conv(cx, g, l, c0, c1, relu, slope);
    case HET_LAYER_FC: {
        args a = launch_args(cx, l, K_FC);
        a_blob(&a, cx, l->bottom[0]);
        a_mem(&a, st->a);
        a_mem(&a, l->p.fc.bias_term ? st->b : cx->dummy);
        a_int(&a, l->p.fc.bias_term);
        a_blob(&a, cx, l->top[0]);
        a_int(&a, (long)het_shape_count(is)), a_int(&a, c0);
        size_t local[1] = {FC_WG}, gl[1] = {(size_t)(c1 - c0) * FC_WG};
        return enqueue(cx, &a, 1, gl, local);
    }
    case HET_LAYER_POOL: {
        const struct het_pool_params *p = &l->p.pool;
        args a = launch_args(cx, l, K_POOL);
        a_blob(&a, cx, l->bottom[0]);
        a_blob(&a, cx, l->top[0]);
        a_int(&a, is->h), a_int(&a, is->w), a_int(&a, os->h), a_int(&a, os->w);
        a_int(&a, p->kh), a_int(&a, p->kw), a_int(&a, p->sh), a_int(&a, p->sw), a_int(&a, p->ph), a_int(&a, p->pw);
        a_int(&a, p->method == HET_POOL_MAX), a_int(&a, c0);
        size_t gl[2] = {(size_t)os->h * os->w, (size_t)(c1 - c0)};
        return enqueue(cx, &a, 2, gl, NULL);
    }
    case HET_LAYER_LRN: {
        const struct het_lrn_params *p = &l->p.lrn;
        args a = launch_args(cx, l, K_LRN);
        a_blob(&a, cx, l->bottom[0]);
        a_blob(&a, cx, l->top[0]);
        a_int(&a, is->c), a_int(&a, is->h * is->w), a_int(&a, p->local_size);
        a_flt(&a, p->alpha), a_flt(&a, p->beta), a_flt(&a, p->k), a_int(&a, c0);
        size_t gl[2] = {(size_t)is->h * is->w, (size_t)(c1 - c0)};
        return enqueue(cx, &a, 2, gl, NULL);
    }
    case HET_LAYER_SOFTMAX: {
        args a = launch_args(cx, l, K_SOFTMAX);
        a_blob(&a, cx, l->bottom[0]);
        a_blob(&a, cx, l->top[0]);
        a_int(&a, is->c), a_int(&a, is->h * is->w), a_int(&a, c0), a_int(&a, c1);
        size_t local[1] = {SM_WG}, gl[1] = {(size_t)is->h * is->w * SM_WG};
        return enqueue(cx, &a, 1, gl, local);
    }
    case HET_LAYER_RELU:
        return run_affine(cx, g, l, 3, NULL, NULL, l->p.relu.negative_slope, c0, c1);
    case HET_LAYER_BATCHNORM:
        return run_affine(cx, g, l, 2, st->a, st->b, 0, c0, c1);
    case HET_LAYER_SCALE:
        return run_affine(cx, g, l, l->p.scale.bias_term ? 2 : 1, st->a, st->b, 0, c0, c1);
    case HET_LAYER_DROPOUT:
    case HET_LAYER_FLATTEN:
        return run_affine(cx, g, l, 0, NULL, NULL, 0, c0, c1);
    case HET_LAYER_CONCAT: {
        size_t hw = (size_t)os->h * os->w;
        int base = 0;
        const het_blob_data *ob = &cx->blobs[l->top[0]];
        for (int k = 0; k < l->n_bottom && base < c1; k++) {
            const het_blob_data *ib = &cx->blobs[l->bottom[k]];
            int ck = g->blobs[l->bottom[k]].shape.c;
            int lo = c0 > base ? c0 : base, hi = c1 < base + ck ? c1 : base + ck;
            size_t src = ib->offset + (size_t)(lo - base) * hw, dst = ob->offset + (size_t)lo * hw;
            if (hi > lo && !(ib->root == ob->root && src == dst)) {
                HET_CL(clEnqueueCopyBuffer(cx->q, cx->root_buf[ib->root], cx->root_buf[ob->root], src * sizeof(float),
                                           dst * sizeof(float), (size_t)(hi - lo) * hw * sizeof(float), 0, NULL, NULL));
                queued(cx);
            }
            base += ck;
        }
        return HET_OK;
    }
    case HET_LAYER_ELTWISE: {
        const struct het_eltwise_params *p = &l->p.eltwise;
        size_t hw = (size_t)os->h * os->w;
        for (int k = 1; k < l->n_bottom; k++) {
            args a = launch_args(cx, l, K_ELT);
            a_blob(&a, cx, k == 1 ? l->bottom[0] : l->top[0]);
            a_flt(&a, k == 1 ? p->coeff[0] : 1.0f);
            a_blob(&a, cx, l->bottom[k]);
            a_flt(&a, p->coeff[k]);
            a_blob(&a, cx, l->top[0]);
            a_int(&a, (int)p->op), a_int(&a, (long)((size_t)c0 * hw)), a_int(&a, (long)((size_t)(c1 - c0) * hw));
            size_t gl[1] = {(size_t)(c1 - c0) * hw};
            het_status s = enqueue(cx, &a, 1, gl, NULL);
            if (s != HET_OK) return s;
        }
        return HET_OK;
    }
    case HET_LAYER_COUNT:
        break;
    }
    return HET_E_UNSUPPORTED;
}

// ---- ops ---------------------------------------------------------------------

static void release_binding(cl_ctx *cx, struct cl_binding *b)
{
    if (b->root_buf && cx->graph)
        for (int i = 0; i < cx->graph->n_blobs; i++)
            if (b->root_buf[i]) clReleaseMemObject(b->root_buf[i]);
    free(b->root_buf);
    if (b->part) clReleaseMemObject(b->part);
    for (int i = 0; b->lay && cx->graph && i < cx->graph->n_layers; i++) {
        for (int j = 0; j < b->lay[i].n; j++) clReleaseKernel(b->lay[i].v[j].k);
        free(b->lay[i].v);
    }
    free(b->lay);
    b->lay = NULL;
    b->root_buf = NULL;
    b->blobs = NULL;
    b->part = NULL;
    b->part_n = 0;
}

static void release_bound(cl_ctx *cx)
{
    for (int i = 0; i < cx->n_bind; i++) {
        release_binding(cx, &cx->bind[i]);
        if (cx->bind[i].q) clReleaseCommandQueue(cx->bind[i].q);
    }
    free(cx->bind);
    cx->bind = NULL;
    cx->n_bind = cx->cap_bind = 0;
    cx->root_buf = NULL;
    cx->blobs = NULL;
    cx->q = cx->q0;
    cx->cur = -1;
}

// The binding of workspace table `blobs`, NULL (and one line saying `what`
// was attempted) if it was never bound. Reads the table only: the unlocked
// per-workspace sync and flush use it too.
static struct cl_binding *find_binding(const cl_ctx *cx, const het_blob_data *blobs, const char *what)
{
    for (int i = 0; i < cx->n_bind; i++)
        if (cx->bind[i].blobs == blobs) return &cx->bind[i];
    het_log(HET_LOG_ERROR, "opencl backend: %s on a workspace that was not bound", what);
    return NULL;
}

// Makes the device storage bound to workspace table `blobs` current.
static het_status select_binding(cl_ctx *cx, const het_blob_data *blobs, const char *what)
{
    struct cl_binding *b = find_binding(cx, blobs, what);
    if (!b) return HET_E_STATE;
    cx->blobs = blobs;
    cx->root_buf = b->root_buf;
    cx->q = b->q;
    cx->cur = (int)(b - cx->bind);
    return HET_OK;
}

// Unmaps and frees one of cl_host_alloc's buffers.
static void pinned_release(cl_ctx *cx, const struct cl_pinned *e)
{
    clEnqueueUnmapMemObject(cx->q0, e->buf, e->mapped, 0, NULL, NULL);
    clFinish(cx->q0);
    clReleaseMemObject(e->buf);
}

static void cl_destroy(het_backend *be)
{
    cl_ctx *cx = be->ctx;
    if (cx) {
        for (int i = 0; i < cx->n_bind; i++)
            if (cx->bind[i].q) clFinish(cx->bind[i].q);
        if (cx->q0) clFinish(cx->q0);
        release_bound(cx);
        if (cx->n_pin)
            het_log(HET_LOG_WARN, "opencl backend: destroyed with %d host buffers still allocated", cx->n_pin);
        for (int i = 0; i < cx->n_pin; i++) pinned_release(cx, &cx->pin[i]);
        free(cx->pin);
        if (cx->pin_mu_ok) pthread_mutex_destroy(&cx->pin_mu);
        if (cx->ls && cx->graph)
            for (int i = 0; i < cx->graph->n_layers; i++) {
                if (cx->ls[i].a) clReleaseMemObject(cx->ls[i].a);
                if (cx->ls[i].b) clReleaseMemObject(cx->ls[i].b);
            }
        free(cx->ls);
        free(cx->prepared);
        for (int i = 0; i < K_COUNT; i++)
            if (cx->k[i]) clReleaseKernel(cx->k[i]);
        if (cx->dummy) clReleaseMemObject(cx->dummy);
        if (cx->prog) clReleaseProgram(cx->prog);
        if (cx->q0) clReleaseCommandQueue(cx->q0);
        if (cx->ctx) clReleaseContext(cx->ctx);
        free(cx);
    }
    free(be);
}

static het_status upload(cl_ctx *cx, const float *data, size_t n, cl_mem *out)
{
    cl_int err;
    *out = clCreateBuffer(cx->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (n ? n : 1) * sizeof(float),
                          (void *)data, &err);
    if (!*out) return het_cl_fail("clCreateBuffer(weights)", err, __func__);
    return HET_OK;
}

static het_status ensure_graph(het_backend *be, const het_graph *g)
{
    cl_ctx *cx = be->ctx;
    if (cx->graph == g) return HET_OK;
    het_status gst = het_backend_check_graph(be, cx->graph, g);
    if (gst != HET_OK) return gst;
    cx->ls = calloc((size_t)g->n_layers, sizeof *cx->ls);
    cx->prepared = calloc((size_t)g->n_layers, sizeof *cx->prepared);
    if (!cx->ls || !cx->prepared) return HET_E_NOMEM;
    cx->graph = g;
    return HET_OK;
}

static het_status cl_prepare(het_backend *be, const het_graph *g, const het_layer *l)
{
    cl_ctx *cx = be->ctx;
    het_status st = ensure_graph(be, g);
    if (st != HET_OK) return st;
    if (cx->prepared[l->id]) return HET_OK;
    cl_layer_state *s = &cx->ls[l->id];
    const struct het_conv_params *cp = &l->p.conv;
    bool pix = l->kind == HET_LAYER_CONV && cx->conv_pix && !het_conv_is_depthwise(g, l);
    switch (pix ? HET_LAYER_COUNT : l->kind) {
    case HET_LAYER_COUNT: {
        // conv_pix reads weights as [K][ldw], ldw = C_out rounded up to a
        // whole block so the last block never reads past the buffer.
        int M = cp->num_output, K = (int)(l->params[0].count / (size_t)M);
        int ldw = (M + PIX_MB - 1) / PIX_MB * PIX_MB;
        float *t = calloc((size_t)K * ldw, sizeof(float));
        if (!t) return HET_E_NOMEM;
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) t[(size_t)k * ldw + m] = l->params[0].data[(size_t)m * K + k];
        s->ldw = ldw;
        st = upload(cx, t, (size_t)K * ldw, &s->a);
        free(t);
        if (st == HET_OK && l->n_params > 1) st = upload(cx, l->params[1].data, l->params[1].count, &s->b);
        break;
    }
    case HET_LAYER_CONV:
    case HET_LAYER_FC:
    case HET_LAYER_SCALE:
        st = upload(cx, l->params[0].data, l->params[0].count, &s->a);
        if (st == HET_OK && l->n_params > 1) st = upload(cx, l->params[1].data, l->params[1].count, &s->b);
        break;
    case HET_LAYER_BATCHNORM: {
        // y = a*x + b, as every backend runs it.
        int C = (int)l->params[0].count;
        float *ab = malloc(2 * (size_t)C * sizeof(float));
        if (!ab) return HET_E_NOMEM;
        for (int c = 0; c < C; c++) {
            double a, b;
            het_batchnorm_affine(l, c, &a, &b);
            ab[c] = (float)a, ab[C + c] = (float)b;
        }
        st = upload(cx, ab, (size_t)C, &s->a);
        if (st == HET_OK) st = upload(cx, ab + C, (size_t)C, &s->b);
        free(ab);
        break;
    }
    default:
        break;
    }
    if (st == HET_OK) cx->prepared[l->id] = true;
    return st;
}

// Whether mapping `buf` yields het's own storage `host`, i.e. the driver uses
// it in place (the condition of the coherent policy).
static bool maps_in_place(cl_command_queue q, cl_mem buf, void *host, size_t bytes)
{
    cl_int err;
    void *p = clEnqueueMapBuffer(q, buf, CL_TRUE, CL_MAP_READ, 0, bytes, 0, NULL, NULL, &err);
    if (!p) return false;
    bool same = p == host;
    clEnqueueUnmapMemObject(q, buf, p, 0, NULL, NULL);
    clFinish(q);
    return same;
}

static het_status cl_bind(het_backend *be, const het_graph *g, const het_blob_data *blobs)
{
    cl_ctx *cx = be->ctx;
    het_status st = ensure_graph(be, g);
    if (st != HET_OK) return st;
    struct cl_binding *b = NULL;
    for (int i = 0; i < cx->n_bind && !b; i++)
        if (cx->bind[i].blobs == blobs) {
            b = &cx->bind[i];
            release_binding(cx, b); // bound again: rebuild
        }
    if (!b) {
        struct cl_binding *nb = room(cx->bind, cx->n_bind, &cx->cap_bind, 4, sizeof *nb);
        if (!nb) return HET_E_NOMEM;
        cx->bind = nb;
        cl_int err;
        cl_command_queue q = clCreateCommandQueue(cx->ctx, cx->dev.device, 0, &err);
        if (!q) return het_cl_fail("clCreateCommandQueue", err, __func__);
        b = &cx->bind[cx->n_bind++];
        b->root_buf = NULL;
        b->part = NULL;
        b->part_n = 0;
        b->gen = 0;
        b->lay = NULL;
        b->q = q;
        atomic_init(&b->pending, false);
    }
    b->blobs = blobs;
    cx->q = b->q;
    cx->cur = (int)(b - cx->bind);
    st = het_exec_check_fits(be, g);
    if (st != HET_OK) return st;
    b->root_buf = calloc((size_t)g->n_blobs, sizeof(cl_mem));
    if (!b->root_buf) return HET_E_NOMEM;
    cx->blobs = blobs;
    cx->root_buf = b->root_buf;
    for (int i = 0; i < g->n_blobs; i++) {
        if (blobs[i].root != i) continue;
        size_t bytes = het_shape_count(&g->blobs[i].shape) * sizeof(float);
        cl_int err;
        cl_mem_flags fl = CL_MEM_READ_WRITE | (cx->zero_copy ? CL_MEM_USE_HOST_PTR : 0);
        cx->root_buf[i] = clCreateBuffer(cx->ctx, fl, bytes, cx->zero_copy ? blobs[i].host : NULL, &err);
        if (!cx->root_buf[i]) {
            release_binding(cx, b);
            cx->root_buf = NULL;
            if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE) {
                het_log(HET_LOG_ERROR, "the OpenCL device %s cannot hold blob '%s' (%.1f MiB): %s", cx->dev.device_name,
                        g->blobs[i].name, bytes / 1048576.0, het_cl_err_str(err));
                return HET_E_NOMEM;
            }
            return het_cl_fail("clCreateBuffer(blob)", err, __func__);
        }
        if (cx->coherent && !maps_in_place(b->q, cx->root_buf[i], blobs[i].host, bytes)) {
            het_log(HET_LOG_INFO, "opencl backend: the driver keeps blob '%s' apart from het's memory; "
                    "transfers map buffers", g->blobs[i].name);
            cx->coherent = false;
        }
    }
    return HET_OK;
}


static het_status cl_run(het_backend *be, const het_graph *g, const het_layer *l, const het_blob_data *blobs, int c0,
                         int c1)
{
    cl_ctx *cx = be->ctx;
    het_status st = het_backend_check_run(be, cx->graph == g && cx->prepared[l->id], g, l, c0, c1);
    if (st == HET_OK) st = select_binding(cx, blobs, "run");
    if (st != HET_OK) return st;
    launches_reset(cx);
    return run_layer(cx, g, l, c0, c1, false, 0.0f);
}

static het_status cl_run_with_relu(het_backend *be, const het_graph *g, const het_layer *conv, const het_layer *relu,
                                   const het_blob_data *blobs, int c0, int c1)
{
    cl_ctx *cx = be->ctx;
    het_status fst = het_backend_check_fuse(be, conv, relu);
    if (fst != HET_OK) return fst;
    het_status st = het_backend_check_run(be, cx->graph == g && cx->prepared[conv->id], g, conv, c0, c1);
    if (st == HET_OK) st = select_binding(cx, blobs, "run");
    if (st != HET_OK) return st;
    launches_reset(cx);
    return run_layer(cx, g, conv, c0, c1, true, relu->p.relu.negative_slope);
}

// Waits for all work on the device, on every workspace's queue: callers
// sync before using results, and cannot know which queue holds them.
static het_status cl_sync(het_backend *be)
{
    cl_ctx *cx = be->ctx;
    for (int i = 0; i < cx->n_bind; i++)
        if (cx->bind[i].pending) {
            HET_CL(clFinish(cx->bind[i].q));
            cx->bind[i].pending = false;
        }
    if (cx->q0_pending) HET_CL(clFinish(cx->q0));
    cx->q0_pending = false;
    return HET_OK;
}

// One workspace's queue only, without the device lock (backend.h): the
// binding table does not change while images are in flight, clFinish is
// thread-safe, and only the thread working on this workspace enqueues on
// its queue.
static het_status cl_sync_workspace(het_backend *be, const het_blob_data *blobs)
{
    struct cl_binding *b = find_binding(be->ctx, blobs, "sync");
    if (!b) return HET_E_STATE;
    if (atomic_exchange(&b->pending, false)) HET_CL(clFinish(b->q));
    return HET_OK;
}

// Same binding rules as cl_sync_workspace; clFlush is thread-safe too.
static het_status cl_flush_workspace(het_backend *be, const het_blob_data *blobs)
{
    struct cl_binding *b = find_binding(be->ctx, blobs, "flush");
    if (!b) return HET_E_STATE;
    if (atomic_load(&b->pending)) HET_CL(clFlush(b->q));
    return HET_OK;
}

// The float range [first, first + n) of a blob's channels [c0, c1) inside
// its root buffer.
static het_status blob_range(const het_blob_data *blobs, const het_graph *g, int blob, int c0, int c1, size_t *first,
                             size_t *n)
{
    const het_shape *s = &g->blobs[blob].shape;
    size_t per_c = het_shape_count(s) / (size_t)s->c;
    if (c0 < 0 || c1 > s->c || c0 >= c1) return HET_E_INVALID;
    *first = blobs[blob].offset + (size_t)c0 * per_c;
    *n = (size_t)(c1 - c0) * per_c;
    return HET_OK;
}

// A transfer reads only what bind left (the workspace's binding and its
// table), never the current call's state that select_binding sets, so it
// may run while another thread issues work on another workspace
// (concurrent_transfers): a pipeline's GPU stage then goes on enqueueing
// the next image while a later stage waits for this one's blob.
//
// It enqueues without blocking and then waits with clFinish: NVIDIA's
// driver holds a lock of its own through a blocking read, write or map, so
// a stage waiting there for its image's kernels kept every other thread
// from enqueueing anything. On the H100 machine a thread issuing kernels
// took 520-680 us a kernel while another sat in a blocking read, 6-9 us
// while it waited in clFinish, clWaitForEvents or by polling
// (experiments/gpu_machine/cl_transfer_probe.c).
//
// `wait` false (to_host_async): the read is enqueued and left pending for
// the workspace's next sync; only where buffers are copied.
static het_status cl_transfer(cl_ctx *cx, const het_graph *g, const het_blob_data *blobs, int blob, int c0, int c1,
                              bool to_dev, bool wait)
{
    struct cl_binding *b = find_binding(cx, blobs, "transfer");
    if (!b) return HET_E_STATE;
    size_t first, n;
    het_status st = blob_range(blobs, g, blob, c0, c1, &first, &n);
    if (st != HET_OK) return st;
    int root = blobs[blob].root;
    cl_command_queue q = b->q;
    cl_mem buf = b->root_buf[root];
    float *host = blobs[root].host + first;
    if (!wait) {
        if (cx->zero_copy || to_dev) return HET_E_UNSUPPORTED;
        HET_CL(clEnqueueReadBuffer(q, buf, CL_FALSE, first * sizeof(float), n * sizeof(float), host, 0, NULL, NULL));
        atomic_store(&b->pending, true);
        return HET_OK;
    }
    if (cx->coherent) {
        // The host's writes are already where later kernels read; the host
        // may read once the kernels queued before have finished.
        if (!to_dev && atomic_exchange(&b->pending, false)) HET_CL(clFinish(q));
        return HET_OK;
    }
    if (!cx->zero_copy) {
        if (to_dev)
            HET_CL(clEnqueueWriteBuffer(q, buf, CL_FALSE, first * sizeof(float), n * sizeof(float), host, 0, NULL, NULL));
        else
            HET_CL(clEnqueueReadBuffer(q, buf, CL_FALSE, first * sizeof(float), n * sizeof(float), host, 0, NULL, NULL));
        HET_CL(clFinish(q)); // the host memory is free to use again
        atomic_store(&b->pending, false); // in order: the queue is idle
        return HET_OK;
    }
    cl_int err;
    // Not blocking either; the pointer is compared, never dereferenced,
    // before clFinish.
    void *p = clEnqueueMapBuffer(q, buf, CL_FALSE, to_dev ? CL_MAP_WRITE_INVALIDATE_REGION : CL_MAP_READ,
                                 first * sizeof(float), n * sizeof(float), 0, NULL, NULL, &err);
    if (!p) return het_cl_fail("clEnqueueMapBuffer", err, __func__);
    // With CL_MEM_USE_HOST_PTR the mapped pointer derives from het's own host
    // storage (OpenCL 1.2, 5.4.2); anything else would be a driver bug that
    // silently breaks zero-copy, so it is checked.
    bool same = p == (void *)host;
    HET_CL(clEnqueueUnmapMemObject(q, buf, p, 0, NULL, NULL));
    HET_CL(clFinish(q));
    if (!same) {
        het_log(HET_LOG_ERROR, "opencl backend: the driver mapped a USE_HOST_PTR buffer elsewhere; use --gpu-copy");
        return HET_E_OPENCL;
    }
    atomic_store(&b->pending, false);
    return HET_OK;
}

static het_status cl_to_device(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0,
                               int c1)
{
    return cl_transfer(be->ctx, g, blobs, blob, c0, c1, true, true);
}

static het_status cl_to_host(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0, int c1)
{
    return cl_transfer(be->ctx, g, blobs, blob, c0, c1, false, true);
}

static het_status cl_to_host_async(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0,
                                   int c1)
{
    return cl_transfer(be->ctx, g, blobs, blob, c0, c1, false, false);
}

// Page-locked host memory where transfers copy (discrete GPUs): a buffer
// made with CL_MEM_ALLOC_HOST_PTR and mapped, which drivers back with
// pinned pages that their DMA engines read directly; from ordinary memory
// they first copy into a staging buffer of their own (3x slower for an
// image on the H100 machine). Zero-copy devices use het's own memory as
// the device's storage already: they give none.
// The kernels address a blob with 32-bit offsets, so no buffer may pass
// 2^31 - 1 floats whatever the device allows.
static void cl_memory_limits(const het_backend *be, struct het_memory_limits *out)
{
    const cl_ctx *cx = be->ctx;
    const uint64_t offsets = (uint64_t)INT32_MAX * sizeof(float);
    out->largest_buffer = cx->dev.max_alloc && cx->dev.max_alloc < offsets ? cx->dev.max_alloc : offsets;
    out->total = cx->dev.global_mem;
    out->device = cx->dev.device_name;
}

static void *cl_host_alloc(het_backend *be, size_t bytes)
{
    cl_ctx *cx = be->ctx;
    if (cx->zero_copy || bytes == 0) return NULL;
    pthread_mutex_lock(&cx->pin_mu);
    void *user = NULL;
    struct cl_pinned *grown = room(cx->pin, cx->n_pin, &cx->cap_pin, 64, sizeof *grown);
    if (!grown) goto out;
    cx->pin = grown;
    cl_int err;
    // 64 bytes spare: the mapping is page-aligned on the drivers seen, but
    // OpenCL promises no alignment.
    cl_mem buf = clCreateBuffer(cx->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes + 64, NULL, &err);
    if (!buf) goto out;
    void *m = clEnqueueMapBuffer(cx->q0, buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes + 64, 0, NULL, NULL, &err);
    if (!m) {
        clReleaseMemObject(buf);
        goto out;
    }
    user = (void *)(((uintptr_t)m + 63) & ~(uintptr_t)63);
    memset(user, 0, bytes); // as het_alloc_aligned
    cx->pin[cx->n_pin++] = (struct cl_pinned){user, m, buf};
out:
    pthread_mutex_unlock(&cx->pin_mu);
    if (!user) het_log(HET_LOG_DEBUG, "opencl backend: no page-locked host memory for %zu bytes", bytes);
    return user;
}

static bool cl_host_free(het_backend *be, void *p)
{
    cl_ctx *cx = be->ctx;
    pthread_mutex_lock(&cx->pin_mu);
    int i = 0;
    while (i < cx->n_pin && cx->pin[i].user != p) i++;
    bool mine = i < cx->n_pin;
    if (mine) {
        struct cl_pinned e = cx->pin[i];
        cx->pin[i] = cx->pin[--cx->n_pin];
        pinned_release(cx, &e);
    }
    pthread_mutex_unlock(&cx->pin_mu);
    return mine;
}

// Zero-copy buffers are made over the workspace's host storage at bind
// (CL_MEM_USE_HOST_PTR); copied ones read the host pointer at each transfer.
static bool cl_binds_host(const het_backend *be) { return ((const cl_ctx *)be->ctx)->zero_copy; }

// A CPU-type device (PoCL) runs its queues on the same cores it would give
// one image; a GPU runs several images' small kernels at once.
// het_gpu_cfg.overlap_images overrides (the tests run a GPU's way on PoCL).
static bool cl_overlaps_images(const het_backend *be)
{
    const cl_ctx *cx = be->ctx;
    if (cx->overlap_images) return cx->overlap_images > 0;
    return (cx->dev.type & CL_DEVICE_TYPE_CPU) == 0;
}

// Threads that drive this device (a pipeline's GPU stages) belong on its core
// set, away from the CPU backend's cores.
static void cl_pin_thread(het_backend *be)
{
#if defined(__linux__)
    cl_ctx *cx = be->ctx;
    if (cx->n_cores == 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < cx->n_cores; i++) CPU_SET(cx->cores[i], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)be;
#endif
}

static const struct het_backend_ops cl_ops = {
    .api_version = HET_BACKEND_API,
    .name = "opencl",
    .destroy = cl_destroy,
    .supports = NULL, // every registered kind
    .prepare = cl_prepare,
    .run = cl_run,
    .sync = cl_sync,
    .sync_workspace = cl_sync_workspace,
    .flush_workspace = cl_flush_workspace,
    .run_with_relu = cl_run_with_relu,
    .bind = cl_bind,
    .to_device = cl_to_device,
    .to_host = cl_to_host,
    .pin_thread = cl_pin_thread,
    .binds_host = cl_binds_host,
    .concurrent_transfers = true,
    .to_host_async = cl_to_host_async,
    .overlaps_images = cl_overlaps_images,
    .host_alloc = cl_host_alloc,
    .memory_limits = cl_memory_limits,
    .host_free = cl_host_free,
};

void het_opencl_identity(const het_backend *be, char *platform, char *device, char *driver, size_t cap)
{
    platform[0] = device[0] = driver[0] = 0;
    if (!be || be->ops != &cl_ops) return;
    const cl_ctx *cx = be->ctx;
    snprintf(platform, cap, "%s", cx->dev.platform_name);
    snprintf(device, cap, "%s", cx->dev.device_name);
    snprintf(driver, cap, "%s", cx->dev.driver);
}

het_status het_opencl_backend_create(const het_gpu_cfg *cfg, het_backend **be_out)
{
    het_gpu_cfg def = {.zero_copy = -1};
    if (!cfg) cfg = &def;
    uint64_t t0 = het_now_ns();
    het_backend *be = calloc(1, sizeof *be);
    cl_ctx *cx = calloc(1, sizeof *cx);
    if (!be || !cx) {
        free(be);
        free(cx);
        return HET_E_NOMEM;
    }
    be->ops = &cl_ops;
    be->ctx = cx;
#if defined(__linux__)
    // PoCL reads its thread count from the environment when it loads, and its
    // worker threads inherit the CPU mask of the thread that starts them:
    // confine both while the device is set up, then restore this thread.
    cpu_set_t saved;
    bool pinned = false;
    for (int i = 0; cfg->cores && i < cfg->n_cores && i < HET_MAX_CORES; i++) cx->cores[cx->n_cores++] = cfg->cores[i];
    if (cfg->cores && cfg->n_cores > 0 && pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", cfg->n_cores);
        setenv("POCL_CPU_MAX_CU_COUNT", n, 0);
        setenv("POCL_MAX_PTHREAD_COUNT", n, 0);
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < cfg->n_cores; i++) CPU_SET(cfg->cores[i], &set);
        pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    }
#endif
    het_status st = het_cl_pick_device(cfg->device, &cx->dev);
    if (st != HET_OK) goto fail;
    cl_int err;
    cx->ctx = clCreateContext(NULL, 1, &cx->dev.device, NULL, NULL, &err);
    if (!cx->ctx) {
        st = het_cl_fail("clCreateContext", err, __func__);
        goto fail;
    }
    cx->cur = -1;
    cx->pin_mu_ok = pthread_mutex_init(&cx->pin_mu, NULL) == 0;
    if (!cx->pin_mu_ok) {
        st = HET_E_NOMEM;
        goto fail;
    }
    cx->q = cx->q0 = clCreateCommandQueue(cx->ctx, cx->dev.device, 0, &err);
    if (!cx->q0) {
        st = het_cl_fail("clCreateCommandQueue", err, __func__);
        goto fail;
    }
    cx->zero_copy = cfg->zero_copy < 0 ? cx->dev.unified : cfg->zero_copy != 0;
    cx->coherent = cx->zero_copy && (cx->dev.type & CL_DEVICE_TYPE_CPU) && !cfg->map_transfers;
    cx->overlap_images = cfg->overlap_images;
    // The convolution kernel: conv_pix where work-items become vector lanes
    // of a CPU (PoCL), the local-memory tiled conv_gemm on GPUs; cfg->conv
    // (pix or gemm) overrides, for measuring both on one device.
    cx->launch_cache = !cfg->no_launch_cache;
    if (cfg->conv && *cfg->conv && strcmp(cfg->conv, "pix") && strcmp(cfg->conv, "gemm")) {
        het_log(HET_LOG_ERROR, "OpenCL convolution kernel '%s': expected pix or gemm", cfg->conv);
        st = HET_E_INVALID;
        goto fail;
    }
    cx->conv_pix = cfg->conv && *cfg->conv ? !strcmp(cfg->conv, "pix") : (cx->dev.type & CL_DEVICE_TYPE_CPU) != 0;
    // conv_gemm splits K when a launch would have fewer than 16 work-groups
    // per compute unit. A conv_gemm work-group is 64 work-items that wait on
    // local memory at every TK step, so a compute unit needs many of them to
    // hide that; past 16 a unit, more groups stopped making whole networks
    // faster. cfg->splitk_groups sets the target itself, or never splits
    // (tests force splits on a 2-core PoCL).
    cl_uint cus = 1;
    clGetDeviceInfo(cx->dev.device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL);
    cx->splitk_groups = cfg->splitk_groups < 0 ? 0 : cfg->splitk_groups > 0 ? cfg->splitk_groups : 16 * (int)(cus ? cus : 1);
    char opts[256];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -cl-mad-enable -DTM=%d -DTN=%d -DTK=%d -DFC_WG=%d -DMB=%d -DSM_WG=%d",
             CONV_TM, CONV_TN, CONV_TK, FC_WG, PIX_MB, SM_WG);
    st = het_cl_build(cx->ctx, &cx->dev, opts, cfg->cache_dir ? cfg->cache_dir : "", cfg->kernel_dir, &cx->prog);
    if (st != HET_OK) goto fail;
    for (int i = 0; i < K_COUNT; i++) {
        cx->k[i] = clCreateKernel(cx->prog, kernel_names[i], &err);
        if (!cx->k[i]) {
            st = het_cl_fail(kernel_names[i], err, __func__);
            goto fail;
        }
    }
    cx->dummy = clCreateBuffer(cx->ctx, CL_MEM_READ_WRITE, sizeof(float), NULL, &err);
    if (!cx->dummy) {
        st = het_cl_fail("clCreateBuffer(dummy)", err, __func__);
        goto fail;
    }
    const char *buffers = cx->coherent ? "zero-copy buffers, coherent"
                          : cx->zero_copy ? "zero-copy buffers"
                                          : "copied buffers";
    snprintf(be->desc, sizeof be->desc, "opencl: %s (%s, driver %s, %s, %s)", cx->dev.device_name,
             cx->dev.platform_name, cx->dev.driver, buffers, cx->conv_pix ? "conv_pix" : "conv_gemm");
    be->setup_ns = het_now_ns() - t0;
#if defined(__linux__)
    if (pinned) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
#endif
    *be_out = be;
    return HET_OK;
fail:
#if defined(__linux__)
    if (pinned) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
#endif
    cl_destroy(be);
    return st;
}
