#define _POSIX_C_SOURCE 200809L
// test_cpu_layers.c: every CPU layer kind on awkward shapes against a naive
// reference written from Caffe's definitions, and the split identity:
// run(0,k) + run(k,C) equals run(0,C), each range writing only its slice.
#include "het/backend.h"
#include "het/exec.h"
#include "het/graph.h"
#include "../harness.h"
#include "netutil.h"

#include <float.h>
#include <math.h>

// ---- naive references ------------------------------------------------------

static float at(const float *x, const het_shape *s, int c, int y, int xx) { return x[((size_t)c * s->h + y) * s->w + xx]; }

static void ref_conv(const het_graph *g, const het_layer *l, float *const *in, float *out)
{
    const struct het_conv_params *p = &l->p.conv;
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    int cin_g = is->c / p->group, mg = p->num_output / p->group;
    for (int oc = 0; oc < os->c; oc++)
        for (int oy = 0; oy < os->h; oy++)
            for (int ox = 0; ox < os->w; ox++) {
                double s = p->bias_term ? l->params[1].data[oc] : 0;
                int grp = oc / mg;
                for (int ci = 0; ci < cin_g; ci++)
                    for (int ky = 0; ky < p->kh; ky++)
                        for (int kx = 0; kx < p->kw; kx++) {
                            int iy = oy * p->sh - p->ph + ky * p->dh, ix = ox * p->sw - p->pw + kx * p->dw;
                            if (iy < 0 || iy >= is->h || ix < 0 || ix >= is->w) continue;
                            s += (double)l->params[0].data[(((size_t)oc * cin_g + ci) * p->kh + ky) * p->kw + kx] *
                                 at(in[0], is, grp * cin_g + ci, iy, ix);
                        }
                out[((size_t)oc * os->h + oy) * os->w + ox] = (float)s;
            }
}

static void ref_pool(const het_graph *g, const het_layer *l, float *const *in, float *out)
{
    const struct het_pool_params *p = &l->p.pool;
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    for (int c = 0; c < os->c; c++)
        for (int oy = 0; oy < os->h; oy++)
            for (int ox = 0; ox < os->w; ox++) {
                int y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
                int y1 = y0 + p->kh < is->h + p->ph ? y0 + p->kh : is->h + p->ph;
                int x1 = x0 + p->kw < is->w + p->pw ? x0 + p->kw : is->w + p->pw;
                int area = (y1 - y0) * (x1 - x0), inside = 0;
                double sum = 0, mx = -FLT_MAX;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        if (y < 0 || x < 0 || y >= is->h || x >= is->w) continue;
                        double v = at(in[0], is, c, y, x);
                        inside++;
                        sum += v;
                        if (v > mx) mx = v;
                    }
                // het's rule for a window wholly past the input: 0.
                out[((size_t)c * os->h + oy) * os->w + ox] =
                    !inside ? 0.0f : (float)(p->method == HET_POOL_MAX ? mx : sum / area);
            }
}

static void ref_other(const het_graph *g, const het_layer *l, float *const *in, float *out)
{
    const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
    int C = is->c, hw = is->h * is->w;
    size_t n = het_shape_count(os);
    switch (l->kind) {
    case HET_LAYER_RELU:
        for (size_t i = 0; i < n; i++) out[i] = in[0][i] > 0 ? in[0][i] : in[0][i] * l->p.relu.negative_slope;
        break;
    case HET_LAYER_DROPOUT:
    case HET_LAYER_FLATTEN:
        for (size_t i = 0; i < n; i++) out[i] = in[0][i];
        break;
    case HET_LAYER_LRN: {
        const struct het_lrn_params *p = &l->p.lrn;
        for (int c = 0; c < C; c++)
            for (int s = 0; s < hw; s++) {
                double sq = 0;
                for (int k = c - (p->local_size - 1) / 2; k <= c + (p->local_size - 1) / 2; k++)
                    if (k >= 0 && k < C) sq += (double)in[0][k * hw + s] * in[0][k * hw + s];
                out[c * hw + s] = (float)(in[0][c * hw + s] * pow(p->k + p->alpha / p->local_size * sq, -p->beta));
            }
        break;
    }
    case HET_LAYER_CONCAT: {
        size_t off = 0;
        for (int k = 0; k < l->n_bottom; k++) {
            size_t m = het_shape_count(&g->blobs[l->bottom[k]].shape);
            for (size_t i = 0; i < m; i++) out[off + i] = in[k][i];
            off += m;
        }
        break;
    }
    case HET_LAYER_ELTWISE:
        for (size_t i = 0; i < n; i++) {
            double v = l->p.eltwise.op == HET_ELTWISE_SUM ? 0 : (l->p.eltwise.op == HET_ELTWISE_PROD ? 1 : -DBL_MAX);
            for (int k = 0; k < l->n_bottom; k++) {
                double x = in[k][i];
                if (l->p.eltwise.op == HET_ELTWISE_SUM) v += l->p.eltwise.coeff[k] * x;
                else if (l->p.eltwise.op == HET_ELTWISE_PROD) v *= x;
                else if (x > v) v = x;
            }
            out[i] = (float)v;
        }
        break;
    case HET_LAYER_FC: {
        size_t K = het_shape_count(is);
        for (int o = 0; o < os->c; o++) {
            double s = l->p.fc.bias_term ? l->params[1].data[o] : 0;
            for (size_t k = 0; k < K; k++) s += (double)l->params[0].data[o * K + k] * in[0][k];
            out[o] = (float)s;
        }
        break;
    }
    case HET_LAYER_SOFTMAX:
        for (int s = 0; s < hw; s++) {
            double mx = -DBL_MAX, sum = 0;
            for (int c = 0; c < C; c++) mx = fmax(mx, in[0][c * hw + s]);
            for (int c = 0; c < C; c++) sum += exp(in[0][c * hw + s] - mx);
            for (int c = 0; c < C; c++) out[c * hw + s] = (float)(exp(in[0][c * hw + s] - mx) / sum);
        }
        break;
    case HET_LAYER_BATCHNORM: {
        double f = l->params[2].data[0] == 0 ? 0 : 1.0 / l->params[2].data[0];
        for (int c = 0; c < C; c++)
            for (int s = 0; s < hw; s++)
                out[c * hw + s] = (float)((in[0][c * hw + s] - l->params[0].data[c] * f) /
                                          sqrt(l->params[1].data[c] * f + l->p.bn.eps));
        break;
    }
    case HET_LAYER_SCALE:
        for (int c = 0; c < C; c++)
            for (int s = 0; s < hw; s++)
                out[c * hw + s] = in[0][c * hw + s] * l->params[0].data[c] + (l->p.scale.bias_term ? l->params[1].data[c] : 0);
        break;
    default:
        break;
    }
}

static void reference(const het_graph *g, const het_layer *l, float *const *in, float *out)
{
    if (l->kind == HET_LAYER_CONV) ref_conv(g, l, in, out);
    else if (l->kind == HET_LAYER_POOL) ref_pool(g, l, in, out);
    else ref_other(g, l, in, out);
}

#include "layer_cases.h"

static void fill_random(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = isfinite(x[i]) ? fmax(m, fabs(x[i])) : INFINITY;
    return m;
}

// The convolution path every backend of run_case takes (het_cpu_cfg.conv;
// NULL: het's choice).
static const char *conv_path;

static void run_case(const tcase *tc, het_backend *be_unused, int threads)
{
    (void)be_unused;
    char text[4096];
    case_text(tc, text, sizeof text);
    het_graph *g = NULL;
    het_status st = net_from_text(text, 11, &g);
    HET_CHECK(st == HET_OK, "%s: load failed: %s", tc->what, het_status_str(st));
    if (st != HET_OK) return;
    het_cpu_cfg cfg = {.n_threads = threads, .conv = conv_path};
    het_backend *be = NULL;
    het_workspace *ws = NULL;
    HET_CHECK(het_cpu_backend_create(&cfg, &be) == HET_OK, "backend");
    HET_CHECK(het_workspace_create(g, &ws) == HET_OK, "workspace");
    const het_layer *l = &g->layers[0];
    HET_CHECK(be->ops->run(be, g, l, het_workspace_table(ws), 0, 1) == HET_E_STATE, "%s: run before prepare", tc->what);
    // A channel with zero variance: eps must keep it finite. (Weights are set
    // before prepare, which folds them.)
    if (l->kind == HET_LAYER_BATCHNORM) l->params[1].data[0] = 0.0f;
    HET_CHECK(het_exec_prepare(be, g) == HET_OK, "%s: prepare", tc->what);
    float *in[3];
    for (int i = 0; i < l->n_bottom; i++) {
        in[i] = het_workspace_blob(ws, l->bottom[i]);
        fill_random(in[i], het_shape_count(&g->blobs[l->bottom[i]].shape), 1234u + 77u * (unsigned)i);
    }
    const het_shape *os = &g->blobs[l->top[0]].shape;
    size_t n = het_shape_count(os);
    float *want = calloc(n, sizeof(float)), *full = calloc(n, sizeof(float));
    reference(g, l, in, want);
    float *out = het_workspace_blob(ws, l->top[0]);
    int C = het_layer_out_channels(g, l);
    size_t per_c = n / (size_t)C;
    st = be->ops->run(be, g, l, het_workspace_table(ws), 0, C);
    HET_CHECK(st == HET_OK, "%s: run", tc->what);
    memcpy(full, out, n * sizeof(float));
    double scale = max_abs(want, n), err = 0;
    HET_CHECK(isfinite(scale) && isfinite(max_abs(full, n)), "%s: non-finite values (ref %g, het %g)", tc->what, scale,
              max_abs(full, n));
    for (size_t i = 0; i < n; i++) err = fmax(err, isfinite(full[i]) && isfinite(want[i]) ? fabs(full[i] - want[i]) : INFINITY);
    const char *path = conv_path;
    HET_CHECK(err <= 1e-5 * (scale > 1 ? scale : 1), "%s (threads %d, conv path %s): max|het-ref| %.3g, max|ref| %.3g",
              tc->what, threads, path ? path : "het's choice", err, scale);
    // Split identity: [0,k) then [k,C), each writing only its slice.
    int ks[] = {1, C / 3, C / 2, C - 1};
    for (int t = 0; t < 4; t++) {
        int k = ks[t];
        if (k <= 0 || k >= C) continue;
        for (size_t i = 0; i < n; i++) out[i] = NAN;
        st = be->ops->run(be, g, l, het_workspace_table(ws), 0, k);
        int outside = 0;
        for (size_t i = (size_t)k * per_c; i < n; i++) outside += !isnan(out[i]);
        HET_CHECK(st == HET_OK && outside == 0, "%s: range [0,%d) wrote %d values outside its slice", tc->what, k, outside);
        st = be->ops->run(be, g, l, het_workspace_table(ws), k, C);
        double e2 = 0;
        for (size_t i = 0; i < n; i++) e2 = fmax(e2, isfinite(out[i]) ? fabs(out[i] - full[i]) : INFINITY);
        HET_CHECK(st == HET_OK && e2 <= 1e-6 * (scale > 1 ? scale : 1),
                  "%s (HET_CPU_CONV=%s): [0,%d)+[%d,%d) differs from [0,%d) by %.3g", tc->what, path ? path : "", k, k,
                  C, C, e2);
    }
    // Out-of-range requests are refused, not run.
    HET_CHECK(be->ops->run(be, g, l, het_workspace_table(ws), 0, C + 1) == HET_E_INVALID, "%s: range past C", tc->what);
    HET_CHECK(be->ops->run(be, g, l, het_workspace_table(ws), 2, 2) == HET_E_INVALID, "%s: empty range", tc->what);
    free(want);
    free(full);
    het_workspace_destroy(ws);
    het_backend_destroy(be);
    het_graph_destroy(g);
}

// Conv + in-place ReLU run fused equals the two layers run apart, for GEMM,
// 1x1 and depthwise convolutions, plain and leaky ReLU, and a split range.
static void test_fusion(void)
{
    static const char *convs[] = {
        "convolution_param { num_output: 10 kernel_size: 3 pad: 1 }",
        "convolution_param { num_output: 10 kernel_size: 1 }",
        "convolution_param { num_output: 6 kernel_size: 3 pad: 1 group: 6 }",
    };
    static const char *relus[] = {"", "relu_param { negative_slope: 0.2 }"};
    for (int ci = 0; ci < 3; ci++)
        for (int ri = 0; ri < 2; ri++) {
            char text[1024];
            snprintf(text, sizeof text,
                     "input: 'data' input_dim: 1 input_dim: 6 input_dim: 9 input_dim: 8\n"
                     "layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'y' %s }\n"
                     "layer { name: 'r' type: 'ReLU' bottom: 'y' top: 'y' %s }\n",
                     convs[ci], relus[ri]);
            het_graph *g = NULL;
            het_backend *be = NULL;
            het_workspace *ws = NULL;
            het_cpu_cfg cfg = {.n_threads = 2};
            if (net_from_text(text, 3, &g) != HET_OK || het_cpu_backend_create(&cfg, &be) != HET_OK ||
                het_workspace_create(g, &ws) != HET_OK || het_exec_prepare(be, g) != HET_OK) {
                HET_CHECK(0, "fusion case %d/%d set-up", ci, ri);
            } else {
                const het_layer *c = &g->layers[0], *r = &g->layers[1];
                HET_CHECK(het_exec_fusable_relu(g, c) == r, "ReLU %d is fusable into conv %d", ri, ci);
                fill_random(het_workspace_blob(ws, c->bottom[0]), het_shape_count(&g->blobs[c->bottom[0]].shape), 99);
                float *y = het_workspace_blob(ws, c->top[0]);
                size_t n = het_shape_count(&g->blobs[c->top[0]].shape);
                int C = het_layer_out_channels(g, c);
                be->ops->run(be, g, c, het_workspace_table(ws), 0, C);
                be->ops->run(be, g, r, het_workspace_table(ws), 0, C);
                float *apart = malloc(n * sizeof(float));
                memcpy(apart, y, n * sizeof(float));
                for (size_t i = 0; i < n; i++) y[i] = NAN;
                HET_CHECK(be->ops->run_with_relu(be, g, c, r, het_workspace_table(ws), 0, C / 2) == HET_OK &&
                              be->ops->run_with_relu(be, g, c, r, het_workspace_table(ws), C / 2, C) == HET_OK,
                          "fused runs");
                double e = 0;
                for (size_t i = 0; i < n; i++) e = fmax(e, isfinite(y[i]) ? fabs(y[i] - apart[i]) : INFINITY);
                HET_CHECK(e <= 1e-6, "conv %d + relu %d fused differs by %g", ci, ri, e);
                HET_CHECK(be->ops->run_with_relu(be, g, r, c, het_workspace_table(ws), 0, C) == HET_E_INVALID,
                          "fusing the wrong pair is refused");
                free(apart);
            }
            het_workspace_destroy(ws);
            het_backend_destroy(be);
            het_graph_destroy(g);
        }
}

int main(void)
{
    test_fusion();
    int n = (int)(sizeof cases / sizeof cases[0]);
    bool covered[HET_LAYER_COUNT] = {0};
    for (int threads = 1; threads <= 3; threads += 2)
        for (int i = 0; i < n; i++) run_case(&cases[i], NULL, threads);
    // Convolutions again on each CPU path, whichever the machine would
    // choose: im2col + sgemm, and the direct loop at each vector width (a
    // width the CPU lacks runs the next narrower one).
    static const char *paths[] = {"gemm", "direct4", "direct8", "direct16"};
    for (int p = 0; p < 4; p++) {
        conv_path = paths[p];
        for (int threads = 1; threads <= 3; threads += 2)
            for (int i = 0; i < n; i++)
                if (strstr(cases[i].layer, "'Convolution'")) run_case(&cases[i], NULL, threads);
    }
    conv_path = NULL;
    // A path that is not one is refused.
    het_backend *bad = NULL;
    HET_CHECK(het_cpu_backend_create(&(het_cpu_cfg){.conv = "winograd"}, &bad) == HET_E_INVALID && !bad,
              "an unknown convolution path is refused");
    // Every registered kind has at least one case.
    for (int i = 0; i < n; i++) {
        het_graph *g = NULL;
        char text[4096];
        snprintf(text, sizeof text,
                 "layer { name: 'i' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }\n"
                 "layer { name: 'i1' type: 'Input' top: 'd1' input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }\n"
                 "layer { name: 'i2' type: 'Input' top: 'd2' input_param { shape { dim: 1 dim: 4 dim: 3 dim: 3 } } }\n%s\n",
                 cases[i].layer);
        if (net_from_text(text, 1, &g) == HET_OK) covered[g->layers[0].kind] = true;
        het_graph_destroy(g);
    }
    for (int k = 0; k < HET_LAYER_COUNT; k++)
        HET_CHECK(covered[k], "layer kind %s has no test case", het_layer_kind_name((enum het_layer_kind)k));
    return het_test_summary("test_cpu_layers");
}
