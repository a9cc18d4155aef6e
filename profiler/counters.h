// counters.h: hardware counters (PAPI) around a piece of work, where the
// machine has them. Where it does not (no PAPI in this build, a VM without
// a PMU, an event the CPU lacks, perf_event locked down) het carries on
// without them and says why, once.
#ifndef HET_PROFILER_COUNTERS_H
#define HET_PROFILER_COUNTERS_H

#include "het/het.h"

#include <stdbool.h>

#define HET_MAX_EVENTS 8

typedef struct het_counters het_counters;

/// Sets up counting of `events` (PAPI names such as PAPI_TOT_CYC) on the
/// calling thread. NULL when they cannot be counted; `why` then says why.
het_counters *het_counters_open(const char *const *events, int n, char *why, size_t cap);
void het_counters_close(het_counters *c);

/// Counts from start to stop; values[n] receives the counts.
het_status het_counters_start(het_counters *c);
het_status het_counters_stop(het_counters *c, long long *values);

#endif
