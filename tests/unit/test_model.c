// test_model.c: the text-format parser, the graph builder's rules (shapes,
// in-place blobs, dependencies, liveness) and the .caffemodel round trip.
#define _POSIX_C_SOURCE 200809L
#include "het/exec.h"
#include "het/graph.h"
#include "../harness.h"
#include "model/model.h"
#include "netutil.h"

#include <string.h>

static Caffe__NetParameter *parse(const char *text)
{
    ProtobufCMessage *m = NULL;
    if (het_textformat_parse(text, strlen(text), "t", &caffe__net_parameter__descriptor, &m) != HET_OK) return NULL;
    return (Caffe__NetParameter *)m;
}

static void test_textformat(void)
{
    Caffe__NetParameter *n = parse(
        "# comment\nname: 'a\\tb\\'c' \"d\"\n"
        "input_dim: [1, 3, 0x10, 16]\n"
        "layer < name: \"p\" type: 'Pooling' pooling_param { pool: 1 kernel_size: 2 } >\n"
        "layer { name: 'c'; type: 'Convolution', convolution_param { num_output: 4 kernel_size: 3 kernel_size: 3 "
        "pad: 1 pad: 1 pad: 1 pad: 1 pad: 1 pad: 1 pad: 1 pad: 1 pad: 1 weight_filler { type: 'gaussian' std: 1e-2 } } }\n"
        "layer { name: 'b' type: 'BatchNorm' batch_norm_param { use_global_stats: true eps: 1.5f } }\n");
    HET_CHECK(n != NULL, "valid text parses");
    if (!n) return;
    HET_CHECK(!strcmp(n->name, "a\tb'cd"), "escapes and adjacent strings: '%s'", n->name);
    HET_CHECK(n->n_input_dim == 4 && n->input_dim[2] == 16, "list syntax and hex");
    HET_CHECK(n->n_layer == 3, "three layers");
    HET_CHECK(n->layer[0]->pooling_param->pool == CAFFE__POOLING_PARAMETER__POOL_METHOD__AVE, "enum by number");
    HET_CHECK(n->layer[1]->convolution_param->n_pad == 9, "repeated field grows past its first capacity");
    HET_CHECK(n->layer[1]->convolution_param->weight_filler->std == 1e-2f, "float exponent");
    HET_CHECK(n->layer[2]->batch_norm_param->eps == 1.5f && n->layer[2]->batch_norm_param->use_global_stats,
              "bool and 1.5f");
    protobuf_c_message_free_unpacked(&n->base, NULL);

    static const char *bad[] = {
        "layer { name: 'x' ",                       // missing }
        "layer { convolution_param { num_output: -1 } }", // negative unsigned
        "input_dim: 99999999999",                   // int32 overflow
        "layer { name: 'x' bogus: 1 }",             // unknown field
        "name 'x'",                                 // missing colon for a scalar
        "layer { type: 'ReLU' relu_param { negative_slope: abc } }",
        "layer { pooling_param { pool: MEDIAN } }", // unknown enum value
        "name: 'unterminated\n'",
        "name: [ 'a' ]",                            // list for a singular field
        "layer { batch_norm_param { use_global_stats: maybe } }",
        "@",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Caffe__NetParameter *m = parse(bad[i]);
        HET_CHECK(m == NULL, "bad text %zu is refused: %s", i, bad[i]);
        if (m) protobuf_c_message_free_unpacked(&m->base, NULL);
    }
}

static void test_graph(void)
{
    // A fire module: squeeze (+ in-place ReLU), two expands, concat.
    const char *text =
        "input: 'data' input_shape { dim: 10 dim: 3 dim: 13 dim: 13 }\n"
        "layer { name: 'sq' type: 'Convolution' bottom: 'data' top: 'sq' convolution_param { num_output: 4 kernel_size: 1 } }\n"
        "layer { name: 'r' type: 'ReLU' bottom: 'sq' top: 'sq' }\n"
        "layer { name: 'e1' type: 'Convolution' bottom: 'sq' top: 'e1' convolution_param { num_output: 8 kernel_size: 1 } }\n"
        "layer { name: 'e3' type: 'Convolution' bottom: 'sq' top: 'e3' convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }\n"
        "layer { name: 'cat' type: 'Concat' bottom: 'e1' bottom: 'e3' top: 'cat' }\n"
        "layer { name: 'p' type: 'Pooling' bottom: 'cat' top: 'p' pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }\n"
        "layer { name: 'train_only' type: 'Dropout' bottom: 'p' top: 'p' include { phase: TRAIN } }\n";
    het_graph *g = NULL;
    HET_CHECK(net_from_text(text, 1, &g) == HET_OK, "fire module loads");
    if (!g) return;
    HET_CHECK(g->n_layers == 6, "TRAIN-only layer dropped: %d layers", g->n_layers);
    const het_blob *data = &g->blobs[g->inputs[0]];
    HET_CHECK(g->n_inputs == 1 && data->shape.n == 1 && data->shape.c == 3, "batch forced to 1");
    const het_layer *r = &g->layers[1], *sq = &g->layers[0];
    HET_CHECK(r->in_place && r->top[0] == sq->top[0], "in-place ReLU shares the blob");
    const het_layer *e1 = &g->layers[2], *e3 = &g->layers[3], *cat = &g->layers[4], *p = &g->layers[5];
    HET_CHECK(e1->n_deps == 1 && e1->deps[0] == 1 && e3->n_deps == 1 && e3->deps[0] == 1, "expands depend on the ReLU");
    HET_CHECK(cat->n_deps == 2, "concat joins both expands");
    HET_CHECK(g->blobs[p->top[0]].shape.h == 7 && g->blobs[p->top[0]].shape.c == 16, "ceil pooling with pad: 13 -> %d",
              g->blobs[p->top[0]].shape.h);
    HET_CHECK(g->blobs[sq->top[0]].last_use == 3, "squeeze blob dies after e3");
    HET_CHECK(g->n_outputs == 1 && g->outputs[0] == p->top[0] && g->blobs[p->top[0]].is_output, "pool is the output");
    HET_CHECK(e3->macs == 8ull * 13 * 13 * 4 * 9, "e3 MACs");
    HET_CHECK(strlen(g->hash) == 16, "hash");
    het_graph *g2 = NULL;
    HET_CHECK(net_from_text(text, 2, &g2) == HET_OK && !strcmp(g->hash, g2->hash), "hash ignores weights");
    HET_CHECK(memcmp(g->layers[0].params[0].data, g2->layers[0].params[0].data, 4 * sizeof(float)) != 0,
              "seeds give different weights");

    // Round trip through a .caffemodel.
    char path[] = "/tmp/het_w_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    HET_CHECK(het_graph_save_weights(g, path) == HET_OK, "save weights");
    Caffe__NetParameter *m = NULL;
    HET_CHECK(het_model_read_caffemodel(path, &m) == HET_OK && m->n_layer == 3, "caffemodel has the 3 conv layers");
    if (m) protobuf_c_message_free_unpacked(&m->base, NULL);
    unlink(path);
    het_graph_destroy(g2);
    het_graph_destroy(g);

    // WAR dependency: an in-place writer waits for readers of the old value.
    const char *war =
        "input: 'x' input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 3\n"
        "layer { name: 'a' type: 'Pooling' bottom: 'x' top: 'y' pooling_param { pool: MAX kernel_size: 1 } }\n"
        "layer { name: 'b' type: 'Pooling' bottom: 'y' top: 'z' pooling_param { pool: MAX kernel_size: 1 } }\n"
        "layer { name: 'c' type: 'ReLU' bottom: 'y' top: 'y' }\n";
    HET_CHECK(net_from_text(war, 1, &g) == HET_OK, "war net");
    if (g) {
        const het_layer *c = &g->layers[2];
        bool on_b = false, on_a = false;
        for (int i = 0; i < c->n_deps; i++) on_b |= c->deps[i] == 1, on_a |= c->deps[i] == 0;
        HET_CHECK(on_a && on_b, "in-place ReLU depends on the writer and on the earlier reader");
    }
    het_graph_destroy(g);
}

// A deep conv+BatchNorm+ReLU stack with random weights keeps activations
// in a sane range once het_net_load calibrates the BatchNorm statistics.
static void test_calibration(void)
{
    char text[32768];
    int off = snprintf(text, sizeof text, "input: 'x' input_dim: 1 input_dim: 8 input_dim: 10 input_dim: 10\n");
    const char *prev = "x";
    char names[30][16];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "layer { name: 'c%d' type: 'Convolution' bottom: '%s' top: 'c%d' convolution_param { num_output: 8 "
                        "kernel_size: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.5 } } }\n"
                        "layer { name: 'b%d' type: 'BatchNorm' bottom: 'c%d' top: 'c%d' }\n"
                        "layer { name: 'r%d' type: 'ReLU' bottom: 'c%d' top: 'c%d' }\n",
                        i, prev, i, i, i, i, i, i, i);
        prev = names[i];
    }
    char path[] = "/tmp/het_cal_XXXXXX";
    int fd = mkstemp(path);
    HET_CHECK(fd >= 0 && write(fd, text, (size_t)off) == off, "write");
    close(fd);
    het_graph *g = NULL;
    HET_CHECK(het_net_load(path, NULL, 4, &g) == HET_OK, "load with calibration");
    unlink(path);
    if (!g) return;
    het_backend *be = NULL;
    het_workspace *ws = NULL;
    het_cpu_cfg cfg = {.n_threads = 1};
    HET_CHECK(het_cpu_backend_create(&cfg, &be) == HET_OK && het_workspace_create(g, &ws) == HET_OK &&
                  het_exec_prepare(be, g) == HET_OK, "set-up");
    float *x = het_workspace_blob(ws, g->inputs[0]);
    for (int i = 0; i < 800; i++) x[i] = (float)((i * 37) % 200) - 100.0f; // another input than calibration's
    HET_CHECK(het_exec_run_single(be, g, ws, NULL) == HET_OK, "run");
    const float *y = het_workspace_blob(ws, g->layers[g->n_layers - 1].top[0]);
    double mx = 0;
    for (int i = 0; i < 800; i++) mx = fmax(mx, fabs(y[i]));
    // Without calibration (std 0.5 weights, fan-in 72) activations grow ~6x
    // per layer: 30 layers would overflow float.
    HET_CHECK(mx > 0.1 && mx < 100, "30 conv+BN+ReLU layers end with max |y| = %g", mx);
    het_workspace_destroy(ws);
    het_backend_destroy(be);
    het_graph_destroy(g);
}

int main(void)
{
    test_calibration();
    test_textformat();
    test_graph();
    return het_test_summary("test_model");
}
