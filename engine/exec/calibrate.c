// calibrate.c: BatchNorm statistics for nets whose weights are random.
//
// Random BatchNorm statistics do not normalise anything: in a 50-layer net
// with residual sums the activations then grow by orders of magnitude
// (ResNet-50's logits reached ~4e6 from inputs of ~100). A trained net's
// statistics are those of the activations it sees, so het sets them that
// way: it runs the net once on a seeded synthetic image, layer by layer on
// a temporary CPU backend, and gives every BatchNorm the mean and variance
// of its actual input per channel (kept multiplied by the layer's
// moving-average factor, as Caffe stores them). Each BatchNorm is prepared
// only after its statistics are set, so the backend folds the final values.
#include "het/exec.h"

#include "../model/model.h"

#include <stdlib.h>

het_status het_exec_calibrate_batchnorm(het_graph *g, uint64_t seed)
{
    bool any = false;
    for (int i = 0; i < g->n_layers; i++) any |= g->layers[i].kind == HET_LAYER_BATCHNORM;
    if (!any) return HET_OK;
    het_backend *be = NULL;
    het_workspace *ws = NULL;
    het_cpu_cfg cfg = {.n_threads = 1};
    het_status st = het_cpu_backend_create(&cfg, &be);
    if (st == HET_OK) st = het_workspace_create(g, &ws);
    if (st != HET_OK) goto done;
    het_exec_synthetic_inputs(g, ws, seed);
    for (int i = 0; i < g->n_layers; i++) {
        het_layer *l = &g->layers[i];
        if (l->kind == HET_LAYER_BATCHNORM) {
            const het_shape *s = &g->blobs[l->bottom[0]].shape;
            const float *x = het_workspace_blob(ws, l->bottom[0]);
            size_t hw = (size_t)s->h * s->w;
            float factor = l->params[2].data[0];
            for (int c = 0; c < s->c; c++) {
                double sum = 0, sq = 0;
                for (size_t q = 0; q < hw; q++) sum += x[c * hw + q];
                double mean = sum / (double)hw;
                for (size_t q = 0; q < hw; q++) sq += (x[c * hw + q] - mean) * (x[c * hw + q] - mean);
                l->params[0].data[c] = (float)(mean * factor);
                l->params[1].data[c] = (float)(sq / (double)hw * factor);
            }
        }
        st = be->ops->prepare(be, g, l);
        if (st == HET_OK) st = be->ops->run(be, g, l, het_workspace_table(ws), 0, het_layer_out_channels(g, l));
        if (st != HET_OK) goto done;
    }
done:
    het_workspace_destroy(ws);
    het_backend_destroy(be);
    return st;
}

void het_exec_synthetic_inputs(const het_graph *g, het_workspace *ws, uint64_t seed)
{
    het_rng rng;
    het_rng_seed(&rng, seed ^ 0x6261746368ull); // "batch": not the weight stream
    for (int k = 0; k < g->n_inputs; k++) {
        float *x = het_workspace_blob(ws, g->inputs[k]);
        size_t n = het_shape_count(&g->blobs[g->inputs[k]].shape);
        for (size_t i = 0; i < n; i++) x[i] = het_rng_uniform(&rng, -100.0f, 100.0f);
    }
}

het_status het_net_load(const char *prototxt, const char *caffemodel, uint64_t seed, het_graph **g_out)
{
    het_graph *g = NULL;
    het_status st = het_graph_load(prototxt, caffemodel, seed, &g);
    if (st == HET_OK && !caffemodel) st = het_exec_calibrate_batchnorm(g, seed);
    if (st != HET_OK) {
        het_graph_destroy(g);
        return st;
    }
    *g_out = g;
    return HET_OK;
}
