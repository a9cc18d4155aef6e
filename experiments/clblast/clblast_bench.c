// clblast_bench: het's convolution kernels against CLBlast's SGEMM, layer by
// layer, on one OpenCL device, in one process.
//
// Every convolution of the model (depthwise ones aside) is timed twice:
// het's kernel computing the whole layer (im2col on the fly, bias, output)
// and CLBlast's SGEMM on the layer's GEMM shape (M = C_out, N = H_out*W_out,
// K = C_in/group*kh*kw) with the im2col matrix already in memory, which
// favours CLBlast. Both are timed on the host around the enqueue and a
// clFinish, medians of REPS runs after warm-up (CLBlast compiles a kernel per
// shape on first use).
//
// usage: clblast_bench MODEL.prototxt [REPS]
#define CL_TARGET_OPENCL_VERSION 120
#include "het/backend.h"
#include "het/exec.h"
#include "het/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CL/cl.h>
#include <clblast_c.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: clblast_bench MODEL.prototxt [REPS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    het_graph *g = NULL;
    het_backend *be = NULL;
    het_workspace *ws = NULL;
    het_gpu_cfg gcfg = {.zero_copy = -1};
    if (het_net_load(argv[1], NULL, 1, &g) != HET_OK || het_opencl_backend_create(&gcfg, &be) != HET_OK ||
        het_workspace_create(g, &ws) != HET_OK || het_exec_bind(be, g, ws) != HET_OK || het_exec_prepare(be, g) != HET_OK)
        return 1;
    if (het_exec_run_single(be, g, ws, NULL) != HET_OK) return 1; // warm-up, fills every blob
    printf("device: %s\n", het_backend_describe(be));

    // CLBlast on the same device, chosen by the same rule (first GPU, else
    // the first device).
    cl_platform_id plats[8];
    cl_uint np = 0;
    clGetPlatformIDs(8, plats, &np);
    cl_device_id dev = NULL, first = NULL;
    for (cl_uint p = 0; p < np && !dev; p++) {
        cl_device_id ds[8];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 8, ds, &nd) != CL_SUCCESS) continue;
        for (cl_uint d = 0; d < nd && !dev; d++) {
            cl_device_type t;
            clGetDeviceInfo(ds[d], CL_DEVICE_TYPE, sizeof t, &t, NULL);
            if (!first) first = ds[d];
            if (t & CL_DEVICE_TYPE_GPU) dev = ds[d];
        }
    }
    if (!dev) dev = first;
    cl_int err;
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &err);
    double *t = malloc((size_t)reps * sizeof *t);
    double sum_het = 0, sum_blast = 0;
    printf("%-24s %6s %6s %6s %10s %10s %7s\n", "layer", "M", "N", "K", "het ms", "CLBlast ms", "ratio");
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        if (l->kind != HET_LAYER_CONV) continue;
        const het_shape *is = &g->blobs[l->bottom[0]].shape, *os = &g->blobs[l->top[0]].shape;
        int M = l->p.conv.num_output, N = os->h * os->w, K = is->c / l->p.conv.group * l->p.conv.kh * l->p.conv.kw;
        if (is->c / l->p.conv.group == 1 && l->p.conv.group > 1) continue; // depthwise: no GEMM
        for (int r = 0; r < reps + 2; r++) {
            uint64_t t0 = het_now_ns();
            be->ops->run(be, g, l, het_workspace_table(ws), 0, M);
            be->ops->sync(be);
            if (r >= 2) t[r - 2] = (het_now_ns() - t0) / 1e6;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_d);
        double th = t[reps / 2];
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *h = malloc((na > nb ? (na > nc ? na : nc) : (nb > nc ? nb : nc)) * sizeof(float));
        for (size_t k = 0; k < na || k < nb || k < nc; k++) h[k] = (float)((k * 7919u) % 1000) / 1000.0f - 0.5f;
        cl_mem A = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, na * 4, h, &err);
        cl_mem B = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, nb * 4, h, &err);
        cl_mem C = clCreateBuffer(ctx, CL_MEM_READ_WRITE, nc * 4, NULL, &err);
        CLBlastStatusCode st = CLBlastSuccess;
        for (int r = 0; r < reps + 3 && st == CLBlastSuccess; r++) {
            uint64_t t0 = het_now_ns();
            st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)M, (size_t)N,
                              (size_t)K, 1.0f, A, 0, (size_t)K, B, 0, (size_t)N, 0.0f, C, 0, (size_t)N, &q, NULL);
            clFinish(q);
            if (r >= 3) t[r - 3] = (het_now_ns() - t0) / 1e6;
        }
        double tb = -1;
        if (st == CLBlastSuccess) {
            qsort(t, (size_t)reps, sizeof *t, cmp_d);
            tb = t[reps / 2];
        }
        printf("%-24s %6d %6d %6d %10.4f %10.4f %7.2f%s\n", l->name, M, N, K, th, tb, tb > 0 ? th / tb : 0,
               st == CLBlastSuccess ? "" : " (CLBlast failed)");
        sum_het += th;
        sum_blast += tb > 0 ? tb : 0;
        clReleaseMemObject(A);
        clReleaseMemObject(B);
        clReleaseMemObject(C);
        free(h);
    }
    printf("%-24s %20s %10.4f %10.4f %7.2f\n", "sum", "", sum_het, sum_blast, sum_het / sum_blast);
    printf("het: fused im2col+GEMM+bias per layer; CLBlast: SGEMM only, im2col matrix given\n");
    free(t);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    het_workspace_destroy(ws);
    het_backend_destroy(be);
    het_graph_destroy(g);
    return 0;
}
