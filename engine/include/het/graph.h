// graph.h: the network IR shared by every backend, executor and tool.
//
// A graph is a list of compute layers in topological order (Caffe's file
// order, which Caffe requires to be topological) over a list of blobs.
// Batch size is always 1: het measures single-image latency and streams
// images one by one. Blobs are NCHW; 2-D blobs ([1, C]) have h = w = 1.
// An in-place layer (top == bottom) reads and writes the same blob.
// The graph owns its names, shapes and weights; once loaded, calibrated
// (exec.h) and folded (het_graph_fold) it is immutable and may be read from
// several threads at once.
#ifndef HET_GRAPH_H
#define HET_GRAPH_H

#include "het/het.h"

#include <stdbool.h>
#include <stdint.h>

enum het_layer_kind {
#define HET_LAYER(id, caffe, split) HET_LAYER_##id,
#include "het/layers.def"
#undef HET_LAYER
    HET_LAYER_COUNT
};

/// Caffe type name of a kind ("Convolution"), NULL if out of range.
const char *het_layer_kind_name(enum het_layer_kind k);
/// Whether layers of this kind can be divided by output channel.
bool het_layer_kind_splittable(enum het_layer_kind k);

typedef struct het_shape {
    int ndim;  // 2 or 4 (a 2-D blob is [n, c])
    int n, c, h, w;
} het_shape;

static inline size_t het_shape_count(const het_shape *s)
{
    return (size_t)s->n * (size_t)s->c * (size_t)s->h * (size_t)s->w;
}

/// The most floats one blob or weight tensor may hold (2 GiB): the kernels
/// index a tensor with 32-bit ints. Model loading refuses anything larger,
/// inputs included, so every count in a loaded graph fits an int.
#define HET_MAX_TENSOR_FLOATS ((size_t)1 << 29)

/// A weight tensor of a layer (Caffe's layer.blobs[i]).
typedef struct het_param {
    int ndim;
    int dims[4];
    size_t count;
    float *data; // 64-byte aligned, owned by the graph
} het_param;

enum het_pool_method { HET_POOL_MAX = 0, HET_POOL_AVE = 1 };
enum het_eltwise_op { HET_ELTWISE_PROD = 0, HET_ELTWISE_SUM = 1, HET_ELTWISE_MAX = 2 };

struct het_conv_params {
    int num_output, group;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    bool bias_term;
};
struct het_pool_params {
    enum het_pool_method method;
    int kh, kw, sh, sw, ph, pw;
    bool global;
};
struct het_relu_params { float negative_slope; };
struct het_lrn_params { int local_size; float alpha, beta, k; };
struct het_eltwise_params { enum het_eltwise_op op; float *coeff; }; // coeff[n_bottom]
struct het_fc_params { int num_output; bool bias_term; };
struct het_batchnorm_params { float eps; };
struct het_scale_params { bool bias_term; };

#define HET_MAX_PARAMS 3
// The most blobs a layer reads (Concat's and Eltwise's inputs); the graph
// builder refuses more, so that backends may keep them in fixed arrays.
#define HET_MAX_BOTTOMS 64

typedef struct het_layer {
    int id;                    // index in het_graph.layers
    enum het_layer_kind kind;
    const char *name;
    int n_bottom, n_top;
    const int *bottom, *top;   // blob ids
    bool in_place;             // top[0] == bottom[0]
    int n_params;
    het_param params[HET_MAX_PARAMS];
    union {
        struct het_conv_params conv;
        struct het_pool_params pool;
        struct het_relu_params relu;
        struct het_lrn_params lrn;
        struct het_eltwise_params eltwise;
        struct het_fc_params fc;
        struct het_batchnorm_params bn;
        struct het_scale_params scale;
    } p;
    // Cost figures for the profiler and partitioner.
    uint64_t macs;          // multiply-accumulates (conv, fc), else 0
    uint64_t flops;         // floating-point operations (2 * macs, or per-element work)
    uint64_t bytes_read;    // input blobs + weights
    uint64_t bytes_written; // output blobs
    // Dependencies: layers that must finish before this one (read-after-
    // write, write-after-read for in-place writers, write-after-write).
    int n_deps;
    const int *deps;
} het_layer;

typedef struct het_blob {
    const char *name;
    het_shape shape;
    int producer;   // layer that first writes it, -1 for a network input
    int last_use;   // last layer (index) reading or writing it; n_layers for outputs
    bool is_input, is_output;
} het_blob;

typedef struct het_graph {
    const char *name;
    int n_layers;
    het_layer *layers;  // in topological order
    int n_blobs;
    het_blob *blobs;
    int n_inputs;
    const int *inputs;  // blob ids fed from outside
    int n_outputs;
    const int *outputs; // blob ids consumed by no layer
    char hash[17];      // content hash of the structure (not the weights), hex
    int n_folded;       // layers het_graph_fold removed (0: the graph is as the prototxt says)
    int64_t declared_batch; // the largest batch its inputs declare (a deploy file's 10): het runs 1
} het_graph;

/// Reads `prototxt` and builds the graph. Weights come from `caffemodel`
/// (matched by layer name, shapes checked) or, if it is NULL, from the
/// prototxt's fillers with `seed`. Returns HET_E_INVALID for malformed
/// files, HET_E_UNSUPPORTED for layer types or options het does not run,
/// each with one message naming the file, layer and reason.
het_status het_graph_load(const char *prototxt, const char *caffemodel, uint64_t seed,
                          het_graph **graph_out);

/// Frees a graph; NULL is a no-op.
void het_graph_destroy(het_graph *g);

/// Writes the graph's weights as a .caffemodel that Caffe and OpenCV read.
/// HET_E_STATE for a folded graph, whose weights no longer match its
/// prototxt: save before het_graph_fold.
het_status het_graph_save_weights(const het_graph *g, const char *path);

/// Folds each BatchNorm and Scale that works in place on a convolution's
/// output, directly after it, into that convolution's weights and bias, and
/// removes them from the graph, as OpenCV and TensorRT do at load time.
/// Each is one more pass over the blob (and, on a GPU, one more launch) for
/// a per-channel y = a*x + b that the convolution can apply for free; the
/// ReLU after them then fuses into the convolution too. In MobileNet v1 54
/// of 111 layers go. Call once the weights are final (after BatchNorm
/// calibration, after saving them). When anything folds, the structure hash
/// changes, so that sweeps and plans of the unfolded graph are not taken for
/// the folded one's. `n_removed` (may be NULL) receives the count. Layers
/// are renumbered; nothing else in the graph moves (blobs keep their ids).
het_status het_graph_fold(het_graph *g, int *n_removed);

/// Channel c of BatchNorm layer `l` as the map y = a*x + b: a = 1/sqrt(var +
/// eps), b = -mean * a, with mean and var the stored ones divided by Caffe's
/// moving-average factor (a factor of 0 meaning statistics of 0). The one
/// rule the backends and folding share.
void het_batchnorm_affine(const het_layer *l, int c, double *a, double *b);

/// The convolution a layer named `name` was folded into, or NULL if no
/// layer of that name was folded.
const char *het_graph_folded_into(const het_graph *g, const char *name);

/// Id of the blob that a name refers to after the whole network ran (the
/// last blob of that name), or -1.
int het_graph_find_blob(const het_graph *g, const char *name);

/// Index of a layer by name, or -1.
int het_graph_find_layer(const het_graph *g, const char *name);

/// Number of output channels a layer's range [c0, c1) divides: C of its
/// first top (for 2-D tops, the number of features).
int het_layer_out_channels(const het_graph *g, const het_layer *l);

/// A pointwise convolution (1x1, stride 1, no padding): a plain GEMM whose
/// B operand is the input itself. Backends use it to skip im2col.
static inline bool het_conv_is_pointwise(const struct het_conv_params *c)
{
    return c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0;
}

/// A depthwise convolution: one input channel per group, not pointwise.
/// Backends run it with a direct kernel rather than as a GEMM.
static inline bool het_conv_is_depthwise(const het_graph *g, const het_layer *l)
{
    return g->blobs[l->bottom[0]].shape.c / l->p.conv.group == 1 && !het_conv_is_pointwise(&l->p.conv);
}

#endif
