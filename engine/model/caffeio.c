// caffeio.c: reading .prototxt and .caffemodel files, writing .caffemodel.
#define _POSIX_C_SOURCE 200809L
#include "model.h"
#include "het/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

het_status het_read_file(const char *path, char **buf_out, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        het_log(HET_LOG_ERROR, "cannot open '%s': %s", path, strerror(errno));
        return HET_E_IO;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        het_log(HET_LOG_ERROR, "'%s' is not a regular file", path);
        fclose(f);
        return HET_E_IO;
    }
    size_t len = (size_t)sb.st_size;
    char *buf = malloc(len + 1);
    if (!buf) {
        fclose(f);
        het_log(HET_LOG_ERROR, "cannot allocate %zu bytes to read '%s'", len, path);
        return HET_E_NOMEM;
    }
    size_t got = fread(buf, 1, len, f);
    int err = ferror(f);
    fclose(f);
    if (got != len || err) {
        free(buf);
        het_log(HET_LOG_ERROR, "failed to read '%s' (%zu of %zu bytes)", path, got, len);
        return HET_E_IO;
    }
    buf[len] = 0;
    *buf_out = buf;
    *len_out = len;
    return HET_OK;
}

het_status het_model_read_prototxt(const char *path, Caffe__NetParameter **net_out)
{
    char *text;
    size_t len;
    het_status st = het_read_file(path, &text, &len);
    if (st != HET_OK) return st;
    size_t plen = strlen(path);
    if (plen >= 5 && !strcmp(path + plen - 5, ".onnx")) {
        het_log(HET_LOG_ERROR, "%s: an ONNX file; het reads Caffe models (a .prototxt, with --weights for its "
                "trained .caffemodel)", path);
        free(text);
        return HET_E_UNSUPPORTED;
    }
    if (memchr(text, 0, len)) {
        het_log(HET_LOG_ERROR, "%s: contains NUL bytes: is it a binary .caffemodel (or an ONNX file) rather than a "
                ".prototxt?", path);
        free(text);
        return HET_E_INVALID;
    }
    ProtobufCMessage *m = NULL;
    st = het_textformat_parse(text, len, path, &caffe__net_parameter__descriptor, &m);
    free(text);
    if (st != HET_OK) return st;
    *net_out = (Caffe__NetParameter *)m;
    return HET_OK;
}

het_status het_model_read_caffemodel(const char *path, Caffe__NetParameter **net_out)
{
    char *buf;
    size_t len;
    het_status st = het_read_file(path, &buf, &len);
    if (st != HET_OK) return st;
    Caffe__NetParameter *net = caffe__net_parameter__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    if (!net) {
        het_log(HET_LOG_ERROR, "%s: not a valid .caffemodel (truncated or corrupt protobuf, %zu bytes)", path, len);
        return HET_E_INVALID;
    }
    *net_out = net;
    return HET_OK;
}

het_status het_model_write_caffemodel(const char *path, const Caffe__NetParameter *net)
{
    size_t len = caffe__net_parameter__get_packed_size(net);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return HET_E_NOMEM;
    caffe__net_parameter__pack(net, buf);
    het_status st = het_write_file(path, &(het_chunk){buf, len}, 1, false);
    free(buf);
    return st;
}
