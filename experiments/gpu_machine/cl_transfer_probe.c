// cl_transfer_probe.c: does a host-to-device copy on one OpenCL queue wait
// for kernels running on another queue of the same device, and does pinned
// (ALLOC_HOST_PTR) host memory or a non-blocking write avoid that wait?
//
// het gives every workspace its own queue, so a pipeline's GPU stage uploads
// image i+1 on one queue while image i's kernels run on another. If the
// driver orders the copy after every queue's work, the stage's thread waits
// for the GPU there and cannot issue the next image ahead of it.
//
// Second question: while one thread waits for its queue (a later pipeline
// stage waiting for the image it reads), how fast can another thread
// enqueue kernels on its own queue? A driver that holds a lock through the
// wait starves the thread that issues the next image.
//
// Build: cc -O2 -std=c11 -pthread cl_transfer_probe.c -lOpenCL -o cl_transfer_probe
// Usage: cl_transfer_probe [DEVICE_SUBSTRING] [BYTES]   (default: first GPU, 602112)
#define _POSIX_C_SOURCE 200809L
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 15
#define CK(x)                                                                                                          \
    do {                                                                                                               \
        cl_int e_ = (x);                                                                                               \
        if (e_ != CL_SUCCESS) {                                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #x, e_);                                   \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static const char *SRC = "__kernel void spin(__global float *x, int n) {\n"
                         "  size_t i = get_global_id(0); float v = x[i];\n"
                         "  for (int k = 0; k < n; k++) v = v * 0.9999f + 0.0001f;\n"
                         "  x[i] = v; }\n"
                         "__kernel void tiny(__global float *x) { x[get_global_id(0)] += 1.0f; }\n"
                         "__kernel void many(__global float *x, int a, __global const float *y, int b, int c, int d,\n"
                         "                   int e, int f, int g, int h, int i, int j, float s, float t) {\n"
                         "  x[get_global_id(0) + a] += y[b] * s + t + c + d + e + f + g + h + i + j; }\n";

static cl_device_id pick(const char *want)
{
    cl_platform_id ps[8];
    cl_uint np = 0;
    CK(clGetPlatformIDs(8, ps, &np));
    for (cl_uint i = 0; i < np; i++) {
        cl_device_id ds[8];
        cl_uint nd = 0;
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 8, ds, &nd) != CL_SUCCESS) continue;
        for (cl_uint j = 0; j < nd; j++) {
            char name[256];
            cl_device_type ty;
            CK(clGetDeviceInfo(ds[j], CL_DEVICE_NAME, sizeof name, name, NULL));
            CK(clGetDeviceInfo(ds[j], CL_DEVICE_TYPE, sizeof ty, &ty, NULL));
            if (want ? strstr(name, want) != NULL : (ty & CL_DEVICE_TYPE_GPU) != 0) {
                printf("device: %s\n", name);
                return ds[j];
            }
        }
    }
    fprintf(stderr, "no matching OpenCL device\n");
    exit(1);
}

typedef struct probe {
    cl_context ctx;
    cl_command_queue qa, qb;
    cl_kernel spin, tiny;
    cl_mem work, dst;
    size_t bytes;
    int spin_n;
} probe;

// Starts about `ms` of kernel work on queue qa and returns at once.
static void busy(probe *p)
{
    size_t g = 1 << 16;
    CK(clSetKernelArg(p->spin, 0, sizeof p->work, &p->work));
    CK(clSetKernelArg(p->spin, 1, sizeof p->spin_n, &p->spin_n));
    CK(clEnqueueNDRangeKernel(p->qa, p->spin, 1, NULL, &g, NULL, 0, NULL, NULL));
    CK(clFlush(p->qa));
}

static double spin_ms(probe *p)
{
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double a = now_ms();
        busy(p);
        CK(clFinish(p->qa));
        t[r] = now_ms() - a;
    }
    return median(t, REPS);
}

enum { IDLE, OTHER_BUSY };

// Median time of one write (blocking or not) from `src`; for a non-blocking
// write, `call` gets the time the call itself took.
static double time_write(probe *p, const void *src, int when, cl_bool blocking, double *call)
{
    double t[REPS], c[REPS];
    for (int r = 0; r < REPS; r++) {
        if (when == OTHER_BUSY) busy(p);
        double a = now_ms();
        CK(clEnqueueWriteBuffer(p->qb, p->dst, blocking, 0, p->bytes, src, 0, NULL, NULL));
        c[r] = now_ms() - a;
        CK(clFinish(p->qb));
        t[r] = now_ms() - a;
        CK(clFinish(p->qa));
    }
    if (call) *call = median(c, REPS);
    return median(t, REPS);
}

static double time_read(probe *p, void *dst, int when)
{
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        if (when == OTHER_BUSY) busy(p);
        double a = now_ms();
        CK(clEnqueueReadBuffer(p->qb, p->dst, CL_TRUE, 0, p->bytes, dst, 0, NULL, NULL));
        t[r] = now_ms() - a;
        CK(clFinish(p->qa));
    }
    return median(t, REPS);
}

// Time to enqueue `n` small kernels on qb while qa is busy or not (the
// call cost the host pays per kernel).
static double time_enqueue(probe *p, int n, int when)
{
    double t[REPS];
    size_t g = 256;
    CK(clSetKernelArg(p->tiny, 0, sizeof p->dst, &p->dst));
    for (int r = 0; r < REPS; r++) {
        if (when == OTHER_BUSY) busy(p);
        double a = now_ms();
        for (int k = 0; k < n; k++) CK(clEnqueueNDRangeKernel(p->qb, p->tiny, 1, NULL, &g, NULL, 0, NULL, NULL));
        CK(clFlush(p->qb));
        t[r] = (now_ms() - a) / n * 1e3;
        CK(clFinish(p->qb));
        CK(clFinish(p->qa));
    }
    return median(t, REPS);
}

// How the waiting thread waits for its queue's work.
enum { W_NONE, W_READ, W_FINISH, W_EVENT, W_POLL, W_COUNT };
static const char *const wait_names[W_COUNT] = {"nobody waits", "blocking 4 KB read", "clFinish",
                                                "clWaitForEvents", "polling the event's status"};

typedef struct waiter {
    probe *p;
    int how;
    atomic_int stop;
    float buf[1024];
} waiter;

static void *wait_main(void *arg)
{
    waiter *w = arg;
    probe *p = w->p;
    size_t g = 1 << 16;
    int n = p->spin_n / 10; // about 0.2 ms of kernel, then a wait
    while (!atomic_load(&w->stop)) {
        CK(clSetKernelArg(p->spin, 0, sizeof p->work, &p->work));
        CK(clSetKernelArg(p->spin, 1, sizeof n, &n));
        CK(clEnqueueNDRangeKernel(p->qa, p->spin, 1, NULL, &g, NULL, 0, NULL, NULL));
        cl_event ev = NULL;
        switch (w->how) {
        case W_READ:
            CK(clEnqueueReadBuffer(p->qa, p->work, CL_TRUE, 0, sizeof w->buf, w->buf, 0, NULL, NULL));
            break;
        case W_FINISH:
            CK(clFinish(p->qa));
            break;
        case W_EVENT:
        case W_POLL:
            CK(clEnqueueReadBuffer(p->qa, p->work, CL_FALSE, 0, sizeof w->buf, w->buf, 0, NULL, &ev));
            CK(clFlush(p->qa));
            if (w->how == W_EVENT) CK(clWaitForEvents(1, &ev));
            else
                for (cl_int s = CL_QUEUED; s > CL_COMPLETE;) {
                    CK(clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, NULL));
                    if (s > CL_COMPLETE) sched_yield();
                }
            CK(clReleaseEvent(ev));
            break;
        default:
            CK(clFinish(p->qa));
            return NULL;
        }
    }
    CK(clFinish(p->qa));
    return NULL;
}

// Per-kernel enqueue time on qb (us) while another thread waits `how`.
static double enqueue_while(probe *p, int how, double *issue_ms)
{
    waiter *w = calloc(1, sizeof *w);
    w->p = p;
    w->how = how;
    pthread_t t;
    if (how != W_NONE) pthread_create(&t, NULL, wait_main, w);
    double us[REPS], is[REPS];
    size_t g = 256;
    CK(clSetKernelArg(p->tiny, 0, sizeof p->dst, &p->dst));
    for (int r = 0; r < REPS; r++) {
        double a = now_ms();
        for (int k = 0; k < 40; k++) CK(clEnqueueNDRangeKernel(p->qb, p->tiny, 1, NULL, &g, NULL, 0, NULL, NULL));
        CK(clFlush(p->qb));
        double b = now_ms();
        CK(clFinish(p->qb));
        us[r] = (b - a) / 40 * 1e3;
        is[r] = now_ms() - a;
    }
    atomic_store(&w->stop, 1);
    if (how != W_NONE) pthread_join(t, NULL);
    free(w);
    *issue_ms = median(is, REPS);
    return median(us, REPS);
}

int main(int argc, char **argv)
{
    probe p = {0};
    p.bytes = argc > 2 ? (size_t)atol(argv[2]) : 602112; // a 3x224x224 float image
    cl_device_id dev = pick(argc > 1 && *argv[1] ? argv[1] : NULL);
    cl_int err;
    p.ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    CK(err);
    p.qa = clCreateCommandQueue(p.ctx, dev, 0, &err);
    CK(err);
    p.qb = clCreateCommandQueue(p.ctx, dev, 0, &err);
    CK(err);
    cl_program prog = clCreateProgramWithSource(p.ctx, 1, &SRC, NULL, &err);
    CK(err);
    CK(clBuildProgram(prog, 1, &dev, "", NULL, NULL));
    p.spin = clCreateKernel(prog, "spin", &err);
    CK(err);
    p.tiny = clCreateKernel(prog, "tiny", &err);
    CK(err);
    p.work = clCreateBuffer(p.ctx, CL_MEM_READ_WRITE, (1 << 16) * sizeof(float), NULL, &err);
    CK(err);
    p.dst = clCreateBuffer(p.ctx, CL_MEM_READ_WRITE, p.bytes, NULL, &err);
    CK(err);
    // Pinned host memory: a host-allocated buffer, mapped once and kept mapped.
    cl_mem pin = clCreateBuffer(p.ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, p.bytes, NULL, &err);
    CK(err);
    void *pinned = clEnqueueMapBuffer(p.qb, pin, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, p.bytes, 0, NULL, NULL, &err);
    CK(err);
    void *pageable = aligned_alloc(64, (p.bytes + 63) / 64 * 64);
    memset(pageable, 1, p.bytes);
    memset(pinned, 1, p.bytes);

    // Calibrate the busy kernel to about 2 ms.
    p.spin_n = 1000;
    for (int i = 0; i < 20; i++) {
        double ms = spin_ms(&p);
        if (ms > 1.5) break;
        p.spin_n = (int)(p.spin_n * (ms < 0.2 ? 8 : 2.2 / ms));
    }
    printf("bytes %zu; busy kernel on the other queue: %.3f ms (n=%d); medians of %d\n", p.bytes, spin_ms(&p),
           p.spin_n, REPS);
    double call;
    printf("%-44s %8s %8s\n", "host->device write", "idle", "other q busy");
    printf("%-44s %8.3f %8.3f\n", "blocking, pageable", time_write(&p, pageable, IDLE, CL_TRUE, NULL),
           time_write(&p, pageable, OTHER_BUSY, CL_TRUE, NULL));
    printf("%-44s %8.3f %8.3f\n", "blocking, pinned", time_write(&p, pinned, IDLE, CL_TRUE, NULL),
           time_write(&p, pinned, OTHER_BUSY, CL_TRUE, NULL));
    double t1 = time_write(&p, pageable, OTHER_BUSY, CL_FALSE, &call);
    printf("%-44s %8s %8.3f (call %.3f)\n", "non-blocking, pageable, to finish", "", t1, call);
    t1 = time_write(&p, pinned, OTHER_BUSY, CL_FALSE, &call);
    printf("%-44s %8s %8.3f (call %.3f)\n", "non-blocking, pinned, to finish", "", t1, call);
    printf("%-44s %8.3f %8.3f\n", "blocking read, pageable", time_read(&p, pageable, IDLE),
           time_read(&p, pageable, OTHER_BUSY));
    printf("%-44s %8.3f %8.3f\n", "blocking read, pinned", time_read(&p, pinned, IDLE),
           time_read(&p, pinned, OTHER_BUSY));
    printf("%-44s %8.2f %8.2f\n", "enqueue one small kernel (us)", time_enqueue(&p, 50, IDLE),
           time_enqueue(&p, 50, OTHER_BUSY));
    printf("\n40 small kernels issued on one queue while another thread waits for its queue\n");
    printf("%-30s %12s %14s\n", "the other thread", "us a kernel", "ms to finish");
    for (int how = 0; how < W_COUNT; how++) {
        double fin, us = enqueue_while(&p, how, &fin);
        printf("%-30s %12.2f %14.3f\n", wait_names[how], us, fin);
    }
    // Third question: what setting a kernel's arguments costs the host, next
    // to the enqueue (het sets a layer's 10-20 arguments at every launch).
    {
        cl_kernel k = clCreateKernel(prog, "many", &err);
        CK(err);
        int zero = 0;
        float one = 1.0f;
        for (int pass = 0; pass < 2; pass++) {
            double t[REPS];
            size_t g = 256;
            for (int r = 0; r < REPS; r++) {
                double a = now_ms();
                for (int n = 0; n < 40; n++) {
                    if (pass == 1 || n == 0) {
                        CK(clSetKernelArg(k, 0, sizeof p.dst, &p.dst));
                        CK(clSetKernelArg(k, 2, sizeof p.work, &p.work));
                        for (int i = 1; i < 12; i++)
                            if (i != 2) CK(clSetKernelArg(k, (cl_uint)i, sizeof zero, &zero));
                        CK(clSetKernelArg(k, 12, sizeof one, &one));
                        CK(clSetKernelArg(k, 13, sizeof one, &one));
                    }
                    CK(clEnqueueNDRangeKernel(p.qb, k, 1, NULL, &g, NULL, 0, NULL, NULL));
                }
                CK(clFlush(p.qb));
                t[r] = (now_ms() - a) / 40 * 1e3;
                CK(clFinish(p.qb));
            }
            printf("%s: %.2f us a kernel\n", pass ? "14 arguments set before every enqueue" : "14 arguments set once",
                   median(t, REPS));
        }
        clReleaseKernel(k);
    }
    CK(clEnqueueUnmapMemObject(p.qb, pin, pinned, 0, NULL, NULL));
    CK(clFinish(p.qb));
    free(pageable);
    return 0;
}
