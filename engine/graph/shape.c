// shape.c: Caffe's shape rules, cost figures and weight shapes per layer.
#include "graph_impl.h"

#include <stdio.h>
#include <string.h>

static het_status bad(const het_layer *l, const char *what)
{
    het_log(HET_LOG_ERROR, "layer '%s' (%s): %s", l->name, het_layer_kind_name(l->kind), what);
    return HET_E_INVALID;
}

static int conv_out(int in, int k, int pad, int stride, int dil)
{
    int ext = dil * (k - 1) + 1;
    if (in + 2 * pad < ext) return 0;
    return (in + 2 * pad - ext) / stride + 1;
}

// Caffe pools with ceil rounding, then drops a last window that would
// start inside the padding only.
static int pool_out(int in, int k, int pad, int stride)
{
    // ceil(span / stride) + 1, with Caffe's float ceil for a kernel larger
    // than the padded input (span -1, stride 2 gives ceil(-0.5) + 1 = 1).
    int span = in + 2 * pad - k;
    int out = (span >= 0 ? (span + stride - 1) / stride : -((-span) / stride)) + 1;
    if (pad > 0 && (out - 1) * stride >= in + pad) out--;
    return out;
}

het_status het_graph_infer_layer(het_graph *g, het_layer *l)
{
    const het_shape *in = &g->blobs[l->bottom[0]].shape;
    het_shape out = *in;
    uint64_t in_count = het_shape_count(in);
    uint64_t extra_read = 0;
    switch (l->kind) {
    case HET_LAYER_CONV: {
        const struct het_conv_params *c = &l->p.conv;
        if (in->ndim != 4) return bad(l, "needs a 4-D input");
        if (in->c % c->group || c->num_output % c->group) return bad(l, "input and output channels must divide by group");
        out.c = c->num_output;
        out.h = conv_out(in->h, c->kh, c->ph, c->sh, c->dh);
        out.w = conv_out(in->w, c->kw, c->pw, c->sw, c->dw);
        l->macs = (uint64_t)out.c * out.h * out.w * (uint64_t)(in->c / c->group) * c->kh * c->kw;
        l->flops = 2 * l->macs;
        break;
    }
    case HET_LAYER_POOL: {
        struct het_pool_params *p = &l->p.pool;
        if (in->ndim != 4) return bad(l, "needs a 4-D input");
        if (p->global) {
            p->kh = in->h;
            p->kw = in->w;
        }
        if (p->ph >= p->kh || p->pw >= p->kw) return bad(l, "pad must be smaller than the kernel");
        out.h = pool_out(in->h, p->kh, p->ph, p->sh);
        out.w = pool_out(in->w, p->kw, p->pw, p->sw);
        l->flops = (uint64_t)out.c * out.h * out.w * p->kh * p->kw;
        break;
    }
    case HET_LAYER_FC:
        out = (het_shape){.ndim = 2, .n = 1, .c = l->p.fc.num_output, .h = 1, .w = 1};
        l->macs = (uint64_t)out.c * in_count;
        l->flops = 2 * l->macs;
        break;
    case HET_LAYER_FLATTEN:
        out = (het_shape){.ndim = 2, .n = 1, .c = (int)in_count, .h = 1, .w = 1};
        break;
    case HET_LAYER_CONCAT: {
        uint64_t channels = 0;
        for (int i = 0; i < l->n_bottom; i++) {
            const het_shape *s = &g->blobs[l->bottom[i]].shape;
            if (s->ndim != in->ndim || s->h != in->h || s->w != in->w)
                return bad(l, "inputs differ in height or width");
            channels += (uint64_t)s->c;
            if (i) extra_read += het_shape_count(s);
        }
        if (channels > HET_MAX_TENSOR_FLOATS) return bad(l, "the output is larger than 2 GiB");
        out.c = (int)channels;
        break;
    }
    case HET_LAYER_ELTWISE:
        for (int i = 1; i < l->n_bottom; i++) {
            const het_shape *s = &g->blobs[l->bottom[i]].shape;
            if (s->ndim != in->ndim || s->c != in->c || s->h != in->h || s->w != in->w) {
                char msg[160];
                snprintf(msg, sizeof msg, "input %d has shape %dx%dx%d, input 1 has %dx%dx%d", i + 1, s->c, s->h, s->w,
                         in->c, in->h, in->w);
                return bad(l, msg);
            }
            extra_read += het_shape_count(s);
        }
        l->flops = in_count * (uint64_t)(l->n_bottom - 1);
        break;
    case HET_LAYER_LRN:
        if (in->ndim != 4) return bad(l, "needs a 4-D input");
        l->flops = in_count * (uint64_t)(2 * l->p.lrn.local_size + 4);
        break;
    case HET_LAYER_SOFTMAX:
        l->flops = 3 * in_count;
        break;
    case HET_LAYER_RELU:
    case HET_LAYER_BATCHNORM:
    case HET_LAYER_SCALE:
        l->flops = 2 * in_count;
        break;
    case HET_LAYER_DROPOUT:
    case HET_LAYER_COUNT:
        break;
    }
    if (out.c <= 0 || out.h <= 0 || out.w <= 0) return bad(l, "the output would be empty: kernel larger than the padded input");
    if (het_shape_count(&out) > HET_MAX_TENSOR_FLOATS) return bad(l, "the output is larger than 2 GiB");
    g->blobs[l->top[0]].shape = out;
    l->bytes_read = (in_count + extra_read) * sizeof(float);
    l->bytes_written = het_shape_count(&out) * sizeof(float);
    return HET_OK;
}

// Sets a weight tensor's shape; false where it would pass
// HET_MAX_TENSOR_FLOATS (checked as it multiplies, so nothing overflows).
static bool set_param(het_param *p, int ndim, int d0, int d1, int d2, int d3)
{
    p->ndim = ndim;
    int d[4] = {d0, d1, d2, d3};
    p->count = 1;
    for (int i = 0; i < 4; i++) {
        p->dims[i] = i < ndim ? d[i] : 1;
        if (i >= ndim) continue;
        if (d[i] <= 0 || (size_t)d[i] > HET_MAX_TENSOR_FLOATS / p->count) return false;
        p->count *= (size_t)d[i];
    }
    return true;
}

het_status het_graph_declare_params(het_graph *g, het_layer *l)
{
    const het_shape *in = &g->blobs[l->bottom[0]].shape;
    bool ok = true;
    switch (l->kind) {
    case HET_LAYER_CONV: {
        const struct het_conv_params *c = &l->p.conv;
        ok &= set_param(&l->params[0], 4, c->num_output, in->c / c->group, c->kh, c->kw);
        l->n_params = 1;
        if (c->bias_term) ok &= set_param(&l->params[l->n_params++], 1, c->num_output, 0, 0, 0);
        break;
    }
    case HET_LAYER_FC:
        ok &= set_param(&l->params[0], 2, l->p.fc.num_output, (int)het_shape_count(in), 0, 0);
        l->n_params = 1;
        if (l->p.fc.bias_term) ok &= set_param(&l->params[l->n_params++], 1, l->p.fc.num_output, 0, 0, 0);
        break;
    case HET_LAYER_BATCHNORM:
        ok &= set_param(&l->params[0], 1, in->c, 0, 0, 0); // mean (times factor)
        ok &= set_param(&l->params[1], 1, in->c, 0, 0, 0); // variance (times factor)
        ok &= set_param(&l->params[2], 1, 1, 0, 0, 0);     // moving-average factor
        l->n_params = 3;
        break;
    case HET_LAYER_SCALE:
        ok &= set_param(&l->params[0], 1, in->c, 0, 0, 0);
        l->n_params = 1;
        if (l->p.scale.bias_term) ok &= set_param(&l->params[l->n_params++], 1, in->c, 0, 0, 0);
        break;
    default:
        l->n_params = 0;
        break;
    }
    if (!ok) return bad(l, "its weights would be larger than 2 GiB");
    for (int i = 0; i < l->n_params; i++) {
        l->params[i].data = het_alloc_aligned(l->params[i].count * sizeof(float));
        if (!l->params[i].data) return HET_E_NOMEM;
        l->bytes_read += l->params[i].count * sizeof(float);
    }
    return HET_OK;
}
