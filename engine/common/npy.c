// npy.c: the NumPy .npy format, float32 only (what het exchanges with
// reference tools). Format: magic "\x93NUMPY", version, header length, a
// Python-dict header with 'descr', 'fortran_order' and 'shape'.
#define _POSIX_C_SOURCE 200809L
#include "het/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Where the value of 'key' starts in a .npy header dictionary (after the
// colon and blanks), or NULL.
static const char *dict_value(const char *hdr, const char *key)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *k = strstr(hdr, quoted);
    if (!k) return NULL;
    k += strlen(quoted);
    while (*k == ' ') k++;
    if (*k++ != ':') return NULL;
    while (*k == ' ') k++;
    return k;
}

het_status het_npy_read(const char *path, het_npy *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        het_log(HET_LOG_ERROR, "cannot open '%s': %s", path, strerror(errno));
        return HET_E_IO;
    }
    het_status st = HET_E_INVALID;
    char *hdr = NULL;
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        het_log(HET_LOG_ERROR, "%s: not a .npy file", path);
        goto done;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char ext[2];
        if (fread(ext, 1, 2, f) != 2) goto trunc;
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)ext[0] << 16 | (size_t)ext[1] << 24;
    } else {
        het_log(HET_LOG_ERROR, "%s: unsupported .npy version %d", path, pre[6]);
        goto done;
    }
    if (hlen > (1 << 20)) goto trunc;
    hdr = malloc(hlen + 1);
    if (!hdr) { st = HET_E_NOMEM; goto done; }
    if (fread(hdr, 1, hlen, f) != hlen) goto trunc;
    hdr[hlen] = 0;
    // The dictionary's values, not substrings of the header: a structured
    // dtype such as [('a', '<f4'), ('b', '<i4')] holds '<f4' too.
    const char *descr = dict_value(hdr, "descr"), *fortran = dict_value(hdr, "fortran_order");
    if (!descr || !fortran) goto badhdr;
    if (strncmp(descr, "'<f4'", 5) != 0) {
        int n = (int)strcspn(descr, "\n");
        het_log(HET_LOG_ERROR, "%s: dtype %.*s%s is not little-endian float32 ('<f4'); convert with "
                "x.astype('<f4')", path, n > 60 ? 60 : n, descr, n > 60 ? "..." : "");
        goto done;
    }
    if (strncmp(fortran, "False", 5) != 0) {
        het_log(HET_LOG_ERROR, "%s: Fortran-order arrays are not supported; save with np.ascontiguousarray", path);
        goto done;
    }
    const char *sp = dict_value(hdr, "shape");
    if (!sp || *sp != '(') goto badhdr;
    sp++;
    size_t count = 1;
    while (*sp && *sp != ')') {
        while (*sp == ' ' || *sp == ',') sp++;
        if (*sp == ')') break;
        char *end;
        long d = strtol(sp, &end, 10);
        if (end == sp || d < 0 || out->ndim == HET_NPY_MAX_DIMS) goto badhdr;
        out->dims[out->ndim++] = d;
        if (d && count > ((size_t)1 << 34) / (size_t)d) goto badhdr;
        count *= (size_t)d;
        sp = end;
    }
    out->data = malloc(count ? count * sizeof(float) : 1);
    if (!out->data) { st = HET_E_NOMEM; goto done; }
    if (fread(out->data, sizeof(float), count, f) != count) goto trunc;
    st = HET_OK;
    goto done;
badhdr:
    het_log(HET_LOG_ERROR, "%s: malformed .npy header", path);
    goto done;
trunc:
    het_log(HET_LOG_ERROR, "%s: truncated .npy file", path);
done:
    free(hdr);
    fclose(f);
    if (st != HET_OK) het_npy_free(out);
    return st;
}

void het_npy_free(het_npy *a)
{
    free(a->data);
    a->data = NULL;
}

het_status het_npy_write(const char *path, const float *data, int ndim, const long *dims)
{
    char shape[256] = "";
    size_t off = 0, count = 1;
    for (int i = 0; i < ndim; i++) {
        // Python tuple syntax: "(n,)" for one dimension, "(a, b)" otherwise.
        off += (size_t)snprintf(shape + off, sizeof shape - off, "%s%ld%s", i ? ", " : "", dims[i], ndim == 1 ? "," : "");
        count *= (size_t)dims[i];
    }
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    // Pad with spaces so that magic + header is a multiple of 64, end with \n.
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', (size_t)pad);
    hdr[n + pad] = '\n';
    int hlen = n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    het_chunk parts[3] = {{pre, 10}, {hdr, (size_t)hlen}, {data, count * sizeof(float)}};
    return het_write_file(path, parts, 3, false);
}
