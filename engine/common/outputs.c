// outputs.c: writing files whole or not at all: one (het_write_file) or a
// command's set of them (het_outputs), both in io.h.
#define _POSIX_C_SOURCE 200809L // strdup
#include "het/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct het_outputs {
    int n, cap;
    char **path, **tmp; // final path and its temporary, both owned
    bool *done;         // renamed into place
};

// PATH.tmp.PID, malloc'd: beside the file (same folder, so the rename is
// atomic), and apart from another process's writing the same file.
static char *temp_path(const char *path)
{
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (tmp) snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

het_status het_outputs_create(het_outputs **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? HET_OK : HET_E_NOMEM;
}

const char *het_outputs_add(het_outputs *o, const char *path)
{
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->path[i], path)) {
            het_log(HET_LOG_ERROR, "'%s' is named as two outputs", path);
            return NULL;
        }
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 8;
        char **p = realloc(o->path, (size_t)cap * sizeof *p);
        if (p) o->path = p;
        char **t = realloc(o->tmp, (size_t)cap * sizeof *t);
        if (t) o->tmp = t;
        bool *d = realloc(o->done, (size_t)cap * sizeof *d);
        if (d) o->done = d;
        if (!p || !t || !d) goto oom;
        o->cap = cap;
    }
    char *tmp = temp_path(path), *copy = strdup(path);
    if (!tmp || !copy) {
        free(tmp);
        free(copy);
        goto oom;
    }
    // Created now, so that a path that cannot be written fails before the
    // work whose result it would hold.
    FILE *f = fopen(tmp, "wb");
    if (!f || fclose(f) != 0) {
        het_log(HET_LOG_ERROR, "cannot create '%s': %s", path, strerror(errno));
        free(tmp);
        free(copy);
        return NULL;
    }
    o->path[o->n] = copy;
    o->tmp[o->n] = tmp;
    o->done[o->n] = false;
    return o->tmp[o->n++];
oom:
    het_log(HET_LOG_ERROR, "out of memory");
    return NULL;
}

het_status het_outputs_commit(het_outputs *o)
{
    for (int i = 0; i < o->n; i++) {
        if (o->done[i]) continue;
        if (rename(o->tmp[i], o->path[i]) != 0) {
            het_log(HET_LOG_ERROR, "cannot write '%s': %s", o->path[i], strerror(errno));
            return HET_E_IO;
        }
        o->done[i] = true;
    }
    return HET_OK;
}

void het_outputs_destroy(het_outputs *o)
{
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        if (!o->done[i]) remove(o->tmp[i]);
        free(o->tmp[i]);
        free(o->path[i]);
    }
    free(o->path);
    free(o->tmp);
    free(o->done);
    free(o);
}

het_status het_write_file(const char *path, const het_chunk *chunks, int n, bool quiet)
{
    char *tmp = temp_path(path);
    if (!tmp) return HET_E_NOMEM;
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL;
    for (int i = 0; ok && i < n; i++) ok = fwrite(chunks[i].data, 1, chunks[i].len, f) == chunks[i].len;
    if (f) {
        ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok &= fclose(f) == 0;
    }
    int err = errno;
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        remove(tmp);
        if (!quiet) het_log(HET_LOG_ERROR, "cannot write '%s': %s", path, strerror(err));
    }
    free(tmp);
    return ok ? HET_OK : HET_E_IO;
}
