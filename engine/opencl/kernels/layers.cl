// layers.cl: pooling, LRN, softmax and the element-wise layers. Every
// kernel covers output channels [c0, c0 + range) of its layer: the host
// passes c0 and sizes the grid to the range.

// Pooling with Caffe's rules (see engine/cpu/k_pool.c): MAX ignores padding,
// AVE divides by the window clipped to the padded input, and a window wholly
// past the input gives 0. One work-item per output element.
__kernel void pool(__global const float *in, int in_off, __global float *out, int out_off,
                   int H, int W, int Ho, int Wo, int kh, int kw, int sh, int sw, int ph, int pw,
                   int is_max, int c0)
{
    int n = get_global_id(0);
    int c = c0 + get_global_id(1);
    if (n >= Ho * Wo) return;
    int oy = n / Wo, ox = n - oy * Wo;
    int hs = oy * sh - ph, ws = ox * sw - pw;
    int he = min(hs + kh, H + ph), we = min(ws + kw, W + pw);
    int pool_size = (he - hs) * (we - ws);
    hs = max(hs, 0);
    ws = max(ws, 0);
    he = min(he, H);
    we = min(we, W);
    __global const float *plane = in + in_off + (size_t)c * H * W;
    float v;
    if (he <= hs || we <= ws) {
        v = 0.0f;
    } else if (is_max) {
        v = -FLT_MAX;
        for (int y = hs; y < he; y++)
            for (int x = ws; x < we; x++) v = fmax(v, plane[y * W + x]);
    } else {
        float s = 0.0f;
        for (int y = hs; y < he; y++)
            for (int x = ws; x < we; x++) s += plane[y * W + x];
        v = s / (float)pool_size;
    }
    out[out_off + (size_t)c * Ho * Wo + n] = v;
}

// LRN across channels: scale = k + alpha/size * sum of squares over the
// window of `size` channels centred on c.
__kernel void lrn(__global const float *in, int in_off, __global float *out, int out_off,
                  int C, int hw, int size, float alpha, float beta, float k, int c0)
{
    int s = get_global_id(0);
    int c = c0 + get_global_id(1);
    if (s >= hw) return;
    int hw_win = (size - 1) / 2;
    float sq = 0.0f;
    for (int q = max(c - hw_win, 0); q <= min(c + hw_win, C - 1); q++) {
        float v = in[in_off + (size_t)q * hw + s];
        sq = fma(v, v, sq);
    }
    float x = in[in_off + (size_t)c * hw + s];
    out[out_off + (size_t)c * hw + s] = x * pow(k + alpha / (float)size * sq, -beta);
}

// Softmax over channels for each spatial position; writes channels
// [c0, c1) only, after reducing over all C. One work-group of SM_WG items
// per position: the max and the sum are tree reductions in local memory
// (a classifier's 1000 channels at 1x1 spatial would otherwise be one
// work-item's serial loop).
#ifndef SM_WG
#define SM_WG 128
#endif
__kernel __attribute__((reqd_work_group_size(SM_WG, 1, 1)))
void softmax(__global const float *in, int in_off, __global float *out, int out_off, int C, int hw, int c0, int c1)
{
    __local float red[SM_WG];
    int s = get_group_id(0), lid = get_local_id(0);
    __global const float *x = in + in_off + s;
    float mx = -FLT_MAX;
    for (int c = lid; c < C; c += SM_WG) mx = fmax(mx, x[(size_t)c * hw]);
    red[lid] = mx;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = SM_WG / 2; step > 0; step >>= 1) {
        if (lid < step) red[lid] = fmax(red[lid], red[lid + step]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    mx = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    float sum = 0.0f;
    for (int c = lid; c < C; c += SM_WG) sum += exp(x[(size_t)c * hw] - mx);
    red[lid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = SM_WG / 2; step > 0; step >>= 1) {
        if (lid < step) red[lid] += red[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float inv = 1.0f / red[0];
    for (int c = c0 + lid; c < c1; c += SM_WG) out[out_off + (size_t)c * hw + s] = exp(x[(size_t)c * hw] - mx) * inv;
}

// y = a[c] * x + b[c] (BatchNorm folded, Scale), optionally ReLU; also
// plain ReLU (a = NULL) and copies. One work-item per element of
// [c0*hw, c1*hw); `n` is that count.
__kernel void affine(__global const float *x, int x_off, __global float *y, int y_off,
                     __global const float *a, __global const float *b, int mode, float slope,
                     int hw, int c0, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    size_t e = (size_t)c0 * hw + i;
    float v = x[x_off + e];
    int c = (int)(e / (size_t)hw);
    if (mode == 1 || mode == 2) v = v * a[c] + (mode == 2 ? b[c] : 0.0f); // 1: scale, 2: scale+bias
    if (mode == 3) v = v > 0.0f ? v : v * slope;                          // 3: ReLU
    y[y_off + e] = v;                                                     // 0: copy
}

// Eltwise on two operands: op 0 PROD, 1 SUM (with coefficients), 2 MAX.
// Layers with more bottoms accumulate into y: y = op(y, x_k).
__kernel void eltwise2(__global const float *a, int a_off, float ca, __global const float *b, int b_off, float cb,
                       __global float *y, int y_off, int op, int start, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    size_t e = (size_t)start + i;
    float u = a[a_off + e], v = b[b_off + e];
    float r = op == 1 ? ca * u + cb * v : (op == 0 ? u * v : fmax(u, v));
    y[y_off + e] = r;
}
