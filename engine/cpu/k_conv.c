// k_conv.c: convolution on the CPU for an output-channel range [c0, c1).
//
// Four paths:
//   - 1x1, stride 1, no padding: the input already is the GEMM's B matrix
//     (K = C_in/group rows of H*W), so no im2col;
//   - one input channel per group (depthwise, MobileNet): a direct loop,
//     since a GEMM with K = 9 and M = 1 wastes most of its work;
//   - everything else either the direct convolution of k_conv_direct.c or
//     im2col of a column tile into a per-thread workspace, then sgemm. Tiles
//     bound the workspace to fit in L2 and give the pool enough tasks; for
//     late layers with few columns the rows are split too. Which of the two
//     runs is decided per call (conv_direct_wins), because a split's share
//     of the channels changes the answer; het_cpu_cfg.conv forces one, for
//     measuring both on one machine.
// OpenBLAS runs single-threaded inside each task (see backend.c).
#include "cpu_impl.h"

#include <stdlib.h>
#include <string.h>

#include <cblas.h>

typedef struct conv_state {
    int K;           // C_in/group * kh * kw
    int N;           // H_out * W_out
    int nt;          // columns per tile
    int mode;        // MODE_*
    int force;       // het_cpu_cfg.conv: -1 choose per call, 0 sgemm, 1 direct
    bool has_direct; // MODE_GEMM layers the direct path can run, unless forced to sgemm
    conv_direct direct;
    size_t ws_floats; // per-thread workspace
    float *ws;       // n_threads * ws_floats, follows the header
} conv_state;

enum { MODE_GEMM = 0, MODE_1X1 = 1, MODE_DEPTHWISE = 2 };

// The im2col tile a thread packs is sized for 256 KiB of L2, a common L2 a
// core has to itself, so that sgemm reads the tile from cache.
#define L2_BUDGET_FLOATS (256 * 1024 / 4)

het_status het_cpu_conv_path(const char *e, int *force, int *max_vw)
{
    *force = -1;
    *max_vw = 16;
    if (!e || !*e) return HET_OK;
    if (!strcmp(e, "gemm")) {
        *force = 0;
    } else if (!strcmp(e, "direct") || !strcmp(e, "direct4") || !strcmp(e, "direct8") || !strcmp(e, "direct16")) {
        *force = 1;
        if (e[6]) *max_vw = atoi(e + 6);
    } else {
        het_log(HET_LOG_ERROR, "CPU convolution path '%s': expected gemm, direct, direct4, direct8 or direct16", e);
        return HET_E_INVALID;
    }
    return HET_OK;
}

CPU_PREPARE_DECL(conv)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *in = &g->blobs[l->bottom[0]].shape;
    const het_shape *out = &g->blobs[l->top[0]].shape;
    int cin_g = in->c / c->group;
    int K = cin_g * c->kh * c->kw;
    int N = out->h * out->w;
    int mode = MODE_GEMM;
    if (het_conv_is_pointwise(c))
        mode = MODE_1X1;
    else if (het_conv_is_depthwise(g, l))
        mode = MODE_DEPTHWISE;
    // The widest column tile whose im2col panel fits the L2 budget; runs
    // choose narrower tiles when that balances the threads better.
    int nt = L2_BUDGET_FLOATS / (K > 0 ? K : 1);
    nt = nt < 64 ? 64 : nt & ~15;
    if (nt > N) nt = N;
    size_t ws = mode == MODE_GEMM ? (size_t)K * (size_t)nt : 0;
    int force = cx->conv_force, max_vw = cx->conv_max_vw;
    // Forced to sgemm, the layer needs no packed weights for the direct path.
    bool direct = mode == MODE_GEMM && force != 0 && conv_direct_supported(c);
    size_t direct_floats = direct ? conv_direct_floats(g, l, cx->n_threads) : 0;
    size_t head = (sizeof(conv_state) + 63) & ~(size_t)63;
    size_t ws_all = (ws * (size_t)cx->n_threads + 15) & ~(size_t)15; // keeps what follows 64-byte aligned
    conv_state *s = het_alloc_aligned(head + (ws_all + direct_floats) * sizeof(float));
    if (!s) return HET_E_NOMEM;
    memset(s, 0, sizeof *s);
    s->K = K;
    s->N = N;
    s->nt = nt;
    s->mode = mode;
    s->force = force;
    s->ws_floats = ws;
    s->ws = ws ? (float *)((char *)s + head) : NULL;
    s->has_direct = direct;
    if (direct) conv_direct_init(&s->direct, g, l, max_vw, (float *)((char *)s + head) + ws_all);
    *state_out = s;
    return HET_OK;
}

// Writes rows k = (ci, ky, kx) of the im2col matrix for output columns
// [n0, n0 + nt) into col (row stride nt).
static void im2col_tile(const float *in, int C, int H, int W, const struct het_conv_params *c, int Wo, int n0,
                        int nt, float *col)
{
    int row = 0;
    for (int ci = 0; ci < C; ci++) {
        const float *plane = in + (size_t)ci * H * W;
        for (int ky = 0; ky < c->kh; ky++) {
            for (int kx = 0; kx < c->kw; kx++, row++) {
                float *dst = col + (size_t)row * nt;
                int oh = n0 / Wo, ow = n0 % Wo;
                int j = 0;
                while (j < nt) {
                    int ih = oh * c->sh - c->ph + ky * c->dh;
                    int run = Wo - ow; // columns left in this output row
                    if (run > nt - j) run = nt - j;
                    if (ih < 0 || ih >= H) {
                        memset(dst + j, 0, (size_t)run * sizeof(float));
                    } else {
                        const float *src = plane + (size_t)ih * W;
                        int iw = ow * c->sw - c->pw + kx * c->dw;
                        if (c->sw == 1 && iw >= 0 && iw + run <= W) {
                            memcpy(dst + j, src + iw, (size_t)run * sizeof(float));
                        } else {
                            for (int q = 0; q < run; q++, iw += c->sw)
                                dst[j + q] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
                        }
                    }
                    j += run;
                    ow = 0;
                    oh++;
                }
            }
        }
    }
}

typedef struct conv_job {
    const het_layer *l;
    const conv_state *s;
    const float *in;
    float *out;
    int H, W, Wo, cin_g, mg;   // mg: output channels per group
    int c0, c1;
    int g0, n_groups, n_tiles, n_mblk, nt;
    bool relu;       // fused ReLU epilogue
    float slope;
} conv_job;

static void conv_task(void *ctx, int task, int worker)
{
    const conv_job *j = ctx;
    const conv_state *s = j->s;
    const struct het_conv_params *c = &j->l->p.conv;
    int tile = task % j->n_tiles;
    int rest = task / j->n_tiles;
    int mb = rest % j->n_mblk;
    int gi = j->g0 + rest / j->n_mblk;
    // Rows of this group inside [c0, c1), then this task's block of them.
    int r0 = gi * j->mg > j->c0 ? gi * j->mg : j->c0;
    int r1 = (gi + 1) * j->mg < j->c1 ? (gi + 1) * j->mg : j->c1;
    int rows = r1 - r0;
    int m0 = r0 + (int)((long)rows * mb / j->n_mblk);
    int m1 = r0 + (int)((long)rows * (mb + 1) / j->n_mblk);
    if (m1 <= m0) return;
    int n0 = tile * j->nt;
    int nt = s->N - n0 < j->nt ? s->N - n0 : j->nt;
    const float *gin = j->in + (size_t)gi * j->cin_g * j->H * j->W;
    const float *B;
    int ldb;
    if (s->mode == MODE_1X1) {
        B = gin + n0;
        ldb = s->N;
    } else {
        float *col = s->ws + (size_t)worker * s->ws_floats;
        im2col_tile(gin, j->cin_g, j->H, j->W, c, j->Wo, n0, nt, col);
        B = col;
        ldb = nt;
    }
    const float *Wt = j->l->params[0].data + (size_t)m0 * s->K;
    float *C = j->out + (size_t)m0 * s->N + n0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, nt, s->K, 1.0f, Wt, s->K, B, ldb, 0.0f, C,
                s->N);
    if (c->bias_term || j->relu) {
        const float *bias = c->bias_term ? j->l->params[1].data : NULL;
        for (int m = m0; m < m1; m++)
            cpu_conv_epilogue(j->out + (size_t)m * s->N + n0, nt, bias ? bias[m] : 0.0f, j->relu, j->slope);
    }
}

// Depthwise: one output channel per task chunk, a direct loop whose inner
// loop runs over a contiguous range of output columns (vectorisable).
typedef struct dw_job {
    const het_layer *l;
    const float *in;
    float *out;
    int H, W, Ho, Wo, mg, c0, c1, n_tasks;
    bool relu;
    float slope;
} dw_job;

static void dw_task(void *ctx, int task, int worker)
{
    (void)worker;
    const dw_job *j = ctx;
    const struct het_conv_params *c = &j->l->p.conv;
    int oc0, oc1;
    cpu_task_range(j->c0, j->c1, task, j->n_tasks, &oc0, &oc1);
    const float *wts = j->l->params[0].data;
    for (int oc = oc0; oc < oc1; oc++) {
        const float *plane = j->in + (size_t)(oc / j->mg) * j->H * j->W;
        const float *w = wts + (size_t)oc * c->kh * c->kw;
        float b = c->bias_term ? j->l->params[1].data[oc] : 0.0f;
        float *o = j->out + (size_t)oc * j->Ho * j->Wo;
        for (int oh = 0; oh < j->Ho; oh++) {
            float *orow = o + (size_t)oh * j->Wo;
            for (int ow = 0; ow < j->Wo; ow++) orow[ow] = b;
            for (int ky = 0; ky < c->kh; ky++) {
                int ih = oh * c->sh - c->ph + ky * c->dh;
                if (ih < 0 || ih >= j->H) continue;
                const float *irow = plane + (size_t)ih * j->W;
                for (int kx = 0; kx < c->kw; kx++) {
                    float wv = w[ky * c->kw + kx];
                    int off = kx * c->dw - c->pw;
                    // ow range with 0 <= ow*sw + off < W
                    int lo = off >= 0 ? 0 : (-off + c->sw - 1) / c->sw;
                    int hi = (j->W - 1 - off) >= 0 ? (j->W - 1 - off) / c->sw : -1;
                    if (hi > j->Wo - 1) hi = j->Wo - 1;
                    if (c->sw == 1) {
                        for (int ow = lo; ow <= hi; ow++) orow[ow] += wv * irow[ow + off];
                    } else {
                        for (int ow = lo; ow <= hi; ow++) orow[ow] += wv * irow[ow * c->sw + off];
                    }
                }
            }
            if (j->relu) cpu_conv_epilogue(orow, j->Wo, 0.0f, true, j->slope);
        }
    }
}

// Divides one group's GEMM (rows x N, depth K) into row blocks x column
// tiles for T threads. Every task packs its block of the weights (rows/mb x
// K) and its panel of the input (K x nt), so splitting columns repeats the
// weight packing and splitting rows repeats the input panel: the choice
// minimises rows*K*tiles + K*N*blocks, divided by how evenly the tasks fill
// the threads. Conv10 of SqueezeNet (1000 x 169, K 512) on 16 threads thus
// splits rows, not its 169 columns into 11 slivers that each repack 2 MB.
static void choose_tiling(int T, int rows, const conv_state *s, int n_groups, int *mblk_out, int *tiles_out,
                          int *nt_out)
{
    int tiles_min = (s->N + s->nt - 1) / s->nt; // the workspace bounds a tile
    double best = -1;
    int best_mb = 1, best_tiles = tiles_min;
    for (int mb = 1; mb <= T; mb++) {
        if (mb > 1 && rows / mb < 8) break;
        int tiles = (T + mb - 1) / mb;
        if (tiles < tiles_min) tiles = tiles_min;
        if (tiles > (s->N + 15) / 16) tiles = (s->N + 15) / 16 > tiles_min ? (s->N + 15) / 16 : tiles_min;
        long tasks = (long)n_groups * mb * tiles;
        double eff = (double)tasks / (double)(((tasks + T - 1) / T) * T);
        double cost = ((double)rows * s->K * tiles + (double)s->K * s->N * mb) / eff;
        if (best < 0 || cost < best) best = cost, best_mb = mb, best_tiles = tiles;
    }
    int nt = (s->N + best_tiles - 1) / best_tiles;
    nt = (nt + 15) & ~15;
    if (nt > s->nt) nt = s->nt;
    *nt_out = nt;
    *tiles_out = (s->N + nt - 1) / nt;
    *mblk_out = best_mb;
}

CPU_KERNEL_DECL(conv)
{
    (void)g;
    const conv_state *s = state;
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *is = &g->blobs[l->bottom[0]].shape;
    const het_shape *os = &g->blobs[l->top[0]].shape;
    int mg = c->num_output / c->group;
    if (s->mode == MODE_DEPTHWISE) {
        dw_job j = {.l = l, .in = in[0], .out = out, .H = is->h, .W = is->w, .Ho = os->h, .Wo = os->w,
                    .mg = mg, .c0 = c0, .c1 = c1, .relu = cx->relu, .slope = cx->relu_slope};
        j.n_tasks = cpu_n_tasks(cx, c1 - c0, 1);
        het_pool_parallel(cx->pool, dw_task, &j, j.n_tasks);
        return HET_OK;
    }
    int g0 = c0 / mg, n_groups = (c1 - 1) / mg - g0 + 1;
    int rows = (c1 - c0 + n_groups - 1) / n_groups; // per group, rounded up
    if (s->has_direct && (s->force == 1 || conv_direct_wins(&s->direct, rows, os->w))) {
        conv_direct_run(cx, &s->direct, g, l, in[0], out, c0, c1);
        return HET_OK;
    }
    conv_job j = {.l = l, .s = s, .in = in[0], .out = out, .H = is->h, .W = is->w, .Wo = os->w,
                  .cin_g = is->c / c->group, .mg = mg, .c0 = c0, .c1 = c1, .relu = cx->relu,
                  .slope = cx->relu_slope, .g0 = g0, .n_groups = n_groups};
    choose_tiling(cx->n_threads, rows, s, n_groups, &j.n_mblk, &j.n_tiles, &j.nt);
    het_pool_parallel(cx->pool, conv_task, &j, j.n_groups * j.n_mblk * j.n_tiles);
    return HET_OK;
}
