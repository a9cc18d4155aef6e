// het.h: status codes, logging and small shared utilities of the het engine.
//
// Every fallible het function returns het_status. Errors are logged once,
// where they are detected, as one sentence; callers only propagate the code.
#ifndef HET_HET_H
#define HET_HET_H

#include <stddef.h>
#include <stdint.h>

#define HET_VERSION "0.1.0"

typedef enum het_status {
    HET_OK = 0,
    HET_E_INVALID = -1,     // bad argument, malformed model, plan or input
    HET_E_UNSUPPORTED = -2, // valid, but this backend or build cannot do it
    HET_E_NOMEM = -3,
    HET_E_IO = -4,
    HET_E_OPENCL = -5,
    HET_E_DB = -6,
    HET_E_STATE = -7, // call out of lifecycle order
} het_status;

/// Name of a status code ("ok", "invalid", ...). Never NULL.
const char *het_status_str(het_status s);

typedef enum het_log_level {
    HET_LOG_NONE = -1, // for het_log_set_level only: print nothing (a fuzzer's millions of bad inputs)
    HET_LOG_ERROR = 0,
    HET_LOG_WARN = 1,
    HET_LOG_INFO = 2,
    HET_LOG_DEBUG = 3,
} het_log_level;

/// Logs one message to stderr if `level` is at or below the current level.
/// Thread-safe (one fprintf per message).
void het_log(het_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/// Sets the most verbose level that het_log prints (default HET_LOG_WARN).
void het_log_set_level(het_log_level level);

/// Names the tool whose messages het_log prints ("hetrun: error: ..."), so
/// that a tool's lines share one prefix whichever layer wrote them. The
/// string must outlive the process's logging (a literal). Default "het".
void het_log_set_prefix(const char *tool);

/// Monotonic clock in nanoseconds.
uint64_t het_now_ns(void);

/// FNV-1a's offset basis: the `h` to start a hash with.
#define HET_FNV_BASIS 0xcbf29ce484222325ull
/// FNV-1a over `n` bytes, continuing from `h`: het's content hashes (model
/// structure, plans, OpenCL program cache keys), stable across platforms.
uint64_t het_fnv1a(uint64_t h, const void *p, size_t n);

/// Aborts with file:line if an invariant is broken. Always on: it guards
/// against memory corruption, never against bad input (which gets a status).
#define HET_ASSERT(cond)                                                       \
    do {                                                                       \
        if (!(cond)) het_assert_fail(#cond, __FILE__, __LINE__);              \
    } while (0)
_Noreturn void het_assert_fail(const char *cond, const char *file, int line);

/// Allocates `bytes` aligned to 64 bytes (a cache line and an AVX-512
/// vector), zero-filled. Free with het_free_aligned. NULL on failure.
void *het_alloc_aligned(size_t bytes);
void het_free_aligned(void *p);

#endif
