// fold.c: BatchNorm and Scale folded into the convolution before them.
//
// A convolution computes conv(x) = W*x + b per output channel c; an
// in-place BatchNorm after it maps y to (y - m_c) * k_c, a Scale to
// g_c * y + s_c. Each keeps the form y = a_c * (W*x) + s_c, so the chain
// collapses into the convolution: W_c *= a_c, b_c = s_c. The arithmetic is
// done in double and written once, so a chain of several layers rounds
// once, not per layer.
//
// Only layers directly after the convolution fold, each reading what the
// one before wrote:
//   - in place: they are the only writers of the convolution's output
//     blob before anyone reads it, so removing them changes no blob a
//     later layer or a caller (--save-blob) sees, except by rounding;
//   - into a new blob that only they read (MobileNet v2 writes conv1/bn
//     from conv1): the convolution then writes the new blob, and the old
//     one, which no other layer reads, leaves the graph (its name is
//     gone: --no-fold keeps it).
// A BatchNorm elsewhere (after a pooling, or writing a new blob whose input
// is read again) stays a layer.
#include "graph_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Whether `l` folds into a chain that writes blob `top`, which `chain`
// layers of the chain (the convolution and the layers folded so far in
// place on it) reference; refs[b]: how many layers reference blob b.
static bool folds_into(const het_graph *g, const het_layer *l, int top, int chain, const int *refs)
{
    if ((l->kind != HET_LAYER_BATCHNORM && l->kind != HET_LAYER_SCALE) || l->n_bottom != 1 || l->n_top != 1 ||
        l->bottom[0] != top)
        return false;
    return l->in_place || (refs[top] == chain + 1 && !g->blobs[top].is_input);
}

// Applies layer `l` (BatchNorm or Scale) to the per-channel map
// y = a*raw + s.
static void compose(const het_layer *l, double *a, double *s, int C)
{
    if (l->kind == HET_LAYER_BATCHNORM) {
        // As the backends run it.
        for (int c = 0; c < C; c++) {
            double ka, kb;
            het_batchnorm_affine(l, c, &ka, &kb);
            a[c] *= ka;
            s[c] = s[c] * ka + kb;
        }
    } else {
        for (int c = 0; c < C; c++) {
            double gm = l->params[0].data[c], bt = l->n_params > 1 ? l->params[1].data[c] : 0.0;
            a[c] *= gm;
            s[c] = s[c] * gm + bt;
        }
    }
}

// Folds layers [first, last) into `conv`.
static het_status fold_run(het_graph *g, het_layer *conv, int first, int last)
{
    int C = conv->p.conv.num_output;
    double *a = malloc(2 * (size_t)C * sizeof *a);
    if (!a) return HET_E_NOMEM;
    double *s = a + C;
    for (int c = 0; c < C; c++) {
        a[c] = 1.0;
        s[c] = conv->p.conv.bias_term ? conv->params[1].data[c] : 0.0;
    }
    for (int i = first; i < last; i++) compose(&g->layers[i], a, s, C);
    if (!conv->p.conv.bias_term) {
        het_param *b = &conv->params[conv->n_params];
        *b = (het_param){.ndim = 1, .dims = {C, 1, 1, 1}, .count = (size_t)C};
        if (!(b->data = het_alloc_aligned((size_t)C * sizeof(float)))) {
            free(a);
            return HET_E_NOMEM;
        }
        conv->n_params++;
        conv->p.conv.bias_term = true;
        conv->bytes_read += (size_t)C * sizeof(float);
    }
    het_param *w = &conv->params[0];
    size_t per = w->count / (size_t)C;
    for (int c = 0; c < C; c++) {
        for (size_t k = 0; k < per; k++) w->data[c * per + k] = (float)(w->data[c * per + k] * a[c]);
        conv->params[1].data[c] = (float)s[c];
    }
    free(a);
    return HET_OK;
}

// Drops the blobs marked in `gone` (no layer references them any more):
// the blob list is compacted and every layer's ids renumbered.
static het_status drop_blobs(graph_impl *gi, const bool *gone)
{
    het_graph *g = &gi->g;
    int *bre = malloc((size_t)g->n_blobs * sizeof *bre); // old blob id -> new
    if (!bre) return HET_E_NOMEM;
    int nb = 0;
    for (int b = 0; b < g->n_blobs; b++) {
        bre[b] = gone[b] ? -1 : nb;
        if (!gone[b]) g->blobs[nb++] = g->blobs[b];
    }
    g->n_blobs = nb;
    het_status st = HET_OK;
    for (int i = 0; i < g->n_layers && st == HET_OK; i++) {
        het_layer *l = &g->layers[i];
        int *ids = arena_alloc(gi, (size_t)(l->n_bottom + l->n_top) * sizeof *ids);
        if (!ids) {
            st = HET_E_NOMEM;
            break;
        }
        for (int k = 0; k < l->n_bottom; k++) ids[k] = bre[l->bottom[k]];
        for (int k = 0; k < l->n_top; k++) ids[l->n_bottom + k] = bre[l->top[k]];
        l->bottom = ids;
        l->top = ids + l->n_bottom;
    }
    free(bre);
    return st;
}

// On an error the graph is only fit for het_graph_destroy (the callers'
// one way out: an error here is out of memory).
het_status het_graph_fold(het_graph *g, int *n_removed)
{
    graph_impl *gi = (graph_impl *)g;
    if (n_removed) *n_removed = 0;
    int nl = g->n_layers, nb = g->n_blobs, removed = 0, dropped = 0;
    // Which layers go, and into which convolution; fold them there.
    int *into = malloc((2 * (size_t)nl + (size_t)nb) * sizeof *into), *renum = into + nl; // renum: old index -> new
    int *refs = renum + nl;                                                             // layers referencing a blob
    bool *gone = calloc((size_t)nb, sizeof *gone);                                      // blobs folded away
    het_status st = HET_E_NOMEM;
    if (!into || !gone) goto done;
    for (int i = 0; i < nl; i++) into[i] = -1;
    for (int b = 0; b < nb; b++) refs[b] = 0;
    for (int i = 0; i < nl; i++) {
        const het_layer *l = &g->layers[i];
        for (int k = 0; k < l->n_bottom; k++) refs[l->bottom[k]]++;
        for (int k = 0; k < l->n_top; k++)
            if (!l->in_place || k > 0) refs[l->top[k]]++; // an in-place layer counts once
    }
    st = HET_OK;
    for (int i = 0; i < nl && st == HET_OK; i++) {
        het_layer *conv = &g->layers[i];
        if (conv->kind != HET_LAYER_CONV || conv->n_top != 1) continue;
        int j = i + 1, top = conv->top[0], chain = 1;
        for (; j < nl && folds_into(g, &g->layers[j], top, chain, refs); j++) {
            const het_layer *l = &g->layers[j];
            into[j] = i;
            if (l->in_place) {
                chain++;
            } else { // the convolution writes l's blob from now on
                gone[top] = true;
                dropped++;
                top = l->top[0];
                chain = 1;
            }
        }
        if (j == i + 1) continue;
        st = fold_run(g, conv, i + 1, j);
        if (st == HET_OK && top != conv->top[0]) {
            int *t = arena_alloc(gi, sizeof *t);
            if (!t) st = HET_E_NOMEM;
            else *t = top, conv->top = t;
        }
        removed += j - i - 1;
    }
    if (st != HET_OK || removed == 0) goto done;
    st = HET_E_NOMEM;
    const char **names = arena_alloc(gi, (size_t)(g->n_folded + removed) * sizeof *names);
    const char **intos = arena_alloc(gi, (size_t)(g->n_folded + removed) * sizeof *intos);
    if (!names || !intos) goto done;
    if (g->n_folded) {
        memcpy(names, gi->folded, (size_t)g->n_folded * sizeof *names);
        memcpy(intos, gi->folded_into, (size_t)g->n_folded * sizeof *intos);
    }
    // Compact the layer list (a folded layer's convolution is before it,
    // so already in its new place); blobs name their producer by index.
    int n = g->n_folded, k = 0;
    for (int i = 0; i < nl; i++) {
        het_layer *l = &g->layers[i];
        if (into[i] >= 0) {
            names[n] = l->name;
            intos[n++] = g->layers[renum[into[i]]].name;
            for (int p = 0; p < l->n_params; p++) het_free_aligned(l->params[p].data);
            renum[i] = -1;
            continue;
        }
        renum[i] = k;
        if (k != i) g->layers[k] = *l;
        g->layers[k].id = k;
        k++;
    }
    g->n_layers = k;
    // A blob a folded layer wrote first is now its convolution's.
    for (int b = 0; b < g->n_blobs; b++) {
        int p = g->blobs[b].producer;
        if (p >= 0) g->blobs[b].producer = renum[into[p] >= 0 ? into[p] : p];
    }
    if (dropped && (st = drop_blobs(gi, gone)) != HET_OK) goto done;
    gi->folded = names;
    gi->folded_into = intos;
    g->n_folded = n;
    if ((st = het_graph_link(gi)) != HET_OK) goto done;
    // A hash of its own: the old one with a mark, another one where blobs
    // went too (before that fold, MobileNet v2 kept its BatchNorms, and its
    // sweeps must not be taken for the new graph's).
    char mark[48];
    int mlen = snprintf(mark, sizeof mark, "%s+fold-bn-scale%s", g->hash, dropped ? "+blobs" : "");
    snprintf(g->hash, sizeof g->hash, "%016llx", (unsigned long long)het_fnv1a(HET_FNV_BASIS, mark, (size_t)mlen));
    if (n_removed) *n_removed = removed;
done:
    if (st == HET_E_NOMEM) het_log(HET_LOG_ERROR, "%s: out of memory while folding BatchNorm and Scale", g->name);
    free(into);
    free(gone);
    return st;
}

void het_batchnorm_affine(const het_layer *l, int c, double *a, double *b)
{
    float f = l->params[2].data[0];
    double inv = f == 0.0f ? 0.0 : 1.0 / f;
    *a = 1.0 / sqrt(l->params[1].data[c] * inv + l->p.bn.eps);
    *b = -l->params[0].data[c] * inv * *a;
}

const char *het_graph_folded_into(const het_graph *g, const char *name)
{
    const graph_impl *gi = (const graph_impl *)g;
    for (int i = 0; i < g->n_folded; i++)
        if (!strcmp(gi->folded[i], name)) return gi->folded_into[i];
    return NULL;
}
