// load.h: reading a cost model (part.h) from the profiler's database.
#ifndef HET_PARTITIONER_LOAD_H
#define HET_PARTITIONER_LOAD_H

#include "db.h"
#include "het/graph.h"
#include "part.h"

typedef struct hp_load_opts {
    const char *platform; // substring of the CPU model or OpenCL device the sweep must match (NULL: any)
    long long sweep_id;   // a given sweep (< 0: the latest that fits)
    bool corun;           // apply co-run slowdowns
    bool corun_per_layer; // the per-layer co-run rows, also where the sweep timed whole networks co-running
    bool allow_missing;   // estimate missing layer times instead of failing
    bool calibrate;       // scale layer times so single-device sums match the measured networks
    bool in_context;      // prefer units' times inside the running network (network_units) where measured
    bool issue;           // charge the host the time it takes to issue each GPU unit (gpu_issue)
    double net_ms[2];     // > 0: calibrate to this whole-network time (CPU, GPU) instead of the sweep's
    double gpu_stream_ms; // > 0: the GPU's stream (ms an image, image-parallel lane alone) instead of the sweep's
} hp_load_opts;

typedef struct hp_loaded {
    hp_model m;
    int64_t sweep;
    char desc[512];       // "sweep N: CPU + GPU"
    double calibration[2];
    int in_context[2];    // units whose time is their time inside the running network, per device
    double net_slow[2];   // whole-network co-run slowdown applied to every unit, per device (NaN: per-layer rows)
    double stream_slow[2]; // the device's stream's co-run slowdown (NaN: not measured)
    // The CPU backend alone on every core (baselines; NaN: the sweep has
    // none): the obvious run any plan must beat, and the cores it had.
    double base_cpu_ms;
    char base_cpu_cores[128];
    char sweep_cpu_cores[128]; // the cores the sweep's CPU backend had ("" where it was not pinned)
    het_sweep_quality quality; // how far its layer timings can be trusted
    char quality_note[400];    // why not, or "" (het_db_sweep_quality)
} hp_loaded;

/// Builds the cost model of `g` from the sweep: units (a convolution and
/// the ReLU executors fuse into it are one), their median times (inside the
/// running network where the sweep timed them there, else alone), split
/// times (both halves computed; the merge is priced as transfers; scaled
/// as the devices' units were by their in-context times), co-run
/// slowdowns (the whole network's where the sweep timed it co-running),
/// the fitted transfer models and the whole-network times.
/// A missing measurement is an error naming it, unless allow_missing.
het_status hp_load(het_db *db, const char *db_path, const het_graph *g, const hp_load_opts *o, hp_loaded *out);
void hp_loaded_free(hp_loaded *l);

/// Warns, once, where the sweep's timings cannot be trusted: for commands
/// that price from it, once they have (an error before that is the one line).
void hp_warn_quality(const hp_loaded *L);

/// Which co-run slowdowns the model applies, for messages: "off", "per
/// layer", or the whole-network factors.
void hp_corun_text(const hp_loaded *L, char *buf, size_t cap);

#endif
