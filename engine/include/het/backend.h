// backend.h: the interface every compute backend implements.
//
// A backend is a table of function pointers (het_backend_ops) plus private
// state. Executors never call kernels directly: they call
// ops->run(be, g, layer, blobs, c0, c1), which computes output channels
// [c0, c1) of the layer's top into its slice of the output blob. NCHW with
// batch 1 makes each channel range one contiguous slice, which is what lets
// the split executor divide a layer between devices.
//
// Lifecycle: create -> prepare(layer) once per layer -> run(layer) many
// times -> destroy. run before prepare returns HET_E_STATE.
#ifndef HET_BACKEND_H
#define HET_BACKEND_H

#include "het/graph.h"

#define HET_BACKEND_API 1

/// Where a blob's data lives for one run: the executor owns the storage and
/// hands backends this table, indexed by blob id.
typedef struct het_blob_data {
    float *host; // 64-byte aligned host copy (NULL if none)
    void *dev;   // backend-specific device handle (NULL for the CPU)
} het_blob_data;

typedef struct het_backend het_backend;

struct het_backend_ops {
    int api_version; // HET_BACKEND_API
    const char *name;
    void (*destroy)(het_backend *be);
    /// Whether this backend can run layer `l` (NULL: every registered kind).
    bool (*supports)(const het_backend *be, const het_graph *g, const het_layer *l);
    /// Prepares layer `l`: transforms weights, reserves workspace. Borrowed
    /// graph: it must outlive the backend.
    het_status (*prepare)(het_backend *be, const het_graph *g, const het_layer *l);
    /// Computes output channels [c0, c1) of `l`, 0 <= c0 < c1 <= C.
    het_status (*run)(het_backend *be, const het_graph *g, const het_layer *l, const het_blob_data *blobs,
                      int c0, int c1);
    /// Waits for all work issued so far (NULL: run is synchronous).
    het_status (*sync)(het_backend *be);
    /// Optional: runs convolution `conv` for [c0, c1) and applies `relu`, an
    /// in-place ReLU on its top, in the same pass (one sweep over the output
    /// instead of two). NULL: the executor runs the two layers apart.
    het_status (*run_with_relu)(het_backend *be, const het_graph *g, const het_layer *conv,
                                const het_layer *relu, const het_blob_data *blobs, int c0, int c1);
};

struct het_backend {
    const struct het_backend_ops *ops;
    void *ctx;
};

/// CPU core set and thread count for the CPU backend.
typedef struct het_cpu_cfg {
    int n_threads;     // 0: one per core in `cores`, or all online cores
    const int *cores;  // core ids to pin threads to (NULL: no pinning)
    int n_cores;
    int spin_us;       // how long idle workers spin before sleeping (default 200)
} het_cpu_cfg;

/// Creates the CPU backend (OpenBLAS for GEMM, het's own thread pool).
/// The calling thread becomes worker 0 and is pinned to cores[0].
het_status het_cpu_backend_create(const het_cpu_cfg *cfg, het_backend **be_out);

/// Destroys any backend; NULL is a no-op.
void het_backend_destroy(het_backend *be);

/// Parses a core list such as "0-3,6" into ids (at most `cap`). Returns
/// the count, or -1 (and logs) if the list is malformed.
int het_parse_core_list(const char *s, int *cores, int cap);

#endif
