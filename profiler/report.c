// report.c: `hetprof show` and `hetprof export`.
#define _POSIX_C_SOURCE 200809L
#include "report.h"
#include "het/io.h"

#include "db_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Opens an existing database (show and export never create one).
static het_db *open_existing(const char *path)
{
    het_db *db = NULL;
    return het_db_open_existing(path, &db) == HET_OK ? db : NULL;
}

typedef struct layer_row {
    char name[128], kind[32];
    int fused_relu; // index of the ReLU folded into it, or -1
    double t[2][2]; // [device][fused] median, NaN if none
    int unsup[2];   // [device]: unsupported
    double best_ratio, best_split, slow[2];
} layer_row;

static double col(sqlite3_stmt *q, int i) { return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i); }

static void fmt_ms(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.3f", v);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isnan(v) || isinf(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}

// One sweep: as text to `out`, or, with `js`, into that object.
static int show_sweep(het_db *db, sqlite3_stmt *sw, FILE *out, cJSON *js)
{
    sqlite3 *sq = db->sq;
    int64_t sweep = sqlite3_column_int64(sw, 0), model = sqlite3_column_int64(sw, 1);
    const char *gdev = (const char *)sqlite3_column_text(sw, 5);
    if (js) {
        cJSON_AddNumberToObject(js, "sweep", (double)sweep);
        cJSON_AddStringToObject(js, "model", (const char *)sqlite3_column_text(sw, 2));
        cJSON_AddStringToObject(js, "model_hash", (const char *)sqlite3_column_text(sw, 3));
        cJSON_AddStringToObject(js, "model_path", (const char *)sqlite3_column_text(sw, 10));
        cJSON_AddStringToObject(js, "cpu", (const char *)sqlite3_column_text(sw, 4));
        cJSON_AddStringToObject(js, "opencl_device", gdev);
        cJSON_AddStringToObject(js, "opencl_platform", (const char *)sqlite3_column_text(sw, 6));
        cJSON_AddStringToObject(js, "started", (const char *)sqlite3_column_text(sw, 7));
        if (sqlite3_column_type(sw, 8) == SQLITE_NULL) cJSON_AddNullToObject(js, "finished");
        else cJSON_AddStringToObject(js, "finished", (const char *)sqlite3_column_text(sw, 8));
    } else {
        const char *name = (const char *)sqlite3_column_text(sw, 2);
        fprintf(out, "sweep %lld: %s%s%s%s (model hash %s) on CPU '%s'%s%s%s%s%s\n", (long long)sweep, name,
                name[0] ? " (" : "", (const char *)sqlite3_column_text(sw, 10), name[0] ? ")" : "",
                sqlite3_column_text(sw, 3), sqlite3_column_text(sw, 4),
                gdev[0] ? " + OpenCL '" : "", gdev, gdev[0] ? "' (" : "", gdev[0] ? (const char *)sqlite3_column_text(sw, 6) : "",
                gdev[0] ? ")" : "");
        fprintf(out, "  started %s, %s%s\n", sqlite3_column_text(sw, 7),
                sqlite3_column_type(sw, 8) == SQLITE_NULL ? "not finished (run the sweep again to complete it)"
                                                          : "finished ",
                sqlite3_column_type(sw, 8) == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(sw, 8));
    }
    sqlite3_stmt *q = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(sq, "SELECT count(*) FROM layers WHERE model_id = ?", -1, &q, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_int64(q, 1, model);
    if (sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    layer_row *L = calloc((size_t)(n ? n : 1), sizeof *L);
    if (!L) return 1;
    for (int i = 0; i < n; i++) {
        L[i].fused_relu = -1;
        L[i].best_ratio = L[i].best_split = L[i].slow[0] = L[i].slow[1] = NAN;
        for (int d = 0; d < 2; d++) L[i].t[d][0] = L[i].t[d][1] = NAN;
    }
    // Layers, then every kind of measurement, each filling its columns.
    static const char *const queries[] = {
        "SELECT idx, name, kind, fused_relu FROM layers WHERE model_id = ?2 ORDER BY idx",
        "SELECT layer_idx, device = 'gpu', fused, median_ms, status FROM measurements WHERE sweep_id = ?1",
        "SELECT layer_idx, fused, ratio, median_ms FROM split_measurements WHERE sweep_id = ?1 AND status = 'ok'",
        "SELECT layer_idx, device = 'gpu', fused, slowdown FROM corun WHERE sweep_id = ?1 AND status = 'ok'",
    };
    for (int k = 0; k < 4; k++) {
        if (sqlite3_prepare_v2(sq, queries[k], -1, &q, NULL) != SQLITE_OK) {
            free(L);
            goto fail;
        }
        sqlite3_bind_int64(q, 1, sweep);
        if (k == 0) sqlite3_bind_int64(q, 2, model);
        while (sqlite3_step(q) == SQLITE_ROW) {
            int i = sqlite3_column_int(q, 0);
            if (i < 0 || i >= n) continue;
            layer_row *r = &L[i];
            if (k == 0) {
                snprintf(r->name, sizeof r->name, "%s", sqlite3_column_text(q, 1));
                snprintf(r->kind, sizeof r->kind, "%s", sqlite3_column_text(q, 2));
                r->fused_relu = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
            } else if (k == 1) {
                int d = sqlite3_column_int(q, 1), f = sqlite3_column_int(q, 2);
                r->t[d][f] = col(q, 3);
                if (!strcmp((const char *)sqlite3_column_text(q, 4), "unsupported")) r->unsup[d] = 1;
            } else if (k == 2) {
                double t = col(q, 3);
                if (isnan(r->best_split) || t < r->best_split) r->best_split = t, r->best_ratio = col(q, 2);
            } else {
                // The fused measurement speaks for a convolution with a ReLU.
                int d = sqlite3_column_int(q, 1), f = sqlite3_column_int(q, 2);
                if (f == (r->fused_relu >= 0)) r->slow[d] = col(q, 3);
            }
        }
        sqlite3_finalize(q);
    }
    // The full names: the widest sets the column.
    int w = 5;
    for (int i = 0; i < n; i++) {
        bool f = L[i].fused_relu >= 0;
        int len = (int)strlen(L[i].name) + (f ? 1 + (int)strlen(L[L[i].fused_relu].name) : 0);
        if (len > w) w = len;
        if (f) i = L[i].fused_relu;
    }
    if (!js) {
        fprintf(out, "  %-4s %-*s %-12s %9s %9s %6s %6s %9s %8s %7s %7s\n", "idx", w, "layer", "kind", "cpu ms", "gpu ms",
                "faster", "split", "split ms", "speedup", "cpu co", "gpu co");
    }
    cJSON *rows = js ? cJSON_AddArrayToObject(js, "layers") : NULL;
    double tot[2] = {0, 0}, best_tot = 0;
    bool below_one = false;
    for (int i = 0; i < n; i++) {
        layer_row *r = &L[i];
        bool f = r->fused_relu >= 0;
        char name[300], a[32], b[32], c[32] = "-", ratio[16] = "-", sc[16], sg[16];
        snprintf(name, sizeof name, "%s%s%s", r->name, f ? "+" : "", f ? L[r->fused_relu].name : "");
        double tc = r->t[0][f], tg = r->t[1][f];
        fmt_ms(a, sizeof a, tc);
        fmt_ms(b, sizeof b, tg);
        const char *faster = isnan(tc) && isnan(tg) ? "-" : isnan(tg) || tc <= tg ? "cpu" : "gpu";
        double fast = isnan(tg) || tc <= tg ? tc : tg;
        // A split is shown only where it beats the faster device alone.
        bool split = !isnan(r->best_split) && (isnan(fast) || r->best_split < fast);
        double best = split ? r->best_split : fast;
        if (split) {
            fmt_ms(c, sizeof c, r->best_split);
            snprintf(ratio, sizeof ratio, "%.2f", r->best_ratio);
        }
        for (int d = 0; d < 2; d++) {
            char *dst = d ? sg : sc;
            if (isnan(r->slow[d])) snprintf(dst, 16, "-");
            else snprintf(dst, 16, "%.2fx%s", r->slow[d], r->slow[d] < 0.995 ? "*" : "");
            below_one |= r->slow[d] < 0.995;
        }
        char sp[16];
        snprintf(sp, sizeof sp, isnan(fast) || isnan(best) ? "-" : "%.2fx", fast / best);
        if (r->unsup[1]) snprintf(b, sizeof b, "unsup");
        if (r->unsup[0]) snprintf(a, sizeof a, "unsup");
        if (js) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "idx", i);
            cJSON_AddStringToObject(e, "layer", name);
            cJSON_AddStringToObject(e, "kind", r->kind);
            add_num(e, "cpu_ms", tc), add_num(e, "gpu_ms", tg);
            cJSON_AddBoolToObject(e, "cpu_unsupported", r->unsup[0]);
            cJSON_AddBoolToObject(e, "gpu_unsupported", r->unsup[1]);
            cJSON_AddStringToObject(e, "faster", faster);
            add_num(e, "split_gpu_share", split ? r->best_ratio : NAN), add_num(e, "split_ms", split ? r->best_split : NAN);
            add_num(e, "speedup", fast / best);
            add_num(e, "cpu_corun_slowdown", r->slow[0]), add_num(e, "gpu_corun_slowdown", r->slow[1]);
            cJSON_AddItemToArray(rows, e);
        } else {
            fprintf(out, "  %-4d %-*s %-12.12s %9s %9s %6s %6s %9s %8s %7s %7s\n", i, w, name, r->kind, a, b, faster,
                    ratio, c, sp, sc, sg);
        }
        if (!isnan(tc)) tot[0] += tc;
        if (!isnan(tg)) tot[1] += tg;
        if (!isnan(best)) best_tot += best;
        if (f) i = r->fused_relu; // the ReLU is inside this row
    }
    if (!js) {
        fprintf(out, "  (ms: median time of the layer alone, inputs resident; split: the GPU's share of the output "
                "channels where splitting beats the faster device, and its time; speedup: the faster device alone "
                "over the best choice; cpu co / gpu co: the layer's time while the other device runs the network, "
                "over its time alone%s)\n",
                below_one ? "; * below 1: it ran faster alongside, counted as no slowdown by hetpart" : "");
    }
    free(L);
    if (js) {
        cJSON *t = cJSON_AddObjectToObject(js, "sum_of_layers_ms");
        cJSON_AddNumberToObject(t, "cpu", tot[0]);
        cJSON_AddNumberToObject(t, "gpu", tot[1]);
        cJSON_AddNumberToObject(t, "best_per_layer", best_tot);
    } else {
        fprintf(out, "  sum of layers: cpu %.3f ms, gpu %.3f ms, best per layer %.3f ms (transfers not included)\n",
                tot[0], tot[1], best_tot);
    }
    het_sweep_quality qu;
    char why[400];
    if (het_db_sweep_quality(db, sweep, &qu, why, sizeof why) != HET_OK) goto fail;
    if (js) {
        cJSON *t = cJSON_AddObjectToObject(js, "quality");
        cJSON_AddNumberToObject(t, "layer_timings", qu.n);
        cJSON_AddNumberToObject(t, "unconverged", qu.unconverged);
        add_num(t, "median_cv", qu.median_cv);
        cJSON_AddBoolToObject(t, "trusted", !why[0]);
    } else if (qu.n) {
        fprintf(out, "  layer timings: %d, median CV %.1f%%, %d stopped at the time limit short of their confidence "
                "target\n", qu.n, qu.median_cv * 100, qu.unconverged);
        if (why[0]) fprintf(out, "  warning: %s\n", why);
    }
    if (sqlite3_prepare_v2(sq, "SELECT n.device, n.median_ms, n.layer_sum_ms, n.status, s.median_ms, s.in_flight, "
                               "n.note FROM networks n LEFT JOIN network_streams s ON s.sweep_id = n.sweep_id AND "
                               "s.device = n.device AND s.status = 'ok' WHERE n.sweep_id = ? ORDER BY n.device",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(q, 1, sweep);
    cJSON *nets = js ? cJSON_AddArrayToObject(js, "networks") : NULL;
    while (sqlite3_step(q) == SQLITE_ROW) {
        double m = col(q, 1), s = col(q, 2), st = col(q, 4);
        const char *dev = (const char *)sqlite3_column_text(q, 0), *status = (const char *)sqlite3_column_text(q, 3);
        const char *note = sqlite3_column_type(q, 6) == SQLITE_TEXT ? (const char *)sqlite3_column_text(q, 6) : NULL;
        int in_flight = sqlite3_column_int(q, 5);
        if (js) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "device", dev);
            cJSON_AddStringToObject(e, "status", status);
            add_num(e, "median_ms", m), add_num(e, "layer_sum_ms", s), add_num(e, "stream_ms_per_image", st);
            if (!isnan(st)) cJSON_AddNumberToObject(e, "stream_in_flight", in_flight);
            if (note) cJSON_AddStringToObject(e, "note", note);
            cJSON_AddItemToArray(nets, e);
            continue;
        }
        if (isnan(m)) fprintf(out, "  whole network on %s: %s\n", dev, status);
        else fprintf(out, "  whole network on %s: %.3f ms measured, %.3f ms as the sum of its layers (ratio %.2f)\n",
                     dev, m, s, m / s);
        char how[48] = "image by image";
        if (in_flight > 1) snprintf(how, sizeof how, "%d images in flight", in_flight);
        if (!isnan(m) && !isnan(st))
            fprintf(out, "  streamed on %s, %s: %.3f ms an image (%.2fx the network alone)\n", dev, how, st, m / st);
        if (!isnan(m) && note) fprintf(out, "  note, whole network on %s: %s\n", dev, note);
    }
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(sq, "SELECT device, slowdown, alone_ms, median_ms, rounds, status, note, stream_slowdown, "
                               "stream_alone_ms FROM network_corun WHERE sweep_id = ? ORDER BY device", -1, &q,
                           NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(q, 1, sweep);
    cJSON *co = js ? cJSON_AddArrayToObject(js, "network_corun") : NULL;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *dev = (const char *)sqlite3_column_text(q, 0), *other = strcmp(dev, "cpu") ? "cpu" : "gpu";
        const char *note = sqlite3_column_type(q, 6) != SQLITE_NULL ? (const char *)sqlite3_column_text(q, 6) : NULL;
        if (js) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "device", dev);
            cJSON_AddStringToObject(e, "status", (const char *)sqlite3_column_text(q, 5));
            add_num(e, "slowdown", col(q, 1)), add_num(e, "median_ms", col(q, 3)), add_num(e, "alone_ms", col(q, 2));
            add_num(e, "stream_slowdown", col(q, 7)), add_num(e, "stream_alone_ms", col(q, 8));
            if (note) cJSON_AddStringToObject(e, "note", note);
            cJSON_AddItemToArray(co, e);
            continue;
        }
        if (isnan(col(q, 1)))
            fprintf(out, "  co-run, whole network on %s with %s busy: %s%s%s\n", dev, other, sqlite3_column_text(q, 5),
                    note ? ", " : "", note ? note : "");
        else
            fprintf(out, "  co-run, whole network on %s with %s busy: %.2fx%s (%.3f ms against %.3f ms alone, %d "
                    "rounds)\n", dev, other, col(q, 1), col(q, 1) < 1 ? " (faster alongside: counted as 1)" : "",
                    col(q, 3), col(q, 2), sqlite3_column_int(q, 4));
        if (!isnan(col(q, 7)))
            fprintf(out, "  co-run, %s streaming with %s busy: %.2fx (%.3f ms an image alone)\n", dev, other, col(q, 7),
                    col(q, 8));
    }
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(sq, "SELECT direction, latency_ms, ms_per_mb, n_points, max_rel_err FROM transfer_models "
                               "WHERE sweep_id = ? ORDER BY direction DESC", -1, &q, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(q, 1, sweep);
    cJSON *tr = js ? cJSON_AddArrayToObject(js, "transfers") : NULL;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *dir = (const char *)sqlite3_column_text(q, 0);
        if (js) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "direction", dir);
            add_num(e, "latency_ms", col(q, 1)), add_num(e, "ms_per_mb", col(q, 2));
            cJSON_AddNumberToObject(e, "sizes", sqlite3_column_int(q, 3));
            add_num(e, "worst_error", col(q, 4));
            cJSON_AddItemToArray(tr, e);
            continue;
        }
        char bw[64] = "";
        // Where size adds nothing measurable the fit's slope is 0: a
        // bandwidth cannot be stated.
        if (col(q, 2) > 0) snprintf(bw, sizeof bw, " (%.2f GB/s)", 1.0 / col(q, 2));
        else snprintf(bw, sizeof bw, " (no cost per MB measurable: the latency is all)");
        fprintf(out, "  transfers %s: %.4f ms + %.4f ms/MB%s, fitted to %d sizes, worst error %.0f%%\n", dir,
                col(q, 1), col(q, 2), bw, sqlite3_column_int(q, 3), col(q, 4) * 100);
    }
    sqlite3_finalize(q);
    if (sqlite3_column_type(sw, 9) != SQLITE_NULL) {
        if (js) cJSON_AddStringToObject(js, "counters", (const char *)sqlite3_column_text(sw, 9));
        else fprintf(out, "  counters: %s\n", sqlite3_column_text(sw, 9));
    }
    if (js) return 0;
    fprintf(out, "\n");
    return 0;
fail:
    fprintf(stderr, "hetprof: error: database %s: cannot read sweep %lld: %s\n", db->path, (long long)sweep, sqlite3_errmsg(sq));
    return 1;
}

int het_report_show(const char *db_path, const char *model_path, bool fold, long long sweep_id, bool json, FILE *out)
{
    char hash[17] = "";
    if (model_path) {
        het_graph *g = NULL;
        if (het_graph_load(model_path, NULL, 1, &g) != HET_OK) return 1;
        if (fold && het_graph_fold(g, NULL) != HET_OK) {
            het_graph_destroy(g);
            return 1;
        }
        memcpy(hash, g->hash, sizeof hash);
        het_graph_destroy(g);
    }
    het_db *db = open_existing(db_path);
    if (!db) return 1;
    sqlite3_stmt *sw = NULL;
    int rc = 1, shown = 0;
    if (sqlite3_prepare_v2(db->sq,
            "SELECT s.id, s.model_id, m.name, m.hash, p.cpu_model, p.opencl_device, p.opencl_platform, s.started_at,"
            " s.finished_at, s.counters_note, m.path FROM sweeps s JOIN models m ON m.id = s.model_id"
            " JOIN platforms p ON p.id = s.platform_id"
            " WHERE (?1 = '' OR m.hash = ?1) AND (?2 < 0 OR s.id = ?2) ORDER BY s.id", -1, &sw, NULL) != SQLITE_OK) {
        fprintf(stderr, "hetprof: error: database %s: cannot read the sweeps: %s\n", db_path, sqlite3_errmsg(db->sq));
        goto done;
    }
    sqlite3_bind_text(sw, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sw, 2, sweep_id);
    rc = 0;
    cJSON *all = json ? cJSON_CreateArray() : NULL;
    while (rc == 0 && sqlite3_step(sw) == SQLITE_ROW) {
        cJSON *one = json ? cJSON_CreateObject() : NULL;
        if (one) cJSON_AddItemToArray(all, one);
        rc = show_sweep(db, sw, out, one);
        shown++;
    }
    if (rc == 0 && shown && all) {
        char *text = cJSON_Print(all);
        if (text) fprintf(out, "%s\n", text);
        else rc = 1;
        free(text);
    }
    cJSON_Delete(all);
    if (rc == 0 && !shown) {
        fprintf(stderr, "hetprof: error: %s holds no sweep%s%s%s\n", db_path, model_path ? " of " : "",
                model_path ? model_path : "", sweep_id >= 0 ? " with that id" : "");
        rc = 1;
    }
done:
    sqlite3_finalize(sw);
    het_db_close(db);
    return rc;
}

// One CSV field (RFC 4180: quoted when it holds a comma, quote or newline).
static void csv_field(FILE *f, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int export_table(het_db *db, const char *table, const char *dir)
{
    char path[4096], sql[128];
    snprintf(path, sizeof path, "%s/%s.csv", dir, table);
    snprintf(sql, sizeof sql, "SELECT * FROM %s", table);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db->sq, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "hetprof: error: database %s: cannot read %s: %s\n", db->path, table, sqlite3_errmsg(db->sq));
        return 1;
    }
    // Built in memory, then written whole (het_write_file).
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        fprintf(stderr, "hetprof: error: out of memory for %s\n", path);
        sqlite3_finalize(q);
        return 1;
    }
    int nc = sqlite3_column_count(q), rows = 0, rc;
    for (int c = 0; c < nc; c++) {
        if (c) fputc(',', f);
        csv_field(f, sqlite3_column_name(q, c));
    }
    fputc('\n', f);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            if (c) fputc(',', f);
            int t = sqlite3_column_type(q, c);
            if (t == SQLITE_FLOAT) fprintf(f, "%.9g", sqlite3_column_double(q, c));
            else if (t != SQLITE_NULL) csv_field(f, (const char *)sqlite3_column_text(q, c));
        }
        fputc('\n', f);
        rows++;
    }
    bool read = rc == SQLITE_DONE;
    if (!read) fprintf(stderr, "hetprof: error: database %s: cannot read %s: %s\n", db->path, table, sqlite3_errmsg(db->sq));
    sqlite3_finalize(q);
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (read && !ok) fprintf(stderr, "hetprof: error: out of memory for %s\n", path);
    ok = ok && read && het_write_file(path, &(het_chunk){text, text_len}, 1, false) == HET_OK;
    free(text);
    if (!ok) return 1;
    printf("%-20s %6d rows -> %s\n", table, rows, path);
    return 0;
}

int het_report_export(const char *db_path, const char *dir)
{
    het_db *db = open_existing(db_path);
    if (!db) return 1;
    struct stat sb;
    if (stat(dir, &sb) != 0 && mkdir(dir, 0777) != 0) {
        fprintf(stderr, "hetprof: error: cannot create %s: %s\n", dir, strerror(errno));
        het_db_close(db);
        return 1;
    }
    static const char *const tables[] = {"platforms", "devices", "models", "layers", "blobs", "sweeps",
                                         "measurements", "split_measurements", "transfers", "transfer_models",
                                         "corun", "networks", "network_units", "network_streams", "network_corun",
                                         "gpu_issue", "counters", "runs", "run_lanes"};
    int rc = 0;
    for (size_t i = 0; i < sizeof tables / sizeof *tables && !rc; i++) rc = export_table(db, tables[i], dir);
    het_db_close(db);
    return rc;
}
