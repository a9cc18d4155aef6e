// test_opencl_layers.c: every layer kind x awkward shapes x channel ranges
// on the OpenCL backend against the CPU backend, in both buffer modes
// (copied and zero-copy), plus conv+ReLU fusion, transfers of channel
// ranges, and the binary cache surviving a corrupt entry.
//
// No OpenCL device: exit 77 (skip), except under CI=true, where PoCL is
// installed and a missing device is a failure.
#define _POSIX_C_SOURCE 200809L
#include "het/backend.h"
#include "het/exec.h"
#include "het/graph.h"
#include "../harness.h"
#include "netutil.h"
#include "layer_cases.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

static char cache_dir[] = "/tmp/het_clcache_XXXXXX";

static void fill_random(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

// Buffer modes: 0 copied, 1 zero-copy (coherent on a CPU-type device:
// transfers are synchronisation only), 2 zero-copy with mapped transfers
// (what GPUs with unified memory get).
enum { BUF_COPY = 0, BUF_ZERO_COPY = 1, BUF_MAPPED = 2 };
static const char *const buf_names[] = {"copy", "zero-copy", "zero-copy mapped"};

// The convolution kernel and K split of the backends make_gpu creates
// (het_gpu_cfg.conv and splitk_groups; NULL and 0: the device's own).
static const char *cl_conv;
static int cl_splitk;

static het_status make_gpu(int mode, het_backend **be)
{
    het_gpu_cfg cfg = {.zero_copy = mode < 0 ? -1 : mode != BUF_COPY, .cache_dir = cache_dir,
                       .map_transfers = mode == BUF_MAPPED, .conv = cl_conv, .splitk_groups = cl_splitk};
    return het_opencl_backend_create(&cfg, be);
}

// Runs case tc on the GPU for [c0, c1) (output pre-filled with NaN) and
// compares with the CPU's full result: inside the range within tolerance,
// outside untouched.
static void run_case(const tcase *tc, int mode)
{
    char text[4096];
    case_text(tc, text, sizeof text);
    het_graph *g = NULL;
    if (net_from_text(text, 11, &g) != HET_OK) {
        HET_CHECK(0, "%s: load", tc->what);
        return;
    }
    het_backend *cpu = NULL, *gpu = NULL;
    het_workspace *wc = NULL, *wg = NULL;
    het_cpu_cfg ccfg = {.n_threads = 1};
    HET_CHECK(het_cpu_backend_create(&ccfg, &cpu) == HET_OK && make_gpu(mode, &gpu) == HET_OK, "backends");
    // The GPU's workspace in its host memory, as the tools make it
    // (page-locked with copied buffers).
    HET_CHECK(het_workspace_create(g, &wc) == HET_OK && het_workspace_create_for(g, gpu, &wg) == HET_OK, "workspaces");
    const het_layer *l = &g->layers[0];
    HET_CHECK(gpu->ops->run(gpu, g, l, het_workspace_table(wg), 0, 1) == HET_E_STATE, "%s: run before prepare", tc->what);
    HET_CHECK(het_exec_prepare(cpu, g) == HET_OK && het_exec_bind(gpu, g, wg) == HET_OK &&
                  het_exec_prepare(gpu, g) == HET_OK, "%s: prepare", tc->what);
    for (int i = 0; i < l->n_bottom; i++) {
        size_t n = het_shape_count(&g->blobs[l->bottom[i]].shape);
        fill_random(het_workspace_blob(wc, l->bottom[i]), n, 1234u + 77u * (unsigned)i);
        fill_random(het_workspace_blob(wg, l->bottom[i]), n, 1234u + 77u * (unsigned)i);
        HET_CHECK(gpu->ops->to_device(gpu, g, het_workspace_table(wg), l->bottom[i], 0, g->blobs[l->bottom[i]].shape.c) == HET_OK, "upload");
    }
    int C = het_layer_out_channels(g, l);
    HET_CHECK(cpu->ops->run(cpu, g, l, het_workspace_table(wc), 0, C) == HET_OK, "cpu run");
    const float *want = het_workspace_blob(wc, l->top[0]);
    float *got = het_workspace_blob(wg, l->top[0]);
    size_t n = het_shape_count(&g->blobs[l->top[0]].shape), per_c = n / (size_t)C;
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    // One channel first and the whole layer again last: the backend keeps
    // each launch's arguments between runs, so every range must reach the
    // kernel after another (and split-K's buffer grows after the first).
    int ranges[][2] = {{C / 2, C / 2 + 1}, {0, C}, {0, C / 3}, {C / 3, C}, {C - 1, C}, {0, C}};
    for (int r = 0; r < 6; r++) {
        int c0 = ranges[r][0], c1 = ranges[r][1];
        if (c0 >= c1) continue;
        for (size_t i = 0; i < n; i++) got[i] = NAN;
        het_status st = gpu->ops->to_device(gpu, g, het_workspace_table(wg), l->top[0], 0, C);
        if (st == HET_OK) st = gpu->ops->run(gpu, g, l, het_workspace_table(wg), c0, c1);
        if (st == HET_OK) st = gpu->ops->sync(gpu);
        if (st == HET_OK) st = gpu->ops->to_host(gpu, g, het_workspace_table(wg), l->top[0], 0, C);
        HET_CHECK(st == HET_OK, "%s: gpu run [%d,%d): %s", tc->what, c0, c1, het_status_str(st));
        double err = 0;
        int outside = 0;
        for (size_t i = 0; i < n; i++) {
            bool in = i >= (size_t)c0 * per_c && i < (size_t)c1 * per_c;
            if (in) err = fmax(err, isfinite(got[i]) ? fabs(got[i] - want[i]) : INFINITY);
            else outside += !isnan(got[i]);
        }
        HET_CHECK(err <= 1e-4 * (scale > 1 ? scale : 1) && outside == 0,
                  "%s (%s) [%d,%d): max|gpu-cpu| %.3g (max|cpu| %.3g), %d values written outside the range", tc->what,
                  buf_names[mode], c0, c1, err, scale, outside);
    }
    het_workspace_destroy(wc);
    het_workspace_destroy(wg);
    het_backend_destroy(cpu);
    het_backend_destroy(gpu);
    het_graph_destroy(g);
}

// A truncated cache entry is rebuilt, not trusted.
static void test_cache(void)
{
    het_backend *be = NULL;
    HET_CHECK(make_gpu(0, &be) == HET_OK, "backend with a cache");
    het_backend_destroy(be);
    DIR *d = opendir(cache_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", cache_dir, e->d_name);
        HET_CHECK(truncate(p, 100) == 0, "truncate %s", p);
        n++;
    }
    if (d) closedir(d);
    HET_CHECK(n >= 1, "the cache holds an entry");
    be = NULL;
    HET_CHECK(make_gpu(0, &be) == HET_OK, "a corrupt cache entry is rebuilt");
    het_backend_destroy(be);
}

// Host memory from the backend: page-locked (ALLOC_HOST_PTR, mapped) with
// copied buffers, none with zero-copy ones (het's own memory is the
// device's there); 64-byte aligned and zeroed either way; a pointer it did
// not give is refused, not freed.
static void test_host_memory(void)
{
    for (int mode = BUF_COPY; mode <= BUF_ZERO_COPY; mode++) {
        het_backend *be = NULL;
        HET_CHECK(make_gpu(mode, &be) == HET_OK, "backend (%s)", buf_names[mode]);
        HET_CHECK(!be || (be->ops->host_alloc && be->ops->host_free), "the OpenCL backend has host_alloc");
        if (!be || !be->ops->host_alloc || !be->ops->host_free) continue;
        void *own = be->ops->host_alloc(be, 1000);
        HET_CHECK((own != NULL) == (mode == BUF_COPY), "host_alloc gives memory with %s buffers: %s", buf_names[mode],
                  own ? "yes" : "no");
        if (own) HET_CHECK(be->ops->host_free(be, own), "host_free takes back its own memory");
        float *p = het_host_alloc(be, 4097 * sizeof(float));
        HET_CHECK(p && ((uintptr_t)p & 63) == 0, "het_host_alloc: 64-byte aligned (%s)", buf_names[mode]);
        int nonzero = 0;
        for (int i = 0; p && i < 4097; i++) nonzero += p[i] != 0.0f;
        HET_CHECK(nonzero == 0, "het_host_alloc: zeroed (%d nonzero)", nonzero);
        if (p) p[4096] = 1.0f; // the whole size is writable (ASan)
        void *other = het_alloc_aligned(64);
        HET_CHECK(!be->ops->host_free(be, other), "host_free refuses memory it did not give");
        het_free_aligned(other);
        het_host_free(be, p);
        het_backend_destroy(be);
    }
}

int main(void)
{
    if (!mkdtemp(cache_dir)) return 1;
    het_backend *probe = NULL;
    if (make_gpu(-1, &probe) != HET_OK) {
        const char *ci = getenv("CI");
        fprintf(stderr, "test_opencl_layers: no usable OpenCL device%s\n", ci && !strcmp(ci, "true") ? " (CI: failure)" : "; skipping");
        return ci && !strcmp(ci, "true") ? 1 : 77;
    }
    printf("device: %s\n", het_backend_describe(probe));
    het_backend_destroy(probe);
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int mode = BUF_COPY; mode <= BUF_MAPPED; mode++)
        for (int i = 0; i < n; i++) run_case(&cases[i], mode);
    // The convolutions again with the other kernels: the GPUs' conv_gemm,
    // whole and with K split as far as it goes (whatever this device's own
    // choice), then conv_pix.
    static const struct { const char *conv; int splitk; const char *what; } variants[] = {
        {"gemm", -1, "conv_gemm"}, {"gemm", 1000000, "conv_gemm, split K"}, {"pix", -1, "conv_pix"}};
    for (int v = 0; v < 3; v++) {
        cl_conv = variants[v].conv, cl_splitk = variants[v].splitk;
        printf("kernel: %s\n", variants[v].what);
        for (int i = 0; i < n; i++)
            if (!strncmp(cases[i].what, "conv", 4)) run_case(&cases[i], BUF_COPY);
    }
    cl_conv = NULL, cl_splitk = 0;
    test_cache();
    test_host_memory();
    return het_test_summary("test_opencl_layers");
}
