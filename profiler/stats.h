// stats.h: repeated timing with a stopping rule, and its summary.
//
// A measurement repeats an action until the median is known well enough:
// the distribution-free 95% confidence interval of the median (from order
// statistics, so one slow outlier does not widen it the way it would a
// mean's) is within `ci_target` of the median, or a repetition or time cap
// is hit. Shared machines make timing noisy; the median, not the mean, is
// what het reports and the partitioner uses.
#ifndef HET_PROFILER_STATS_H
#define HET_PROFILER_STATS_H

#include "het/het.h"

#include <signal.h>
#include <stdbool.h>

typedef struct het_rep_policy {
    int warmup;         // untimed repetitions after the first run
    int min_reps;       // timed repetitions at least
    int max_reps;       // and at most
    double ci_target;   // stop when the CI half-width / median <= this (0.02)
    double max_seconds; // or when the timed repetitions took this long
} het_rep_policy;

typedef struct het_stats {
    int n;
    double median, min, p10, p90, mean;
    double cv;        // standard deviation / mean
    double ci_rel;    // half-width of the median's 95% CI / median
    bool converged;   // ci_rel <= ci_target was reached
    double first;     // the very first run (program build, first launch), apart
} het_stats;

/// One repetition of what is measured: stores the time it took (ms) and
/// returns HET_OK, or an error that ends the measurement.
typedef het_status (*het_rep_fn)(void *ctx, double *ms);

/// Runs `fn` once (the first run, kept apart), `warmup` times untimed, then
/// timed until the policy says stop. `stop` (may be NULL) ends it early
/// with HET_E_STATE, for Ctrl-C: the measurement in flight is dropped.
het_status het_measure(const het_rep_policy *p, het_rep_fn fn, void *ctx, const volatile sig_atomic_t *stop,
                       het_stats *out);

/// Sorts `v` (n values) in place and returns its median: the middle value,
/// or the mean of the two middle ones; NaN for none.
double het_median(double *v, int n);

/// Summarises `n` samples (sorted in place).
void het_stats_compute(double *samples, int n, double ci_target, het_stats *out);

#endif
