// sweep.h: what a sweep measures, in which order, and where it stores it.
//
// The sweep lists every measurement it owes (layers on each device, alone
// and fused with their ReLU; splits at each ratio; transfers; co-run;
// whole networks), drops those the database already holds (unless forced),
// and measures the rest one by one, storing each as soon as it is known.
#ifndef HET_PROFILER_SWEEP_H
#define HET_PROFILER_SWEEP_H

#include "counters.h"
#include "db.h"
#include "measure.h"

#define HET_MAX_RATIOS 64

typedef struct het_sweep_opts {
    bool dev[2];                   // devices swept (HET_DEV_CPU, HET_DEV_GPU)
    double ratios[HET_MAX_RATIOS]; // split ratios (GPU share), in (0, 1)
    int n_ratios;
    bool corun, force, quiet;
    const char *events[HET_MAX_EVENTS]; // PAPI events (n_events 0: none)
    int n_events;
    het_counters *counters;        // NULL: counters unavailable (rows get NULL values)
    const bool *unsupported[2];    // per device, per layer: it cannot run there (NULL: all can)
    const char *unsupported_why[2];// the reason recorded with those rows
    const char *gpu_unusable;      // why the GPU holds no blobs (transfers unsupported), or NULL
    double drift_limit;            // warn when a network's bursts spread this much (0: HET_NET_DRIFT)
    // The CPU backend on every core this process may use, and those cores:
    // the whole network on it is the baseline any plan must beat (NULL:
    // not measured).
    het_backend *cpu_all;
    const char *cpu_all_cores;
    int cpu_all_threads;
    const volatile sig_atomic_t *stop;
} het_sweep_opts;

typedef struct het_sweep_summary {
    int owed, done, skipped, failed, unsupported;
    double seconds;
    double median_cv; // median coefficient of variation of the layer timings measured now
} het_sweep_summary;

/// Runs the sweep. Returns HET_E_STATE when interrupted (what was measured
/// is stored), HET_E_DB when the database refused a write.
het_status het_sweep_run(het_db *db, int64_t sweep, het_prof *p, const het_graph *g, const het_sweep_opts *o,
                         het_sweep_summary *sum);

#endif
