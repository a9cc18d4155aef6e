// db.c: opening, versioning and writing het's results database.
//
// Every write is one transaction, so an interrupted or failed write leaves
// the database as it was. WAL mode lets readers (sqlite3, plots) read while
// a run writes. A file that is not an SQLite database, or a database of a
// newer schema version, is refused with a message and never overwritten.
#define _POSIX_C_SOURCE 200809L
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include <sqlite3.h>

#ifndef HET_GIT_REV
#define HET_GIT_REV "unknown"
#endif

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS platforms ("
    " id INTEGER PRIMARY KEY,"
    " cpu_model TEXT NOT NULL, cpu_cores TEXT NOT NULL,"
    " opencl_platform TEXT NOT NULL, opencl_device TEXT NOT NULL, opencl_driver TEXT NOT NULL,"
    " os TEXT NOT NULL,"
    " UNIQUE (cpu_model, cpu_cores, opencl_platform, opencl_device, opencl_driver, os));"
    "CREATE TABLE IF NOT EXISTS models ("
    " id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT, path TEXT, n_layers INTEGER, gflop REAL);"
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY,"
    " created_at TEXT NOT NULL, het_version TEXT NOT NULL, git_rev TEXT NOT NULL,"
    " platform_id INTEGER NOT NULL REFERENCES platforms(id), model_id INTEGER NOT NULL REFERENCES models(id),"
    " weights TEXT, plan_path TEXT, plan_hash TEXT, mode TEXT NOT NULL, backend TEXT,"
    " images INTEGER NOT NULL, wall_ms REAL, images_per_s REAL,"
    " latency_p50_ms REAL, latency_p90_ms REAL, latency_min_ms REAL,"
    " h2d_bytes INTEGER, h2d_ms REAL, d2h_bytes INTEGER, d2h_ms REAL,"
    " predicted_latency_ms REAL, predicted_images_per_s REAL);"
    "CREATE TABLE IF NOT EXISTS run_lanes ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), lane INTEGER NOT NULL, name TEXT NOT NULL,"
    " busy_ms REAL NOT NULL, idle_ms REAL NOT NULL, PRIMARY KEY (run_id, lane));";

static het_status db_fail(sqlite3 *db, const char *path, const char *what)
{
    het_log(HET_LOG_ERROR, "database %s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "cannot open");
    return HET_E_DB;
}

// Opens `path`, checks or creates the schema. On error, logs and closes.
static het_status db_open(const char *path, sqlite3 **db_out)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        het_status st = db_fail(db, path, "cannot open it (is the folder writable?)");
        sqlite3_close(db);
        return st;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    int version = -1, tables = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        tables = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    het_status st = HET_E_DB;
    if (version < 0 || tables < 0) {
        het_log(HET_LOG_ERROR, "database %s: not an SQLite database (or corrupt): %s; het leaves it untouched", path,
                sqlite3_errmsg(db));
    } else if (version > HET_DB_VERSION) {
        het_log(HET_LOG_ERROR, "database %s: schema version %d is newer than this het's (%d); use a newer het", path,
                version, HET_DB_VERSION);
    } else if (version == 0 && tables > 0) {
        het_log(HET_LOG_ERROR, "database %s: an SQLite database that is not het's (no schema version); het leaves it "
                "untouched", path);
    } else {
        char *err = NULL;
        int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &err);
        sqlite3_free(err);
        if (rc == SQLITE_OK && version == 0) {
            char sql[4096];
            snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", schema, HET_DB_VERSION);
            rc = sqlite3_exec(db, sql, NULL, NULL, &err);
            if (rc != SQLITE_OK) {
                het_log(HET_LOG_ERROR, "database %s: cannot create het's tables: %s", path, err ? err : "?");
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            }
            sqlite3_free(err);
        } else if (rc != SQLITE_OK) {
            db_fail(db, path, "cannot switch to WAL mode");
        }
        if (rc == SQLITE_OK) st = HET_OK;
    }
    if (st != HET_OK) {
        sqlite3_close(db);
        return st;
    }
    *db_out = db;
    return HET_OK;
}

het_status het_db_check(const char *path)
{
    sqlite3 *db;
    het_status st = db_open(path, &db);
    if (st == HET_OK) sqlite3_close(db);
    return st;
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (c && (!strncmp(line, "model name", 10) || !strncmp(line, "Hardware", 8) || !strncmp(line, "Model", 5))) {
            c++;
            while (*c == ' ' || *c == '\t') c++;
            c[strcspn(c, "\n")] = 0;
            snprintf(buf, cap, "%s", c);
            break;
        }
    }
    fclose(f);
}

// Binds text or NULL.
static void bind_text(sqlite3_stmt *q, int i, const char *s)
{
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(q, i);
}

// Runs an INSERT ... ON CONFLICT DO NOTHING and then the SELECT of its id;
// the SELECT uses only the leading parameters (binding the others fails
// harmlessly with SQLITE_RANGE).
static int64_t upsert(sqlite3 *db, const char *insert, const char *select, const char *const *vals, int n)
{
    int64_t id = -1;
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, pass ? select : insert, -1, &q, NULL) != SQLITE_OK) return -1;
        for (int i = 0; i < n; i++) bind_text(q, i + 1, vals[i]);
        int rc = sqlite3_step(q);
        if (pass && rc == SQLITE_ROW) id = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (!pass && rc != SQLITE_DONE) return -1;
    }
    return id;
}

het_status het_db_add_run(const char *path, const het_db_run *r, int64_t *run_id_out)
{
    sqlite3 *db;
    het_status st = db_open(path, &db);
    if (st != HET_OK) return st;
    char cpu[256], os[256], when[32];
    cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) == 0) snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    else snprintf(os, sizeof os, "unknown");
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    st = HET_E_DB;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(db, path, "cannot start a transaction (locked by another writer for 10 s?)");
        sqlite3_close(db);
        return HET_E_DB;
    }
    const char *pv[] = {cpu, r->cpu_cores ? r->cpu_cores : "", r->opencl_platform ? r->opencl_platform : "",
                        r->opencl_device ? r->opencl_device : "", r->opencl_driver ? r->opencl_driver : "", os};
    int64_t platform = upsert(db,
        "INSERT INTO platforms (cpu_model, cpu_cores, opencl_platform, opencl_device, opencl_driver, os) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        "SELECT id FROM platforms WHERE cpu_model = ?1 AND cpu_cores = ?2 AND opencl_platform = ?3 AND "
        "opencl_device = ?4 AND opencl_driver = ?5 AND os = ?6", pv, 6);
    char nl[32], gf[64];
    snprintf(nl, sizeof nl, "%d", r->n_layers);
    snprintf(gf, sizeof gf, "%.9g", r->gflop);
    const char *mv[] = {r->model_hash, r->model_name, r->model_path, nl, gf};
    int64_t model = upsert(db, "INSERT INTO models (hash, name, path, n_layers, gflop) VALUES (?1, ?2, ?3, ?4, ?5) "
                               "ON CONFLICT DO NOTHING", "SELECT id FROM models WHERE hash = ?1", mv, 5);
    sqlite3_stmt *q = NULL;
    if (platform < 0 || model < 0 ||
        sqlite3_prepare_v2(db,
            "INSERT INTO runs (created_at, het_version, git_rev, platform_id, model_id, weights, plan_path, plan_hash,"
            " mode, backend, images, wall_ms, images_per_s, latency_p50_ms, latency_p90_ms, latency_min_ms,"
            " h2d_bytes, h2d_ms, d2h_bytes, d2h_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            -1, &q, NULL) != SQLITE_OK) {
        db_fail(db, path, "cannot write the run");
        goto rollback;
    }
    int i = 1;
    bind_text(q, i++, when);
    bind_text(q, i++, HET_VERSION);
    bind_text(q, i++, HET_GIT_REV);
    sqlite3_bind_int64(q, i++, platform);
    sqlite3_bind_int64(q, i++, model);
    bind_text(q, i++, r->weights);
    bind_text(q, i++, r->plan_path);
    bind_text(q, i++, r->plan_hash);
    bind_text(q, i++, r->mode);
    bind_text(q, i++, r->backend);
    sqlite3_bind_int(q, i++, r->images);
    sqlite3_bind_double(q, i++, r->wall_ms);
    sqlite3_bind_double(q, i++, r->images_per_s);
    sqlite3_bind_double(q, i++, r->latency_p50_ms);
    sqlite3_bind_double(q, i++, r->latency_p90_ms);
    sqlite3_bind_double(q, i++, r->latency_min_ms);
    sqlite3_bind_int64(q, i++, (sqlite3_int64)r->h2d_bytes);
    sqlite3_bind_double(q, i++, r->h2d_ms);
    sqlite3_bind_int64(q, i++, (sqlite3_int64)r->d2h_bytes);
    sqlite3_bind_double(q, i++, r->d2h_ms);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        db_fail(db, path, "cannot write the run");
        goto rollback;
    }
    int64_t run_id = sqlite3_last_insert_rowid(db);
    for (int l = 0; l < r->n_lanes; l++) {
        if (sqlite3_prepare_v2(db, "INSERT INTO run_lanes (run_id, lane, name, busy_ms, idle_ms) VALUES (?,?,?,?,?)",
                               -1, &q, NULL) != SQLITE_OK) {
            db_fail(db, path, "cannot write the run's lanes");
            goto rollback;
        }
        sqlite3_bind_int64(q, 1, run_id);
        sqlite3_bind_int(q, 2, l);
        bind_text(q, 3, r->lane_names[l]);
        sqlite3_bind_double(q, 4, r->lane_busy_ms[l]);
        sqlite3_bind_double(q, 5, r->wall_ms - r->lane_busy_ms[l]);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            db_fail(db, path, "cannot write the run's lanes");
            goto rollback;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(db, path, "cannot commit the run (disk full?)");
        goto rollback;
    }
    if (run_id_out) *run_id_out = run_id;
    sqlite3_close(db);
    return HET_OK;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return st;
}
