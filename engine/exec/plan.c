// plan.c: reading and validating plan files (docs/plan.md).
#define _POSIX_C_SOURCE 200809L
#include "het/plan.h"

#include "../model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const mode_names[] = {"single", "mapping", "split", "pipeline", "image-parallel"};

const char *het_plan_mode_name(enum het_plan_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : NULL;
}

void het_plan_destroy(het_plan *p)
{
    if (!p) return;
    free(p->gpu_ratio);
    free(p->cpu_cores);
    free(p->gpu_cores);
    free(p->gpu);
    free(p->gpu_buffers);
    free(p);
}

static het_plan *plan_new(const het_graph *g)
{
    het_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_layers = g->n_layers;
    p->gpu_ratio = calloc((size_t)g->n_layers, sizeof(float));
    if (!p->gpu_ratio) {
        free(p);
        return NULL;
    }
    memcpy(p->model_hash, g->hash, sizeof p->model_hash);
    return p;
}

static void finish(het_plan *p)
{
    for (int i = 0; i < p->n_layers; i++) {
        p->uses_gpu |= p->gpu_ratio[i] > 0.0f;
        p->uses_cpu |= p->gpu_ratio[i] < 1.0f;
    }
    p->cpu_lanes = p->uses_cpu;
}

het_status het_plan_single(const het_graph *g, bool gpu, het_plan **plan_out)
{
    het_plan *p = plan_new(g);
    if (!p) return HET_E_NOMEM;
    p->mode = HET_MODE_SINGLE;
    for (int i = 0; i < g->n_layers; i++) p->gpu_ratio[i] = gpu ? 1.0f : 0.0f;
    finish(p);
    *plan_out = p;
    return HET_OK;
}

int het_split_cpu_channels(int C, float ratio) { return C - (int)lroundf(ratio * (float)C); }

int het_plan_cpu_channels(const het_plan *p, const het_graph *g, int layer)
{
    return het_split_cpu_channels(het_layer_out_channels(g, &g->layers[layer]), p->gpu_ratio[layer]);
}

// "cpu" -> 0, "gpu" -> 1, a number in [0, 1] -> itself; else -1 with a message.
static float device_value(const char *path, const char *what, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "cpu")) return 0.0f;
        if (!strcmp(v->valuestring, "gpu")) return 1.0f;
        het_log(HET_LOG_ERROR, "%s: %s: device '%s' is neither cpu, gpu nor a GPU ratio in [0, 1]", path, what,
                v->valuestring);
        return -1.0f;
    }
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble >= 0.0 && v->valuedouble <= 1.0) return (float)v->valuedouble;
        het_log(HET_LOG_ERROR, "%s: %s: ratio %g is outside [0, 1] (the fraction of output channels on the GPU)", path,
                what, v->valuedouble);
        return -1.0f;
    }
    het_log(HET_LOG_ERROR, "%s: %s: expected \"cpu\", \"gpu\" or a number in [0, 1]", path, what);
    return -1.0f;
}

static char *dup_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

// A plan names the layers of the graph it was made on, folded or not
// (het_graph_fold); a layer missing because it was folded says so.
static void unknown_layer(const char *path, const char *where, const het_graph *g, const char *name)
{
    const char *into = het_graph_folded_into(g, name);
    if (into)
        het_log(HET_LOG_ERROR, "%s: %slayer '%s' was folded into convolution '%s' (a plan for the unfolded graph "
                "replays with --no-fold)", path, where, name, into);
    else
        het_log(HET_LOG_ERROR, "%s: %slayer '%.200s' is not a compute layer of this model", path, where, name);
}

// Layers named by "layers": every layer of the graph exactly once.
static het_status read_layers(const char *path, const cJSON *layers, const het_graph *g, het_plan *p)
{
    if (!cJSON_IsObject(layers)) {
        het_log(HET_LOG_ERROR, "%s: \"layers\" must be an object mapping every layer name to cpu, gpu or a ratio", path);
        return HET_E_INVALID;
    }
    char *seen = calloc((size_t)g->n_layers, 1);
    if (!seen) return HET_E_NOMEM;
    het_status st = HET_OK;
    for (const cJSON *it = layers->child; it && st == HET_OK; it = it->next) {
        int li = het_graph_find_layer(g, it->string);
        if (li < 0) {
            unknown_layer(path, "", g, it->string);
            st = HET_E_INVALID;
        } else {
            char what[300];
            snprintf(what, sizeof what, "layer '%s'", it->string);
            float r = device_value(path, what, it);
            if (r < 0) st = HET_E_INVALID;
            p->gpu_ratio[li] = r;
            seen[li] = 1;
        }
    }
    for (int i = 0; i < g->n_layers && st == HET_OK; i++)
        if (!seen[i]) {
            het_log(HET_LOG_ERROR, "%s: layer '%s' is not mapped to any device", path, g->layers[i].name);
            st = HET_E_INVALID;
        }
    free(seen);
    return st;
}

// "stages": contiguous, in topological order, together covering every layer.
static het_status read_stages(const char *path, const cJSON *stages, const het_graph *g, het_plan *p)
{
    int n = cJSON_GetArraySize(stages);
    if (!cJSON_IsArray(stages) || n < 1 || n > HET_PLAN_MAX_STAGES) {
        het_log(HET_LOG_ERROR, "%s: \"stages\" must be an array of 1 to %d stages", path, HET_PLAN_MAX_STAGES);
        return HET_E_INVALID;
    }
    int next = 0, s = 0;
    for (const cJSON *st = stages->child; st; st = st->next, s++) {
        const cJSON *first = cJSON_GetObjectItemCaseSensitive(st, "first");
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(st, "last");
        const cJSON *dev = cJSON_GetObjectItemCaseSensitive(st, "device");
        if (!cJSON_IsString(first) || !cJSON_IsString(last) || !dev) {
            het_log(HET_LOG_ERROR, "%s: stage %d needs \"first\", \"last\" (layer names) and \"device\"", path, s + 1);
            return HET_E_INVALID;
        }
        int a = het_graph_find_layer(g, first->valuestring), b = het_graph_find_layer(g, last->valuestring);
        if (a < 0 || b < 0) {
            char where[32];
            snprintf(where, sizeof where, "stage %d: ", s + 1);
            unknown_layer(path, where, g, a < 0 ? first->valuestring : last->valuestring);
            return HET_E_INVALID;
        }
        if (a != next || b < a) {
            het_log(HET_LOG_ERROR, "%s: stage %d (%s .. %s) does not continue where stage %d ended: stages must be "
                    "contiguous runs of layers in topological order (next layer: '%s')", path, s + 1,
                    first->valuestring, last->valuestring, s, next < g->n_layers ? g->layers[next].name : "none");
            return HET_E_INVALID;
        }
        char what[64];
        snprintf(what, sizeof what, "stage %d", s + 1);
        float r = device_value(path, what, dev);
        if (r < 0) return HET_E_INVALID;
        for (int i = a; i <= b; i++) p->gpu_ratio[i] = r;
        p->stage_first[s] = a;
        next = b + 1;
    }
    if (next != g->n_layers) {
        het_log(HET_LOG_ERROR, "%s: the stages end at layer '%s'; they must cover every layer up to '%s'", path,
                g->layers[next - 1].name, g->layers[g->n_layers - 1].name);
        return HET_E_INVALID;
    }
    p->n_stages = n;
    p->stage_first[n] = g->n_layers;
    return HET_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// The first key that an object holds twice, anywhere in the document, or
// NULL (into *dup_out; false on running out of memory). JSON leaves a
// repeated key's meaning open and cJSON would take the first: a plan must
// say what it means once. Sorted per object, so a hostile plan of a million
// keys costs n log n, not n^2.
static bool find_duplicate_key(const cJSON *node, const char **dup_out)
{
    for (const cJSON *c = node ? node->child : NULL; c && !*dup_out; c = c->next)
        if (!find_duplicate_key(c, dup_out)) return false;
    if (*dup_out || !cJSON_IsObject(node)) return true;
    int n = cJSON_GetArraySize(node);
    if (n < 2) return true;
    const char **keys = malloc((size_t)n * sizeof *keys);
    if (!keys) return false;
    int k = 0;
    for (const cJSON *c = node->child; c; c = c->next) keys[k++] = c->string;
    qsort(keys, (size_t)k, sizeof *keys, cmp_str);
    for (int i = 1; i < k && !*dup_out; i++)
        if (!strcmp(keys[i - 1], keys[i])) *dup_out = keys[i];
    free(keys);
    return true;
}

// A plan file is small (SqueezeNet's is 2 KB); anything near this size is
// not one.
#define PLAN_MAX_BYTES ((size_t)16 << 20)

het_status het_plan_read(const char *path, const het_graph *g, het_plan **plan_out)
{
    char *text;
    size_t len;
    het_status st = het_read_file(path, &text, &len);
    if (st != HET_OK) return st;
    if (len > PLAN_MAX_BYTES) {
        het_log(HET_LOG_ERROR, "%s: %zu bytes is not a plan (at most %zu MiB)", path, len, PLAN_MAX_BYTES >> 20);
        free(text);
        return HET_E_INVALID;
    }
    // The terminating NUL is part of the buffer, so that anything after the
    // object but blanks is an error rather than ignored.
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    het_plan *p = NULL;
    if (!root || !cJSON_IsObject(root)) {
        const char *where = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *c = text; where && c < where && c < text + len; c++) line += *c == '\n';
        het_log(HET_LOG_ERROR, "%s:%d: not valid JSON (a plan is one JSON object)", path, line);
        st = HET_E_INVALID;
        goto done;
    }
    const char *dup = NULL;
    if (!find_duplicate_key(root, &dup)) {
        st = HET_E_NOMEM;
        goto done;
    }
    st = HET_E_INVALID;
    if (dup) {
        het_log(HET_LOG_ERROR, "%s: key \"%.80s\" appears twice in one object", path, dup);
        goto done;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "het_plan");
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1.0) {
        het_log(HET_LOG_ERROR, "%s: \"het_plan\": 1 is missing (or a version this het does not read)", path);
        goto done;
    }
    p = plan_new(g);
    if (!p) {
        st = HET_E_NOMEM;
        goto done;
    }
    snprintf(p->hash, sizeof p->hash, "%016llx", (unsigned long long)het_fnv1a(HET_FNV_BASIS, text, len));
    const cJSON *mh = cJSON_GetObjectItemCaseSensitive(root, "model_hash");
    if (!cJSON_IsString(mh) || strcmp(mh->valuestring, g->hash) != 0) {
        bool bn = g->n_folded > 0;
        for (int i = 0; i < g->n_layers; i++)
            bn |= g->layers[i].kind == HET_LAYER_BATCHNORM || g->layers[i].kind == HET_LAYER_SCALE;
        bool str = cJSON_IsString(mh);
        het_log(HET_LOG_ERROR, "%s: the plan is for model %.40s%s, but this model's hash is %s%s", path,
                str ? mh->valuestring : "(none given)", str && strlen(mh->valuestring) > 40 ? "..." : "", g->hash,
                bn ? " (folding BatchNorm and Scale changes it: replay with --no-fold if and only if the plan was "
                     "made with it)" : "");
        goto done;
    }
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    int m = -1;
    for (int i = 0; cJSON_IsString(mode) && i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
        if (!strcmp(mode->valuestring, mode_names[i])) m = i;
    if (m < 0) {
        het_log(HET_LOG_ERROR, "%s: \"mode\" must be one of single, mapping, split, pipeline, image-parallel", path);
        goto done;
    }
    p->mode = (enum het_plan_mode)m;
    // "predicted": written by hetpart, recorded by hetrun next to what it measures.
    p->predicted_latency_ms = p->predicted_images_per_s = NAN;
    p->sweep_id = -1;
    const cJSON *pred = cJSON_GetObjectItemCaseSensitive(root, "predicted");
    if (cJSON_IsObject(pred)) {
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(pred, "latency_ms");
        const cJSON *ips = cJSON_GetObjectItemCaseSensitive(pred, "images_per_s");
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(pred, "objective");
        const cJSON *sw = cJSON_GetObjectItemCaseSensitive(pred, "sweep");
        if (cJSON_IsNumber(lat)) p->predicted_latency_ms = lat->valuedouble;
        if (cJSON_IsNumber(ips)) p->predicted_images_per_s = ips->valuedouble;
        // Only the objectives hetpart writes: the value goes into the
        // database's runs table as it is.
        if (cJSON_IsString(obj) && (!strcmp(obj->valuestring, "latency") || !strcmp(obj->valuestring, "throughput")))
            snprintf(p->objective, sizeof p->objective, "%s", obj->valuestring);
        if (cJSON_IsNumber(sw) && sw->valuedouble >= 1 && sw->valuedouble < 9e15) p->sweep_id = (long long)sw->valuedouble;
    }
    const cJSON *platform = cJSON_GetObjectItemCaseSensitive(root, "platform");
    if (platform) {
        p->cpu_cores = dup_str(platform, "cpu_cores");
        p->gpu_cores = dup_str(platform, "gpu_cores");
        p->gpu = dup_str(platform, "gpu");
        p->gpu_buffers = dup_str(platform, "gpu_buffers");
    }
    switch (p->mode) {
    case HET_MODE_SINGLE: {
        float r = device_value(path, "\"device\"", cJSON_GetObjectItemCaseSensitive(root, "device"));
        if (r < 0) goto done;
        for (int i = 0; i < g->n_layers; i++) p->gpu_ratio[i] = r;
        break;
    }
    case HET_MODE_MAPPING:
    case HET_MODE_SPLIT:
        if ((st = read_layers(path, cJSON_GetObjectItemCaseSensitive(root, "layers"), g, p)) != HET_OK) goto done;
        st = HET_E_INVALID;
        break;
    case HET_MODE_PIPELINE:
        if ((st = read_stages(path, cJSON_GetObjectItemCaseSensitive(root, "stages"), g, p)) != HET_OK) goto done;
        st = HET_E_INVALID;
        break;
    case HET_MODE_IMAGE_PARALLEL: {
        const cJSON *devs = cJSON_GetObjectItemCaseSensitive(root, "devices");
        int n = cJSON_GetArraySize(devs);
        if (!cJSON_IsArray(devs) || n < 1) {
            het_log(HET_LOG_ERROR, "%s: image-parallel needs \"devices\": [\"cpu\", \"gpu\"]", path);
            goto done;
        }
        for (const cJSON *d = devs->child; d; d = d->next) {
            float r = device_value(path, "\"devices\"", d);
            if (r != 0.0f && r != 1.0f) {
                if (r > 0) het_log(HET_LOG_ERROR, "%s: image-parallel devices are cpu or gpu, not ratios", path);
                goto done;
            }
            if (r == 1.0f && p->uses_gpu) {
                het_log(HET_LOG_ERROR, "%s: \"gpu\" is listed twice in \"devices\": the GPU is one lane (the images "
                        "it keeps in flight are the executor's choice); \"cpu\" may be listed once per CPU lane", path);
                goto done;
            }
            if (r == 0.0f) p->cpu_lanes++;
            (r == 0.0f ? &p->uses_cpu : &p->uses_gpu)[0] = true;
        }
        if (p->cpu_lanes > HET_PLAN_MAX_STAGES - 1) {
            het_log(HET_LOG_ERROR, "%s: %d CPU lanes; at most %d", path, p->cpu_lanes, HET_PLAN_MAX_STAGES - 1);
            goto done;
        }
        break;
    }
    }
    if (p->mode != HET_MODE_IMAGE_PARALLEL) finish(p);
    st = HET_OK;
done:
    cJSON_Delete(root);
    free(text);
    if (st != HET_OK) {
        het_plan_destroy(p);
        return st;
    }
    *plan_out = p;
    return HET_OK;
}
