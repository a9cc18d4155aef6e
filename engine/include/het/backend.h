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
    float *host;   // host storage (inside its root's 64-byte aligned buffer)
    int root;      // blob that owns the storage (itself, or a Concat output)
    size_t offset; // float offset of this blob inside the root's storage
} het_blob_data;

typedef struct het_backend het_backend;

struct het_memory_limits;

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
    /// Optional (device backends): creates device storage mirroring the
    /// workspace `blobs` (same roots and offsets). Borrowed table. A backend
    /// may be bound to several workspaces (images in flight in a pipeline);
    /// run and the transfers select the storage by the table they are given.
    het_status (*bind)(het_backend *be, const het_graph *g, const het_blob_data *blobs);
    /// Optional: makes channels [c0, c1) of a blob of workspace `blobs` valid
    /// on the device (to_device) or in its host storage (to_host). Both
    /// complete before they return, so the host may use the data at once.
    het_status (*to_device)(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0, int c1);
    het_status (*to_host)(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0, int c1);
    /// Optional (device backends): to_host's copy enqueued behind the work
    /// issued on workspace `blobs`, without waiting: the host storage holds
    /// the channels once sync_workspace (or sync) returns. Same threading
    /// rules as to_host. HET_E_UNSUPPORTED, with nothing done, where the
    /// device's storage is the host's (zero-copy): to_host is only a wait
    /// there. NULL: none.
    het_status (*to_host_async)(het_backend *be, const het_graph *g, const het_blob_data *blobs, int blob, int c0,
                                int c1);
    /// Optional: pins the calling thread where this backend's work belongs
    /// (the CPU backend: its first core; the caller becomes its worker 0).
    void (*pin_thread)(het_backend *be);
    /// Optional (device backends): waits for the work issued on workspace
    /// `blobs` only. Callers need not hold the device's lock while other
    /// threads issue work on other workspaces: a pipeline stage that waits
    /// for its image must not keep the next stage from enqueueing another
    /// (with the lock held through the wait, a GPU stage followed by a CPU
    /// stage ran in turn). NULL: callers use sync.
    het_status (*sync_workspace)(het_backend *be, const het_blob_data *blobs);
    /// Optional (device backends): submits the work issued on workspace
    /// `blobs` without waiting for it. Drivers may hold enqueued commands
    /// until a flush or a wait (OpenCL allows it; Mali's driver does), so GPU
    /// work the host means to overlap with its own would otherwise start
    /// only when the host waits for it. NULL: work starts when issued.
    het_status (*flush_workspace)(het_backend *be, const het_blob_data *blobs);
    /// Optional (the CPU backend): copies n floats of host memory with the
    /// backend's threads, from the thread that drives it (its worker 0).
    /// An image's input is 600 KB: 0.06-0.09 ms for one thread of the H100
    /// machine, on a pipeline's first stage every image. NULL: memcpy.
    void (*host_copy)(het_backend *be, float *dst, const float *src, size_t n);
    /// Optional (device backends): whether bind made the device's storage
    /// of a workspace that workspace's host memory itself (zero-copy), so a
    /// blob's host pointer must not change after bind. NULL or false: the
    /// backend reads a blob's host pointer from the table at every call, and
    /// an input may point at the caller's memory (het_workspace_borrow).
    bool (*binds_host)(const het_backend *be);
    /// Whether to_device and to_host on one bound workspace may run while
    /// other threads call the backend for other workspaces (bind excepted),
    /// so that executors sharing the backend need not lock around them:
    /// a pipeline's GPU stage, locked out for each transfer of a later
    /// stage, waited ~2 times an image on the H100 machine, half of them
    /// long enough to sleep.
    bool concurrent_transfers;
    /// Optional (device backends): whether images issued on different
    /// workspaces run at once on the device, so a pipeline stage gains by
    /// issuing the next image before the current one is done. NULL or
    /// false: they take turns on the same hardware (PoCL on a CPU core).
    bool (*overlaps_images)(const het_backend *be);
    /// Optional (device backends): `bytes` of host memory, 64-byte aligned,
    /// that the device copies to and from at full speed (page-locked), for
    /// the blobs and images that cross to it; NULL where it has none. On the
    /// H100 machine a 600 KB image went to the GPU in 0.02 ms from such
    /// memory and in 0.06-0.09 ms from malloc'd memory, and came back
    /// likewise (experiments/gpu_machine/cl_transfer_probe.c). Called while
    /// setting up, not while other threads issue work.
    void *(*host_alloc)(het_backend *be, size_t bytes);
    /// Frees what host_alloc gave; false (and nothing done) for any other
    /// pointer.
    bool (*host_free)(het_backend *be, void *p);
    /// Optional (device backends): the device's memory as it reports it.
    /// NULL: the backend computes in host memory.
    void (*memory_limits)(const het_backend *be, struct het_memory_limits *out);
};

/// A device's memory: the largest one buffer may be and what all of a
/// workspace's buffers must fit in, in bytes (0: no limit), and the device's
/// name for messages.
struct het_memory_limits {
    uint64_t largest_buffer, total;
    const char *device;
};

struct het_backend {
    const struct het_backend_ops *ops;
    void *ctx;
    char desc[640];     // het_backend_describe
    uint64_t setup_ns;  // het_backend_setup_ns
};

/// CPU core set and thread count for the CPU backend.
typedef struct het_cpu_cfg {
    int n_threads;     // 0: one per core in `cores`, or all online cores
    const int *cores;  // core ids to pin threads to (NULL: no pinning)
    int n_cores;
    int spin_us;       // how long idle workers spin before sleeping (0: 200)
    // The convolution path, for measuring the paths on one machine and for
    // tests: NULL or "" het's choice per layer; "gemm" (im2col + sgemm),
    // "direct" (the widest vectors the CPU runs) or "direct4|8|16" (at most
    // that many floats per vector).
    const char *conv;
} het_cpu_cfg;

/// Creates the CPU backend (OpenBLAS for GEMM, het's own thread pool).
/// The calling thread becomes worker 0 and is pinned to cores[0].
het_status het_cpu_backend_create(const het_cpu_cfg *cfg, het_backend **be_out);

/// OpenCL device choice and buffer policy.
typedef struct het_gpu_cfg {
    const char *device;    // "INDEX" or a name substring; NULL: first GPU, else first device
    int zero_copy;         // -1: when the device reports unified memory; 0: never; 1: always
    const char *cache_dir; // program binary cache folder; NULL or "": none (het_gpu_cfg_env fills the usual one)
    // Cores for the OpenCL device's host threads, for devices that run on the
    // CPU (PoCL): its thread count is limited to n_cores and its threads are
    // started pinned to these cores, so that it does not fight the CPU
    // backend. Must be set on the first OpenCL use in the process (PoCL
    // starts its threads then). Ignored for real GPUs.
    const int *cores;
    int n_cores;
    // Knobs for measuring and testing; zero for het's choice.
    int overlap_images;     // 1: run images at once as a GPU does, -1: one at a time (0: by device type)
    bool map_transfers;     // zero-copy CPU-type devices: map buffers at transfers rather than share them
    bool no_launch_cache;   // set every kernel argument at every launch
    const char *conv;       // "pix" or "gemm": the convolution kernel (NULL: by device type)
    int splitk_groups;      // conv_gemm splits K below this many work-groups (0: 16 per compute unit; -1: never)
    const char *kernel_dir; // read the .cl sources from this folder, not the embedded ones (kernel development)
} het_gpu_cfg;

/// Creates the OpenCL backend. HET_E_UNSUPPORTED if het was built without
/// OpenCL, HET_E_OPENCL (with a message) if no platform or device is found.
het_status het_opencl_backend_create(const het_gpu_cfg *cfg, het_backend **be_out);

/// Describes the backend's device in one line ("cpu: 2 threads" or
/// "opencl: NVIDIA H100 (NVIDIA CUDA, driver 580...)"). Never NULL.
const char *het_backend_describe(const het_backend *be);

/// Time spent before the first run that steady-state timings exclude:
/// program build or cache load (ns). 0 for the CPU.
uint64_t het_backend_setup_ns(const het_backend *be);

/// The OpenCL backend's platform name, device name and driver version (empty
/// strings for other backends or builds without OpenCL).
void het_opencl_identity(const het_backend *be, char *platform, char *device, char *driver, size_t cap);

/// The checks every backend's run makes before computing: the layer was
/// prepared (HET_E_STATE otherwise) and 0 <= c0 < c1 <= C (HET_E_INVALID),
/// each with one message naming the backend and the layer.
het_status het_backend_check_run(const het_backend *be, bool prepared, const het_graph *g, const het_layer *l, int c0,
                                 int c1);

/// For backends: whether `relu` can run fused into `conv` (a ReLU in place
/// on the convolution's output); HET_E_INVALID with a message if not.
het_status het_backend_check_fuse(const het_backend *be, const het_layer *conv, const het_layer *relu);

/// For backends, which serve one graph each: HET_OK where `bound` (the graph
/// the backend serves, NULL before its first) is `g`, else HET_E_STATE with
/// a message.
het_status het_backend_check_graph(const het_backend *be, const het_graph *bound, const het_graph *g);

/// Host memory for data that `be` moves to and from its device: its
/// host_alloc where it has one, else het_alloc_aligned (also for a NULL
/// `be`). Free it with het_host_free on the same backend, before the
/// backend is destroyed.
void *het_host_alloc(het_backend *be, size_t bytes);
void het_host_free(het_backend *be, void *p);

/// Destroys any backend; NULL is a no-op.
void het_backend_destroy(het_backend *be);

/// The core sets used when both devices work and none are given: the
/// first half of the `online` cores for the CPU backend, the second half for
/// the OpenCL device's host threads (with PoCL on a 2-core machine, one
/// core each), so that the two devices do not fight over the same cores.
/// With fewer than 2 cores both counts are 0 (no pinning).
void het_default_core_sets(int online, int *cpu, int *n_cpu, int *gpu, int *n_gpu, int cap);

// The most cores a core list names (--cpu-cores, --gpu-cores, plans).
#define HET_MAX_CORES 1024

/// The cores this process may run on, ascending, at most `cap`: the calling
/// thread's affinity, so ask before a backend pins it. Returns the count.
int het_available_cores(int *cores, int cap);

/// Writes ascending core ids as a core list ("0-3,6"), cut short to fit.
void het_format_core_list(const int *cores, int n, char *buf, size_t cap);

/// Parses a core list such as "0-3,6" into ids (at most `cap`): each core
/// once, and one this process may run on. Returns the count, or -1 (and
/// logs) if the list is malformed.
int het_parse_core_list(const char *s, int *cores, int cap);

#endif
