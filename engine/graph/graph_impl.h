// graph_impl.h: private to engine/graph.
#ifndef HET_GRAPH_GRAPH_IMPL_H
#define HET_GRAPH_GRAPH_IMPL_H

#include "het/graph.h"
#include "../model/model.h"

// One arena holds all of a graph's metadata (names, id arrays), so that the
// graph is freed at once and its layers never own separate allocations.
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_chunk;

typedef struct graph_impl {
    het_graph g;            // first member: a het_graph * is a graph_impl *
    arena_chunk *arena;
    Caffe__NetParameter *proto; // the parsed prototxt (names, param messages)
    const char **folded;        // names of the g.n_folded layers het_graph_fold removed
    const char **folded_into;   // the convolution each went into
} graph_impl;

void *arena_alloc(graph_impl *gi, size_t bytes);
char *arena_strdup(graph_impl *gi, const char *s);

// Shape inference and cost figures for layer `l`, whose bottom shapes are
// known; sets the top shapes. Logs and returns HET_E_INVALID on mismatch.
het_status het_graph_infer_layer(het_graph *g, het_layer *l);

// Dependencies, blob liveness, and the input and output lists, from the
// layers' bottoms and tops (build.c).
het_status het_graph_link(graph_impl *gi);

// Declares the weight tensors a layer needs (dims, count), before they are
// filled from a caffemodel or fillers.
het_status het_graph_declare_params(het_graph *g, het_layer *l);

// Fills every layer's weights: from `model` if not NULL, else from the
// fillers in `lp` (the layer's LayerParameter) with `seed`.
het_status het_graph_fill_params(graph_impl *gi, const Caffe__NetParameter *model,
                                 const char *model_path, uint64_t seed);

#endif
