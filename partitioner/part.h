// part.h: the partitioner's cost model and its exact solvers.
//
// The network is a sequence of units in topological order: a layer, or a
// convolution with the in-place ReLU the executors fuse into it. Each unit
// has a time on each device and, where measured, a time split between them
// at some GPU shares. Blobs carry their size; transfers cost latency +
// bytes x time-per-byte per direction.
//
// The cost of an assignment is defined by hp_simulate, which replays the
// heterogeneous executor's rules (engine/exec/hetero.c) on two clocks:
// GPU work is enqueued and runs while the host goes on; a transfer first
// waits for the GPU, then blocks the host; a CPU unit that touches storage
// the GPU touched since the last wait waits first; a split runs both
// halves from a common start. The solvers are exact for this cost: they
// return an assignment whose simulated cost no other assignment beats
// (tests/unit/test_partition.c checks that against brute force).
#ifndef HET_PARTITIONER_PART_H
#define HET_PARTITIONER_PART_H

#include "het/het.h"

#include <stdbool.h>

#define HP_MAX_IN 8
#define HP_MAX_RATIOS 32

enum { HP_CPU = 0, HP_GPU = 1 };

typedef struct hp_unit {
    int first, last;       // graph layers [first, last] (last > first: a fused ReLU)
    int n_in;
    int in[HP_MAX_IN];     // bottom blobs (distinct)
    int out;               // top blob
    double t[2];           // time alone on CPU, GPU (ms); INFINITY: cannot run there
    // At the model's ratio j: the fraction of output channels on the CPU
    // (k / C; 1 or 0 when the ratio leaves all on one device) and the time
    // with both halves computed (INFINITY: not a split, or not measured).
    double cpu_share[HP_MAX_RATIOS];
    double t_split[HP_MAX_RATIOS];
    double slow[2];        // co-run slowdown on CPU, GPU (1: none)
    double issue;          // on the GPU: the host's time to issue it (ms; 0: unknown), part of t[1]
} hp_unit;

typedef struct hp_blob {
    double bytes;
    int root;       // blobs sharing storage (zero-copy concat) share a root
    bool is_input, is_output;
} hp_blob;

typedef struct hp_model {
    int n_units;
    hp_unit *u;
    int n_blobs;
    hp_blob *b;
    int n_ratios;
    double ratio[HP_MAX_RATIOS];       // GPU shares of the output channels, as in plans
    double x_lat[2], x_ms_per_byte[2]; // transfers: [HP_CPU] to host, [HP_GPU] to the GPU
    double net[2];                     // whole network measured alone (ms), for image-parallel
    double stream[2];                  // ms an image streamed as image-parallel lanes run it (0: not measured)
    int stream_in_flight[2];           // its images in flight (1: image by image, as on PoCL)
    double stream_corun[2];            // the stream's co-run slowdown over its units' (0 or 1: none), with corun
    bool corun;                        // apply co-run slowdowns where both devices work
} hp_model;

/// A choice per unit: HP_CPU, HP_GPU, or 2 + j: split at the model's ratio j.
typedef int hp_choice;
#define HP_SPLIT(j) (2 + (j))

/// Latency of one image under `choice` (per unit), inputs starting in host
/// memory and outputs ending there. INFINITY if a unit cannot run where
/// it is put.
double hp_simulate(const hp_model *m, const hp_choice *choice);

/// Time of units [first, end) as one pipeline stage (clocks start together,
/// the stage ends with a wait for the GPU), starting from residence `res`
/// (2 floats per blob, see hp_residence_init) which it updates; `both`:
/// the other device works meanwhile (co-run slowdowns apply). *xfer_ms
/// (if not NULL): the part of that time spent on transfers.
double hp_simulate_range(const hp_model *m, const hp_choice *choice, int first, int end, float *res, bool both,
                         bool last, double *xfer_ms);
/// Residence at the start of an image: inputs valid in host memory only.
void hp_residence_init(const hp_model *m, float *res);

/// Exact minimum-latency assignment: each unit's choice among CPU, GPU and
/// its splits (allow_split), by dynamic programming over the topological
/// order with the residence of live blobs as state and a Pareto set of
/// clock pairs per state. Returns the latency; choice[n_units] is filled.
double hp_solve_latency(const hp_model *m, bool allow_split, hp_choice *choice);

typedef struct hp_pipeline {
    int n_stages;
    int first[64 + 1];       // stage s: units [first[s], first[s+1])
    hp_choice dev[64];       // HP_CPU, HP_GPU or HP_SPLIT(j) for every unit of the stage at ratio j
    double stage_ms[64];
    double cycle_ms;         // time between images: the busier device's total
    double latency_ms;       // one image through every stage
} hp_pipeline;

/// Exact best division into at least `min_stages` and at most `max_stages`
/// (<= 64) contiguous stages (min 2, max 2: the thesis' two layer groups),
/// each on the CPU, the GPU or (allow_split) split at one ratio, minimising
/// the cycle: stages on one device take turns, so the cycle is the larger
/// of the two devices' total stage time (a split stage counts on both, and
/// a CPU stage's reads from the GPU count on the GPU too).
/// Among equal cycles (within 1e-9, relative) it returns the fewest stages,
/// then the lowest latency of the plans its pruning keeps. Returns the cycle time (ms), INFINITY when no
/// division is feasible.
/// The states it keeps grow with each stage allowed, with no polynomial
/// bound (stages free to alternate make balancing the two devices' loads a
/// partition problem): past `max_bytes` of them it stops, sets *capped and
/// returns INFINITY.
double hp_solve_pipeline(const hp_model *m, int min_stages, int max_stages, bool allow_split, size_t max_bytes,
                         bool *capped, hp_pipeline *out);

/// The cost of a given division (first[] and dev[] set, as the solver
/// returns them): fills stage_ms, cycle_ms and latency_ms exactly as
/// hp_solve_pipeline prices its answer. Returns the cycle (ms), INFINITY
/// when a unit cannot run where its stage puts it, NAN if the model is too
/// large for the replay.
double hp_pipeline_eval(const hp_model *m, hp_pipeline *p);

/// The index j of the model's ratio within 1e-6 of `gpu_share`, -1 if none.
int hp_ratio_index(const hp_model *m, double gpu_share);

/// The choice a GPU share means for a unit: 0 the CPU, 1 the GPU, else the
/// model's ratio within 1e-6 of it (HP_SPLIT(j), or the device that ratio
/// leaves the unit whole on). -1: a share the sweep did not measure.
hp_choice hp_choice_of_share(const hp_model *m, int unit, double gpu_share);

/// Images per second when each device runs whole images on its own
/// (co-run slowdowns applied unless disabled; the GPU streamed).
double hp_image_parallel_rate(const hp_model *m);

/// What a pipeline stage on the GPU alone that is not the last costs,
/// against its units' sum: the sweep's stream over the network's time
/// image by image (such a stage keeps images in flight), 1 without one.
double hp_gpu_stream_factor(const hp_model *m);

/// The choice vector of a pipeline (every unit of a stage gets its device,
/// or the stage's ratio, or the one device the ratio leaves it on).
void hp_pipeline_choices(const hp_model *m, const hp_pipeline *p, hp_choice *choice);

#endif
