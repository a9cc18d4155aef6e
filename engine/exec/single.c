// single.c: blob storage and the single-device executor.
#include "het/exec.h"

#include <stdlib.h>

struct het_workspace {
    const het_graph *g;
    het_blob_data *table;
};

het_status het_workspace_create(const het_graph *g, het_workspace **ws_out)
{
    het_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return HET_E_NOMEM;
    ws->g = g;
    ws->table = calloc((size_t)g->n_blobs, sizeof *ws->table);
    if (!ws->table) goto fail;
    for (int i = 0; i < g->n_blobs; i++) {
        ws->table[i].host = het_alloc_aligned(het_shape_count(&g->blobs[i].shape) * sizeof(float));
        if (!ws->table[i].host) goto fail;
    }
    *ws_out = ws;
    return HET_OK;
fail:
    het_log(HET_LOG_ERROR, "het_workspace_create: out of memory for the blobs of '%s'", g->name);
    het_workspace_destroy(ws);
    return HET_E_NOMEM;
}

void het_workspace_destroy(het_workspace *ws)
{
    if (!ws) return;
    if (ws->table)
        for (int i = 0; i < ws->g->n_blobs; i++) het_free_aligned(ws->table[i].host);
    free(ws->table);
    free(ws);
}

float *het_workspace_blob(het_workspace *ws, int blob_id) { return ws->table[blob_id].host; }

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

het_status het_exec_run_single(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *layer_ns)
{
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        uint64_t t0 = layer_ns ? het_now_ns() : 0;
        het_status st = be->ops->run(be, g, l, ws->table, 0, het_layer_out_channels(g, l));
        if (st == HET_OK && be->ops->sync && layer_ns) st = be->ops->sync(be);
        if (st != HET_OK) return st;
        if (layer_ns) layer_ns[i] = het_now_ns() - t0;
    }
    return be->ops->sync ? be->ops->sync(be) : HET_OK;
}
