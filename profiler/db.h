// db.h: het's results database (SQLite): the contract between hetprof,
// hetpart and hetrun. The schema is documented in docs/database.md and
// versioned with PRAGMA user_version.
#ifndef HET_PROFILER_DB_H
#define HET_PROFILER_DB_H

#include "het/het.h"

#include <stdint.h>

#define HET_DB_VERSION 1

/// What a run measured, for the runs table.
typedef struct het_db_run {
    const char *model_path, *model_name, *model_hash, *weights; // weights: path, or "seed:N"
    int n_layers;
    double gflop;
    const char *plan_path, *plan_hash, *mode; // mode: single-cpu, single-gpu, mapping, ...
    const char *backend;                      // description of the devices
    const char *cpu_cores, *opencl_device, *opencl_platform, *opencl_driver;
    int images;
    double wall_ms, images_per_s, latency_p50_ms, latency_p90_ms, latency_min_ms;
    uint64_t h2d_bytes, d2h_bytes;
    double h2d_ms, d2h_ms;
    int n_lanes;
    const char *const *lane_names;
    const double *lane_busy_ms;
} het_db_run;

/// Opens (creating if needed) the database at `path` and checks that it is
/// het's and of a version this het reads; closes it again. Used before a run
/// so that a bad --db is reported before any work. One message on error.
het_status het_db_check(const char *path);

/// Appends one run (and its platform and model rows, shared with other runs)
/// in one transaction: all or nothing. Waits up to 10 s for a lock.
het_status het_db_add_run(const char *path, const het_db_run *run, int64_t *run_id_out);

#endif
