// measure.h: what hetprof times, one primitive per kind of measurement.
//
// A measuring context owns a workspace whose blobs all hold realistic
// values (the network ran once on a seeded synthetic image) and, when a GPU
// is given, are resident on it too, so that a layer is timed with its
// inputs already where it runs. Layers that work in place get their input
// restored before every repetition, outside the timed region, so that a
// thousand repetitions of a Scale do not drift into denormals.
//
// Devices are numbered as in the executor: 0 the CPU backend, 1 the GPU.
#ifndef HET_PROFILER_MEASURE_H
#define HET_PROFILER_MEASURE_H

#include "het/backend.h"
#include "counters.h"
#include "stats.h"

enum { HET_DEV_CPU = 0, HET_DEV_GPU = 1 };

typedef struct het_prof het_prof;

/// Creates a context for `g` with the given backends (either may be NULL,
/// not both; borrowed, every layer already prepared on each). `corun`:
/// also make a second workspace for the busy loop of het_prof_busy_start.
het_status het_prof_create(const het_graph *g, het_backend *cpu, het_backend *gpu, bool corun, uint64_t seed,
                           const het_rep_policy *policy, const volatile sig_atomic_t *stop, het_prof **out);
void het_prof_destroy(het_prof *p);

/// Pins the calling thread where device `dev`'s work is driven from.
void het_prof_pin(het_prof *p, int dev);

/// The whole network on `be`, a backend of its own (the CPU backend on all
/// the cores: the obvious run any plan must beat), one image at a time, on
/// the context's seeded image, in a workspace of its own. Prepares every
/// layer on `be`; leaves the calling thread pinned as for the CPU.
het_status het_prof_network_alone(het_prof *p, het_backend *be, het_stats *out);

/// Layer `layer` alone on `dev`, all output channels. `fused`: a
/// convolution with the in-place ReLU that follows it, as the executors run
/// them (het_exec_fusable_relu must be non-NULL). `issue` (may be NULL):
/// the host's time to issue it, until the backend's call returns (on a GPU,
/// before the wait for the kernels): what the executor's thread spends on a
/// GPU layer while the GPU computes.
het_status het_prof_layer(het_prof *p, int layer, int dev, bool fused, het_stats *out, het_stats *issue);

/// The same for output channels [c0, c1) only: one part of a split, alone
/// (hetprof parts). HET_E_INVALID for an empty or out-of-range interval,
/// or a part of a layer kind that cannot be split.
het_status het_prof_part(het_prof *p, int layer, int dev, bool fused, int c0, int c1, het_stats *out,
                         het_stats *issue);

/// Layer split by output channel: [0, k) on the CPU, [k, C) on the GPU at
/// once, k = het_split_cpu_channels(C, ratio). `wall`: until the whole
/// output is valid in host memory (the merge, the GPU part's copy back,
/// included); `compute`: until both parts are computed.
het_status het_prof_split(het_prof *p, int layer, bool fused, double ratio, het_stats *wall, het_stats *compute);

/// The same at k CPU channels (0 < k < C), the merge where the output is
/// wanted: `merge_on_gpu` uploads the CPU's channels [0, k) instead (what
/// the executor does when the layer's consumer runs on the GPU); `wall`
/// then runs until the GPU holds the whole output and `compute` until the
/// CPU part is done (the GPU's may still run).
het_status het_prof_split_at(het_prof *p, int layer, bool fused, int k, bool merge_on_gpu, het_stats *wall,
                             het_stats *compute);

/// PAPI counts of layer `layer` on the CPU, per run, averaged over
/// `reps` runs; they cover the calling thread (the CPU backend's worker 0,
/// all of its work when it has one thread).
het_status het_prof_counters(het_prof *p, int layer, bool fused, het_counters *c, int n_events, int reps,
                             double *values);

/// Moving channels [0, channels) of `blob` host->device (to_gpu) or back.
het_status het_prof_transfer(het_prof *p, int blob, bool to_gpu, int channels, het_stats *out);

/// What starting the GPU costs after the host has computed for a while:
/// layer `layer` on the GPU after 5 ms of host work, minus the same
/// layer back to back (het_prof_layer; the difference is clamped at 0). A driver whose threads sleep when idle (PoCL)
/// pays a wake-up per hand-off that per-layer timings, taken back to back,
/// never see; with coherent buffers it is what is left of a transfer.
het_status het_prof_handoff(het_prof *p, int layer, double *ms);

/// The whole network on `dev`, end to end (inputs in, outputs out), timed in
/// bursts pooled in `acc`, so that a sweep can take them at moments spread
/// over its length: on a shared machine one burst samples the speed of one
/// moment. With `units` every repetition also times each unit as executors
/// run it (het_exec_run_units: fused, the backend synced after each).
/// Meant for the CPU, where that timing costs nothing: there a layer's time
/// in the running network, with the other layers' weights and blobs through
/// the caches, can differ from its time run alone and back to back
/// (MobileNet's 4 MB fc7: 0.18 ms alone, 0.38 ms in the network, on the
/// build machine).
#define HET_NET_STREAM_CAP 64
#define HET_NET_BURSTS_CAP 8

typedef struct het_net_acc {
    int dev, bursts;
    bool units;        // per-unit times were taken
    int n;             // timed repetitions so far
    double *ms;        // n, whole network
    double *unit_ms;   // n rows of n_layers, with units
    double first;      // the first run of the first burst
    double *unit_first; // n_layers
    // The GPU: ms an image streamed as image-parallel plans run it (with
    // stream_in_flight images in flight, het_stream_gpu_in_flight), a few
    // samples a burst, each the mean over stream_images images.
    double stream_ms[HET_NET_STREAM_CAP];
    int n_stream, stream_images, stream_in_flight;
    // Each burst's median (and its stream samples' median), the first
    // HET_NET_BURSTS_CAP bursts: how far the machine's speed moved.
    double burst_ms[HET_NET_BURSTS_CAP], burst_stream_ms[HET_NET_BURSTS_CAP];
} het_net_acc;

/// How far the bursts' medians spread: the slowest over the fastest (1
/// with fewer than two bursts), of the network and of the stream (1
/// without one). A sweep whose bursts moved by HET_NET_DRIFT or more
/// (hetprof --drift-limit) says so (hetprof's warning, the row's note):
/// plans priced from it carry the machine's speed at one moment.
#define HET_NET_DRIFT 1.2
void het_net_acc_drift(const het_net_acc *acc, double *net, double *stream);

het_status het_net_acc_init(const het_prof *p, het_net_acc *acc);
void het_net_acc_free(het_net_acc *acc);
/// One more burst into `acc` (all of its bursts on one device, all with or
/// all without per-unit timing).
het_status het_prof_network_burst(het_prof *p, int dev, bool units, het_net_acc *acc);
/// The statistics over every timed repetition of every burst so far; with
/// `units` (n_layers entries, may be NULL), units[i] summarises the unit
/// starting at layer i (a folded ReLU's entry is all zeros); `stream` (may
/// be NULL) gets the streamed samples' statistics when acc->n_stream > 0.
het_status het_net_acc_stats(const het_prof *p, het_net_acc *acc, het_stats *out, het_stats *units, het_stats *stream);

/// Keeps device `dev` busy with the whole network, over and over, in a
/// thread of its own, until het_prof_busy_stop (co-run interference).
/// Returns once it has run the network once (or failed: its error).
het_status het_prof_busy_start(het_prof *p, int dev);
/// Stops the busy loop; returns its first error, if any, and how many
/// networks it ran.
het_status het_prof_busy_stop(het_prof *p, long *runs);

/// A device's slowdown under the other's load, whole networks (co-run
/// at the scale plans run it).
typedef struct het_prof_corun {
    het_stats busy;   // the network on the device, the other busy: every timed run of every round
    double alone_ms;  // the median of the rounds' medians alone
    double slowdown;  // the median of the rounds' busy / alone
    int rounds;
    long busy_runs;   // networks the busy device ran meanwhile
    // A GPU that runs images at once, streaming as image-parallel lanes run
    // it (ms an image alone, busy / alone), in the same rounds; NaN elsewhere.
    double stream_alone_ms, stream_slowdown;
} het_prof_corun;

/// The whole network on `dev`, `rounds` times alone and then with the
/// other device running the network over and over (het_prof_busy_start),
/// each round's two measurements back to back (and the GPU's stream, where
/// it runs images at once). The busy loop must not be running.
het_status het_prof_corun_network(het_prof *p, int dev, int rounds, het_prof_corun *out);

#endif
