// report.h: reading the profiler's tables back: the per-layer table of
// `hetprof show` and the CSV files of `hetprof export`.
#ifndef HET_PROFILER_REPORT_H
#define HET_PROFILER_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/// Prints each sweep of `db_path` (only those of the model `model_path`, or
/// only sweep `sweep_id` when >= 0; `fold`: the model as het_graph_fold
/// leaves it, as sweeps take it by default): as a table, or with `json` as
/// one JSON array of sweeps. Returns a process exit code.
int het_report_show(const char *db_path, const char *model_path, bool fold, long long sweep_id, bool json, FILE *out);

/// Writes every table of `db_path` as DIR/<table>.csv (each file replaced
/// whole or not at all). Returns a process exit code.
int het_report_export(const char *db_path, const char *dir);

#endif
