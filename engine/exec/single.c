// single.c: blob storage and the single-device executor.
//
// Storage plan (het_workspace_create):
//   1. every blob gets its own 64-byte aligned buffer (het_host_alloc: the
//      device's page-locked memory for het_workspace_create_for), except
//   2. zero-copy concat: an input of a channel Concat whose last reader is
//      that Concat, and that no other Concat claims, is placed inside the
//      Concat's output at its channel offset, so producers write their
//      slice in place and the Concat copies nothing. Concats are visited in
//      reverse order so that a Concat whose output is itself placed inside a
//      later Concat resolves to the final storage.
#include "het/exec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct het_workspace {
    const het_graph *g;
    het_backend *host_be; // whose host memory the blobs are in (het_host_alloc), or NULL
    het_blob_data *table;
    float **own; // storage allocated for blob i, or NULL (an alias)
    bool *borrowable;  // graph inputs no layer writes, which het_workspace_borrow may point elsewhere
};

// Where blob b lives when aliased: parent blob and float offset, or -1.
typedef struct alias { int parent; size_t offset; } alias;

static void plan_concat_aliases(const het_graph *g, alias *al)
{
    for (int i = 0; i < g->n_blobs; i++) al[i] = (alias){-1, 0};
    for (int li = g->n_layers - 1; li >= 0; li--) {
        const het_layer *l = &g->layers[li];
        if (l->kind != HET_LAYER_CONCAT) continue;
        const het_shape *os = &g->blobs[l->top[0]].shape;
        size_t off = 0, hw = (size_t)os->h * os->w;
        for (int k = 0; k < l->n_bottom; k++) {
            int b = l->bottom[k];
            bool ok = !g->blobs[b].is_input && g->blobs[b].last_use == li && al[b].parent < 0 && b != l->top[0];
            for (int q = 0; q < l->n_bottom && ok; q++) ok = q == k || l->bottom[q] != b;
            if (ok) al[b] = (alias){l->top[0], off};
            off += (size_t)g->blobs[b].shape.c * hw;
        }
    }
}

het_status het_exec_check_fits(const het_backend *be, const het_graph *g)
{
    if (!be || !be->ops->memory_limits) return HET_OK;
    struct het_memory_limits lim = {0};
    be->ops->memory_limits(be, &lim);
    uint64_t largest = lim.largest_buffer, memory = lim.total;
    const char *dev = lim.device ? lim.device : het_backend_describe(be);
    alias *al = malloc((size_t)g->n_blobs * sizeof *al);
    if (!al) return HET_E_NOMEM;
    plan_concat_aliases(g, al);
    uint64_t total = 0;
    het_status st = HET_OK;
    for (int i = 0; i < g->n_blobs && st == HET_OK; i++) {
        if (al[i].parent >= 0) continue;
        uint64_t bytes = (uint64_t)het_shape_count(&g->blobs[i].shape) * sizeof(float);
        total += bytes;
        if (largest && bytes > largest) {
            het_log(HET_LOG_ERROR, "the device %s cannot hold blob '%s' (%.1f MiB): its largest buffer is %.1f MiB",
                    dev, g->blobs[i].name, bytes / 1048576.0, largest / 1048576.0);
            st = HET_E_NOMEM;
        }
    }
    if (st == HET_OK && memory && total > memory) {
        het_log(HET_LOG_ERROR, "the device %s cannot hold the model's blobs (%.1f MiB): it has %.1f MiB", dev,
                total / 1048576.0, memory / 1048576.0);
        st = HET_E_NOMEM;
    }
    free(al);
    return st;
}

het_status het_workspace_create(const het_graph *g, het_workspace **ws_out)
{
    return het_workspace_create_for(g, NULL, ws_out);
}

het_status het_workspace_create_for(const het_graph *g, het_backend *dev, het_workspace **ws_out)
{
    het_status fits = het_exec_check_fits(dev, g);
    if (fits != HET_OK) return fits;
    het_workspace *ws = calloc(1, sizeof *ws);
    alias *al = malloc((size_t)g->n_blobs * sizeof *al);
    if (!ws || !al) {
        free(ws);
        free(al);
        return HET_E_NOMEM;
    }
    ws->g = g;
    ws->host_be = dev;
    ws->table = calloc((size_t)g->n_blobs, sizeof *ws->table);
    ws->own = calloc((size_t)g->n_blobs, sizeof *ws->own);
    ws->borrowable = calloc((size_t)g->n_blobs, sizeof *ws->borrowable);
    if (!ws->table || !ws->own || !ws->borrowable) goto fail;
    // Decided once here, not at every image a stream hands over: an in-place
    // layer on an input would write the caller's memory. (Inputs are never
    // placed inside a Concat: plan_concat_aliases.)
    for (int i = 0; i < g->n_blobs; i++) ws->borrowable[i] = g->blobs[i].is_input;
    for (int i = 0; i < g->n_layers; i++)
        for (int t = 0; t < g->layers[i].n_top; t++) ws->borrowable[g->layers[i].top[t]] = false;
    plan_concat_aliases(g, al);
    for (int i = 0; i < g->n_blobs; i++) {
        if (al[i].parent >= 0) continue;
        ws->own[i] = het_host_alloc(dev, het_shape_count(&g->blobs[i].shape) * sizeof(float));
        if (!ws->own[i]) goto fail;
        ws->table[i].host = ws->own[i];
        ws->table[i].root = i;
    }
    // Resolve aliases (chains end at an owned blob; parents come later in
    // the graph, so follow them until one is set).
    for (int i = 0; i < g->n_blobs; i++) {
        if (al[i].parent < 0) continue;
        size_t off = 0;
        int b = i;
        while (al[b].parent >= 0) {
            off += al[b].offset;
            b = al[b].parent;
        }
        ws->table[i].host = ws->table[b].host + off;
        ws->table[i].root = b;
        ws->table[i].offset = off;
    }
    free(al);
    *ws_out = ws;
    return HET_OK;
fail:
    free(al);
    het_log(HET_LOG_ERROR, "het_workspace_create: out of memory for the blobs of '%s'", g->name);
    het_workspace_destroy(ws);
    return HET_E_NOMEM;
}

void het_workspace_destroy(het_workspace *ws)
{
    if (!ws) return;
    if (ws->own)
        for (int i = 0; i < ws->g->n_blobs; i++) het_host_free(ws->host_be, ws->own[i]);
    free(ws->own);
    free(ws->borrowable);
    free(ws->table);
    free(ws);
}

float *het_workspace_blob(het_workspace *ws, int blob_id) { return ws->table[blob_id].host; }

het_status het_workspace_borrow(het_workspace *ws, int blob, const float *src)
{
    if (blob < 0 || blob >= ws->g->n_blobs || !ws->borrowable[blob]) return HET_E_INVALID;
    // The layers only read it: the const is the caller's promise kept.
    ws->table[blob].host = src ? (float *)(uintptr_t)src : ws->own[blob];
    return HET_OK;
}

const het_blob_data *het_workspace_table(const het_workspace *ws) { return ws->table; }

het_status het_exec_prepare(het_backend *be, const het_graph *g)
{
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        if (be->ops->supports && !be->ops->supports(be, g, l)) {
            het_log(HET_LOG_ERROR, "layer '%s' (%s) is not supported by the %s backend", l->name,
                    het_layer_kind_name(l->kind), be->ops->name);
            return HET_E_UNSUPPORTED;
        }
        het_status st = be->ops->prepare(be, g, l);
        if (st != HET_OK) return st;
    }
    return HET_OK;
}

const het_layer *het_exec_fusable_relu(const het_graph *g, const het_layer *l)
{
    if (l->kind != HET_LAYER_CONV || l->id + 1 >= g->n_layers) return NULL;
    const het_layer *r = &g->layers[l->id + 1];
    return r->kind == HET_LAYER_RELU && r->in_place && r->bottom[0] == l->top[0] ? r : NULL;
}

het_status het_exec_bind(het_backend *be, const het_graph *g, het_workspace *ws)
{
    return be->ops->bind ? be->ops->bind(be, g, ws->table) : HET_OK;
}

het_status het_exec_fetch(het_backend *be, const het_graph *g, het_workspace *ws, int blob)
{
    return be->ops->to_host ? be->ops->to_host(be, g, ws->table, blob, 0, g->blobs[blob].shape.c) : HET_OK;
}

// The body of het_exec_run_single and het_exec_run_units: `ns` (or NULL)
// receives per-layer times, with nothing fused (`fuse` false), or per-unit
// times, fused as always (`fuse` true; a folded ReLU gets 0).
static het_status run_all(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *ns, bool fuse)
{
    // Inputs to the device (a no-op for the CPU), then every layer, then
    // the outputs back: the latency of one image, end to end.
    for (int k = 0; k < g->n_inputs && be->ops->to_device; k++) {
        het_status st = be->ops->to_device(be, g, ws->table, g->inputs[k], 0, g->blobs[g->inputs[k]].shape.c);
        if (st != HET_OK) return st;
    }
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        const het_layer *relu = fuse && be->ops->run_with_relu ? het_exec_fusable_relu(g, l) : NULL;
        uint64_t t0 = ns ? het_now_ns() : 0;
        het_status st = relu ? be->ops->run_with_relu(be, g, l, relu, ws->table, 0, het_layer_out_channels(g, l))
                             : be->ops->run(be, g, l, ws->table, 0, het_layer_out_channels(g, l));
        if (st == HET_OK && be->ops->sync && ns) st = be->ops->sync(be);
        if (st != HET_OK) return st;
        if (ns) ns[i] = het_now_ns() - t0;
        if (relu) {
            i++; // the ReLU ran as the convolution's epilogue
            if (ns) ns[i] = 0;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        het_status st = het_exec_fetch(be, g, ws, g->outputs[k]);
        if (st != HET_OK) return st;
    }
    return be->ops->sync ? be->ops->sync(be) : HET_OK;
}

het_status het_exec_run_single(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *layer_ns)
{
    return run_all(be, g, ws, layer_ns, layer_ns == NULL);
}

het_status het_exec_run_units(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *unit_ns)
{
    return run_all(be, g, ws, unit_ns, true);
}
