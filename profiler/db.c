// db.c: opening, versioning and writing het's results database.
//
// Every write is one transaction, so an interrupted or failed write leaves
// the database as it was. WAL mode lets readers (sqlite3, plots) read while
// a run writes. A file that is not an SQLite database, or a database of a
// newer schema version, is refused with a message and never overwritten.
#define _POSIX_C_SOURCE 200809L
#include "db_impl.h"
#include "db_schema.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <math.h>

#include "het_git_rev.h" // HET_GIT_REV, written at build time (cmake/gitrev.cmake)

// The schema: version 1 held platforms, models, runs and run_lanes (hetrun);
// version 2 adds what the profiler measures; version 3 the units' times
// inside the running network (network_units); version 4 the host's time to
// issue each GPU layer (gpu_issue). Every statement is idempotent
// (IF NOT EXISTS), so creating a new database and upgrading an older one
// run the same text.
static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS platforms ("
    " id INTEGER PRIMARY KEY,"
    " cpu_model TEXT NOT NULL, cpu_cores TEXT NOT NULL,"
    " opencl_platform TEXT NOT NULL, opencl_device TEXT NOT NULL, opencl_driver TEXT NOT NULL,"
    " os TEXT NOT NULL,"
    " UNIQUE (cpu_model, cpu_cores, opencl_platform, opencl_device, opencl_driver, os))",
    "CREATE TABLE IF NOT EXISTS models ("
    " id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT, path TEXT, n_layers INTEGER, gflop REAL)",
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY,"
    " created_at TEXT NOT NULL, het_version TEXT NOT NULL, git_rev TEXT NOT NULL,"
    " platform_id INTEGER NOT NULL REFERENCES platforms(id), model_id INTEGER NOT NULL REFERENCES models(id),"
    " weights TEXT, plan_path TEXT, plan_hash TEXT, mode TEXT NOT NULL, backend TEXT,"
    " images INTEGER NOT NULL, wall_ms REAL, images_per_s REAL,"
    " latency_p50_ms REAL, latency_p90_ms REAL, latency_min_ms REAL,"
    " h2d_bytes INTEGER, h2d_ms REAL, d2h_bytes INTEGER, d2h_ms REAL,"
    " predicted_latency_ms REAL, predicted_images_per_s REAL,"
    " device TEXT, objective TEXT, sweep_id INTEGER)",
    "CREATE TABLE IF NOT EXISTS run_lanes ("
    " run_id INTEGER NOT NULL REFERENCES runs(id), lane INTEGER NOT NULL, name TEXT NOT NULL,"
    " busy_ms REAL NOT NULL, idle_ms REAL NOT NULL, PRIMARY KEY (run_id, lane))",
    HET_DB_SWEEP_TABLES,
};

// Version 8: runs says which devices ran, for which objective and from
// which sweep, and names modes as plans do ("single" and a device, where
// version 7 wrote "single-cpu" and "single-gpu"). A version 7 row run from
// a single-device plan file keeps a NULL device: it was not recorded.
static const char *const upgrade_to_8[] = {
    "ALTER TABLE runs ADD COLUMN device TEXT",
    "ALTER TABLE runs ADD COLUMN objective TEXT",
    "ALTER TABLE runs ADD COLUMN sweep_id INTEGER",
    "UPDATE runs SET device = substr(mode, 8), mode = 'single' WHERE mode IN ('single-cpu', 'single-gpu')",
};

// Creates the tables (or adds those of newer versions, and upgrades the
// old ones from `version`) and sets the version, in one transaction.
static int create_schema(sqlite3 *sq, int version, char **err)
{
    int rc = sqlite3_exec(sq, "BEGIN IMMEDIATE", NULL, NULL, err);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof schema / sizeof *schema; i++)
        rc = sqlite3_exec(sq, schema[i], NULL, NULL, err);
    for (size_t i = 0; rc == SQLITE_OK && version >= 1 && version < 8 && i < sizeof upgrade_to_8 / sizeof *upgrade_to_8; i++)
        rc = sqlite3_exec(sq, upgrade_to_8[i], NULL, NULL, err);
    char v[64];
    snprintf(v, sizeof v, "PRAGMA user_version=%d", HET_DB_VERSION);
    if (rc == SQLITE_OK) rc = sqlite3_exec(sq, v, NULL, NULL, err);
    if (rc == SQLITE_OK) rc = sqlite3_exec(sq, "COMMIT", NULL, NULL, err);
    return rc;
}

het_status het_db_fail(het_db *db, const char *what)
{
    het_log(HET_LOG_ERROR, "database %s: %s: %s", db->path, what, db->sq ? sqlite3_errmsg(db->sq) : "cannot open");
    return HET_E_DB;
}

void het_db_close(het_db *db)
{
    if (!db) return;
    sqlite3_close(db->sq);
    free(db->path);
    free(db);
}

// PRAGMA quick_check: whether every page of the file is sound (it reads
// each page once, without the index cross-checks of integrity_check); one
// message naming the first fault where it is not.
static bool structure_ok(het_db *db)
{
    sqlite3_stmt *q = NULL;
    bool ok = false;
    char first[256] = "";
    if (sqlite3_prepare_v2(db->sq, "PRAGMA quick_check(1)", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        ok = r && !strcmp(r, "ok");
        snprintf(first, sizeof first, "%s", r ? r : "?");
    } else {
        snprintf(first, sizeof first, "%s", sqlite3_errmsg(db->sq));
    }
    sqlite3_finalize(q);
    for (char *c = first; *c; c++) // one line: SQLite's report spans several
        if (*c == '\n') *c = ' ';
    if (!ok) het_log(HET_LOG_ERROR, "database %s is corrupt (%s); het leaves it untouched", db->path, first);
    return ok;
}

// Opens for writing (creating the file and het's tables where needed, in
// WAL mode) or, `readonly`, only to read a database of this het's version.
static het_status db_open(const char *path, int timeout_ms, bool readonly, het_db **db_out)
{
    het_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return HET_E_NOMEM;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db->sq, flags, NULL) != SQLITE_OK) {
        het_status st = het_db_fail(db, readonly ? "cannot open it" : "cannot open it (is the folder writable?)");
        het_db_close(db);
        return st;
    }
    sqlite3_busy_timeout(db->sq, timeout_ms);
    sqlite3_stmt *q = NULL;
    int version = -1, tables = -1;
    // One statement, so one snapshot: read apart, another process creating
    // the schema between the two reads would look like a foreign database.
    if (sqlite3_prepare_v2(db->sq, "SELECT user_version, (SELECT count(*) FROM sqlite_master) FROM pragma_user_version",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        version = sqlite3_column_int(q, 0);
        tables = sqlite3_column_int(q, 1);
    }
    sqlite3_finalize(q);
    het_status st = HET_E_DB;
    if (version < 0 || tables < 0) {
        het_log(HET_LOG_ERROR, "database %s: not an SQLite database (or corrupt, or locked): %s; het leaves it "
                "untouched", path, sqlite3_errmsg(db->sq));
    } else if (readonly && version < HET_DB_VERSION) {
        het_log(HET_LOG_ERROR, "database %s: schema version %d is older than this het's (%d)%s", path, version,
                HET_DB_VERSION, version ? "; a hetprof sweep into it upgrades it" : "");
    } else if (tables > 0 && !structure_ok(db)) {
        // Reported as such: a damaged page would otherwise read as rows
        // that are missing, and times shown as "-".
    } else if (readonly) {
        st = HET_OK;
    } else if (version > HET_DB_VERSION) {
        het_log(HET_LOG_ERROR, "database %s: schema version %d is newer than this het's (%d); use a newer het", path,
                version, HET_DB_VERSION);
    } else if (version == 0 && tables > 0) {
        het_log(HET_LOG_ERROR, "database %s: an SQLite database that is not het's (no schema version); het leaves it "
                "untouched", path);
    } else {
        char *err = NULL;
        // Switching a new database to WAL takes an exclusive lock, and
        // SQLite reports a concurrent opener's lock at once rather than
        // through the busy timeout (two sweeps started together on a new
        // file failed here now and then): retry for the timeout.
        int rc;
        for (int waited = 0;; waited += 10) {
            rc = sqlite3_exec(db->sq, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
            if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= timeout_ms) break;
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
        if (rc == SQLITE_OK) rc = sqlite3_exec(db->sq, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
        if (rc == SQLITE_OK && version < HET_DB_VERSION) {
            // Create, or upgrade from an older version, in one transaction.
            rc = create_schema(db->sq, version, &err);
            if (rc != SQLITE_OK) {
                het_log(HET_LOG_ERROR, "database %s: cannot %s het's tables: %s", path,
                        version == 0 ? "create" : "upgrade", err ? err : "?");
                sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
            }
            sqlite3_free(err);
        } else if (rc != SQLITE_OK) {
            het_db_fail(db, "cannot switch to WAL mode");
        }
        if (rc == SQLITE_OK) st = HET_OK;
    }
    if (st != HET_OK) {
        het_db_close(db);
        return st;
    }
    *db_out = db;
    return HET_OK;
}

het_status het_db_open(const char *path, int timeout_ms, het_db **db_out)
{
    return db_open(path, timeout_ms, false, db_out);
}

het_status het_db_open_existing(const char *path, het_db **db_out)
{
    if (access(path, F_OK) != 0) {
        het_log(HET_LOG_ERROR, "database %s does not exist (hetprof sweep creates it)", path);
        return HET_E_IO;
    }
    return db_open(path, HET_DB_TIMEOUT_MS, true, db_out);
}

struct sqlite3 *het_db_sqlite(het_db *db) { return db->sq; }

het_status het_db_check(const char *path)
{
    if (access(path, F_OK) != 0) {
        char *dir = strdup(path);
        if (!dir) return HET_E_NOMEM;
        char *slash = strrchr(dir, '/');
        const char *d = slash ? (slash == dir ? "/" : (*slash = 0, dir)) : ".";
        bool ok = access(d, W_OK | X_OK) == 0;
        if (!ok) het_log(HET_LOG_ERROR, "database %s: cannot open its folder to create it: %s", path, strerror(errno));
        free(dir);
        return ok ? HET_OK : HET_E_IO;
    }
    het_db *db = NULL;
    het_status st = het_db_open(path, HET_DB_TIMEOUT_MS, &db);
    het_db_close(db);
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

void het_db_bind_text(sqlite3_stmt *q, int i, const char *s)
{
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(q, i);
}

void het_db_bind_real(sqlite3_stmt *q, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(q, i, v);
    else sqlite3_bind_null(q, i);
}

void het_db_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv);
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
        for (int i = 0; i < n; i++) het_db_bind_text(q, i + 1, vals[i]);
        int rc = sqlite3_step(q);
        if (pass && rc == SQLITE_ROW) id = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (!pass && rc != SQLITE_DONE) return -1;
    }
    return id;
}

int64_t het_db_platform_id(het_db *db, const char *cpu_cores, const char *ocl_platform, const char *ocl_device,
                           const char *ocl_driver)
{
    char cpu[256], os[256];
    cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) == 0) snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    else snprintf(os, sizeof os, "unknown");
    const char *pv[] = {cpu, cpu_cores ? cpu_cores : "", ocl_platform ? ocl_platform : "",
                        ocl_device ? ocl_device : "", ocl_driver ? ocl_driver : "", os};
    return upsert(db->sq,
        "INSERT INTO platforms (cpu_model, cpu_cores, opencl_platform, opencl_device, opencl_driver, os) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        "SELECT id FROM platforms WHERE cpu_model = ?1 AND cpu_cores = ?2 AND opencl_platform = ?3 AND "
        "opencl_device = ?4 AND opencl_driver = ?5 AND os = ?6", pv, 6);
}

int64_t het_db_model_id(het_db *db, const char *hash, const char *name, const char *path, int n_layers, double gflop)
{
    char nl[32], gf[64];
    snprintf(nl, sizeof nl, "%d", n_layers);
    snprintf(gf, sizeof gf, "%.9g", gflop);
    const char *mv[] = {hash, name, path, nl, gf};
    return upsert(db->sq, "INSERT INTO models (hash, name, path, n_layers, gflop) VALUES (?1, ?2, ?3, ?4, ?5) "
                          "ON CONFLICT DO NOTHING", "SELECT id FROM models WHERE hash = ?1", mv, 5);
}

het_status het_db_add_run(const char *path, int timeout_ms, const het_db_run *r, int64_t *run_id_out)
{
    het_db *dbh;
    het_status st = het_db_open(path, timeout_ms, &dbh);
    if (st != HET_OK) return st;
    sqlite3 *db = dbh->sq;
    char when[32];
    het_db_now(when, sizeof when);
    st = HET_E_DB;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        het_db_fail(dbh, "cannot start a transaction (locked by another writer past the timeout?)");
        het_db_close(dbh);
        return HET_E_DB;
    }
    int64_t platform = het_db_platform_id(dbh, r->cpu_cores, r->opencl_platform, r->opencl_device, r->opencl_driver);
    int64_t model = het_db_model_id(dbh, r->model_hash, r->model_name, r->model_path, r->n_layers, r->gflop);
    sqlite3_stmt *q = NULL;
    if (platform < 0 || model < 0 ||
        sqlite3_prepare_v2(db,
            "INSERT INTO runs (created_at, het_version, git_rev, platform_id, model_id, weights, plan_path, plan_hash,"
            " mode, backend, images, wall_ms, images_per_s, latency_p50_ms, latency_p90_ms, latency_min_ms,"
            " h2d_bytes, h2d_ms, d2h_bytes, d2h_ms, predicted_latency_ms, predicted_images_per_s, device, objective,"
            " sweep_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
            // The plan's sweep where this database holds it, for this model.
            " (SELECT id FROM sweeps WHERE id = ? AND model_id = ?))",
            -1, &q, NULL) != SQLITE_OK) {
        het_db_fail(dbh, "cannot write the run");
        goto rollback;
    }
    int i = 1;
    het_db_bind_text(q, i++, when);
    het_db_bind_text(q, i++, HET_VERSION);
    het_db_bind_text(q, i++, HET_GIT_REV);
    sqlite3_bind_int64(q, i++, platform);
    sqlite3_bind_int64(q, i++, model);
    het_db_bind_text(q, i++, r->weights);
    het_db_bind_text(q, i++, r->plan_path);
    het_db_bind_text(q, i++, r->plan_hash);
    het_db_bind_text(q, i++, r->mode);
    het_db_bind_text(q, i++, r->backend);
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
    het_db_bind_real(q, i++, r->predicted_latency_ms);
    het_db_bind_real(q, i++, r->predicted_images_per_s);
    het_db_bind_text(q, i++, r->device);
    het_db_bind_text(q, i++, r->objective);
    sqlite3_bind_int64(q, i++, r->sweep_id);
    sqlite3_bind_int64(q, i++, model);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        het_db_fail(dbh, "cannot write the run");
        goto rollback;
    }
    int64_t run_id = sqlite3_last_insert_rowid(db);
    for (int l = 0; l < r->n_lanes; l++) {
        if (sqlite3_prepare_v2(db, "INSERT INTO run_lanes (run_id, lane, name, busy_ms, idle_ms) VALUES (?,?,?,?,?)",
                               -1, &q, NULL) != SQLITE_OK) {
            het_db_fail(dbh, "cannot write the run's lanes");
            goto rollback;
        }
        sqlite3_bind_int64(q, 1, run_id);
        sqlite3_bind_int(q, 2, l);
        het_db_bind_text(q, 3, r->lane_names[l]);
        sqlite3_bind_double(q, 4, r->lane_busy_ms[l]);
        sqlite3_bind_double(q, 5, r->wall_ms - r->lane_busy_ms[l]);
        rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            het_db_fail(dbh, "cannot write the run's lanes");
            goto rollback;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        het_db_fail(dbh, "cannot commit the run (disk full?)");
        goto rollback;
    }
    if (run_id_out) *run_id_out = run_id;
    het_db_close(dbh);
    return HET_OK;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    het_db_close(dbh);
    return st;
}

const char *het_db_git_rev(void) { return HET_GIT_REV; }
