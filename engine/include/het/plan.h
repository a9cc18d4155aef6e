// plan.h: execution plans (JSON, documented in docs/plan.md) and the
// heterogeneous executor that replays them.
//
// A plan says, for one model (by content hash), how to run it on a CPU and
// a GPU: every layer on one device or split by output channel, and, for
// pipelines, contiguous stages. The executor keeps, for every blob, which
// channels are valid on which device, and moves only what a consumer on the
// other device needs; transfers are timed and counted.
#ifndef HET_PLAN_H
#define HET_PLAN_H

#include "het/backend.h"
#include "het/exec.h"
#include "het/graph.h"

enum het_plan_mode {
    HET_MODE_SINGLE,        // every layer on one device
    HET_MODE_MAPPING,       // each layer on one device
    HET_MODE_SPLIT,         // layers divided by output channel between devices
    HET_MODE_PIPELINE,      // contiguous stages, images streamed through them
    HET_MODE_IMAGE_PARALLEL // every device runs the whole net on its own images
};

/// Mode name as in plan files ("mapping"), NULL if out of range.
const char *het_plan_mode_name(enum het_plan_mode m);

#define HET_PLAN_MAX_STAGES 256

typedef struct het_plan {
    enum het_plan_mode mode;
    char model_hash[17];
    int n_layers;
    float *gpu_ratio;    // per layer: fraction of output channels on the GPU (0 = CPU, 1 = GPU)
    int n_stages;        // pipeline: stage s holds layers [stage_first[s], stage_first[s+1])
    int stage_first[HET_PLAN_MAX_STAGES + 1];
    bool uses_cpu, uses_gpu;
    int cpu_lanes;       // image-parallel: CPU lanes, each the CPU backend on its own group of the CPU's cores
                         // ("cpu" listed that many times in "devices"); 1 where the plan uses the CPU otherwise
    // Platform settings (NULL when the plan leaves them to the command line).
    char *cpu_cores, *gpu_cores, *gpu, *gpu_buffers;
    char hash[17];       // content hash of the plan file
    // What the partitioner predicted for this plan (NaN when it says nothing),
    // for which objective ("" when it says none) from which sweep (-1: none).
    double predicted_latency_ms, predicted_images_per_s;
    char objective[16];
    long long sweep_id;
} het_plan;

/// Reads and validates a plan for graph `g`. Errors (one message each):
/// malformed JSON, another model's hash, unknown or repeated layer names, a
/// layer given no device, a ratio outside [0, 1], stages that do not tile
/// the layers in topological order.
het_status het_plan_read(const char *path, const het_graph *g, het_plan **plan_out);

/// A plan that runs every layer of `g` on one device (gpu = false: CPU).
het_status het_plan_single(const het_graph *g, bool gpu, het_plan **plan_out);

void het_plan_destroy(het_plan *p);

/// Of C output channels split with `ratio` on the GPU, how many the CPU
/// computes: C - round(ratio * C). The one rounding rule of plans, the
/// executor and the profiler.
int het_split_cpu_channels(int C, float ratio);

/// Channels of layer `l` that the CPU computes: [0, k) on the CPU, [k, C)
/// on the GPU, k = C - round(ratio * C).
int het_plan_cpu_channels(const het_plan *p, const het_graph *g, int layer);

typedef struct het_xfer_stats {
    uint64_t h2d_bytes, d2h_bytes, h2d_ns, d2h_ns;
    uint64_t h2d_count, d2h_count;
} het_xfer_stats;

/// Adds `x` to `sum`, field by field (the slots of a stream, the streams
/// of a run).
void het_xfer_stats_add(het_xfer_stats *sum, const het_xfer_stats *x);

typedef struct het_hexec het_hexec;

/// An executor replaying plan `p` (single, mapping or split) over workspace
/// `ws` with the given backends (gpu may be NULL if the plan does not use
/// it). All borrowed; the GPU backend must have been bound to `ws`.
het_status het_hexec_create(const het_graph *g, const het_plan *p, het_backend *cpu, het_backend *gpu,
                            het_workspace *ws, het_hexec **x_out);
void het_hexec_destroy(het_hexec *x);

/// Runs one image: the inputs are in the workspace's host storage; on
/// return the graph outputs are too.
het_status het_hexec_run(het_hexec *x);

/// Makes a blob's final value valid in host storage (for --save-blob).
het_status het_hexec_fetch(het_hexec *x, int blob);

/// Transfers since creation (or the last reset).
void het_hexec_stats(const het_hexec *x, het_xfer_stats *out);
void het_hexec_reset_stats(het_hexec *x);

/// One stage (or device) processing one image, in ms since the stream began.
typedef struct het_stream_event {
    int lane, image;
    double start_ms, end_ms;
} het_stream_event;

/// What a stream of images measured. Lanes are the pipeline's stages, or
/// the devices of an image-parallel plan.
typedef struct het_stream_report {
    int n_images, n_lanes;
    double wall_ms;
    double *latency_ms;            // per image: start of its first stage to end of its last
    double lane_busy_ms[HET_PLAN_MAX_STAGES];
    char lane_name[HET_PLAN_MAX_STAGES][24];
    het_stream_event *events;      // n_images * stages (pipeline) or n_images (image-parallel)
    int n_events;
    het_xfer_stats xfer;
    // Calls into each device's backend ([0] CPU, [1] GPU) that found another
    // thread's call in progress and slept until it ended (a wake-up costs
    // ~45 us on the H100 machine).
    unsigned long lock_waited[2];
} het_stream_report;

/// A pipeline or image-parallel plan made ready to stream images: its slots
/// (workspaces bound to the GPU, executors) are made once and kept, so a
/// warm-up stream leaves them warm for the timed one. Made afresh for each
/// stream, the timed stream's first GPU image took 3-4 ms on the H100
/// machine where the rest took 0.5 ms (new buffers are set up at first use),
/// 6% of SqueezeNet v1.1's 100 images image-parallel. Backends are
/// borrowed and must outlive the stream.
typedef struct het_stream het_stream;

het_status het_stream_create(const het_graph *g, const het_plan *p, het_backend *cpu, het_backend *gpu,
                             het_stream **out);

/// The same with `n_cpu` CPU backends: an image-parallel plan with
/// cpu_lanes CPU lanes takes one backend per lane (each on its own cores,
/// called only by its lane's thread); other plans take one.
het_status het_stream_create_lanes(const het_graph *g, const het_plan *p, het_backend *const *cpu, int n_cpu,
                                   het_backend *gpu, het_stream **out);

/// How many images a stream keeps in flight on `gpu`: an image-parallel
/// GPU lane, and a pipeline's stage on the GPU alone before the last, issue
/// the next image before waiting for the current one (2) where the device
/// runs images at once (the backend's overlaps_images), and take them one
/// at a time (1) where they would only take turns on the same cores (PoCL).
int het_stream_gpu_in_flight(const het_backend *gpu);

/// Runs `input` (one image) once through every slot on every lane, untimed.
het_status het_stream_warm(het_stream *s, const float *input);

/// Streams `n_images` inputs (n_images x the input blob's count, float) and
/// writes the `out_blob` of every image to `outputs` (n_images x its count;
/// NULL: not kept).
///
/// Pipeline: one thread per stage, bounded queues between stages, a few
/// workspaces circulating so that several images are in flight; each stage
/// runs its layers on its device (or split) and hands the image on.
/// Image-parallel: one thread per listed device, each running the whole
/// network on images taken from one shared counter. Calls into each backend
/// are serialised by a lock per device.
het_status het_stream_run(het_stream *s, int n_images, const float *inputs, int out_blob, float *outputs,
                          het_stream_report *rep);
void het_stream_destroy(het_stream *s);
void het_stream_report_free(het_stream_report *rep);

#endif
