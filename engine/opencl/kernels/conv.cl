// conv.cl: convolution as an implicit GEMM, and depthwise convolution.
//
// out[m][n] = sum_k W[m][k] * B[k][n] (+ bias, ReLU), with m an output
// channel in [m0, m_end) of one group, n an output pixel, k = (ci, ky, kx).
// B is never materialised: each work-group gathers its TK x TN tile from
// the input (im2col on the fly; for 1x1 stride-1 unpadded layers B is the
// input itself). Tiles: TM x TN outputs per work-group of (TN/WN, TM/WM)
// work-items, each accumulating WM x WN outputs in registers. The sizes are
// -D options (see program.c) so a device can be tuned without code changes.
//
// Split K: with more than one work-group along dimension 2, group z sums
// only k in [z * kslice, (z + 1) * kslice) and stores its raw sums in
// part[z][m - m0][n]; conv_reduce then adds the slices, the bias and the
// ReLU. A layer with few output tiles (14x14 pixels, 256 channels: 56
// work-groups) otherwise left most of a large GPU idle while each group
// walked all of K alone, and took as long for a few channels as for all.
#ifndef TM
#define TM 32
#endif
#ifndef TN
#define TN 32
#endif
#ifndef TK
#define TK 16
#endif
#define WM 4
#define WN 4
#define LX (TN / WN)
#define LY (TM / WM)
#define NWI (LX * LY)

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void conv_gemm(__global const float *in, int in_off,
               __global const float *wt, __global const float *bias, int has_bias,
               __global float *out, int out_off,
               int H, int W, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
               int K, int N, int m0, int m_end, int cin0, int is1x1, int relu, float slope,
               int kslice, __global float *part)
{
    __local float As[TK][TM + 1];
    __local float Bs[TK][TN];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int lid = ty * LX + tx;
    const int n_base = get_group_id(0) * TN;
    const int m_base = m0 + get_group_id(1) * TM;
    const int khw = kh * kw;
    float acc[WM][WN];
    for (int i = 0; i < WM; i++)
        for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;

    const int z = get_group_id(2);
    const int kbeg = z * kslice, kend = min(K, kbeg + kslice);
    for (int k0 = kbeg; k0 < kend; k0 += TK) {
        for (int i = lid; i < TM * TK; i += NWI) {
            int m = i / TK, k = i % TK;
            int gm = m_base + m, gk = k0 + k;
            As[k][m] = (gm < m_end && gk < kend) ? wt[(size_t)gm * K + gk] : 0.0f;
        }
        for (int i = lid; i < TK * TN; i += NWI) {
            int k = i / TN, n = i % TN;
            int gk = k0 + k, gn = n_base + n;
            float v = 0.0f;
            if (gk < kend && gn < N) {
                if (is1x1) {
                    v = in[in_off + (size_t)(cin0 + gk) * N + gn];
                } else {
                    int ci = gk / khw, r = gk - ci * khw;
                    int ky = r / kw, kx = r - ky * kw;
                    int oy = gn / Wo, ox = gn - oy * Wo;
                    int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                        v = in[in_off + ((size_t)(cin0 + ci) * H + iy) * W + ix];
                }
            }
            Bs[k][n] = v;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TK; k++) {
            float a[WM], b[WN];
            for (int i = 0; i < WM; i++) a[i] = As[k][ty * WM + i];
            for (int j = 0; j < WN; j++) b[j] = Bs[k][tx * WN + j];
            for (int i = 0; i < WM; i++)
                for (int j = 0; j < WN; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const bool partial = get_num_groups(2) > 1;
    for (int i = 0; i < WM; i++) {
        int gm = m_base + ty * WM + i;
        if (gm >= m_end) continue;
        float bv = has_bias ? bias[gm] : 0.0f;
        for (int j = 0; j < WN; j++) {
            int gn = n_base + tx * WN + j;
            if (gn >= N) continue;
            if (partial) {
                part[((size_t)z * (m_end - m0) + (gm - m0)) * N + gn] = acc[i][j];
                continue;
            }
            float v = acc[i][j] + bv;
            if (relu) v = v > 0.0f ? v : v * slope;
            out[out_off + (size_t)gm * N + gn] = v;
        }
    }
}

// The end of a split-K convolution: out[m][n] = sum over the S slices of
// part[z][m - m0][n], plus bias and ReLU; one work-item per output pixel n
// of channel m = m0 + get_global_id(1).
__kernel void conv_reduce(__global const float *part, int S, int N, int m0, int m_end,
                          __global const float *bias, int has_bias, __global float *out, int out_off,
                          int relu, float slope)
{
    int n = get_global_id(0), m = m0 + get_global_id(1);
    if (n >= N || m >= m_end) return;
    size_t stride = (size_t)(m_end - m0) * N;
    __global const float *p = part + (size_t)(m - m0) * N + n;
    float v = has_bias ? bias[m] : 0.0f;
    for (int z = 0; z < S; z++) v += p[z * stride];
    if (relu) v = v > 0.0f ? v : v * slope;
    out[out_off + (size_t)m * N + n] = v;
}

// Depthwise (one input channel per group): one work-item per output pixel
// of channels [m0, m0 + get_global_size(1)).
__kernel void conv_depthwise(__global const float *in, int in_off,
                             __global const float *wt, __global const float *bias, int has_bias,
                             __global float *out, int out_off,
                             int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw,
                             int dh, int dw, int mg, int m0, int relu, float slope)
{
    int n = get_global_id(0);
    int m = m0 + get_global_id(1);
    if (n >= Ho * Wo) return;
    int oy = n / Wo, ox = n - oy * Wo;
    __global const float *plane = in + in_off + (size_t)(m / mg) * H * W;
    __global const float *w = wt + (size_t)m * kh * kw;
    float s = has_bias ? bias[m] : 0.0f;
    for (int ky = 0; ky < kh; ky++) {
        int iy = oy * sh - ph + ky * dh;
        if (iy < 0 || iy >= H) continue;
        for (int kx = 0; kx < kw; kx++) {
            int ix = ox * sw - pw + kx * dw;
            if (ix >= 0 && ix < W) s = fma(w[ky * kw + kx], plane[iy * W + ix], s);
        }
    }
    if (relu) s = s > 0.0f ? s : s * slope;
    out[out_off + (size_t)m * Ho * Wo + n] = s;
}

// Inner product: one work-group of FC_WG work-items per output row, each
// summing a strided part of the row, then a tree reduction in local memory.
#ifndef FC_WG
#define FC_WG 64
#endif
__kernel __attribute__((reqd_work_group_size(FC_WG, 1, 1)))
void fc(__global const float *x, int x_off, __global const float *wt, __global const float *bias, int has_bias,
        __global float *y, int y_off, int K, int m0)
{
    __local float part[FC_WG];
    int lid = get_local_id(0);
    int m = m0 + get_group_id(0);
    __global const float *row = wt + (size_t)m * K;
    float s = 0.0f;
    for (int k = lid; k < K; k += FC_WG) s = fma(row[k], x[x_off + k], s);
    part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = FC_WG / 2; step > 0; step >>= 1) {
        if (lid < step) part[lid] += part[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) y[y_off + m] = part[0] + (has_bias ? bias[m] : 0.0f);
}

// Convolution for CPU-type OpenCL devices (PoCL): explicit vectors, because
// such drivers vectorise only innermost loops and the loop over work-items
// here contains the reduction. A work-item computes VW consecutive output
// columns of one row (one float16) for MB output channels; per reduction
// step it loads one input vector (vload16 where the segment lies inside the
// input row and the stride is 1, element by element at borders) and does
// MB vector FMAs with a scalar weight each. Weights are transposed to
// [K][ldw] at prepare so the MB weights of a step are contiguous.
#ifndef MB
#define MB 8
#endif
#define VW 16
__kernel void conv_pix(__global const float *in, int in_off,
                       __global const float *wt_t, int ldw, __global const float *bias, int has_bias,
                       __global float *out, int out_off,
                       int H, int W, int Wo, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                       int cin_g, int N, int m0, int m_end, int cin0, int is1x1, int relu, float slope)
{
    int ox0 = get_global_id(0) * VW;
    int oy = get_global_id(1);
    int mb = m0 + get_global_id(2) * MB;
    int nvalid = min(VW, Wo - ox0);
    float16 acc[MB];
    for (int m = 0; m < MB; m++) acc[m] = (float16)(0.0f);
    __global const float *w = wt_t + mb;
    float tmp[VW];
    for (int ci = 0; ci < cin_g; ci++) {
        __global const float *plane = in + in_off + (size_t)(cin0 + ci) * H * W;
        for (int ky = 0; ky < kh; ky++) {
            int iy = oy * sh - ph + ky * dh;
            bool rowok = iy >= 0 && iy < H;
            __global const float *row = plane + (size_t)(rowok ? iy : 0) * W;
            for (int kx = 0; kx < kw; kx++) {
                int ix0 = ox0 * sw - pw + kx * dw;
                float16 b;
                // Vector load when the lanes that are stored lie inside the
                // row; lanes past nvalid may read on into the same plane
                // (never past it) and are discarded at the store.
                if (rowok && sw == 1 && ix0 >= 0 && ix0 + nvalid <= W && (size_t)iy * W + ix0 + VW <= (size_t)H * W) {
                    b = vload16(0, row + ix0);
                } else {
                    for (int j = 0; j < VW; j++) {
                        int ix = ix0 + j * sw;
                        tmp[j] = (rowok && j < nvalid && ix >= 0 && ix < W) ? row[ix] : 0.0f;
                    }
                    b = vload16(0, tmp);
                }
                for (int m = 0; m < MB; m++) acc[m] += w[m] * b;
                w += ldw;
            }
        }
    }
    for (int m = 0; m < MB; m++) {
        int gm = mb + m;
        if (gm >= m_end) break;
        float16 v = acc[m] + (has_bias ? bias[gm] : 0.0f);
        if (relu) v = select(v * slope, v, v > 0.0f);
        __global float *o = out + out_off + (size_t)gm * N + (size_t)oy * Wo + ox0;
        if (nvalid == VW) {
            vstore16(v, 0, o);
        } else {
            vstore16(v, 0, tmp);
            for (int j = 0; j < nvalid; j++) o[j] = tmp[j];
        }
    }
}
