// k_conv_direct.c: direct convolution on the CPU, for kernels larger than
// 1x1 (3x3, 5x5, 7x7, 11x11; any stride, padding, dilation and group).
//
// Why: the im2col + sgemm path (k_conv.c) writes the whole K x N im2col
// matrix and has OpenBLAS pack it again, whatever the number of output
// channels asked for. For a split layer's CPU share (8-64 channels) that
// fixed cost dominates: on the H100 machine's 15 cores, 8 channels of
// GoogLeNet's conv2/3x3 took 0.158 ms by sgemm against 0.90 ms for all 192,
// and 0.076 ms here (results/h100/cpu_conv_ab_*.txt). Here the cost is in
// proportion to the channels: per output row, the input rows it reads are
// copied once into a zero-padded buffer of the task's own (split into
// stride phases, so that every kx is a contiguous load), then each block of
// eight output channels accumulates in registers (k_conv_direct_body.h).
//
// Weights are repacked at prepare into blocks of eight output channels,
// [group][block][cin_g * kh * kw][8], zero-padded past the group's last
// channel, so that the eight weights one input value meets are adjacent.
//
// The inner loop is compiled once per vector width: 16 floats with
// AVX-512F, 8 with AVX2 + FMA (16 would spill AVX2's 16 registers), and 4
// anywhere else (SSE2, NEON, the plain C fallback of other compilers), and
// the widest the CPU runs is chosen at prepare time.
#include "cpu_impl.h"

#include <stdlib.h>
#include <string.h>

#define DIRECT_NAME direct_row_v4
#define DIRECT_VW 4
#define DIRECT_PAIRS 0
#define DIRECT_ATTR
#include "k_conv_direct_body.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define DIRECT_X86 1
#define DIRECT_NAME direct_row_v8
#define DIRECT_VW 8
#define DIRECT_PAIRS 0
#define DIRECT_ATTR __attribute__((target("avx2,fma")))
#include "k_conv_direct_body.h"

#define DIRECT_NAME direct_row_v16
#define DIRECT_VW 16
#define DIRECT_PAIRS 1
#define DIRECT_ATTR __attribute__((target("avx512f,fma")))
#include "k_conv_direct_body.h"
#endif

// The widest inner loop this CPU runs, of at most max_vw floats.
static void pick_kernel(conv_direct *d, int max_vw)
{
    d->kernel = direct_row_v4;
    d->vw = 4;
#ifdef DIRECT_X86
    __builtin_cpu_init();
    if (max_vw >= 16 && __builtin_cpu_supports("avx512f")) {
        d->kernel = direct_row_v16;
        d->vw = 16;
    } else if (max_vw >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        d->kernel = direct_row_v8;
        d->vw = 8;
    }
#else
    (void)max_vw;
#endif
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

// Floats per stride phase of a padded row: the widest kx offset plus the
// output row rounded up to whole vectors of the widest kernel (the last
// vector reads past Wo).
static int phase_len_of(const struct het_conv_params *c, int wo)
{
    return round_up((c->kw - 1) * c->dw / c->sw + round_up(wo, 16), 16);
}

bool conv_direct_supported(const struct het_conv_params *c) { return c->kw <= DIRECT_MAX_KW; }

size_t conv_direct_floats(const het_graph *g, const het_layer *l, int n_threads)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *in = &g->blobs[l->bottom[0]].shape;
    const het_shape *out = &g->blobs[l->top[0]].shape;
    int cin_g = in->c / c->group, mg = c->num_output / c->group;
    size_t K = (size_t)cin_g * c->kh * c->kw;
    size_t blocks = (size_t)c->group * (size_t)((mg + 7) / 8);
    size_t rows = (size_t)cin_g * c->kh * c->sw * (size_t)phase_len_of(c, out->w);
    return blocks * K * 8 + blocks * 8 + rows * (size_t)n_threads;
}

void conv_direct_init(conv_direct *d, const het_graph *g, const het_layer *l, int max_vw, float *mem)
{
    const struct het_conv_params *c = &l->p.conv;
    const het_shape *in = &g->blobs[l->bottom[0]].shape;
    const het_shape *out = &g->blobs[l->top[0]].shape;
    pick_kernel(d, max_vw);
    d->cin_g = in->c / c->group;
    d->mg = c->num_output / c->group;
    d->n_blocks = (d->mg + 7) / 8;
    d->phase_len = phase_len_of(c, out->w);
    d->row_stride = (size_t)c->sw * (size_t)d->phase_len;
    d->rows_floats = (size_t)d->cin_g * c->kh * d->row_stride;
    for (int kx = 0; kx < c->kw; kx++) {
        int q = kx * c->dw;
        d->offs[kx] = (q % c->sw) * d->phase_len + q / c->sw;
    }
    size_t K = (size_t)d->cin_g * c->kh * c->kw;
    size_t blocks = (size_t)c->group * (size_t)d->n_blocks;
    d->packed = mem;
    d->bias = mem + blocks * K * 8;
    d->rows = d->bias + blocks * 8;
    const float *w = l->params[0].data;
    const float *b = c->bias_term ? l->params[1].data : NULL;
    for (int gi = 0; gi < c->group; gi++) {
        for (int bl = 0; bl < d->n_blocks; bl++) {
            float *pk = d->packed + ((size_t)gi * d->n_blocks + bl) * K * 8;
            float *pb = d->bias + ((size_t)gi * d->n_blocks + bl) * 8;
            for (int m = 0; m < 8; m++) {
                int r = bl * 8 + m; // row inside the group
                int oc = gi * d->mg + r;
                bool real = r < d->mg;
                pb[m] = real && b ? b[oc] : 0.0f;
                for (size_t k = 0; k < K; k++) pk[k * 8 + (size_t)m] = real ? w[(size_t)oc * K + k] : 0.0f;
            }
        }
    }
}

bool conv_direct_wins(const conv_direct *d, int rows, int wo)
{
    // im2col + sgemm has a fixed cost (im2col and packing the whole input)
    // and then runs faster per channel; the direct loop costs in proportion
    // to the channels, times the lanes it wastes past a row's end. Measured
    // on five GoogLeNet layers (experiments/cpu_conv_ab.py --against direct,
    // docs/design.md): direct 1.06-3.0x faster at 8-32 channels, 0.74-1.58x
    // from 64 channels to whole layers, and on 7-wide rows with 16 lanes
    // slower from 16 channels on. So: direct while the channels, scaled by
    // the lanes used, stay under 64.
    return (long)rows * round_up(wo, d->vw) < 64L * wo;
}

// Copies the input rows one output row reads into the row buffer: for each
// (input channel, ky), the zero-padded input row split into `sw` phases,
// phase p holding padded columns p, p + sw, p + 2 sw, ...
static void fill_rows(const conv_direct *d, const struct het_conv_params *c, const float *gin, int H, int W,
                      int oh, float *rows)
{
    for (int ci = 0; ci < d->cin_g; ci++) {
        const float *plane = gin + (size_t)ci * H * W;
        for (int ky = 0; ky < c->kh; ky++) {
            float *dst = rows + ((size_t)ci * c->kh + ky) * d->row_stride;
            int ih = oh * c->sh - c->ph + ky * c->dh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, d->row_stride * sizeof(float));
                continue;
            }
            const float *src = plane + (size_t)ih * W;
            if (c->sw == 1) {
                // Padded column j is input column j - pw.
                int lo = c->pw < d->phase_len ? c->pw : d->phase_len;
                int hi = c->pw + W < d->phase_len ? c->pw + W : d->phase_len;
                memset(dst, 0, (size_t)lo * sizeof(float));
                if (hi > lo) memcpy(dst + lo, src + (lo - c->pw), (size_t)(hi - lo) * sizeof(float));
                if (hi < lo) hi = lo;
                memset(dst + hi, 0, (size_t)(d->phase_len - hi) * sizeof(float));
                continue;
            }
            for (int p = 0; p < c->sw; p++) {
                float *ph = dst + (size_t)p * d->phase_len;
                for (int j = 0; j < d->phase_len; j++) {
                    int iw = p + j * c->sw - c->pw;
                    ph[j] = iw >= 0 && iw < W ? src[iw] : 0.0f;
                }
            }
        }
    }
}

typedef struct direct_job {
    const conv_direct *d;
    const het_layer *l;
    const float *in;
    float *out;
    int H, W, Ho, Wo;
    int c0, c1, g0;
    int n_units;                 // (group, block) pairs that meet [c0, c1)
    int unit_chunks, row_chunks; // tasks = unit_chunks x row_chunks
    bool relu;
    float slope;
} direct_job;

// Unit u's group and block: units run through the groups in order, each
// group's blocks those that meet [c0, c1).
static void unit_at(const direct_job *j, int u, int *gi_out, int *bl_out)
{
    const conv_direct *d = j->d;
    for (int gi = j->g0;; gi++) {
        int lo = gi * d->mg > j->c0 ? gi * d->mg : j->c0;
        int hi = (gi + 1) * d->mg < j->c1 ? (gi + 1) * d->mg : j->c1;
        int b0 = (lo - gi * d->mg) / 8, b1 = (hi - 1 - gi * d->mg) / 8;
        if (u <= b1 - b0) {
            *gi_out = gi;
            *bl_out = b0 + u;
            return;
        }
        u -= b1 - b0 + 1;
    }
}

static void direct_task(void *ctx, int task, int worker)
{
    const direct_job *j = ctx;
    const conv_direct *d = j->d;
    const struct het_conv_params *c = &j->l->p.conv;
    int u0, u1, oh0, oh1;
    cpu_task_range(0, j->n_units, task % j->unit_chunks, j->unit_chunks, &u0, &u1);
    cpu_task_range(0, j->Ho, task / j->unit_chunks, j->row_chunks, &oh0, &oh1);
    float *rows = d->rows + (size_t)worker * d->rows_floats;
    size_t K = (size_t)d->cin_g * c->kh * c->kw;
    size_t plane = (size_t)j->Ho * j->Wo;
    for (int oh = oh0; oh < oh1; oh++) {
        int filled = -1; // the group whose rows the buffer holds
        for (int u = u0; u < u1; u++) {
            int gi, bl;
            unit_at(j, u, &gi, &bl);
            if (gi != filled) {
                fill_rows(d, c, j->in + (size_t)gi * d->cin_g * j->H * j->W, j->H, j->W, oh, rows);
                filled = gi;
            }
            int base = gi * d->mg + bl * 8; // first output channel of the block
            int lo = base > j->c0 ? base : j->c0;
            int hi = base + 8;
            if (hi > (gi + 1) * d->mg) hi = (gi + 1) * d->mg;
            if (hi > j->c1) hi = j->c1;
            size_t blk = (size_t)gi * d->n_blocks + (size_t)bl;
            direct_row r = {.rows = rows, .row_stride = d->row_stride, .n_rows = d->cin_g * c->kh, .kw = c->kw,
                            .offs = d->offs, .w = d->packed + blk * K * 8, .bias = d->bias + blk * 8,
                            .out = j->out + (size_t)base * plane + (size_t)oh * j->Wo, .out_stride = plane,
                            .wo = j->Wo, .m_lo = lo - base, .m_hi = hi - base};
            d->kernel(&r);
            if (j->relu)
                for (int m = lo; m < hi; m++)
                    cpu_conv_epilogue(j->out + (size_t)m * plane + (size_t)oh * j->Wo, j->Wo, 0.0f, true, j->slope);
        }
    }
}

void conv_direct_run(cpu_ctx *cx, const conv_direct *d, const het_graph *g, const het_layer *l, const float *in,
                     float *out, int c0, int c1)
{
    const het_shape *is = &g->blobs[l->bottom[0]].shape;
    const het_shape *os = &g->blobs[l->top[0]].shape;
    direct_job j = {.d = d, .l = l, .in = in, .out = out, .H = is->h, .W = is->w, .Ho = os->h, .Wo = os->w,
                    .c0 = c0, .c1 = c1, .g0 = c0 / d->mg, .relu = cx->relu, .slope = cx->relu_slope};
    int g1 = (c1 - 1) / d->mg;
    for (int gi = j.g0; gi <= g1; gi++) {
        int lo = gi * d->mg > c0 ? gi * d->mg : c0;
        int hi = (gi + 1) * d->mg < c1 ? (gi + 1) * d->mg : c1;
        j.n_units += (hi - 1 - gi * d->mg) / 8 - (lo - gi * d->mg) / 8 + 1;
    }
    // About four tasks per thread, taken from output rows first: a row
    // chunk shares its input rows across all its blocks, while a block
    // chunk copies them again.
    int T = cx->n_threads;
    int target = T > 1 ? 4 * T : 1;
    j.row_chunks = j.Ho < target ? j.Ho : target;
    j.unit_chunks = (target + j.row_chunks - 1) / j.row_chunks;
    if (j.unit_chunks > j.n_units) j.unit_chunks = j.n_units;
    het_pool_parallel(cx->pool, direct_task, &j, j.unit_chunks * j.row_chunks);
}
