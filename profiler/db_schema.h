// db_schema.h: the tables the profiler adds in schema version 2,
// network_units of version 3, gpu_issue of version 4, network_streams of
// version 5, network_corun of version 6 and baselines of version 7 (the
// runs tables of version 1 are in db.c).
// Documented in docs/database.md;
// a change here is a new schema version and a new section there.
#ifndef HET_PROFILER_DB_SCHEMA_H
#define HET_PROFILER_DB_SCHEMA_H

// Columns every timing row carries (het_stats).
#define HET_DB_STATS_COLUMNS                                                                                  \
    " reps INTEGER, median_ms REAL, min_ms REAL, p10_ms REAL, p90_ms REAL, mean_ms REAL, cv REAL,"            \
    " ci_rel REAL, converged INTEGER, first_ms REAL,"                                                         \
    " status TEXT NOT NULL CHECK (status IN ('ok', 'unsupported', 'failed')), note TEXT,"                    \
    " measured_at TEXT NOT NULL, git_rev TEXT NOT NULL,"

#define HET_DB_SWEEP_TABLES                                                                                   \
    "CREATE TABLE IF NOT EXISTS devices ("                                                                    \
    " id INTEGER PRIMARY KEY, platform_id INTEGER NOT NULL REFERENCES platforms(id),"                        \
    " role TEXT NOT NULL CHECK (role IN ('cpu', 'gpu')), name TEXT NOT NULL, detail TEXT NOT NULL,"         \
    " UNIQUE (platform_id, role, name, detail))",                                                           \
    "CREATE TABLE IF NOT EXISTS layers ("                                                                     \
    " model_id INTEGER NOT NULL REFERENCES models(id), idx INTEGER NOT NULL, name TEXT NOT NULL,"           \
    " kind TEXT NOT NULL, out_channels INTEGER NOT NULL, splittable INTEGER NOT NULL,"                      \
    " fused_relu INTEGER, macs INTEGER, flops INTEGER, bytes_read INTEGER, bytes_written INTEGER,"          \
    " bottoms TEXT NOT NULL, tops TEXT NOT NULL, PRIMARY KEY (model_id, idx))",                             \
    "CREATE TABLE IF NOT EXISTS blobs ("                                                                      \
    " model_id INTEGER NOT NULL REFERENCES models(id), idx INTEGER NOT NULL, name TEXT NOT NULL,"           \
    " n INTEGER, c INTEGER, h INTEGER, w INTEGER, bytes INTEGER NOT NULL, producer INTEGER,"                \
    " PRIMARY KEY (model_id, idx))",                                                                         \
    "CREATE TABLE IF NOT EXISTS sweeps ("                                                                     \
    " id INTEGER PRIMARY KEY, platform_id INTEGER NOT NULL REFERENCES platforms(id),"                        \
    " model_id INTEGER NOT NULL REFERENCES models(id), weights TEXT NOT NULL,"                              \
    " cpu_device_id INTEGER REFERENCES devices(id), gpu_device_id INTEGER REFERENCES devices(id),"          \
    " settings TEXT, het_version TEXT NOT NULL, git_rev TEXT NOT NULL,"                                     \
    " started_at TEXT NOT NULL, finished_at TEXT, counters_note TEXT)",                                     \
    "CREATE TABLE IF NOT EXISTS measurements ("                                                               \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL,"                         \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), fused INTEGER NOT NULL,"                       \
    HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, layer_idx, device, fused))",                               \
    "CREATE TABLE IF NOT EXISTS split_measurements ("                                                         \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL, fused INTEGER NOT NULL," \
    " ratio REAL NOT NULL, cpu_channels INTEGER, gpu_channels INTEGER, compute_ms REAL,"                     \
    HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, layer_idx, fused, ratio))",                                \
    "CREATE TABLE IF NOT EXISTS transfers ("                                                                  \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), blob_idx INTEGER NOT NULL,"                          \
    " direction TEXT NOT NULL CHECK (direction IN ('h2d', 'd2h')), channels INTEGER NOT NULL,"              \
    " bytes INTEGER NOT NULL," HET_DB_STATS_COLUMNS                                                           \
    " PRIMARY KEY (sweep_id, blob_idx, direction, channels))",                                              \
    "CREATE TABLE IF NOT EXISTS transfer_models ("                                                            \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id),"                                                      \
    " direction TEXT NOT NULL CHECK (direction IN ('h2d', 'd2h')),"                                         \
    " latency_ms REAL NOT NULL, ms_per_mb REAL NOT NULL, n_points INTEGER NOT NULL,"                        \
    " max_rel_err REAL, PRIMARY KEY (sweep_id, direction))",                                                \
    "CREATE TABLE IF NOT EXISTS corun ("                                                                      \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL,"                         \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), fused INTEGER NOT NULL,"                       \
    " alone_ms REAL, slowdown REAL, busy_runs INTEGER," HET_DB_STATS_COLUMNS                                \
    " PRIMARY KEY (sweep_id, layer_idx, device, fused))",                                                   \
    "CREATE TABLE IF NOT EXISTS networks ("                                                                   \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id),"                                                      \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), layer_sum_ms REAL," HET_DB_STATS_COLUMNS       \
    " PRIMARY KEY (sweep_id, device))",                                                                     \
    "CREATE TABLE IF NOT EXISTS network_units ("                                                              \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL,"                         \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), fused INTEGER NOT NULL,"                       \
    HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, layer_idx, device))",                                      \
    "CREATE TABLE IF NOT EXISTS network_streams ("                                                           \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id),"                                                      \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), in_flight INTEGER NOT NULL,"                  \
    " images INTEGER NOT NULL," HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, device))",                      \
    "CREATE TABLE IF NOT EXISTS network_corun ("                                                             \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id),"                                                      \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), alone_ms REAL, slowdown REAL,"                 \
    " rounds INTEGER, busy_runs INTEGER, stream_alone_ms REAL, stream_slowdown REAL," HET_DB_STATS_COLUMNS    \
    " PRIMARY KEY (sweep_id, device))",                                                                     \
    "CREATE TABLE IF NOT EXISTS baselines ("                                                                  \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id),"                                                      \
    " device TEXT NOT NULL CHECK (device IN ('cpu', 'gpu')), cores TEXT, threads INTEGER,"                  \
    HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, device))",                                                 \
    "CREATE TABLE IF NOT EXISTS gpu_issue ("                                                                  \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL, fused INTEGER NOT NULL," \
    HET_DB_STATS_COLUMNS " PRIMARY KEY (sweep_id, layer_idx, fused))",                                       \
    "CREATE TABLE IF NOT EXISTS counters ("                                                                   \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(id), layer_idx INTEGER NOT NULL, fused INTEGER NOT NULL," \
    " event TEXT NOT NULL, value REAL, PRIMARY KEY (sweep_id, layer_idx, fused, event))",                   \
    "CREATE VIEW IF NOT EXISTS layer_times AS"                                                              \
    " SELECT s.id AS sweep_id, md.name AS model, l.idx, l.name AS layer, l.kind, x.device, x.fused,"        \
    " x.status, x.median_ms, x.cv, x.reps"                                                                  \
    " FROM measurements x JOIN sweeps s ON s.id = x.sweep_id JOIN models md ON md.id = s.model_id"          \
    " JOIN layers l ON l.model_id = s.model_id AND l.idx = x.layer_idx"

#endif
