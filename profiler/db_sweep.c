// db_sweep.c: the profiler's side of the results database.
//
// Each measurement is its own transaction, written the moment it is
// known, so a sweep killed at any instant loses at most the measurement in
// flight; its key (sweep, and layer/device/ratio/blob) is the table's
// primary key, so resuming or re-measuring never duplicates a row.
#define _POSIX_C_SOURCE 200809L
#include "db_impl.h"

#include "het/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "het_git_rev.h" // HET_GIT_REV, written at build time (cmake/gitrev.cmake)

// Per kind: its table and the WHERE clause of its key (parameters ?2..).
static const struct {
    const char *table, *key;
} kinds[] = {
    [HET_DB_LAYER] = {"measurements", "layer_idx = ?2 AND device = ?3 AND fused = ?4"},
    [HET_DB_SPLIT] = {"split_measurements", "layer_idx = ?2 AND fused = ?3 AND ratio = ?4"},
    [HET_DB_TRANSFER] = {"transfers", "blob_idx = ?2 AND direction = ?3 AND channels = ?4"},
    [HET_DB_CORUN] = {"corun", "layer_idx = ?2 AND device = ?3 AND fused = ?4"},
    [HET_DB_NETWORK] = {"networks", "device = ?2"},
    [HET_DB_NETWORK_CORUN] = {"network_corun", "device = ?2"},
    [HET_DB_BASELINE] = {"baselines", "device = ?2"},
};

static const char *dev_name(int d) { return d ? "gpu" : "cpu"; }

// Ratios are keys: rounded so that "0.3" typed twice is one key.
static double ratio_key(double r) { return round(r * 1e6) / 1e6; }

// Binds an item's key as ?2, ?3, ?4 (in the order of kinds[].key).
static void bind_key(sqlite3_stmt *q, const het_db_item *it)
{
    switch (it->kind) {
    case HET_DB_LAYER:
    case HET_DB_CORUN:
        sqlite3_bind_int(q, 2, it->index);
        sqlite3_bind_text(q, 3, dev_name(it->device), -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, it->fused);
        break;
    case HET_DB_SPLIT:
        sqlite3_bind_int(q, 2, it->index);
        sqlite3_bind_int(q, 3, it->fused);
        sqlite3_bind_double(q, 4, ratio_key(it->ratio));
        break;
    case HET_DB_TRANSFER:
        sqlite3_bind_int(q, 2, it->index);
        sqlite3_bind_text(q, 3, it->device ? "h2d" : "d2h", -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 4, it->channels);
        break;
    case HET_DB_NETWORK:
    case HET_DB_NETWORK_CORUN:
    case HET_DB_BASELINE:
        sqlite3_bind_text(q, 2, dev_name(it->device), -1, SQLITE_STATIC);
        break;
    }
}

static int64_t device_id(het_db *db, int64_t platform, const char *role, const char *name, const char *detail)
{
    if (!detail) return 0;
    sqlite3_stmt *q = NULL;
    int64_t id = -1;
    for (int pass = 0; pass < 2; pass++) {
        const char *sql = pass ? "SELECT id FROM devices WHERE platform_id = ?1 AND role = ?2 AND name = ?3 AND detail = ?4"
                               : "INSERT INTO devices (platform_id, role, name, detail) VALUES (?1, ?2, ?3, ?4) "
                                 "ON CONFLICT DO NOTHING";
        if (sqlite3_prepare_v2(db->sq, sql, -1, &q, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_int64(q, 1, platform);
        het_db_bind_text(q, 2, role);
        het_db_bind_text(q, 3, name);
        het_db_bind_text(q, 4, detail);
        int rc = sqlite3_step(q);
        if (pass && rc == SQLITE_ROW) id = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (!pass && rc != SQLITE_DONE) return -1;
    }
    return id;
}

// "a,b,c" from blob names (for the layers table).
static void blob_list(const het_graph *g, const int *ids, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", g->blobs[ids[i]].name);
}

static het_status put_model_rows(het_db *db, int64_t model, const het_graph *g)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->sq,
            "INSERT OR IGNORE INTO layers (model_id, idx, name, kind, out_channels, splittable, fused_relu, macs, "
            "flops, bytes_read, bytes_written, bottoms, tops) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &q,
            NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot record the model's layers");
    char bots[4096], tops[4096];
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        const het_layer *relu = het_exec_fusable_relu(g, l);
        blob_list(g, l->bottom, l->n_bottom, bots, sizeof bots);
        blob_list(g, l->top, l->n_top, tops, sizeof tops);
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, model);
        sqlite3_bind_int(q, 2, i);
        het_db_bind_text(q, 3, l->name);
        het_db_bind_text(q, 4, het_layer_kind_name(l->kind));
        sqlite3_bind_int(q, 5, het_layer_out_channels(g, l));
        sqlite3_bind_int(q, 6, het_layer_kind_splittable(l->kind));
        if (relu) sqlite3_bind_int(q, 7, relu->id);
        else sqlite3_bind_null(q, 7);
        sqlite3_bind_int64(q, 8, (sqlite3_int64)l->macs);
        sqlite3_bind_int64(q, 9, (sqlite3_int64)l->flops);
        sqlite3_bind_int64(q, 10, (sqlite3_int64)l->bytes_read);
        sqlite3_bind_int64(q, 11, (sqlite3_int64)l->bytes_written);
        het_db_bind_text(q, 12, bots);
        het_db_bind_text(q, 13, tops);
        if (sqlite3_step(q) != SQLITE_DONE) {
            sqlite3_finalize(q);
            return het_db_fail(db, "cannot record the model's layers");
        }
    }
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(db->sq,
            "INSERT OR IGNORE INTO blobs (model_id, idx, name, n, c, h, w, bytes, producer) VALUES (?,?,?,?,?,?,?,?,?)",
            -1, &q, NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot record the model's blobs");
    for (int b = 0; b < g->n_blobs; b++) {
        const het_blob *bl = &g->blobs[b];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, model);
        sqlite3_bind_int(q, 2, b);
        het_db_bind_text(q, 3, bl->name);
        sqlite3_bind_int(q, 4, bl->shape.n);
        sqlite3_bind_int(q, 5, bl->shape.c);
        sqlite3_bind_int(q, 6, bl->shape.h);
        sqlite3_bind_int(q, 7, bl->shape.w);
        sqlite3_bind_int64(q, 8, (sqlite3_int64)(het_shape_count(&bl->shape) * sizeof(float)));
        if (bl->producer >= 0) sqlite3_bind_int(q, 9, bl->producer);
        else sqlite3_bind_null(q, 9);
        if (sqlite3_step(q) != SQLITE_DONE) {
            sqlite3_finalize(q);
            return het_db_fail(db, "cannot record the model's blobs");
        }
    }
    sqlite3_finalize(q);
    return HET_OK;
}

het_status het_db_sweep_begin(het_db *db, const het_db_sweep_info *in, int64_t *sweep_id, bool *resumed)
{
    if (sqlite3_exec(db->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot start a transaction (locked by another writer past the timeout?)");
    const het_graph *g = in->g;
    uint64_t flops = 0;
    for (int i = 0; i < g->n_layers; i++) flops += g->layers[i].flops;
    char cpu[256] = "";
    het_status st = HET_E_DB;
    int64_t platform = het_db_platform_id(db, in->cpu_cores, in->ocl_platform, in->ocl_device, in->ocl_driver);
    int64_t model = het_db_model_id(db, g->hash, g->name, in->model_path, g->n_layers, flops / 1e9);
    if (platform < 0 || model < 0) goto fail;
    {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db->sq, "SELECT cpu_model FROM platforms WHERE id = ?", -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, platform);
            if (sqlite3_step(q) == SQLITE_ROW) snprintf(cpu, sizeof cpu, "%s", sqlite3_column_text(q, 0));
        }
        sqlite3_finalize(q);
    }
    int64_t cpu_dev = device_id(db, platform, "cpu", cpu, in->cpu_desc);
    int64_t gpu_dev = device_id(db, platform, "gpu", in->ocl_device ? in->ocl_device : "", in->gpu_desc);
    if (cpu_dev < 0 || gpu_dev < 0) goto fail;
    if ((st = put_model_rows(db, model, g)) != HET_OK) goto rollback;
    st = HET_E_DB;
    sqlite3_stmt *q = NULL;
    // Device ids of 0 mean "not swept" and are stored as NULL; `IS` matches NULLs.
    if (sqlite3_prepare_v2(db->sq, "SELECT id FROM sweeps WHERE platform_id = ?1 AND model_id = ?2 AND weights = ?3 "
                                   "AND cpu_device_id IS ?4 AND gpu_device_id IS ?5", -1, &q, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(q, 1, platform);
    sqlite3_bind_int64(q, 2, model);
    het_db_bind_text(q, 3, in->weights);
    if (cpu_dev) sqlite3_bind_int64(q, 4, cpu_dev);
    if (gpu_dev) sqlite3_bind_int64(q, 5, gpu_dev);
    int rc = sqlite3_step(q);
    *resumed = rc == SQLITE_ROW;
    if (*resumed) *sweep_id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto fail;
    if (!*resumed) {
        char when[32];
        het_db_now(when, sizeof when);
        if (sqlite3_prepare_v2(db->sq, "INSERT INTO sweeps (platform_id, model_id, weights, cpu_device_id, "
                                       "gpu_device_id, settings, het_version, git_rev, started_at) "
                                       "VALUES (?,?,?,?,?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int64(q, 1, platform);
        sqlite3_bind_int64(q, 2, model);
        het_db_bind_text(q, 3, in->weights);
        if (cpu_dev) sqlite3_bind_int64(q, 4, cpu_dev);
        if (gpu_dev) sqlite3_bind_int64(q, 5, gpu_dev);
        het_db_bind_text(q, 6, in->settings);
        het_db_bind_text(q, 7, HET_VERSION);
        het_db_bind_text(q, 8, HET_GIT_REV);
        het_db_bind_text(q, 9, when);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) goto fail;
        *sweep_id = sqlite3_last_insert_rowid(db->sq);
    }
    if (sqlite3_exec(db->sq, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    return HET_OK;
fail:
    het_db_fail(db, "cannot record the sweep");
rollback:
    sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
    return HET_E_DB;
}

het_status het_db_sweep_finish(het_db *db, int64_t sweep, const char *counters_note)
{
    char when[32];
    het_db_now(when, sizeof when);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->sq, "UPDATE sweeps SET finished_at = ?2, counters_note = ?3 WHERE id = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot finish the sweep");
    sqlite3_bind_int64(q, 1, sweep);
    het_db_bind_text(q, 2, when);
    het_db_bind_text(q, 3, counters_note);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? HET_OK : het_db_fail(db, "cannot finish the sweep");
}

int het_db_has(het_db *db, int64_t sweep, const het_db_item *it)
{
    char sql[256];
    // A failed measurement is tried again on resume; an unsupported one is not.
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE sweep_id = ?1 AND %s AND status != 'failed'",
             kinds[it->kind].table, kinds[it->kind].key);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->sq, sql, -1, &q, NULL) != SQLITE_OK) {
        het_db_fail(db, "cannot read the sweep");
        return -1;
    }
    sqlite3_bind_int64(q, 1, sweep);
    bind_key(q, it);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        het_db_fail(db, "cannot read the sweep");
        return -1;
    }
    return rc == SQLITE_ROW;
}

double het_db_median(het_db *db, int64_t sweep, const het_db_item *it)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT median_ms FROM %s WHERE sweep_id = ?1 AND %s AND status = 'ok'",
             kinds[it->kind].table, kinds[it->kind].key);
    sqlite3_stmt *q = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(db->sq, sql, -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, sweep);
        bind_key(q, it);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) v = sqlite3_column_double(q, 0);
    }
    sqlite3_finalize(q);
    return v;
}

// The columns of HET_DB_STATS_COLUMNS, in order, from ?first on.
#define STATS_NAMES "reps, median_ms, min_ms, p10_ms, p90_ms, mean_ms, cv, ci_rel, converged, first_ms, status, " \
                    "note, measured_at, git_rev"
#define STATS_N 14

static void bind_stats(sqlite3_stmt *q, int i, const het_db_result *r, const char *when)
{
    const het_stats *s = r->stats;
    if (s) {
        sqlite3_bind_int(q, i, s->n);
        het_db_bind_real(q, i + 1, s->median);
        het_db_bind_real(q, i + 2, s->min);
        het_db_bind_real(q, i + 3, s->p10);
        het_db_bind_real(q, i + 4, s->p90);
        het_db_bind_real(q, i + 5, s->mean);
        het_db_bind_real(q, i + 6, s->cv);
        het_db_bind_real(q, i + 7, s->ci_rel);
        sqlite3_bind_int(q, i + 8, s->converged);
        het_db_bind_real(q, i + 9, s->first);
    }
    het_db_bind_text(q, i + 10, r->status);
    het_db_bind_text(q, i + 11, r->note);
    het_db_bind_text(q, i + 12, when);
    het_db_bind_text(q, i + 13, HET_GIT_REV);
}

het_status het_db_put(het_db *db, int64_t sweep, const het_db_item *it, const het_db_result *r)
{
    // Per kind: the key and extra columns, bound as ?2.. by bind_key and the
    // switch below; the statistics follow.
    static const char *const cols[] = {
        [HET_DB_LAYER] = "layer_idx, device, fused",
        [HET_DB_SPLIT] = "layer_idx, fused, ratio, cpu_channels, gpu_channels, compute_ms",
        [HET_DB_TRANSFER] = "blob_idx, direction, channels, bytes",
        [HET_DB_CORUN] = "layer_idx, device, fused, alone_ms, slowdown, busy_runs",
        [HET_DB_NETWORK] = "device, layer_sum_ms",
        [HET_DB_NETWORK_CORUN] = "device, alone_ms, slowdown, rounds, busy_runs, stream_alone_ms, stream_slowdown",
        [HET_DB_BASELINE] = "device, cores, threads",
    };
    static const int n_cols[] = {[HET_DB_LAYER] = 3, [HET_DB_SPLIT] = 6,   [HET_DB_TRANSFER] = 4,
                                 [HET_DB_CORUN] = 6, [HET_DB_NETWORK] = 2, [HET_DB_NETWORK_CORUN] = 7,
                                 [HET_DB_BASELINE] = 3};
    char sql[1024], marks[128] = "?1";
    int n = n_cols[it->kind] + STATS_N;
    for (int i = 2; i <= n + 1; i++) snprintf(marks + strlen(marks), sizeof marks - strlen(marks), ",?%d", i);
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s (sweep_id, %s, " STATS_NAMES ") VALUES (%s)",
             kinds[it->kind].table, cols[it->kind], marks);
    if (sqlite3_exec(db->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot start a transaction (locked by another writer past the timeout?)");
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->sq, sql, -1, &q, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_int64(q, 1, sweep);
    bind_key(q, it);
    double median = r->stats ? r->stats->median : NAN;
    switch (it->kind) {
    case HET_DB_SPLIT:
        sqlite3_bind_int(q, 5, r->cpu_channels);
        sqlite3_bind_int(q, 6, r->gpu_channels);
        het_db_bind_real(q, 7, r->stats ? r->compute_ms : NAN);
        break;
    case HET_DB_TRANSFER:
        sqlite3_bind_int64(q, 5, (sqlite3_int64)r->bytes);
        break;
    case HET_DB_CORUN:
        het_db_bind_real(q, 5, r->alone_ms);
        het_db_bind_real(q, 6, median / r->alone_ms);
        sqlite3_bind_int64(q, 7, r->busy_runs);
        break;
    case HET_DB_NETWORK:
        het_db_bind_real(q, 3, r->layer_sum_ms);
        break;
    case HET_DB_NETWORK_CORUN:
        het_db_bind_real(q, 3, r->alone_ms);
        het_db_bind_real(q, 4, r->stats ? r->slowdown : NAN);
        sqlite3_bind_int(q, 5, r->rounds);
        sqlite3_bind_int64(q, 6, r->busy_runs);
        het_db_bind_real(q, 7, r->stats ? r->stream_alone_ms : NAN);
        het_db_bind_real(q, 8, r->stats ? r->stream_slowdown : NAN);
        break;
    case HET_DB_BASELINE:
        het_db_bind_text(q, 3, r->cores);
        sqlite3_bind_int(q, 4, r->threads);
        break;
    case HET_DB_LAYER:
        break;
    }
    char when[32];
    het_db_now(when, sizeof when);
    bind_stats(q, 2 + n_cols[it->kind], r, when);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) goto fail;
    if (it->kind == HET_DB_LAYER && r->n_counters > 0) {
        if (sqlite3_prepare_v2(db->sq, "INSERT OR REPLACE INTO counters (sweep_id, layer_idx, fused, event, value) "
                                       "VALUES (?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK)
            goto fail;
        for (int e = 0; e < r->n_counters; e++) {
            sqlite3_reset(q);
            sqlite3_bind_int64(q, 1, sweep);
            sqlite3_bind_int(q, 2, it->index);
            sqlite3_bind_int(q, 3, it->fused);
            het_db_bind_text(q, 4, r->events[e]);
            het_db_bind_real(q, 5, r->counters[e]);
            if ((rc = sqlite3_step(q)) != SQLITE_DONE) break;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) goto fail;
    }
    if (it->kind == HET_DB_LAYER && r->issue) {
        if (sqlite3_prepare_v2(db->sq, "INSERT OR REPLACE INTO gpu_issue (sweep_id, layer_idx, fused, " STATS_NAMES
                                       ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
                               -1, &q, NULL) != SQLITE_OK)
            goto fail;
        sqlite3_bind_int64(q, 1, sweep);
        sqlite3_bind_int(q, 2, it->index);
        sqlite3_bind_int(q, 3, it->fused);
        bind_stats(q, 4, &(het_db_result){.status = "ok", .stats = r->issue}, when);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) goto fail;
    }
    if (it->kind == HET_DB_NETWORK) {
        // Its units and its stream (the GPU), in the same transaction: a
        // network re-measured (--force) replaces them all, none are left
        // from the last time.
        static const char *const owned[] = {"network_units", "network_streams"};
        for (int t = 0; t < 2; t++) {
            char del[96];
            snprintf(del, sizeof del, "DELETE FROM %s WHERE sweep_id = ?1 AND device = ?2", owned[t]);
            if (sqlite3_prepare_v2(db->sq, del, -1, &q, NULL) != SQLITE_OK) goto fail;
            sqlite3_bind_int64(q, 1, sweep);
            sqlite3_bind_text(q, 2, dev_name(it->device), -1, SQLITE_STATIC);
            rc = sqlite3_step(q);
            sqlite3_finalize(q);
            if (rc != SQLITE_DONE) goto fail;
        }
        if (r->stream) {
            if (sqlite3_prepare_v2(db->sq, "INSERT INTO network_streams (sweep_id, device, in_flight, images, "
                                           STATS_NAMES ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
                                           "?15,?16,?17,?18)", -1, &q, NULL) != SQLITE_OK)
                goto fail;
            sqlite3_bind_int64(q, 1, sweep);
            sqlite3_bind_text(q, 2, dev_name(it->device), -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 3, r->stream_in_flight);
            sqlite3_bind_int(q, 4, r->stream_images);
            bind_stats(q, 5, &(het_db_result){.status = "ok", .stats = r->stream}, when);
            rc = sqlite3_step(q);
            sqlite3_finalize(q);
            if (rc != SQLITE_DONE) goto fail;
        }
        if (r->n_units > 0) {
            if (sqlite3_prepare_v2(db->sq, "INSERT INTO network_units (sweep_id, layer_idx, device, fused, " STATS_NAMES
                                           ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
                                   -1, &q, NULL) != SQLITE_OK)
                goto fail;
            for (int u = 0; u < r->n_units && rc == SQLITE_DONE; u++) {
                sqlite3_reset(q);
                sqlite3_bind_int64(q, 1, sweep);
                sqlite3_bind_int(q, 2, r->units[u].layer);
                sqlite3_bind_text(q, 3, dev_name(it->device), -1, SQLITE_STATIC);
                sqlite3_bind_int(q, 4, r->units[u].fused);
                bind_stats(q, 5, &(het_db_result){.status = "ok", .stats = &r->units[u].stats}, when);
                rc = sqlite3_step(q);
            }
            sqlite3_finalize(q);
            if (rc != SQLITE_DONE) goto fail;
        }
    }
    if (sqlite3_exec(db->sq, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    return HET_OK;
fail:
    het_db_fail(db, "cannot store a measurement (disk full?)");
    sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
    return HET_E_DB;
}

het_status het_db_fit_transfers(het_db *db, int64_t sweep, double h2d_handoff_ms)
{
    for (int d = 0; d < 2; d++) {
        const char *dir = d ? "h2d" : "d2h";
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db->sq, "SELECT bytes, median_ms FROM transfers WHERE sweep_id = ?1 AND direction = ?2 "
                                       "AND status = 'ok' AND median_ms > 0", -1, &q, NULL) != SQLITE_OK)
            return het_db_fail(db, "cannot read the transfers");
        sqlite3_bind_int64(q, 1, sweep);
        sqlite3_bind_text(q, 2, dir, -1, SQLITE_STATIC);
        // Weighted least squares of t = a + b x with weights 1/t^2: the fit
        // minimises relative error, which is what the partitioner's
        // predictions are judged by, rather than letting the largest
        // transfers decide it alone.
        double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        int n = 0, cap = 0;
        double *xs = NULL, *ys = NULL;
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
            double x = (double)sqlite3_column_int64(q, 0), y = sqlite3_column_double(q, 1);
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                double *nx = realloc(xs, (size_t)cap * sizeof *xs), *ny = nx ? realloc(ys, (size_t)cap * sizeof *ys) : NULL;
                if (nx) xs = nx;
                if (!nx || !ny) {
                    free(xs);
                    sqlite3_finalize(q);
                    return HET_E_NOMEM;
                }
                ys = ny;
            }
            xs[n] = x, ys[n] = y, n++;
            double w = 1 / (y * y);
            sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            free(xs);
            free(ys);
            return het_db_fail(db, "cannot read the transfers");
        }
        if (n == 0) {
            free(xs);
            free(ys);
            continue;
        }
        double det = sw * sxx - sx * sx, a, b;
        if (n >= 2 && det > 0) {
            b = (sw * sxy - sx * sy) / det;
            a = (sy - b * sx) / sw;
        } else {
            a = 0, b = sxy / sxx;
        }
        if (a < 0 || b < 0) { // keep the model physical: no negative latency or bandwidth
            if (a < 0) a = 0, b = sxy / sxx;
            else b = 0, a = sy / sw;
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double e = fabs(a + b * xs[i] - ys[i]) / ys[i];
            if (e > worst) worst = e;
        }
        free(xs);
        free(ys);
        if (sqlite3_prepare_v2(db->sq, "INSERT OR REPLACE INTO transfer_models (sweep_id, direction, latency_ms, "
                                       "ms_per_mb, n_points, max_rel_err) VALUES (?,?,?,?,?,?)", -1, &q,
                               NULL) != SQLITE_OK)
            return het_db_fail(db, "cannot store the transfer model");
        sqlite3_bind_int64(q, 1, sweep);
        sqlite3_bind_text(q, 2, dir, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 3, a + (d ? h2d_handoff_ms : 0.0));
        sqlite3_bind_double(q, 4, b * 1e6);
        sqlite3_bind_int(q, 5, n);
        sqlite3_bind_double(q, 6, worst);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) return het_db_fail(db, "cannot store the transfer model");
    }
    return HET_OK;
}

het_status het_db_sweep_quality(het_db *db, int64_t sweep, het_sweep_quality *q, char *why, size_t cap)
{
    *q = (het_sweep_quality){.median_cv = NAN};
    if (why && cap) why[0] = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sq, "SELECT cv, converged FROM measurements WHERE sweep_id = ? AND status = 'ok' AND "
                                   "cv IS NOT NULL ORDER BY cv", -1, &st, NULL) != SQLITE_OK)
        return het_db_fail(db, "cannot read the measurements");
    sqlite3_bind_int64(st, 1, sweep);
    size_t n = 0, cap_v = 0;
    double *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap_v) {
            size_t nc = cap_v ? 2 * cap_v : 256;
            double *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                free(v);
                sqlite3_finalize(st);
                return HET_E_NOMEM;
            }
            v = nv, cap_v = nc;
        }
        v[n++] = sqlite3_column_double(st, 0);
        q->unconverged += sqlite3_column_int(st, 1) == 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return het_db_fail(db, "cannot read the measurements");
    }
    q->n = (int)n;
    q->median_cv = het_median(v, (int)n);
    free(v);
    if (why && cap && q->median_cv > HET_SWEEP_CV_LIMIT)
        snprintf(why, cap, "sweep %lld's layer timings spread %.1f%% (median CV; a quiet machine measures under "
                 "%.0f%%) and %d of %d stopped short of their confidence target: it was taken on a busy machine, "
                 "and what is priced from it may not hold; sweep again on a quiet one (hetprof sweep --force)",
                 (long long)sweep, q->median_cv * 100, HET_SWEEP_CV_LIMIT * 100, q->unconverged, q->n);
    return HET_OK;
}
