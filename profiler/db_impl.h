// db_impl.h: private to profiler/db*.c.
#ifndef HET_PROFILER_DB_IMPL_H
#define HET_PROFILER_DB_IMPL_H

#include "db.h"

#include <sqlite3.h>

struct het_db {
    sqlite3 *sq;
    char *path;
};

/// Logs "database PATH: WHAT: sqlite's message" and returns HET_E_DB.
het_status het_db_fail(het_db *db, const char *what);

/// Binds text or NULL.
void het_db_bind_text(sqlite3_stmt *q, int i, const char *s);

/// Binds a double, or NULL when it is NaN or infinite.
void het_db_bind_real(sqlite3_stmt *q, int i, double v);

/// The id of the platforms row for this machine and these devices (created
/// if new); -1 on error. Inside the caller's transaction.
int64_t het_db_platform_id(het_db *db, const char *cpu_cores, const char *ocl_platform, const char *ocl_device,
                           const char *ocl_driver);

/// The id of the models row of this hash (created if new); -1 on error.
int64_t het_db_model_id(het_db *db, const char *hash, const char *name, const char *path, int n_layers, double gflop);

/// UTC now as ISO 8601 ("2026-11-23T21:05:00Z").
void het_db_now(char *buf, size_t cap);

#endif
