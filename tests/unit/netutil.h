// netutil.h: builds a one-layer (or few-layer) net from prototxt text for tests.
#ifndef HET_TESTS_NETUTIL_H
#define HET_TESTS_NETUTIL_H

#include "het/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Writes `text` to a temporary file and loads it with fillers (seed).
static inline het_status net_from_text(const char *text, uint64_t seed, het_graph **g_out)
{
    char path[] = "/tmp/het_test_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return HET_E_IO;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    if (w != (ssize_t)n) {
        unlink(path);
        return HET_E_IO;
    }
    het_status st = het_graph_load(path, NULL, seed, g_out);
    unlink(path);
    return st;
}

#endif
