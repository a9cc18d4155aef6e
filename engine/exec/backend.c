// backend.c: what every backend shares: destruction, description, host
// memory, the core-list parser, and the OpenCL entry point of builds without OpenCL.
#define _GNU_SOURCE // sched_getaffinity
#include "het/backend.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void het_backend_destroy(het_backend *be)
{
    if (be) be->ops->destroy(be);
}

void *het_host_alloc(het_backend *be, size_t bytes)
{
    void *p = be && be->ops->host_alloc ? be->ops->host_alloc(be, bytes) : NULL;
    return p ? p : het_alloc_aligned(bytes);
}

void het_host_free(het_backend *be, void *p)
{
    if (p && !(be && be->ops->host_free && be->ops->host_free(be, p))) het_free_aligned(p);
}

void het_default_core_sets(int online, int *cpu, int *n_cpu, int *gpu, int *n_gpu, int cap)
{
    *n_cpu = *n_gpu = 0;
    if (online < 2) return;
    for (int c = 0; c < online && c < 2 * cap; c++) {
        if (c < online / 2) {
            if (*n_cpu < cap) cpu[(*n_cpu)++] = c;
        } else if (*n_gpu < cap) {
            gpu[(*n_gpu)++] = c;
        }
    }
}

int het_available_cores(int *cores, int cap)
{
    cpu_set_t may;
    int n = 0;
    if (sched_getaffinity(0, sizeof may, &may) != 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        for (int c = 0; c < online && n < cap; c++) cores[n++] = c;
        return n;
    }
    for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
        if (CPU_ISSET(c, &may)) cores[n++] = c;
    return n;
}

void het_format_core_list(const int *cores, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 24 < cap; i++) {
        int e = i;
        while (e + 1 < n && cores[e + 1] == cores[e] + 1) e++;
        if (e > i) len += (size_t)snprintf(buf + len, cap - len, "%s%d-%d", len ? "," : "", cores[i], cores[e]);
        else len += (size_t)snprintf(buf + len, cap - len, "%s%d", len ? "," : "", cores[i]);
        i = e;
    }
}

int het_parse_core_list(const char *s, int *cores, int cap)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p || a < 0 || a > 4095) goto bad;
        long b = a;
        p = end;
        if (*p == '-') {
            p++;
            b = strtol(p, &end, 10);
            if (end == p || b < a || b > 4095) goto bad;
            p = end;
        }
        for (long c = a; c <= b; c++) {
            if (n == cap) goto bad;
            for (int i = 0; i < n; i++)
                if (cores[i] == (int)c) {
                    het_log(HET_LOG_ERROR, "core list '%s' names core %ld twice", s, c);
                    return -1;
                }
            cores[n++] = (int)c;
        }
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    if (n == 0) goto bad;
    // Only cores this process may run on: a thread pinned elsewhere would
    // fail to pin, or crowd the cores there are.
    cpu_set_t may;
    if (sched_getaffinity(0, sizeof may, &may) == 0)
        for (int i = 0; i < n; i++)
            if (cores[i] >= CPU_SETSIZE || !CPU_ISSET(cores[i], &may)) {
                int avail[CPU_SETSIZE];
                char list[256];
                het_format_core_list(avail, het_available_cores(avail, CPU_SETSIZE), list, sizeof list);
                het_log(HET_LOG_ERROR, "core list '%s' names core %d, which this process cannot run on (it may use %s)",
                        s, cores[i], list);
                return -1;
            }
    return n;
bad:
    het_log(HET_LOG_ERROR, "invalid core list '%s' (expected e.g. 0-3,6)", s);
    return -1;
}

het_status het_backend_check_run(const het_backend *be, bool prepared, const het_graph *g, const het_layer *l, int c0,
                                 int c1)
{
    if (!prepared) {
        het_log(HET_LOG_ERROR, "%s backend: layer '%s' run before prepare", be->ops->name, l->name);
        return HET_E_STATE;
    }
    int C = het_layer_out_channels(g, l);
    if (c0 < 0 || c1 > C || c0 >= c1) {
        het_log(HET_LOG_ERROR, "%s backend: layer '%s': channel range [%d, %d) is not inside [0, %d)", be->ops->name,
                l->name, c0, c1, C);
        return HET_E_INVALID;
    }
    return HET_OK;
}

het_status het_backend_check_fuse(const het_backend *be, const het_layer *conv, const het_layer *relu)
{
    if (conv->kind == HET_LAYER_CONV && relu->kind == HET_LAYER_RELU && relu->in_place && relu->bottom[0] == conv->top[0])
        return HET_OK;
    het_log(HET_LOG_ERROR, "%s backend: cannot fuse '%s' into '%s'", be->ops->name, relu->name, conv->name);
    return HET_E_INVALID;
}

het_status het_backend_check_graph(const het_backend *be, const het_graph *bound, const het_graph *g)
{
    if (!bound || bound == g) return HET_OK;
    het_log(HET_LOG_ERROR, "%s backend: used with a second graph; create one backend per graph", be->ops->name);
    return HET_E_STATE;
}

const char *het_backend_describe(const het_backend *be) { return be ? be->desc : "none"; }

uint64_t het_backend_setup_ns(const het_backend *be) { return be ? be->setup_ns : 0; }

#ifndef HET_WITH_OPENCL
void het_opencl_identity(const het_backend *be, char *platform, char *device, char *driver, size_t cap)
{
    (void)be;
    (void)cap;
    platform[0] = device[0] = driver[0] = 0;
}

het_status het_opencl_backend_create(const het_gpu_cfg *cfg, het_backend **be_out)
{
    (void)cfg;
    (void)be_out;
    het_log(HET_LOG_ERROR, "this het was built without OpenCL (install ocl-icd-opencl-dev and opencl-headers, "
            "then rebuild)");
    return HET_E_UNSUPPORTED;
}
#endif
