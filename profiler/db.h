// db.h: het's results database (SQLite): the contract between hetprof,
// hetpart and hetrun. The schema is documented in docs/database.md and
// versioned with PRAGMA user_version.
#ifndef HET_PROFILER_DB_H
#define HET_PROFILER_DB_H

#include "het/graph.h"
#include "stats.h"

#include <stdint.h>

#define HET_DB_VERSION 8
#define HET_DB_TIMEOUT_MS 10000 // how long a writer waits for another's lock

typedef struct het_db het_db;

/// Opens (creating or upgrading if needed) the database at `path`; refuses,
/// with one message, a file that is not SQLite, an SQLite file that is not
/// het's, and a newer schema version, and never writes to them. Writers
/// wait up to `timeout_ms` for another writer's lock.
het_status het_db_open(const char *path, int timeout_ms, het_db **db_out);
void het_db_close(het_db *db);

/// For readers: opens the database read-only (a read-only file or folder
/// is fine), nothing created or upgraded. A missing file ("does not exist;
/// hetprof sweep creates it") or a schema of another version is an error.
het_status het_db_open_existing(const char *path, het_db **db_out);

/// The SQLite connection, for readers that query the documented schema
/// (docs/database.md) directly: the partitioner, reports.
struct sqlite3 *het_db_sqlite(het_db *db);

/// What a run measured, for the runs table.
typedef struct het_db_run {
    const char *model_path, *model_name, *model_hash, *weights; // weights: path, or "seed:N"
    int n_layers;
    double gflop;
    const char *plan_path, *plan_hash, *mode; // mode: a plan mode (single, mapping, ...), as in plans
    const char *device;                       // which devices ran: cpu, gpu or cpu+gpu
    const char *objective;                    // the plan's objective (latency, throughput), or NULL
    int64_t sweep_id;                         // the sweep the plan was solved from (-1: none)
    const char *backend;                      // description of the devices
    const char *cpu_cores, *opencl_device, *opencl_platform, *opencl_driver;
    int images;
    double wall_ms, images_per_s, latency_p50_ms, latency_p90_ms, latency_min_ms;
    uint64_t h2d_bytes, d2h_bytes;
    double h2d_ms, d2h_ms;
    double predicted_latency_ms, predicted_images_per_s; // NaN: none
    int n_lanes;
    const char *const *lane_names;
    const double *lane_busy_ms;
} het_db_run;

/// Checks that the database at `path` is het's and of a version this het
/// reads, or, where there is none, that its folder lets one be created
/// (nothing is created). Used before a run so that a bad --db is reported
/// before any work. One message on error.
het_status het_db_check(const char *path);

/// Appends one run (and its platform and model rows, shared with other runs)
/// in one transaction: all or nothing. Waits up to `timeout_ms` for a lock.
het_status het_db_add_run(const char *path, int timeout_ms, const het_db_run *run, int64_t *run_id_out);

// ---- the profiler's tables (db_sweep.c) ----------------------------------

/// What identifies a sweep: this machine, the model and its weights, and
/// each device as configured (NULL desc: the device is not swept).
typedef struct het_db_sweep_info {
    const het_graph *g;
    const char *model_path, *weights; // weights: path, or "seed:N"
    const char *cpu_cores, *cpu_desc;
    const char *ocl_platform, *ocl_device, *ocl_driver, *gpu_desc;
    const char *settings; // the sweep's options, as JSON, for the record
} het_db_sweep_info;

/// Finds the sweep with this identity or starts one (recording the
/// platform, devices, model, layers and blobs on the way), in one
/// transaction. `resumed`: it existed.
het_status het_db_sweep_begin(het_db *db, const het_db_sweep_info *in, int64_t *sweep_id, bool *resumed);

/// Marks the sweep finished and records why counters are missing, if they are.
het_status het_db_sweep_finish(het_db *db, int64_t sweep, const char *counters_note);

/// The kinds of measurement, one table each.
enum het_db_kind {
    HET_DB_LAYER,
    HET_DB_SPLIT,
    HET_DB_TRANSFER,
    HET_DB_CORUN,
    HET_DB_NETWORK,
    HET_DB_NETWORK_CORUN,
    HET_DB_BASELINE, // a device alone at its best resources (baselines)
};

/// The key of one measurement within a sweep.
typedef struct het_db_item {
    enum het_db_kind kind;
    int index;    // layer (layer, split, co-run) or blob (transfer)
    int device;   // 0 cpu, 1 gpu (layer, co-run, network, network co-run, baseline: the device timed); transfer: 1 host->gpu, 0 gpu->host
    int fused;    // layer, split, co-run: a convolution with its ReLU
    double ratio; // split: GPU share of the output channels
    int channels; // transfer: channels [0, channels) of the blob
} het_db_item;

/// One unit's time inside the running network (network_units).
typedef struct het_db_unit {
    int layer;     // its first layer
    int fused;     // a convolution with its ReLU
    het_stats stats;
} het_db_unit;

/// One measurement's outcome.
typedef struct het_db_result {
    const char *status;     // "ok", "unsupported" or "failed"
    const char *note;       // why, when not ok (may be NULL)
    const het_stats *stats; // NULL unless ok
    int cpu_channels, gpu_channels; // split
    double compute_ms;      // split: median without the merge
    uint64_t bytes;         // transfer
    double alone_ms;        // co-run: the same layer (network) with the other device idle
    long busy_runs;         // co-run: networks the other device ran meanwhile
    double slowdown;        // network co-run: the median of its rounds' busy / alone (a layer's: median / alone_ms)
    int rounds;             // network co-run: alone-then-busy rounds
    double stream_alone_ms, stream_slowdown; // network co-run: the GPU streaming (NaN: not measured)
    double layer_sum_ms;    // network: sum of its layers' medians
    const het_stats *issue; // layer on the GPU: the host's time to issue it (gpu_issue), or NULL
    const het_stats *stream; // network on the GPU: ms an image, streamed (network_streams), or NULL
    int stream_in_flight, stream_images; // its images in flight at once, and per timed stream
    const char *cores;      // baseline: the cores its backend ran on ("0-15")
    int threads;            // baseline: its threads
    int n_units;            // network: its units timed in the running network (may be 0)
    const het_db_unit *units;
    int n_counters;         // layer on the CPU: PAPI values (NaN: not available)
    const char *const *events;
    const double *counters;
} het_db_result;

/// Whether the sweep holds this measurement: 1 yes, 0 no, -1 error.
int het_db_has(het_db *db, int64_t sweep, const het_db_item *it);

/// Stores one measurement (and its counters) in one transaction,
/// replacing an earlier one with the same key (--force).
het_status het_db_put(het_db *db, int64_t sweep, const het_db_item *it, const het_db_result *r);

/// The stored median of a measurement (ms), NaN if there is none or it is
/// not ok.
double het_db_median(het_db *db, int64_t sweep, const het_db_item *it);

/// Fits latency + bytes x time-per-byte to each direction's transfers of
/// the sweep (least squares) and stores the models, with `h2d_handoff_ms`
/// (het_prof_handoff: waking the GPU after host work) added to the
/// host->GPU latency: the executor pays it when the GPU takes over.
het_status het_db_fit_transfers(het_db *db, int64_t sweep, double h2d_handoff_ms);

// A sweep whose layer timings spread this much (their median coefficient
// of variation) was taken on a machine busy with other work: a quiet
// machine's sweeps spread a few percent, and twice that is another
// process's work, not the layers'.
#define HET_SWEEP_CV_LIMIT 0.10

/// How far a sweep's layer timings can be trusted: how many there are, how
/// many stopped at the time limit before their median's confidence
/// interval reached the target, and their median coefficient of variation
/// (NaN: none). `why` (cap bytes) gets a sentence when they cannot be
/// trusted (median CV above HET_SWEEP_CV_LIMIT), else "".
typedef struct het_sweep_quality {
    int n, unconverged;
    double median_cv;
} het_sweep_quality;
het_status het_db_sweep_quality(het_db *db, int64_t sweep, het_sweep_quality *q, char *why, size_t cap);

/// The git revision these tools were built from, as every row records it.
const char *het_db_git_rev(void);

#endif
