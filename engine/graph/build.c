// build.c: NetParameter -> het_graph (layers, blobs, dependencies, hash).
//
// Passes:
//   1. collect the network inputs (Input layers, input+input_dim,
//      input+input_shape), forcing the batch dimension to 1;
//   2. walk the layers in file order, resolving bottoms to the current blob
//      of that name (a missing one is an error: Caffe requires order to be
//      topological), creating tops (in-place tops reuse the bottom's blob),
//      reading per-kind parameters and inferring shapes;
//   3. compute dependencies and blob liveness;
//   4. declare and fill the weights;
//   5. hash the structure.
#include "graph_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
#define HET_LAYER(id, caffe, split) caffe,
#include "het/layers.def"
#undef HET_LAYER
};
static const bool kind_split[] = {
#define HET_LAYER(id, caffe, split) split,
#include "het/layers.def"
#undef HET_LAYER
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == HET_LAYER_COUNT, "registry size");

const char *het_layer_kind_name(enum het_layer_kind k)
{
    return (unsigned)k < HET_LAYER_COUNT ? kind_names[k] : NULL;
}

bool het_layer_kind_splittable(enum het_layer_kind k)
{
    return (unsigned)k < HET_LAYER_COUNT && kind_split[k];
}

void *arena_alloc(graph_impl *gi, size_t bytes)
{
    bytes = (bytes + 15) & ~(size_t)15;
    arena_chunk *c = gi->arena;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = bytes > 65536 ? bytes : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = gi->arena;
        c->used = 0;
        c->cap = cap;
        gi->arena = c;
    }
    void *p = c->data + c->used;
    c->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *arena_strdup(graph_impl *gi, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = arena_alloc(gi, n);
    if (d) memcpy(d, s, n);
    return d;
}

void het_graph_destroy(het_graph *g)
{
    if (!g) return;
    graph_impl *gi = (graph_impl *)g;
    for (int i = 0; i < g->n_layers; i++)
        for (int k = 0; k < g->layers[i].n_params; k++) het_free_aligned(g->layers[i].params[k].data);
    if (gi->proto) protobuf_c_message_free_unpacked(&gi->proto->base, NULL);
    while (gi->arena) {
        arena_chunk *n = gi->arena->next;
        free(gi->arena);
        gi->arena = n;
    }
    free(gi);
}

int het_graph_find_blob(const het_graph *g, const char *name)
{
    for (int i = g->n_blobs - 1; i >= 0; i--)
        if (!strcmp(g->blobs[i].name, name)) return i;
    return -1;
}

int het_graph_find_layer(const het_graph *g, const char *name)
{
    for (int i = 0; i < g->n_layers; i++)
        if (!strcmp(g->layers[i].name, name)) return i;
    return -1;
}

int het_layer_out_channels(const het_graph *g, const het_layer *l)
{
    return g->blobs[l->top[0]].shape.c;
}

// A deploy net runs in the TEST phase: apply Caffe's include/exclude rules.
static bool layer_in_test_phase(const Caffe__LayerParameter *lp)
{
    for (size_t i = 0; i < lp->n_exclude; i++)
        if (lp->exclude[i]->has_phase && lp->exclude[i]->phase == CAFFE__PHASE__TEST) return false;
    if (lp->n_include == 0) return true;
    for (size_t i = 0; i < lp->n_include; i++)
        if (!lp->include[i]->has_phase || lp->include[i]->phase == CAFFE__PHASE__TEST) return true;
    return false;
}

static int kind_from_type(const char *type)
{
    for (int k = 0; k < HET_LAYER_COUNT; k++)
        if (!strcmp(kind_names[k], type)) return k;
    return -1;
}

typedef struct builder {
    graph_impl *gi;
    const char *path;
    int cap_blobs;
} builder;

static int find_blob_upto(const het_graph *g, const char *name)
{
    for (int i = g->n_blobs - 1; i >= 0; i--)
        if (!strcmp(g->blobs[i].name, name)) return i;
    return -1;
}

// Adds a blob that an input (producer -1) or a layer produces, into *id.
// Caffe's rule: a blob has one producer (an in-place layer updates it
// without adding one); a second would silently replace what earlier
// readers saw, so it is refused here, for inputs and tops alike.
static het_status add_blob(builder *b, const char *name, het_shape shape, int producer, int *id)
{
    het_graph *g = &b->gi->g;
    if (find_blob_upto(g, name) >= 0) {
        if (producer < 0)
            het_log(HET_LOG_ERROR, "%s: input '%s' is declared twice", b->path, name);
        else
            het_log(HET_LOG_ERROR, "%s: layer '%s' writes top '%s', which an earlier layer or input already produces "
                    "(only an in-place layer, top == bottom, may write it again)", b->path, g->layers[producer].name,
                    name);
        return HET_E_INVALID;
    }
    if (g->n_blobs == b->cap_blobs) {
        int ncap = b->cap_blobs ? b->cap_blobs * 2 : 64;
        het_blob *nb = arena_alloc(b->gi, (size_t)ncap * sizeof *nb);
        if (!nb) return HET_E_NOMEM;
        if (g->n_blobs) memcpy(nb, g->blobs, (size_t)g->n_blobs * sizeof *nb);
        g->blobs = nb;
        b->cap_blobs = ncap;
    }
    het_blob *bl = &g->blobs[g->n_blobs];
    bl->name = arena_strdup(b->gi, name);
    if (!bl->name) return HET_E_NOMEM;
    bl->shape = shape;
    bl->producer = producer;
    bl->last_use = producer;
    bl->is_input = producer < 0;
    *id = g->n_blobs++;
    return HET_OK;
}

static het_status shape_from_dims(builder *b, const char *what, const int64_t *dims, size_t n,
                                  het_shape *out)
{
    if (n != 4 && n != 2) {
        het_log(HET_LOG_ERROR, "%s: input %s has %zu dimensions; het runs 2-D [N,C] or 4-D [N,C,H,W] inputs",
                b->path, what, n);
        return HET_E_UNSUPPORTED;
    }
    for (size_t i = 1; i < n; i++)
        if (dims[i] <= 0 || dims[i] > (1 << 24)) {
            het_log(HET_LOG_ERROR, "%s: input %s has an invalid dimension %lld", b->path, what, (long long)dims[i]);
            return HET_E_INVALID;
        }
    // Batch is always 1 (see graph.h), whatever the deploy file declares;
    // the tools say so where it declared more.
    if (dims[0] > b->gi->g.declared_batch) b->gi->g.declared_batch = dims[0];
    *out = (het_shape){.ndim = (int)n, .n = 1, .c = (int)dims[1], .h = n == 4 ? (int)dims[2] : 1,
                       .w = n == 4 ? (int)dims[3] : 1};
    if ((uint64_t)out->c * (uint64_t)out->h * (uint64_t)out->w > HET_MAX_TENSOR_FLOATS) {
        het_log(HET_LOG_ERROR, "%s: input %s (%dx%dx%d) is larger than 2 GiB", b->path, what, out->c, out->h, out->w);
        return HET_E_INVALID;
    }
    return HET_OK;
}

// Pass 1: the deprecated net-level inputs (input + input_dim / input_shape).
static het_status add_net_inputs(builder *b, const Caffe__NetParameter *np)
{
    if (np->n_input == 0) {
        if (np->n_input_dim || np->n_input_shape) {
            het_log(HET_LOG_ERROR, "%s: input_dim/input_shape given without 'input' names", b->path);
            return HET_E_INVALID;
        }
        return HET_OK;
    }
    if (np->n_input_shape && np->n_input_shape != np->n_input) {
        het_log(HET_LOG_ERROR, "%s: %zu 'input' names but %zu input_shape entries", b->path, np->n_input,
                np->n_input_shape);
        return HET_E_INVALID;
    }
    if (!np->n_input_shape && np->n_input_dim != 4 * np->n_input) {
        het_log(HET_LOG_ERROR, "%s: %zu 'input' names need %zu input_dim values, found %zu", b->path,
                np->n_input, 4 * np->n_input, np->n_input_dim);
        return HET_E_INVALID;
    }
    for (size_t i = 0; i < np->n_input; i++) {
        het_shape s;
        het_status st;
        if (np->n_input_shape) {
            st = shape_from_dims(b, np->input[i], np->input_shape[i]->dim, np->input_shape[i]->n_dim, &s);
        } else {
            int64_t d[4];
            for (int k = 0; k < 4; k++) d[k] = np->input_dim[4 * i + (size_t)k];
            st = shape_from_dims(b, np->input[i], d, 4, &s);
        }
        int id;
        if (st == HET_OK) st = add_blob(b, np->input[i], s, -1, &id);
        if (st != HET_OK) return st;
    }
    return HET_OK;
}

// A uint32 field as an int for the range checks that follow: values past
// any sane size become 1 << 30, which every check rejects, instead of
// wrapping to a negative int that a "> limit" test lets through.
static int u32(uint32_t v) { return v > (1u << 30) ? 1 << 30 : (int)v; }

// Reads a Convolution layer's parameters (Caffe's rules for the repeated
// kernel_size/pad/stride/dilation and their _h/_w forms).
static het_status read_conv(builder *b, const Caffe__LayerParameter *lp, het_layer *l)
{
    const Caffe__ConvolutionParameter *cp = lp->convolution_param;
    if (!cp || !cp->has_num_output || cp->num_output == 0) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': convolution_param.num_output is missing", b->path, lp->name);
        return HET_E_INVALID;
    }
    struct het_conv_params *c = &l->p.conv;
    c->num_output = u32(cp->num_output);
    c->group = cp->has_group ? u32(cp->group) : 1;
    if (c->num_output > (1 << 24) || c->group > (1 << 24)) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': num_output and group must be at most %d", b->path, lp->name, 1 << 24);
        return HET_E_INVALID;
    }
    c->bias_term = cp->has_bias_term ? cp->bias_term : true;
    if (cp->has_kernel_h || cp->has_kernel_w) {
        if (!cp->has_kernel_h || !cp->has_kernel_w || cp->n_kernel_size) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': give either kernel_size or both kernel_h and kernel_w", b->path, lp->name);
            return HET_E_INVALID;
        }
        c->kh = u32(cp->kernel_h);
        c->kw = u32(cp->kernel_w);
    } else if (cp->n_kernel_size == 1 || cp->n_kernel_size == 2) {
        c->kh = u32(cp->kernel_size[0]);
        c->kw = u32(cp->kernel_size[cp->n_kernel_size - 1]);
    } else {
        het_log(HET_LOG_ERROR, "%s: layer '%s': kernel_size needs 1 or 2 values (2-D convolution), found %zu",
                b->path, lp->name, cp->n_kernel_size);
        return cp->n_kernel_size ? HET_E_UNSUPPORTED : HET_E_INVALID;
    }
    if (cp->has_pad_h || cp->has_pad_w) {
        c->ph = u32(cp->pad_h);
        c->pw = u32(cp->pad_w);
    } else if (cp->n_pad <= 2) {
        c->ph = cp->n_pad ? u32(cp->pad[0]) : 0;
        c->pw = cp->n_pad ? u32(cp->pad[cp->n_pad - 1]) : 0;
    } else goto too_many;
    if (cp->has_stride_h || cp->has_stride_w) {
        c->sh = cp->has_stride_h ? u32(cp->stride_h) : 1;
        c->sw = cp->has_stride_w ? u32(cp->stride_w) : 1;
    } else if (cp->n_stride <= 2) {
        c->sh = cp->n_stride ? u32(cp->stride[0]) : 1;
        c->sw = cp->n_stride ? u32(cp->stride[cp->n_stride - 1]) : 1;
    } else goto too_many;
    if (cp->n_dilation <= 2) {
        c->dh = cp->n_dilation ? u32(cp->dilation[0]) : 1;
        c->dw = cp->n_dilation ? u32(cp->dilation[cp->n_dilation - 1]) : 1;
    } else goto too_many;
    if (cp->has_axis && cp->axis != 1) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': convolution axis %d is not supported (only 1)", b->path, lp->name, cp->axis);
        return HET_E_UNSUPPORTED;
    }
    if (c->kh <= 0 || c->kw <= 0 || c->sh <= 0 || c->sw <= 0 || c->dh <= 0 || c->dw <= 0 || c->group <= 0 ||
        c->kh > 4096 || c->kw > 4096 || c->ph > 4096 || c->pw > 4096 || c->sh > 4096 || c->sw > 4096 ||
        c->dh > 4096 || c->dw > 4096) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': kernel, stride, dilation and group must be positive; each of them and pad at most 4096",
                b->path, lp->name);
        return HET_E_INVALID;
    }
    return HET_OK;
too_many:
    het_log(HET_LOG_ERROR, "%s: layer '%s': pad/stride/dilation take at most 2 values (2-D convolution)", b->path, lp->name);
    return HET_E_UNSUPPORTED;
}

static het_status read_pool(builder *b, const Caffe__LayerParameter *lp, het_layer *l)
{
    const Caffe__PoolingParameter *pp = lp->pooling_param;
    struct het_pool_params *p = &l->p.pool;
    Caffe__PoolingParameter def = CAFFE__POOLING_PARAMETER__INIT;
    if (!pp) pp = &def;
    if (pp->pool == CAFFE__POOLING_PARAMETER__POOL_METHOD__STOCHASTIC) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': STOCHASTIC pooling is not supported", b->path, lp->name);
        return HET_E_UNSUPPORTED;
    }
    if (pp->has_round_mode && pp->round_mode != CAFFE__POOLING_PARAMETER__ROUND_MODE__CEIL) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': round_mode FLOOR is not supported", b->path, lp->name);
        return HET_E_UNSUPPORTED;
    }
    p->method = pp->pool == CAFFE__POOLING_PARAMETER__POOL_METHOD__AVE ? HET_POOL_AVE : HET_POOL_MAX;
    p->global = pp->global_pooling;
    if (p->global) {
        if (pp->has_kernel_size || pp->has_kernel_h || pp->has_kernel_w) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': global_pooling takes no kernel size", b->path, lp->name);
            return HET_E_INVALID;
        }
        p->sh = p->sw = 1;
        p->ph = p->pw = 0;
        return HET_OK; // kernel set from the input shape during inference
    }
    if (pp->has_kernel_h || pp->has_kernel_w) {
        if (!pp->has_kernel_h || !pp->has_kernel_w || pp->has_kernel_size) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': give either kernel_size or both kernel_h and kernel_w", b->path, lp->name);
            return HET_E_INVALID;
        }
        p->kh = u32(pp->kernel_h);
        p->kw = u32(pp->kernel_w);
    } else if (pp->has_kernel_size) {
        p->kh = p->kw = u32(pp->kernel_size);
    } else {
        het_log(HET_LOG_ERROR, "%s: layer '%s': pooling needs kernel_size or global_pooling", b->path, lp->name);
        return HET_E_INVALID;
    }
    p->ph = pp->has_pad_h ? u32(pp->pad_h) : u32(pp->pad);
    p->pw = pp->has_pad_w ? u32(pp->pad_w) : u32(pp->pad);
    p->sh = pp->has_stride_h ? u32(pp->stride_h) : u32(pp->stride);
    p->sw = pp->has_stride_w ? u32(pp->stride_w) : u32(pp->stride);
    if (p->kh <= 0 || p->kw <= 0 || p->sh <= 0 || p->sw <= 0 || p->kh > 4096 || p->kw > 4096 ||
        p->sh > 4096 || p->sw > 4096 || p->ph > 4096 || p->pw > 4096) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': pooling kernel and stride must be positive; each of them and pad at most 4096", b->path, lp->name);
        return HET_E_INVALID;
    }
    if (p->ph >= p->kh || p->pw >= p->kw) {
        het_log(HET_LOG_ERROR, "%s: layer '%s': pooling pad must be smaller than the kernel", b->path, lp->name);
        return HET_E_INVALID;
    }
    return HET_OK;
}

// Reads the per-kind parameters that are not shapes.
static het_status read_params(builder *b, const Caffe__LayerParameter *lp, het_layer *l)
{
    switch (l->kind) {
    case HET_LAYER_CONV: return read_conv(b, lp, l);
    case HET_LAYER_POOL: return read_pool(b, lp, l);
    case HET_LAYER_RELU:
        l->p.relu.negative_slope = lp->relu_param ? lp->relu_param->negative_slope : 0.0f;
        return HET_OK;
    case HET_LAYER_LRN: {
        Caffe__LRNParameter def = CAFFE__LRNPARAMETER__INIT;
        const Caffe__LRNParameter *p = lp->lrn_param ? lp->lrn_param : &def;
        if (p->norm_region != CAFFE__LRNPARAMETER__NORM_REGION__ACROSS_CHANNELS) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': LRN WITHIN_CHANNEL is not supported", b->path, lp->name);
            return HET_E_UNSUPPORTED;
        }
        if (p->local_size % 2 == 0 || p->local_size > 4095) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': LRN local_size must be odd (Caffe's rule), found %u", b->path,
                    lp->name, p->local_size);
            return HET_E_INVALID;
        }
        l->p.lrn = (struct het_lrn_params){(int)p->local_size, p->alpha, p->beta, p->k};
        return HET_OK;
    }
    case HET_LAYER_CONCAT: {
        const Caffe__ConcatParameter *p = lp->concat_param;
        int axis = p ? (p->has_axis ? p->axis : (p->has_concat_dim ? (int)p->concat_dim : 1)) : 1;
        if (axis != 1 && axis != -3) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': Concat along axis %d is not supported (only channels)", b->path,
                    lp->name, axis);
            return HET_E_UNSUPPORTED;
        }
        return HET_OK;
    }
    case HET_LAYER_ELTWISE: {
        const Caffe__EltwiseParameter *p = lp->eltwise_param;
        l->p.eltwise.op = p ? (enum het_eltwise_op)p->operation : HET_ELTWISE_SUM;
        size_t nc = p ? p->n_coeff : 0;
        if (nc && nc != lp->n_bottom) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': Eltwise has %zu coeff for %zu bottoms", b->path, lp->name, nc,
                    lp->n_bottom);
            return HET_E_INVALID;
        }
        if (nc && l->p.eltwise.op != HET_ELTWISE_SUM) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': Eltwise coeff is only for SUM", b->path, lp->name);
            return HET_E_INVALID;
        }
        l->p.eltwise.coeff = arena_alloc(b->gi, lp->n_bottom * sizeof(float));
        if (!l->p.eltwise.coeff) return HET_E_NOMEM;
        for (size_t i = 0; i < lp->n_bottom; i++) l->p.eltwise.coeff[i] = nc ? p->coeff[i] : 1.0f;
        return HET_OK;
    }
    case HET_LAYER_FC: {
        const Caffe__InnerProductParameter *p = lp->inner_product_param;
        if (!p || !p->has_num_output || p->num_output == 0) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': inner_product_param.num_output is missing", b->path, lp->name);
            return HET_E_INVALID;
        }
        if ((p->has_axis && p->axis != 1) || p->transpose) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': InnerProduct with axis != 1 or transpose is not supported",
                    b->path, lp->name);
            return HET_E_UNSUPPORTED;
        }
        if (p->num_output > (1u << 24)) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': num_output must be at most %d", b->path, lp->name, 1 << 24);
            return HET_E_INVALID;
        }
        l->p.fc.num_output = (int)p->num_output;
        l->p.fc.bias_term = p->has_bias_term ? p->bias_term : true;
        return HET_OK;
    }
    case HET_LAYER_SOFTMAX:
        if (lp->softmax_param && lp->softmax_param->has_axis && lp->softmax_param->axis != 1) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': Softmax axis %d is not supported (only 1)", b->path, lp->name,
                    lp->softmax_param->axis);
            return HET_E_UNSUPPORTED;
        }
        return HET_OK;
    case HET_LAYER_BATCHNORM:
        if (lp->batch_norm_param && lp->batch_norm_param->has_use_global_stats &&
            !lp->batch_norm_param->use_global_stats) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': BatchNorm with use_global_stats: false computes batch "
                    "statistics (training); het runs inference only", b->path, lp->name);
            return HET_E_UNSUPPORTED;
        }
        l->p.bn.eps = lp->batch_norm_param ? lp->batch_norm_param->eps : 1e-5f;
        return HET_OK;
    case HET_LAYER_SCALE: {
        const Caffe__ScaleParameter *p = lp->scale_param;
        if (lp->n_bottom != 1 || (p && ((p->has_axis && p->axis != 1) || (p->has_num_axes && p->num_axes != 1)))) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': only the per-channel, one-bottom Scale is supported", b->path, lp->name);
            return HET_E_UNSUPPORTED;
        }
        l->p.scale.bias_term = p ? p->bias_term : false;
        return HET_OK;
    }
    case HET_LAYER_FLATTEN: {
        const Caffe__FlattenParameter *p = lp->flatten_param;
        if (p && ((p->has_axis && p->axis != 1) || (p->has_end_axis && p->end_axis != -1 && p->end_axis != 3))) {
            het_log(HET_LOG_ERROR, "%s: layer '%s': only Flatten from axis 1 to the end is supported", b->path, lp->name);
            return HET_E_UNSUPPORTED;
        }
        return HET_OK;
    }
    case HET_LAYER_DROPOUT:
    case HET_LAYER_COUNT:
        return HET_OK;
    }
    return HET_OK;
}

static het_status expect_counts(builder *b, const Caffe__LayerParameter *lp, size_t min_bottom,
                                size_t max_bottom)
{
    if (lp->n_bottom < min_bottom || lp->n_bottom > max_bottom || lp->n_top != 1) {
        char need[64];
        if (max_bottom > min_bottom) snprintf(need, sizeof need, "%zu to %zu bottoms", min_bottom, max_bottom);
        else snprintf(need, sizeof need, "%zu bottom%s", min_bottom, min_bottom == 1 ? "" : "s");
        het_log(HET_LOG_ERROR, "%s: layer '%s' (%s) has %zu bottoms and %zu tops; it needs %s and 1 top", b->path,
                lp->name, lp->type, lp->n_bottom, lp->n_top, need);
        return HET_E_INVALID;
    }
    return HET_OK;
}

// Pass 2 for one layer.
static het_status add_layer(builder *b, const Caffe__LayerParameter *lp, int *cap_layers)
{
    het_graph *g = &b->gi->g;
    if (!lp->name || !lp->type) {
        het_log(HET_LOG_ERROR, "%s: layer #%d has no %s", b->path, g->n_layers + 1, lp->name ? "type" : "name");
        return HET_E_INVALID;
    }
    if (!strcmp(lp->type, "Input")) {
        const Caffe__InputParameter *ip = lp->input_param;
        if (!ip || ip->n_shape == 0 || (ip->n_shape != 1 && ip->n_shape != lp->n_top)) {
            het_log(HET_LOG_ERROR, "%s: Input layer '%s' needs input_param with one shape (or one per top)", b->path, lp->name);
            return HET_E_INVALID;
        }
        for (size_t t = 0; t < lp->n_top; t++) {
            const Caffe__BlobShape *bs = ip->shape[ip->n_shape == 1 ? 0 : t];
            het_shape s;
            het_status st = shape_from_dims(b, lp->top[t], bs->dim, bs->n_dim, &s);
            int id;
            if (st == HET_OK) st = add_blob(b, lp->top[t], s, -1, &id);
            if (st != HET_OK) return st;
        }
        return HET_OK;
    }
    int kind = kind_from_type(lp->type);
    if (kind < 0) {
        het_log(HET_LOG_ERROR, "%s: layer '%s' has type '%s', which het does not support", b->path, lp->name, lp->type);
        return HET_E_UNSUPPORTED;
    }
    size_t minb = 1, maxb = 1;
    if (kind == HET_LAYER_CONCAT) maxb = HET_MAX_BOTTOMS;
    if (kind == HET_LAYER_ELTWISE) minb = 2, maxb = HET_MAX_BOTTOMS;
    het_status st = expect_counts(b, lp, minb, maxb);
    if (st != HET_OK) return st;
    for (int i = 0; i < g->n_layers; i++)
        if (!strcmp(g->layers[i].name, lp->name)) {
            het_log(HET_LOG_ERROR, "%s: two layers are named '%s'", b->path, lp->name);
            return HET_E_INVALID;
        }

    if (g->n_layers == *cap_layers) {
        int ncap = *cap_layers ? *cap_layers * 2 : 64;
        het_layer *nl = arena_alloc(b->gi, (size_t)ncap * sizeof *nl);
        if (!nl) return HET_E_NOMEM;
        if (g->n_layers) memcpy(nl, g->layers, (size_t)g->n_layers * sizeof *nl);
        g->layers = nl;
        *cap_layers = ncap;
    }
    het_layer *l = &g->layers[g->n_layers];
    l->id = g->n_layers;
    l->kind = (enum het_layer_kind)kind;
    l->name = arena_strdup(b->gi, lp->name);
    int *bot = arena_alloc(b->gi, lp->n_bottom * sizeof(int));
    int *top = arena_alloc(b->gi, sizeof(int));
    if (!l->name || !bot || !top) return HET_E_NOMEM;
    l->n_bottom = (int)lp->n_bottom;
    l->n_top = 1;
    l->bottom = bot;
    l->top = top;
    for (size_t i = 0; i < lp->n_bottom; i++) {
        bot[i] = find_blob_upto(g, lp->bottom[i]);
        if (bot[i] < 0) {
            het_log(HET_LOG_ERROR, "%s: layer '%s' reads bottom blob '%s', which no earlier layer or input produces",
                    b->path, lp->name, lp->bottom[i]);
            return HET_E_INVALID;
        }
    }
    st = read_params(b, lp, l);
    if (st != HET_OK) return st;
    g->n_layers++; // from here the layer is part of the graph (for cleanup)

    l->in_place = lp->n_bottom == 1 && !strcmp(lp->top[0], lp->bottom[0]);
    if (l->in_place) {
        if (kind == HET_LAYER_CONV || kind == HET_LAYER_POOL || kind == HET_LAYER_FC || kind == HET_LAYER_LRN ||
            kind == HET_LAYER_SOFTMAX || kind == HET_LAYER_FLATTEN) {
            het_log(HET_LOG_ERROR, "%s: layer '%s' (%s) cannot run in place (top == bottom)", b->path, lp->name, lp->type);
            return HET_E_INVALID;
        }
        top[0] = bot[0];
    } else {
        for (size_t i = 0; i < lp->n_bottom; i++)
            if (!strcmp(lp->top[0], lp->bottom[i])) {
                het_log(HET_LOG_ERROR, "%s: layer '%s' writes its top over its bottom #%zu; only a single-bottom layer "
                        "may run in place", b->path, lp->name, i + 1);
                return HET_E_INVALID;
            }
        st = add_blob(b, lp->top[0], (het_shape){0}, l->id, &top[0]);
        if (st != HET_OK) return st;
    }
    return het_graph_infer_layer(g, l);
}

// Pass 3: dependencies and liveness. Walks layers in order, remembering for
// each blob its last writer and the readers since that write. Also run
// again by het_graph_fold after it removes layers.
het_status het_graph_link(graph_impl *gi)
{
    het_graph *g = &gi->g;
    int nb = g->n_blobs, nl = g->n_layers;
    int *last_writer = malloc((size_t)nb * sizeof(int));
    int *n_readers = calloc((size_t)nb, sizeof(int));
    int **readers = calloc((size_t)nb, sizeof(int *));
    int *tmp = malloc(((size_t)nl + 1) * sizeof(int));
    bool *seen = calloc((size_t)nl + 1, 1);
    het_status st = HET_E_NOMEM;
    if (!last_writer || !n_readers || !readers || !tmp || !seen) goto done;
    for (int i = 0; i < nb; i++) {
        last_writer[i] = -1;
        g->blobs[i].last_use = g->blobs[i].producer;
        g->blobs[i].is_output = false;
    }
    for (int li = 0; li < nl; li++) {
        het_layer *l = &g->layers[li];
        int nd = 0;
#define ADD_DEP(x)                                                                                   \
    do {                                                                                            \
        int d_ = (x);                                                                               \
        if (d_ >= 0 && d_ != li && !seen[d_]) { seen[d_] = true; tmp[nd++] = d_; }                   \
    } while (0)
        for (int i = 0; i < l->n_bottom; i++) {
            int bl = l->bottom[i];
            ADD_DEP(last_writer[bl]);
            if (g->blobs[bl].last_use < li) g->blobs[bl].last_use = li;
        }
        int t = l->top[0];
        ADD_DEP(last_writer[t]);
        if (l->in_place)
            for (int r = 0; r < n_readers[t]; r++) ADD_DEP(readers[t][r]);
        for (int i = 0; i < nd; i++) seen[tmp[i]] = false;
#undef ADD_DEP
        int *deps = arena_alloc(gi, (size_t)(nd ? nd : 1) * sizeof(int));
        if (!deps) goto done;
        memcpy(deps, tmp, (size_t)nd * sizeof(int));
        l->deps = deps;
        l->n_deps = nd;
        // Update writer/readers: a write clears the reader set of the blob.
        for (int i = 0; i < l->n_bottom; i++) {
            int bl = l->bottom[i];
            if (bl == t) continue;
            int *nr = realloc(readers[bl], (size_t)(n_readers[bl] + 1) * sizeof(int));
            if (!nr) goto done;
            readers[bl] = nr;
            readers[bl][n_readers[bl]++] = li;
        }
        last_writer[t] = li;
        n_readers[t] = 0;
        if (g->blobs[t].last_use < li) g->blobs[t].last_use = li;
    }
    // Outputs: blobs no layer reads after their last write (in-place chains
    // read their own blob, so only reads by other layers count).
    int *outs = arena_alloc(gi, (size_t)nb * sizeof(int));
    int *ins = arena_alloc(gi, (size_t)nb * sizeof(int));
    if (!outs || !ins) goto done;
    g->n_outputs = g->n_inputs = 0;
    for (int i = 0; i < nb; i++) {
        het_blob *bl = &g->blobs[i];
        bool read_by_other = false;
        for (int li = 0; li < nl && !read_by_other; li++) {
            const het_layer *l = &g->layers[li];
            if (l->in_place && l->top[0] == i) continue;
            for (int k = 0; k < l->n_bottom; k++)
                if (l->bottom[k] == i) read_by_other = true;
        }
        if (bl->is_input) ins[g->n_inputs++] = i;
        if (!read_by_other && !bl->is_input) {
            bl->is_output = true;
            bl->last_use = nl;
            outs[g->n_outputs++] = i;
        }
    }
    g->outputs = outs;
    g->inputs = ins;
    st = HET_OK;
done:
    if (readers)
        for (int i = 0; i < nb; i++) free(readers[i]);
    free(readers);
    free(n_readers);
    free(last_writer);
    free(tmp);
    free(seen);
    return st;
}

// Pass 5: FNV-1a over the canonical binary form of the parsed prototxt, so
// that comments and formatting do not change the hash but any field does.
static het_status hash_structure(graph_impl *gi)
{
    size_t len = caffe__net_parameter__get_packed_size(gi->proto);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return HET_E_NOMEM;
    caffe__net_parameter__pack(gi->proto, buf);
    uint64_t h = het_fnv1a(HET_FNV_BASIS, buf, len);
    free(buf);
    snprintf(gi->g.hash, sizeof gi->g.hash, "%016llx", (unsigned long long)h);
    return HET_OK;
}

het_status het_graph_load(const char *prototxt, const char *caffemodel, uint64_t seed, het_graph **graph_out)
{
    het_status st = HET_E_NOMEM;
    Caffe__NetParameter *model = NULL;
    graph_impl *gi = calloc(1, sizeof *gi);
    if (!gi) return HET_E_NOMEM;
    builder b = {.gi = gi, .path = prototxt};
    st = het_model_read_prototxt(prototxt, &gi->proto);
    if (st != HET_OK) goto fail;
    const Caffe__NetParameter *np = gi->proto;
    gi->g.name = arena_strdup(gi, np->name ? np->name : "");
    if (!gi->g.name) goto fail;
    st = add_net_inputs(&b, np);
    if (st != HET_OK) goto fail;
    int cap_layers = 0;
    for (size_t i = 0; i < np->n_layer; i++) {
        if (!layer_in_test_phase(np->layer[i])) continue;
        st = add_layer(&b, np->layer[i], &cap_layers);
        if (st != HET_OK) goto fail;
    }
    if (gi->g.n_layers == 0) {
        het_log(HET_LOG_ERROR, "%s: the network has no compute layers", prototxt);
        st = HET_E_INVALID;
        goto fail;
    }
    bool any_input = false;
    for (int i = 0; i < gi->g.n_blobs; i++) any_input |= gi->g.blobs[i].is_input;
    if (!any_input) {
        het_log(HET_LOG_ERROR, "%s: the network declares no input (Input layer, input+input_dim or input+input_shape)", prototxt);
        st = HET_E_INVALID;
        goto fail;
    }
    st = het_graph_link(gi);
    if (st != HET_OK) goto fail;
    for (int i = 0; i < gi->g.n_layers; i++) {
        st = het_graph_declare_params(&gi->g, &gi->g.layers[i]);
        if (st != HET_OK) goto fail;
    }
    if (caffemodel) {
        st = het_model_read_caffemodel(caffemodel, &model);
        if (st != HET_OK) goto fail;
    }
    st = het_graph_fill_params(gi, model, caffemodel, seed);
    if (st != HET_OK) goto fail;
    st = hash_structure(gi);
    if (st != HET_OK) goto fail;
    if (model) protobuf_c_message_free_unpacked(&model->base, NULL);
    *graph_out = &gi->g;
    return HET_OK;
fail:
    if (st == HET_E_NOMEM) het_log(HET_LOG_ERROR, "%s: out of memory while loading the model", prototxt);
    if (model) protobuf_c_message_free_unpacked(&model->base, NULL);
    het_graph_destroy(&gi->g);
    return st;
}
