// program.c: building het's OpenCL program, through an on-disk binary cache.
//
// Building from source can take seconds (PoCL runs LLVM; embedded drivers
// are slower still), so binaries are cached in files named by a hash of
// everything that determines them: platform name and version, device name,
// driver version, kernel sources and build options. An entry carries a
// header with that key, its length and a checksum; a truncated or corrupt
// entry is rebuilt and rewritten (atomically), never trusted.
#define _POSIX_C_SOURCE 200809L
#include "cl_impl.h"
#include "het/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


// The program text: every embedded source in order, or the files of the
// same names under `dir` (kernel development without a rebuild).
static char *assemble_source(const char *dir, size_t *len_out)
{
    size_t cap = 1, len = 0;
    for (int i = 0; i < het_cl_n_sources; i++) cap += het_cl_sources[i].len + 1;
    char *out = NULL;
    if (dir && *dir) {
        cap = 1;
        char **parts = calloc((size_t)het_cl_n_sources, sizeof *parts);
        size_t *lens = calloc((size_t)het_cl_n_sources, sizeof *lens);
        if (!parts || !lens) { free(parts); free(lens); return NULL; }
        for (int i = 0; i < het_cl_n_sources; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, het_cl_sources[i].name);
            FILE *f = fopen(path, "rb");
            if (!f) {
                het_log(HET_LOG_ERROR, "kernel source '%s' (the kernel folder given) cannot be read: %s", path, strerror(errno));
                for (int k = 0; k < i; k++) free(parts[k]);
                free(parts);
                free(lens);
                return NULL;
            }
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            rewind(f);
            parts[i] = malloc((size_t)(n > 0 ? n : 0) + 1);
            lens[i] = parts[i] ? fread(parts[i], 1, (size_t)(n > 0 ? n : 0), f) : 0;
            fclose(f);
            cap += lens[i] + 1;
        }
        out = malloc(cap);
        for (int i = 0; i < het_cl_n_sources; i++) {
            if (out && parts[i]) {
                memcpy(out + len, parts[i], lens[i]);
                len += lens[i];
                out[len++] = '\n';
            }
            free(parts[i]);
        }
        free(parts);
        free(lens);
    } else {
        out = malloc(cap);
        for (int i = 0; out && i < het_cl_n_sources; i++) {
            memcpy(out + len, het_cl_sources[i].text, het_cl_sources[i].len);
            len += het_cl_sources[i].len;
            out[len++] = '\n';
        }
    }
    if (!out) return NULL;
    out[len] = 0;
    *len_out = len;
    return out;
}

static void print_build_log(cl_program prog, const cl_dev_info *d)
{
    size_t n = 0;
    clGetProgramBuildInfo(prog, d->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (!log) return;
    clGetProgramBuildInfo(prog, d->device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    log[n] = 0;
    fprintf(stderr, "--- OpenCL build log (%s) ---\n%s\n--- end of build log ---\n", d->device_name, log);
    free(log);
}

#define MAGIC "HETCLBIN"

static char *cache_path(const char *dir, uint64_t key)
{
    size_t n = strlen(dir) + 40;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%016llx.bin", dir, (unsigned long long)key);
    return p;
}

static void mkdirs(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0755);
            *s = '/';
        }
    mkdir(tmp, 0755);
}

// Returns a cached binary (malloc'd) or NULL if absent or invalid.
static unsigned char *cache_load(const char *path, uint64_t key, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char hdr[32];
    unsigned char *bin = NULL;
    uint64_t k, len, sum;
    if (fread(hdr, 1, 32, f) != 32 || memcmp(hdr, MAGIC, 8) != 0) goto bad;
    memcpy(&k, hdr + 8, 8);
    memcpy(&len, hdr + 16, 8);
    memcpy(&sum, hdr + 24, 8);
    if (k != key || len == 0 || len > (1u << 30)) goto bad;
    bin = malloc((size_t)len);
    if (!bin || fread(bin, 1, (size_t)len, f) != len || het_fnv1a(HET_FNV_BASIS, bin, (size_t)len) != sum) goto bad;
    fclose(f);
    *len_out = (size_t)len;
    return bin;
bad:
    het_log(HET_LOG_WARN, "OpenCL program cache entry '%s' is truncated or corrupt; rebuilding it", path);
    free(bin);
    fclose(f);
    return NULL;
}

static void cache_store(const char *dir, const char *path, uint64_t key, cl_program prog)
{
    size_t len = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS || len == 0) return;
    unsigned char *bin = malloc(len);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    mkdirs(dir);
    uint64_t l = len, sum = het_fnv1a(HET_FNV_BASIS, bin, len);
    het_chunk parts[5] = {{MAGIC, 8}, {&key, 8}, {&l, 8}, {&sum, 8}, {bin, len}};
    if (het_write_file(path, parts, 5, true) != HET_OK)
        het_log(HET_LOG_WARN, "could not write the OpenCL program cache '%s' (continuing without it)", path);
    free(bin);
}

het_status het_cl_build(cl_context ctx, const cl_dev_info *d, const char *options, const char *cache_dir,
                        const char *kernel_dir, cl_program *prog_out)
{
    size_t src_len = 0;
    char *src = assemble_source(kernel_dir, &src_len);
    if (!src) return HET_E_NOMEM;
    uint64_t key = HET_FNV_BASIS;
    const char *parts[] = {d->platform_name, d->platform_version, d->device_name, d->driver, options, src};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) key = het_fnv1a(key, parts[i], strlen(parts[i]) + 1);
    char *path = cache_dir && *cache_dir ? cache_path(cache_dir, key) : NULL;
    cl_program prog = NULL;
    cl_int err;
    if (path) {
        size_t blen;
        unsigned char *bin = cache_load(path, key, &blen);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int status;
            prog = clCreateProgramWithBinary(ctx, 1, &d->device, &blen, bins, &status, &err);
            if (prog && (err != CL_SUCCESS || status != CL_SUCCESS ||
                         clBuildProgram(prog, 1, &d->device, options, NULL, NULL) != CL_SUCCESS)) {
                het_log(HET_LOG_WARN, "the driver refused cached OpenCL program '%s'; rebuilding it", path);
                clReleaseProgram(prog);
                prog = NULL;
            }
            free(bin);
        }
    }
    if (!prog) {
        const char *s = src;
        prog = clCreateProgramWithSource(ctx, 1, &s, &src_len, &err);
        if (!prog) {
            free(src);
            free(path);
            return het_cl_fail("clCreateProgramWithSource", err, __func__);
        }
        err = clBuildProgram(prog, 1, &d->device, options, NULL, NULL);
        if (err != CL_SUCCESS) {
            het_log(HET_LOG_ERROR, "failed to build het's OpenCL kernels for %s: %s (build log follows)", d->device_name,
                    het_cl_err_str(err));
            print_build_log(prog, d);
            clReleaseProgram(prog);
            free(src);
            free(path);
            return HET_E_OPENCL;
        }
        if (path) cache_store(cache_dir, path, key, prog);
    }
    free(src);
    free(path);
    *prog_out = prog;
    return HET_OK;
}
