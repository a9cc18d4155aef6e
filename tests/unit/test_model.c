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

// BatchNorm and Scale fold into the convolution directly before them when
// they work in place on its output or write a new blob from an output that
// only they read, and nowhere else; the folded graph computes what the
// layer-by-layer graph computes, to rounding.
static void test_fold(void)
{
    const char *text =
        "input: 'x' input_dim: 1 input_dim: 6 input_dim: 7 input_dim: 7\n"
        // folds: BatchNorm + Scale after a convolution without bias; the ReLU then follows it
        "layer { name: 'c1' type: 'Convolution' bottom: 'x' top: 'c1' convolution_param { num_output: 6 kernel_size: 3 "
        "pad: 1 bias_term: false } }\n"
        "layer { name: 'bn1' type: 'BatchNorm' bottom: 'c1' top: 'c1' }\n"
        "layer { name: 'sc1' type: 'Scale' bottom: 'c1' top: 'c1' scale_param { bias_term: true } }\n"
        "layer { name: 'r1' type: 'ReLU' bottom: 'c1' top: 'c1' }\n"
        // folds: a Scale without bias after a grouped convolution with bias
        "layer { name: 'c2' type: 'Convolution' bottom: 'c1' top: 'c2' convolution_param { num_output: 4 kernel_size: 1 "
        "group: 2 } }\n"
        "layer { name: 'sc2' type: 'Scale' bottom: 'c2' top: 'c2' }\n"
        // stays: a BatchNorm writing a new blob (its input is read again below)
        "layer { name: 'c3' type: 'Convolution' bottom: 'c2' top: 'c3' convolution_param { num_output: 4 kernel_size: 1 } }\n"
        "layer { name: 'bn3' type: 'BatchNorm' bottom: 'c3' top: 'c3b' }\n"
        // stays: a BatchNorm after a pooling
        "layer { name: 'p4' type: 'Pooling' bottom: 'c3b' top: 'p4' pooling_param { pool: MAX kernel_size: 2 stride: 1 } }\n"
        "layer { name: 'bn4' type: 'BatchNorm' bottom: 'p4' top: 'p4' }\n"
        // stays: a BatchNorm after the convolution's ReLU
        "layer { name: 'c5' type: 'Convolution' bottom: 'c3' top: 'c5' convolution_param { num_output: 3 kernel_size: 2 } }\n"
        "layer { name: 'r5' type: 'ReLU' bottom: 'c5' top: 'c5' }\n"
        "layer { name: 'bn5' type: 'BatchNorm' bottom: 'c5' top: 'c5' }\n"
        // folds: a BatchNorm alone, before a join
        "layer { name: 'c6' type: 'Convolution' bottom: 'p4' top: 'c6' convolution_param { num_output: 3 kernel_size: 1 } }\n"
        "layer { name: 'bn6' type: 'BatchNorm' bottom: 'c6' top: 'c6' }\n"
        "layer { name: 'cat' type: 'Concat' bottom: 'c5' bottom: 'c6' top: 'cat' }\n"
        // folds: a BatchNorm into a new blob that only it reads, then a Scale in place on that (MobileNet v2);
        // blob c7 goes, c7 writes c7/bn and its ReLU fuses
        "layer { name: 'c7' type: 'Convolution' bottom: 'cat' top: 'c7' convolution_param { num_output: 5 kernel_size: 1 "
        "bias_term: false } }\n"
        "layer { name: 'bn7' type: 'BatchNorm' bottom: 'c7' top: 'c7/bn' }\n"
        "layer { name: 'sc7' type: 'Scale' bottom: 'c7/bn' top: 'c7/bn' scale_param { bias_term: true } }\n"
        "layer { name: 'r7' type: 'ReLU' bottom: 'c7/bn' top: 'c7/bn' }\n"
        // folds: an in-place Scale, then a BatchNorm into a new blob, then another one into a third blob
        "layer { name: 'c8' type: 'Convolution' bottom: 'c7/bn' top: 'c8' convolution_param { num_output: 2 kernel_size: 1 } }\n"
        "layer { name: 'sc8' type: 'Scale' bottom: 'c8' top: 'c8' }\n"
        "layer { name: 'bn8' type: 'BatchNorm' bottom: 'c8' top: 'c8b' }\n"
        "layer { name: 'bn8b' type: 'BatchNorm' bottom: 'c8b' top: 'c8c' }\n"
        // stays: a Scale into a new blob whose input the Eltwise reads too
        "layer { name: 'c9' type: 'Convolution' bottom: 'c8c' top: 'c9' convolution_param { num_output: 2 kernel_size: 1 } }\n"
        "layer { name: 'sc9' type: 'Scale' bottom: 'c9' top: 'c9s' }\n"
        "layer { name: 'sum' type: 'Eltwise' bottom: 'c9' bottom: 'c9s' top: 'sum' }\n";
    het_graph *ref = NULL, *g = NULL;
    HET_CHECK(net_from_text(text, 3, &ref) == HET_OK && net_from_text(text, 3, &g) == HET_OK, "fold net loads");
    if (!ref || !g) goto done;
    char hash0[17];
    memcpy(hash0, g->hash, sizeof hash0);
    int removed = -1;
    HET_CHECK(het_graph_fold(g, &removed) == HET_OK, "fold");
    HET_CHECK(removed == 9 && g->n_folded == 9 && g->n_layers == ref->n_layers - 9, "9 layers fold (%d removed, %d left)",
              removed, g->n_layers);
    HET_CHECK(g->n_blobs == ref->n_blobs - 3 && het_graph_find_blob(g, "c7") < 0 && het_graph_find_blob(g, "c8") < 0 &&
                  het_graph_find_blob(g, "c8b") < 0 && het_graph_find_blob(g, "c9") >= 0,
              "the blobs only folded layers read go (%d of %d left)", g->n_blobs, ref->n_blobs);
    int c7 = het_graph_find_layer(g, "c7"), c8 = het_graph_find_layer(g, "c8");
    HET_CHECK(c7 >= 0 && c8 >= 0 && g->layers[c7].top[0] == het_graph_find_blob(g, "c7/bn") &&
                  g->layers[c8].top[0] == het_graph_find_blob(g, "c8c") && het_exec_fusable_relu(g, &g->layers[c7]) &&
                  g->blobs[g->layers[c7].top[0]].producer == c7 && g->blobs[g->layers[c8].top[0]].producer == c8 &&
                  g->layers[c8].bottom[0] == g->layers[c7].top[0],
              "c7 writes c7/bn (its ReLU fuses), c8 reads it and writes c8c");
    HET_CHECK(het_graph_find_layer(g, "sc9") >= 0 && !het_graph_folded_into(g, "sc9"),
              "a Scale whose input is read again stays");
    HET_CHECK(strcmp(g->hash, hash0) != 0, "folding changes the hash");
    const char *into1 = het_graph_folded_into(g, "sc1"), *into6 = het_graph_folded_into(g, "bn6");
    HET_CHECK(into1 && !strcmp(into1, "c1") && into6 && !strcmp(into6, "c6"), "sc1 went into c1, bn6 into c6");
    HET_CHECK(!het_graph_folded_into(g, "bn3") && !het_graph_folded_into(g, "bn4") && !het_graph_folded_into(g, "bn5") &&
                  het_graph_find_layer(g, "bn3") >= 0 && het_graph_find_layer(g, "bn4") >= 0 &&
                  het_graph_find_layer(g, "bn5") >= 0 && het_graph_find_layer(g, "bn1") < 0,
              "the BatchNorms that must stay are layers; the folded ones are not");
    int c1 = het_graph_find_layer(g, "c1");
    HET_CHECK(c1 >= 0 && het_exec_fusable_relu(g, &g->layers[c1]) != NULL && g->layers[c1].p.conv.bias_term &&
                  g->layers[c1].n_params == 2,
              "c1 gained a bias and its ReLU fuses");
    for (int i = 0; i < g->n_layers; i++) {
        HET_CHECK(g->layers[i].id == i, "layer %d's id", i);
        for (int d = 0; d < g->layers[i].n_deps; d++)
            HET_CHECK(g->layers[i].deps[d] < i, "layer %s depends on an earlier layer", g->layers[i].name);
    }
    for (int b = 0; b < g->n_blobs; b++) {
        int rb = het_graph_find_blob(ref, g->blobs[b].name);
        HET_CHECK(rb >= 0 && g->blobs[b].producer < g->n_layers && g->blobs[b].is_output == ref->blobs[rb].is_output &&
                      g->blobs[b].is_input == ref->blobs[rb].is_input,
                  "blob %s keeps its producer in range and its input and output flags", g->blobs[b].name);
    }
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        for (int k = 0; k < l->n_bottom + l->n_top; k++) {
            int b = k < l->n_bottom ? l->bottom[k] : l->top[k - l->n_bottom];
            HET_CHECK(b >= 0 && b < g->n_blobs, "layer %s's blob ids are in range", l->name);
        }
    }
    char hash1[17];
    memcpy(hash1, g->hash, sizeof hash1);
    HET_CHECK(het_graph_fold(g, &removed) == HET_OK && removed == 0 && !strcmp(g->hash, hash1), "folding again: no-op");
    char path[] = "/tmp/het_fold_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    HET_CHECK(het_graph_save_weights(g, path) == HET_E_STATE && access(path, F_OK) != 0,
              "a folded graph's weights are not saved");

    // Same input, both graphs on the CPU: every blob agrees.
    het_backend *be = NULL;
    het_workspace *wr = NULL, *wg = NULL;
    het_cpu_cfg cfg = {.n_threads = 1};
    HET_CHECK(het_cpu_backend_create(&cfg, &be) == HET_OK && het_workspace_create(ref, &wr) == HET_OK &&
                  het_workspace_create(g, &wg) == HET_OK, "set-up");
    if (wr && wg) {
        het_exec_synthetic_inputs(ref, wr, 9);
        het_exec_synthetic_inputs(g, wg, 9);
        het_backend *be2 = NULL;
        HET_CHECK(het_exec_prepare(be, ref) == HET_OK && het_exec_run_single(be, ref, wr, NULL) == HET_OK, "run unfolded");
        HET_CHECK(het_cpu_backend_create(&cfg, &be2) == HET_OK && het_exec_prepare(be2, g) == HET_OK &&
                      het_exec_run_single(be2, g, wg, NULL) == HET_OK, "run folded");
        het_backend_destroy(be2);
        for (int b = 0; b < g->n_blobs; b++) {
            size_t n = het_shape_count(&g->blobs[b].shape);
            const float *x = het_workspace_blob(wr, het_graph_find_blob(ref, g->blobs[b].name)),
                        *y = het_workspace_blob(wg, b);
            double mx = 0, err = 0;
            for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(x[i])), err = fmax(err, fabs(x[i] - y[i]));
            HET_CHECK(mx > 0 && err <= 1e-5 * mx, "blob %s: max |folded - unfolded| %g of %g", g->blobs[b].name, err, mx);
        }
    }
    het_workspace_destroy(wr);
    het_workspace_destroy(wg);
    het_backend_destroy(be);
done:
    het_graph_destroy(ref);
    het_graph_destroy(g);
}

// A stream points a slot's input at the image where the caller holds it
// (het_workspace_borrow): the layers then read it there, and the caller's
// memory is never written. Only inputs no layer writes may be borrowed.
static void test_borrow(void)
{
    het_graph *g = NULL, *gi = NULL;
    HET_CHECK(net_from_text("input: 'x' input_dim: 1 input_dim: 3 input_dim: 6 input_dim: 6\n"
                            "layer { name: 'c' type: 'Convolution' bottom: 'x' top: 'c' convolution_param { "
                            "num_output: 4 kernel_size: 3 weight_filler { type: 'gaussian' std: 0.3 } } }\n"
                            "layer { name: 'r' type: 'ReLU' bottom: 'c' top: 'c' }\n", 3, &g) == HET_OK &&
                  net_from_text("input: 'x' input_dim: 1 input_dim: 3 input_dim: 6 input_dim: 6\n"
                                "layer { name: 'r' type: 'ReLU' bottom: 'x' top: 'x' }\n", 3, &gi) == HET_OK,
              "load");
    if (!g || !gi) goto out;
    het_backend *be = NULL;
    het_workspace *ws = NULL, *wi = NULL;
    het_cpu_cfg cfg = {.n_threads = 1};
    HET_CHECK(het_cpu_backend_create(&cfg, &be) == HET_OK && het_workspace_create(g, &ws) == HET_OK &&
                  het_workspace_create(gi, &wi) == HET_OK && het_exec_prepare(be, g) == HET_OK, "set-up");
    if (!ws || !wi) goto done;
    int x = g->inputs[0], c = g->layers[0].top[0];
    float img[108], keep[108], copied[64];
    for (int i = 0; i < 108; i++) img[i] = keep[i] = (float)((i * 29) % 41) - 20.0f;
    float *own = het_workspace_blob(ws, x);
    memcpy(own, img, sizeof img);
    HET_CHECK(het_exec_run_single(be, g, ws, NULL) == HET_OK, "run on the copy");
    memcpy(copied, het_workspace_blob(ws, c), sizeof copied);
    memset(own, 0, sizeof img); // a borrowed run must not read the workspace's own storage
    HET_CHECK(het_workspace_borrow(ws, x, img) == HET_OK && het_workspace_blob(ws, x) == img, "borrow the input");
    HET_CHECK(het_exec_run_single(be, g, ws, NULL) == HET_OK, "run on the borrowed image");
    HET_CHECK(memcmp(copied, het_workspace_blob(ws, c), sizeof copied) == 0, "borrowed and copied runs agree");
    HET_CHECK(memcmp(img, keep, sizeof img) == 0, "the caller's image is unchanged");
    HET_CHECK(het_workspace_borrow(ws, x, NULL) == HET_OK && het_workspace_blob(ws, x) == own, "points back");
    HET_CHECK(het_workspace_borrow(ws, c, img) == HET_E_INVALID, "a layer's output cannot be borrowed");
    HET_CHECK(het_workspace_borrow(wi, gi->inputs[0], img) == HET_E_INVALID,
              "an input that an in-place layer writes cannot be borrowed");
done:
    het_workspace_destroy(ws);
    het_workspace_destroy(wi);
    het_backend_destroy(be);
out:
    het_graph_destroy(g);
    het_graph_destroy(gi);
}

int main(void)
{
    test_fold();
    test_borrow();
    test_calibration();
    test_textformat();
    test_graph();
    return het_test_summary("test_model");
}
