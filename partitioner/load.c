// load.c: the cost model of one model from a sweep in the database.
#define _POSIX_C_SOURCE 200809L
#include "load.h"

#include "het/exec.h"
#include "het/plan.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One value of a query over the sweep's tables, or NaN. Parameters: ?1
// sweep, ?2 layer, ?3 device, ?4 fused, ?5 ratio; a query uses those it
// needs (binding the others fails harmlessly with SQLITE_RANGE).
static double one(sqlite3 *sq, const char *sql, int64_t sweep, int layer, const char *dev, int fused, double ratio)
{
    sqlite3_stmt *q = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(sq, sql, -1, &q, NULL) != SQLITE_OK) return NAN;
    sqlite3_bind_int64(q, 1, sweep);
    sqlite3_bind_int(q, 2, layer);
    if (dev) sqlite3_bind_text(q, 3, dev, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, fused);
    sqlite3_bind_double(q, 5, ratio);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) v = sqlite3_column_double(q, 0);
    sqlite3_finalize(q);
    return v;
}

// A device's row of a per-device table of the sweep (?1 sweep, ?2 device):
// its first two columns into *a and *b, NaN where there is no row or the
// value is NULL.
static void two(sqlite3 *sq, const char *sql, int64_t sweep, const char *dev, double *a, double *b)
{
    sqlite3_stmt *q = NULL;
    *a = *b = NAN;
    if (sqlite3_prepare_v2(sq, sql, -1, &q, NULL) != SQLITE_OK) return;
    sqlite3_bind_int64(q, 1, sweep);
    sqlite3_bind_text(q, 2, dev, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 0) != SQLITE_NULL) *a = sqlite3_column_double(q, 0);
        if (sqlite3_column_type(q, 1) != SQLITE_NULL) *b = sqlite3_column_double(q, 1);
    }
    sqlite3_finalize(q);
}

// The sweep to use: given by id, or the latest of this model with both
// devices on a platform matching `platform` (a substring of the CPU model
// or OpenCL device; NULL: any).
static het_status find_sweep(sqlite3 *sq, const het_graph *g, const char *db_path, const char *platform,
                             long long want, int64_t *sweep, char *desc, size_t cap)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(sq,
            "SELECT s.id, p.cpu_model, p.opencl_device, s.finished_at FROM sweeps s JOIN models m ON m.id = s.model_id"
            " JOIN platforms p ON p.id = s.platform_id WHERE m.hash = ?1 AND (?2 < 0 OR s.id = ?2)"
            " AND s.cpu_device_id IS NOT NULL AND s.gpu_device_id IS NOT NULL"
            " AND (?3 IS NULL OR instr(p.cpu_model, ?3) > 0 OR instr(p.opencl_device, ?3) > 0)"
            " ORDER BY s.id DESC LIMIT 1", -1, &q, NULL) != SQLITE_OK) {
        het_log(HET_LOG_ERROR, "database %s: cannot read the sweeps (is it het's, version 2?): %s", db_path,
                sqlite3_errmsg(sq));
        return HET_E_DB;
    }
    sqlite3_bind_text(q, 1, g->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, want);
    if (platform) sqlite3_bind_text(q, 3, platform, -1, SQLITE_STATIC);
    het_status st = HET_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        *sweep = sqlite3_column_int64(q, 0);
        snprintf(desc, cap, "sweep %lld: %s + %s%s", (long long)*sweep, sqlite3_column_text(q, 1),
                 sqlite3_column_text(q, 2), sqlite3_column_type(q, 3) == SQLITE_NULL ? " (not finished)" : "");
    } else {
        het_log(HET_LOG_ERROR, "database %s holds no CPU+GPU sweep of model '%s' (hash %s%s)%s%s%s; run hetprof sweep "
                "first", db_path, g->name, g->hash,
                g->n_folded ? ", BatchNorm and Scale folded; a sweep made with --no-fold needs --no-fold here" : "",
                platform ? " on a platform matching '" : "", platform ? platform : "", platform ? "'" : "");
        st = HET_E_INVALID;
    }
    sqlite3_finalize(q);
    return st;
}

het_status hp_load(het_db *db, const char *db_path, const het_graph *g, const hp_load_opts *o, hp_loaded *out)
{
    sqlite3 *sq = het_db_sqlite(db);
    memset(out, 0, sizeof *out);
    het_status st = find_sweep(sq, g, db_path, o->platform, o->sweep_id, &out->sweep, out->desc, sizeof out->desc);
    if (st != HET_OK) return st;
    // A sweep from a busy machine prices plans at a load that is gone:
    // said (hp_warn_quality) by the commands that price from it.
    if ((st = het_db_sweep_quality(db, out->sweep, &out->quality, out->quality_note, sizeof out->quality_note)) !=
        HET_OK)
        return st;
    hp_model *m = &out->m;
    m->u = calloc((size_t)g->n_layers, sizeof *m->u);
    m->b = calloc((size_t)g->n_blobs, sizeof *m->b);
    het_workspace *ws = NULL;
    if (!m->u || !m->b || het_workspace_create(g, &ws) != HET_OK) {
        het_workspace_destroy(ws);
        hp_loaded_free(out);
        return HET_E_NOMEM;
    }
    const het_blob_data *t = het_workspace_table(ws);
    m->n_blobs = g->n_blobs;
    for (int b = 0; b < g->n_blobs; b++)
        m->b[b] = (hp_blob){.bytes = (double)het_shape_count(&g->blobs[b].shape) * sizeof(float), .root = t[b].root,
                            .is_input = g->blobs[b].is_input, .is_output = g->blobs[b].is_output};
    het_workspace_destroy(ws);
    // The ratios the sweep measured.
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(sq, "SELECT DISTINCT ratio FROM split_measurements WHERE sweep_id = ? ORDER BY ratio", -1,
                           &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, out->sweep);
        while (sqlite3_step(q) == SQLITE_ROW && m->n_ratios < HP_MAX_RATIOS)
            m->ratio[m->n_ratios++] = sqlite3_column_double(q, 0);
    }
    sqlite3_finalize(q);
    static const char *const dev_name[2] = {"cpu", "gpu"};
    double net_sum[2] = {0, 0};
    int missing = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        const het_layer *relu = het_exec_fusable_relu(g, l);
        hp_unit *u = &m->u[m->n_units];
        u->first = u->last = i;
        if (relu) u->last = ++i;
        int fused = relu != NULL;
        for (int k = 0; k < l->n_bottom && u->n_in < HP_MAX_IN; k++) {
            bool dup = false;
            for (int j = 0; j < u->n_in; j++) dup |= u->in[j] == l->bottom[k];
            if (!dup) u->in[u->n_in++] = l->bottom[k];
        }
        u->out = l->top[0];
        double ctx[2] = {1.0, 1.0}; // in-context time over the unit's time alone, per device
        for (int d = 0; d < 2; d++) {
            u->t[d] = one(sq, "SELECT median_ms FROM measurements WHERE sweep_id = ?1 AND layer_idx = ?2 AND device = ?3 "
                              "AND fused = ?4 AND status = 'ok'", out->sweep, u->first, dev_name[d], fused, 0);
            if (isnan(u->t[d])) {
                double un = one(sq, "SELECT 1 FROM measurements WHERE sweep_id = ?1 AND layer_idx = ?2 AND device = ?3 "
                                    "AND fused = ?4 AND status = 'unsupported'", out->sweep, u->first, dev_name[d], fused, 0);
                if (!isnan(un)) {
                    u->t[d] = INFINITY; // cannot run there: the solvers avoid it
                } else if (!o->allow_missing) {
                    het_log(HET_LOG_ERROR, "%s has no %s measurement of layer '%s'%s; run hetprof sweep again to complete "
                            "it, or pass --allow-missing to estimate it", out->desc, dev_name[d], l->name,
                            fused ? " (fused with its ReLU)" : "");
                    hp_loaded_free(out);
                    return HET_E_INVALID;
                } else {
                    missing++;
                }
            }
            // The unit's time inside the running network, where the sweep
            // timed it there (the CPU's, from schema version 3): caches then
            // hold the other layers' weights and blobs, not its own.
            double tc = o->in_context && isfinite(u->t[d])
                            ? one(sq, "SELECT median_ms FROM network_units WHERE sweep_id = ?1 AND layer_idx = ?2 "
                                      "AND device = ?3 AND fused = ?4 AND status = 'ok'", out->sweep, u->first,
                                  dev_name[d], fused, 0)
                            : NAN;
            if (tc > 0 && u->t[d] > 0) {
                ctx[d] = tc / u->t[d];
                u->t[d] = tc;
                out->in_context[d]++;
            }
            if (d == HP_GPU && o->issue) {
                double is = one(sq, "SELECT median_ms FROM gpu_issue WHERE sweep_id = ?1 AND layer_idx = ?2 "
                                    "AND fused = ?4 AND status = 'ok'", out->sweep, u->first, NULL, fused, 0);
                u->issue = is > 0 ? is : 0.0;
            }
            double s = one(sq, "SELECT slowdown FROM corun WHERE sweep_id = ?1 AND layer_idx = ?2 AND device = ?3 "
                               "AND fused = ?4 AND status = 'ok'", out->sweep, u->first, dev_name[d], fused, 0);
            u->slow[d] = isnan(s) || s < 1.0 ? 1.0 : s; // a "speed-up" under load is noise
        }
        int C = het_layer_out_channels(g, l);
        for (int j = 0; j < m->n_ratios; j++) {
            int k = het_split_cpu_channels(C, (float)m->ratio[j]);
            u->cpu_share[j] = (double)k / C;
            double ts = one(sq, "SELECT compute_ms FROM split_measurements WHERE sweep_id = ?1 AND layer_idx = ?2 "
                                "AND fused = ?4 AND abs(ratio - ?5) < 1e-6 AND status = 'ok'",
                            out->sweep, u->first, NULL, fused, m->ratio[j]);
            // Measured alone too: each device's part is scaled as its whole
            // unit was, weighted by its share of the channels.
            double f = u->cpu_share[j] * ctx[0] + (1 - u->cpu_share[j]) * ctx[1];
            u->t_split[j] = isnan(ts) ? INFINITY : ts * f;
        }
        m->n_units++;
    }
    // Estimates for what is missing: the device's measured rate over the
    // units it ran (FLOPs per ms), never silently.
    if (missing) {
        for (int d = 0; d < 2; d++) {
            double fl = 0, ms = 0;
            for (int k = 0; k < m->n_units; k++)
                if (isfinite(m->u[k].t[d]) && !isnan(m->u[k].t[d]))
                    for (int l = m->u[k].first; l <= m->u[k].last; l++) fl += (double)g->layers[l].flops, ms += m->u[k].t[d];
            double rate = ms > 0 && fl > 0 ? fl / ms : 1e6;
            for (int k = 0; k < m->n_units; k++)
                if (isnan(m->u[k].t[d])) {
                    double f = 0;
                    for (int l = m->u[k].first; l <= m->u[k].last; l++) f += (double)g->layers[l].flops;
                    m->u[k].t[d] = f / rate + 0.001;
                }
        }
        het_log(HET_LOG_WARN, "hetpart: %d layer time%s missing from %s; estimated from the device's measured FLOP rate",
                missing, missing == 1 ? " is" : "s are", out->desc);
    }
    double lat[2] = {NAN, NAN}, mpb[2] = {NAN, NAN};
    if (sqlite3_prepare_v2(sq, "SELECT direction = 'h2d', latency_ms, ms_per_mb FROM transfer_models WHERE sweep_id = ?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, out->sweep);
        while (sqlite3_step(q) == SQLITE_ROW) {
            int d = sqlite3_column_int(q, 0);
            lat[d] = sqlite3_column_double(q, 1);
            mpb[d] = sqlite3_column_double(q, 2) / 1e6;
        }
    }
    sqlite3_finalize(q);
    for (int d = 0; d < 2; d++) {
        if (isnan(lat[d])) {
            het_log(HET_LOG_ERROR, "%s has no transfer model (%s); run hetprof sweep again to complete it", out->desc,
                    d ? "host to GPU" : "GPU to host");
            hp_loaded_free(out);
            return HET_E_INVALID;
        }
        m->x_lat[d] = lat[d];
        m->x_ms_per_byte[d] = mpb[d];
    }
    // The transfers an all-GPU plan makes: its inputs in, its outputs out.
    // The GPU's whole-network time includes them (measured end to end), and
    // the cost model prices them apart, so they are not the layers' time.
    double io_ms = 0;
    for (int b = 0; b < m->n_blobs; b++) {
        if (m->b[b].is_input) io_ms += m->x_lat[HP_GPU] + m->b[b].bytes * m->x_ms_per_byte[HP_GPU];
        if (m->b[b].is_output) io_ms += m->x_lat[HP_CPU] + m->b[b].bytes * m->x_ms_per_byte[HP_CPU];
    }
    // The CPU alone on every core (schema 7; NaN before). As measured, not
    // calibrated: it is a run of its own, not a sum of units.
    out->base_cpu_ms = NAN;
    out->base_cpu_cores[0] = 0;
    sqlite3_stmt *bq = NULL;
    if (sqlite3_prepare_v2(sq, "SELECT median_ms, cores FROM baselines WHERE sweep_id = ?1 AND device = 'cpu' "
                               "AND status = 'ok' AND median_ms > 0", -1, &bq, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(bq, 1, out->sweep);
        if (sqlite3_step(bq) == SQLITE_ROW && sqlite3_column_text(bq, 1)) {
            out->base_cpu_ms = sqlite3_column_double(bq, 0);
            snprintf(out->base_cpu_cores, sizeof out->base_cpu_cores, "%s", sqlite3_column_text(bq, 1));
        }
    }
    sqlite3_finalize(bq);
    bq = NULL;
    out->sweep_cpu_cores[0] = 0;
    if (sqlite3_prepare_v2(sq, "SELECT p.cpu_cores FROM sweeps s JOIN platforms p ON p.id = s.platform_id "
                               "WHERE s.id = ?1", -1, &bq, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(bq, 1, out->sweep);
        if (sqlite3_step(bq) == SQLITE_ROW && sqlite3_column_text(bq, 0))
            snprintf(out->sweep_cpu_cores, sizeof out->sweep_cpu_cores, "%s", sqlite3_column_text(bq, 0));
    }
    sqlite3_finalize(bq);
    // Calibration: the whole network measured against the sum of its
    // layers measured one by one (launch gaps, caches). Unit times are
    // scaled so that a single-device plan predicts the measured network.
    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < m->n_units; k++)
            if (isfinite(m->u[k].t[d])) net_sum[d] += m->u[k].t[d];
        m->net[d] = one(sq, "SELECT median_ms FROM networks WHERE sweep_id = ?1 AND device = ?3 AND status = 'ok'", out->sweep, 0, dev_name[d], 0, 0);
        // The GPU streamed as image-parallel lanes run it: two images in
        // flight where it runs them at once (databases before version 5
        // have none: image by image then).
        double stream, in_flight;
        two(sq, "SELECT median_ms, in_flight FROM network_streams WHERE sweep_id = ?1 AND device = ?2 AND status = 'ok'",
            out->sweep, dev_name[d], &stream, &in_flight);
        m->stream[d] = stream > 0 && m->net[d] > 0 ? stream : 0;
        m->stream_in_flight[d] = m->stream[d] > 0 && in_flight >= 1 ? (int)in_flight : 1;
        // A network time measured later (hetpart predict --cpu-ms): the
        // layers keep their proportions, the device its present speed (the
        // stream, its ratio to the network).
        if (o->net_ms[d] > 0) {
            if (m->stream[d] > 0) m->stream[d] *= o->net_ms[d] / m->net[d];
            m->net[d] = o->net_ms[d];
        }
        // The stream measured later itself (hetpart predict --gpu-stream-ms):
        // on the H100 machine it moved between 0.94 and 1.24 ms an image
        // (GoogLeNet) from one minute to the next while the network image by
        // image stayed within 1%, so the ratio above does not follow it.
        if (d == HP_GPU && o->gpu_stream_ms > 0 && m->net[d] > 0) m->stream[d] = o->gpu_stream_ms;
        // Where the transfers would take most of it, the fit is off, not the
        // layers free: keep the whole time.
        double layers_ms = d == HP_GPU && io_ms < 0.5 * m->net[d] ? m->net[d] - io_ms : m->net[d];
        out->calibration[d] = o->calibrate && m->net[d] > 0 && net_sum[d] > 0 ? layers_ms / net_sum[d] : 1.0;
        for (int k = 0; k < m->n_units; k++) m->u[k].t[d] *= out->calibration[d];
    }
    // Co-run slowdowns at the scale plans run: whole networks, each
    // round's alone and busy back to back (network_corun, version 6),
    // for every unit of the device; the per-layer rows compare with the
    // layers phase, minutes apart, and scatter with the machine's drift
    // (docs/hetpart.md). Older sweeps, or --corun-per-layer: those.
    // A GPU's stream (two images in flight) has its own, applied where a
    // plan streams it, over the units' (the H100 machine: image by image
    // 1.00x, streaming 1.02-1.11x under the CPU's load).
    for (int d = 0; d < 2; d++) {
        out->net_slow[d] = out->stream_slow[d] = NAN;
        m->stream_corun[d] = 1.0;
        double s = NAN, ss = NAN;
        if (!o->corun_per_layer)
            two(sq, "SELECT slowdown, stream_slowdown FROM network_corun WHERE sweep_id = ?1 AND device = ?2 AND "
                    "status = 'ok'", out->sweep, dev_name[d], &s, &ss);
        if (!(s > 0) || !isfinite(s)) continue;
        out->net_slow[d] = s;
        s = s < 1.0 ? 1.0 : s; // a speed-up under load is noise
        for (int k = 0; k < m->n_units; k++) m->u[k].slow[d] = s;
        if (!(ss > 0) || !isfinite(ss) || !(m->stream[d] > 0)) continue;
        out->stream_slow[d] = ss;
        m->stream_corun[d] = (ss < 1.0 ? 1.0 : ss) / s;
    }
    m->corun = o->corun;
    return HET_OK;
}

void hp_corun_text(const hp_loaded *L, char *buf, size_t cap)
{
    if (!L->m.corun) {
        snprintf(buf, cap, "off");
    } else if (isnan(L->net_slow[0]) && isnan(L->net_slow[1])) {
        snprintf(buf, cap, "per layer");
    } else {
        int n = snprintf(buf, cap, "whole network: cpu %.2fx, gpu %.2fx", L->net_slow[0], L->net_slow[1]);
        if (!isnan(L->stream_slow[1]) && n > 0 && (size_t)n < cap)
            snprintf(buf + n, cap - (size_t)n, ", gpu streaming %.2fx", L->stream_slow[1]);
    }
}

void hp_loaded_free(hp_loaded *l)
{
    free(l->m.u);
    free(l->m.b);
    memset(l, 0, sizeof *l);
}

void hp_warn_quality(const hp_loaded *L)
{
    if (L->quality_note[0]) het_log(HET_LOG_WARN, "%s", L->quality_note);
}
