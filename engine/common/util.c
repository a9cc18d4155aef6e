// util.c: status names, the logger, the clock and aligned allocation.
#define _POSIX_C_SOURCE 200809L
#include "het/het.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *het_status_str(het_status s)
{
    switch (s) {
    case HET_OK: return "ok";
    case HET_E_INVALID: return "invalid";
    case HET_E_UNSUPPORTED: return "unsupported";
    case HET_E_NOMEM: return "out of memory";
    case HET_E_IO: return "i/o error";
    case HET_E_OPENCL: return "opencl error";
    case HET_E_DB: return "database error";
    case HET_E_STATE: return "wrong state";
    }
    return "unknown status";
}

static atomic_int log_level = HET_LOG_WARN;
static const char *_Atomic log_prefix = "het";

void het_log_set_level(het_log_level level) { atomic_store(&log_level, (int)level); }

void het_log_set_prefix(const char *tool) { atomic_store(&log_prefix, tool && *tool ? tool : "het"); }

void het_log(het_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level)) return;
    static const char *const tag[] = {"error", "warning", "info", "debug"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    // One fprintf so that lines from several threads never interleave.
    fprintf(stderr, "%s: %s: %s\n", atomic_load(&log_prefix), tag[level], msg);
}

uint64_t het_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t het_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Noreturn void het_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "het: internal error: %s:%d: assertion '%s' failed\n", file, line, cond);
    abort();
}

void *het_alloc_aligned(size_t bytes)
{
    // Round up: aligned_alloc requires a multiple of the alignment, and a
    // zero-byte blob still gets a valid pointer.
    size_t n = (bytes + 63) & ~(size_t)63;
    if (n == 0) n = 64;
    void *p = aligned_alloc(64, n);
    if (p) memset(p, 0, n);
    return p;
}

void het_free_aligned(void *p) { free(p); }
