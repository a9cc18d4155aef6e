// weights.c: layer weights from a .caffemodel or from fillers; saving them.
//
// Random weights must keep activations in a sane range through 50-layer
// nets with BatchNorm and residual sums, so that comparisons against a
// reference are meaningful (a net whose output collapses to a constant or
// overflows compares equal to anything). Choices, where the prototxt
// gives no filler:
//   - convolution / inner-product weights: He-normal (msra, FAN_IN), which
//     keeps the variance of ReLU activations constant with depth;
//   - biases: Gaussian with std 0.01, not Caffe's zero, so that a kernel that
//     drops the bias is caught;
//   - BatchNorm: mean ~ N(0, 0.1), variance ~ U(0.5, 1.5), stored multiplied
//     by a moving-average factor ~ U(0.5, 2) as Caffe stores them, so that a
//     reader that ignores the factor is caught; tools then replace mean and
//     variance by those of real activations (exec/calibrate.c);
//   - Scale: gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1).
// Explicit fillers in the prototxt are honoured as Caffe defines them.
#include "graph_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

// The last layer of that name: Caffe copies a .caffemodel's layers in
// order, so where one is listed twice the later copy is the one it keeps.
// (A prototxt's names are unique: the graph builder checks.)
static const Caffe__LayerParameter *find_proto_layer(const Caffe__NetParameter *np, const char *name)
{
    for (size_t i = np->n_layer; i-- > 0;)
        if (np->layer[i]->name && !strcmp(np->layer[i]->name, name)) return np->layer[i];
    return NULL;
}

static het_status fill_from_fillers(const Caffe__LayerParameter *lp, het_layer *l, het_rng *rng)
{
    het_status st = HET_OK;
    const Caffe__FillerParameter *wf = NULL, *bf = NULL;
    if (l->kind == HET_LAYER_CONV && lp->convolution_param) {
        wf = lp->convolution_param->weight_filler;
        bf = lp->convolution_param->bias_filler;
    } else if (l->kind == HET_LAYER_FC && lp->inner_product_param) {
        wf = lp->inner_product_param->weight_filler;
        bf = lp->inner_product_param->bias_filler;
    }
    switch (l->kind) {
    case HET_LAYER_CONV:
    case HET_LAYER_FC: {
        het_param *w = &l->params[0];
        int fan_in = (int)(w->count / (size_t)w->dims[0]);
        int fan_out = (int)(w->count / (size_t)w->dims[1]);
        st = het_filler_fill(wf, w->data, w->count, fan_in, fan_out, rng, l->name);
        if (st == HET_OK && l->n_params > 1) {
            if (bf) {
                st = het_filler_fill(bf, l->params[1].data, l->params[1].count, 1, 1, rng, l->name);
            } else {
                for (size_t i = 0; i < l->params[1].count; i++)
                    l->params[1].data[i] = het_rng_gaussian(rng, 0.0f, 0.01f);
            }
        }
        break;
    }
    case HET_LAYER_BATCHNORM: {
        float factor = het_rng_uniform(rng, 0.5f, 2.0f);
        for (size_t i = 0; i < l->params[0].count; i++) {
            l->params[0].data[i] = factor * het_rng_gaussian(rng, 0.0f, 0.1f);
            l->params[1].data[i] = factor * het_rng_uniform(rng, 0.5f, 1.5f);
        }
        l->params[2].data[0] = factor;
        break;
    }
    case HET_LAYER_SCALE: {
        const Caffe__ScaleParameter *sp = lp->scale_param;
        if (sp && sp->filler) st = het_filler_fill(sp->filler, l->params[0].data, l->params[0].count, 1, 1, rng, l->name);
        else
            for (size_t i = 0; i < l->params[0].count; i++) l->params[0].data[i] = het_rng_uniform(rng, 0.5f, 1.5f);
        if (st == HET_OK && l->n_params > 1) {
            if (sp && sp->bias_filler)
                st = het_filler_fill(sp->bias_filler, l->params[1].data, l->params[1].count, 1, 1, rng, l->name);
            else
                for (size_t i = 0; i < l->params[1].count; i++) l->params[1].data[i] = het_rng_gaussian(rng, 0.0f, 0.1f);
        }
        break;
    }
    default:
        break;
    }
    return st;
}

// Shape of a stored blob: BlobShape if present, else the legacy 4-D
// num/channels/height/width. Returns the number of dims written.
static int blob_dims(const Caffe__BlobProto *bp, int64_t dims[8])
{
    if (bp->shape) {
        int n = (int)(bp->shape->n_dim < 8 ? bp->shape->n_dim : 8);
        for (int i = 0; i < n; i++) dims[i] = bp->shape->dim[i];
        return n;
    }
    dims[0] = bp->num, dims[1] = bp->channels, dims[2] = bp->height, dims[3] = bp->width;
    return 4;
}

// Caffe accepts a legacy 4-D blob whose leading dims are 1 for a lower-rank
// parameter ([1,1,N,K] for an inner product): compare with leading 1s
// stripped from both sides.
static bool dims_match(const int64_t *a, int na, const int *b, int nb)
{
    while (na > nb && a[0] == 1) a++, na--;
    while (nb > na && b[0] == 1) b++, nb--;
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i]) return false;
    return true;
}

static void dims_str(char *buf, size_t cap, const int64_t *d, int n)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < n && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%lld", i ? "x" : "", (long long)d[i]);
}

static het_status fill_from_model(const Caffe__LayerParameter *mp, het_layer *l, const char *path)
{
    if (mp->n_blobs != (size_t)l->n_params) {
        het_log(HET_LOG_ERROR, "%s: layer '%s' has %zu weight blobs; the prototxt needs %d", path, l->name, mp->n_blobs,
                l->n_params);
        return HET_E_INVALID;
    }
    for (int i = 0; i < l->n_params; i++) {
        const Caffe__BlobProto *bp = mp->blobs[i];
        het_param *p = &l->params[i];
        int64_t d[8];
        int nd = blob_dims(bp, d);
        size_t n = bp->n_data ? bp->n_data : bp->n_double_data;
        if (!dims_match(d, nd, p->dims, p->ndim) || n != p->count) {
            char got[96], want[96];
            int64_t wd[4];
            for (int k = 0; k < p->ndim; k++) wd[k] = p->dims[k];
            dims_str(got, sizeof got, d, nd);
            dims_str(want, sizeof want, wd, p->ndim);
            het_log(HET_LOG_ERROR, "%s: layer '%s' weight blob %d has shape %s (%zu values); the prototxt needs %s",
                    path, l->name, i, got, n, want);
            return HET_E_INVALID;
        }
        if (bp->n_data)
            memcpy(p->data, bp->data, n * sizeof(float));
        else
            for (size_t k = 0; k < n; k++) p->data[k] = (float)bp->double_data[k];
    }
    return HET_OK;
}

het_status het_graph_fill_params(graph_impl *gi, const Caffe__NetParameter *model, const char *model_path,
                                 uint64_t seed)
{
    het_graph *g = &gi->g;
    het_rng rng;
    het_rng_seed(&rng, seed);
    size_t nonfinite = 0;
    const char *first = NULL;
    for (int i = 0; i < g->n_layers; i++) {
        het_layer *l = &g->layers[i];
        if (l->n_params == 0) continue;
        het_status st;
        if (model) {
            const Caffe__LayerParameter *mp = find_proto_layer(model, l->name);
            if (!mp) {
                het_log(HET_LOG_ERROR, "%s: has no weights for layer '%s'", model_path, l->name);
                return HET_E_INVALID;
            }
            st = fill_from_model(mp, l, model_path);
            for (int k = 0; st == HET_OK && k < l->n_params; k++)
                for (size_t j = 0; j < l->params[k].count; j++)
                    if (!isfinite(l->params[k].data[j]) && !nonfinite++) first = l->name;
        } else {
            st = fill_from_fillers(find_proto_layer(gi->proto, l->name), l, &rng);
        }
        if (st != HET_OK) return st;
    }
    if (nonfinite)
        het_log(HET_LOG_WARN, "%s: %zu weight%s NaN or infinite (the first in layer '%s'); the outputs they reach "
                "will be too", model_path, nonfinite, nonfinite == 1 ? " is" : "s are", first);
    return HET_OK;
}

het_status het_graph_save_weights(const het_graph *g, const char *path)
{
    if (g->n_folded) {
        // The folded convolutions' weights and biases are not the
        // prototxt's: a reader would reject or misread them.
        het_log(HET_LOG_ERROR, "%s: cannot save the weights of a graph with BatchNorm and Scale folded; save them "
                "before folding", path);
        return HET_E_STATE;
    }
    het_status st = HET_E_NOMEM;
    Caffe__NetParameter net = CAFFE__NET_PARAMETER__INIT;
    int nl = 0;
    for (int i = 0; i < g->n_layers; i++) nl += g->layers[i].n_params > 0;
    Caffe__LayerParameter *layers = calloc((size_t)nl + 1, sizeof *layers);
    Caffe__LayerParameter **lptr = calloc((size_t)nl + 1, sizeof *lptr);
    Caffe__BlobProto *blobs = calloc((size_t)nl * HET_MAX_PARAMS + 1, sizeof *blobs);
    Caffe__BlobProto **bptr = calloc((size_t)nl * HET_MAX_PARAMS + 1, sizeof *bptr);
    Caffe__BlobShape *shapes = calloc((size_t)nl * HET_MAX_PARAMS + 1, sizeof *shapes);
    int64_t *dims = calloc((size_t)nl * HET_MAX_PARAMS * 4 + 1, sizeof *dims);
    if (!layers || !lptr || !blobs || !bptr || !shapes || !dims) goto done;
    net.name = (char *)g->name;
    int li = 0, bi = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        if (l->n_params == 0) continue;
        Caffe__LayerParameter *lp = &layers[li];
        caffe__layer_parameter__init(lp);
        lp->name = (char *)l->name;
        lp->type = (char *)het_layer_kind_name(l->kind);
        lp->blobs = &bptr[bi];
        lp->n_blobs = (size_t)l->n_params;
        for (int k = 0; k < l->n_params; k++, bi++) {
            const het_param *p = &l->params[k];
            caffe__blob_shape__init(&shapes[bi]);
            shapes[bi].dim = &dims[bi * 4];
            shapes[bi].n_dim = (size_t)p->ndim;
            for (int d = 0; d < p->ndim; d++) dims[bi * 4 + d] = p->dims[d];
            caffe__blob_proto__init(&blobs[bi]);
            blobs[bi].shape = &shapes[bi];
            blobs[bi].data = p->data;
            blobs[bi].n_data = p->count;
            bptr[bi] = &blobs[bi];
        }
        lptr[li] = lp;
        li++;
    }
    net.layer = lptr;
    net.n_layer = (size_t)nl;
    st = het_model_write_caffemodel(path, &net);
done:
    free(layers);
    free(lptr);
    free(blobs);
    free(bptr);
    free(shapes);
    free(dims);
    return st;
}
