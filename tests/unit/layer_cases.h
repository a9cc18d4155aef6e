// layer_cases.h: the layer test cases shared by the CPU and OpenCL suites:
// every layer kind on awkward shapes (1x1 spatial, channel counts that are
// not multiples of 8, padding >= kernel, stride > kernel, groups, depthwise,
// dilation, rectangular kernels, ceil-rounded pooling).
#ifndef HET_TESTS_LAYER_CASES_H
#define HET_TESTS_LAYER_CASES_H

typedef struct tcase {
    const char *what;
    int c, h, w;          // input shape (h = w = 0: 2-D input [1, c])
    int n_inputs;         // bottoms named data, d1, d2 (Input layers)
    const char *layer;    // layer text; bottoms data/d1/d2, top "out"
} tcase;

#define L(type, params) "layer { name: 'L' type: '" type "' " params " top: 'out' }"
#define B1 "bottom: 'data'"
#define B2 "bottom: 'data' bottom: 'd1'"
#define B3 "bottom: 'data' bottom: 'd1' bottom: 'd2'"

static const tcase cases[] = {
    {"conv 3x3 pad1", 13, 9, 11, 1, L("Convolution", B1 " convolution_param { num_output: 17 kernel_size: 3 pad: 1 }")},
    {"conv 1x1 direct", 19, 7, 5, 1, L("Convolution", B1 " convolution_param { num_output: 9 kernel_size: 1 }")},
    {"conv on 1x1 spatial", 21, 1, 1, 1, L("Convolution", B1 " convolution_param { num_output: 10 kernel_size: 1 }")},
    {"conv 3x3 on 1x1 spatial pad1", 6, 1, 1, 1, L("Convolution", B1 " convolution_param { num_output: 5 kernel_size: 3 pad: 1 }")},
    {"conv pad >= kernel", 5, 6, 6, 1, L("Convolution", B1 " convolution_param { num_output: 7 kernel_size: 2 pad: 3 }")},
    {"conv 1x1 pad 2", 5, 4, 4, 1, L("Convolution", B1 " convolution_param { num_output: 3 kernel_size: 1 pad: 2 }")},
    {"conv stride > kernel", 4, 17, 13, 1, L("Convolution", B1 " convolution_param { num_output: 6 kernel_size: 2 stride: 3 }")},
    {"conv 1x1 stride 2", 8, 9, 9, 1, L("Convolution", B1 " convolution_param { num_output: 12 kernel_size: 1 stride: 2 }")},
    {"conv 11x11 s4 (AlexNet)", 3, 35, 35, 1, L("Convolution", B1 " convolution_param { num_output: 11 kernel_size: 11 stride: 4 }")},
    {"conv group 2", 6, 8, 7, 1, L("Convolution", B1 " convolution_param { num_output: 10 kernel_size: 3 pad: 1 group: 2 }")},
    {"conv depthwise s2", 9, 10, 9, 1, L("Convolution", B1 " convolution_param { num_output: 9 kernel_size: 3 pad: 1 stride: 2 group: 9 bias_term: false }")},
    {"conv depthwise x2 multiplier", 5, 7, 7, 1, L("Convolution", B1 " convolution_param { num_output: 10 kernel_size: 3 pad: 1 group: 5 }")},
    {"conv dilation 2", 4, 12, 10, 1, L("Convolution", B1 " convolution_param { num_output: 5 kernel_size: 3 dilation: 2 pad: 2 }")},
    {"conv rect kernel", 3, 9, 8, 1, L("Convolution", B1 " convolution_param { num_output: 4 kernel_h: 3 kernel_w: 1 pad_h: 1 stride_w: 2 }")},
    {"conv no bias", 7, 5, 5, 1, L("Convolution", B1 " convolution_param { num_output: 3 kernel_size: 3 bias_term: false }")},
    {"conv wide (tiles)", 16, 40, 40, 1, L("Convolution", B1 " convolution_param { num_output: 24 kernel_size: 3 pad: 1 }")},
    // More than 64 channels on 20-wide rows: the CPU's auto choice may run
    // the whole layer by sgemm and a few channels of it directly.
    {"conv 70 ch", 8, 18, 20, 1, L("Convolution", B1 " convolution_param { num_output: 70 kernel_size: 3 pad: 1 }")},
    {"conv 7x7 s2 pad3 (GoogLeNet)", 3, 21, 19, 1, L("Convolution", B1 " convolution_param { num_output: 10 kernel_size: 7 stride: 2 pad: 3 }")},
    {"conv 5x5 group 2 (AlexNet)", 8, 13, 13, 1, L("Convolution", B1 " convolution_param { num_output: 18 kernel_size: 5 pad: 2 group: 2 }")},
    // Deep reductions, which conv_gemm splits along K (a ragged last slice in the second).
    {"conv 3x3 deep K", 64, 9, 9, 1, L("Convolution", B1 " convolution_param { num_output: 37 kernel_size: 3 pad: 1 }")},
    {"conv 1x1 deep K", 300, 5, 6, 1, L("Convolution", B1 " convolution_param { num_output: 33 kernel_size: 1 }")},
    {"pool max 3x3 s2 ceil", 5, 13, 13, 1, L("Pooling", B1 " pooling_param { pool: MAX kernel_size: 3 stride: 2 }")},
    {"pool max pad", 3, 7, 6, 1, L("Pooling", B1 " pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }")},
    {"pool ave pad", 3, 7, 6, 1, L("Pooling", B1 " pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }")},
    {"pool ave stride > kernel", 4, 11, 9, 1, L("Pooling", B1 " pooling_param { pool: AVE kernel_size: 2 stride: 3 }")},
    {"pool max 3x3 s1 pad1", 4, 6, 7, 1, L("Pooling", B1 " pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 }")},
    {"pool max 3x3 s2 pad1 even", 3, 8, 10, 1, L("Pooling", B1 " pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }")},
    {"pool max 3x3 on 2x2", 2, 2, 2, 1, L("Pooling", B1 " pooling_param { pool: MAX kernel_size: 3 stride: 2 }")},
    {"pool global ave", 13, 6, 5, 1, L("Pooling", B1 " pooling_param { pool: AVE global_pooling: true }")},
    {"pool global max 1x1", 7, 1, 1, 1, L("Pooling", B1 " pooling_param { pool: MAX global_pooling: true }")},
    {"relu", 5, 3, 3, 1, L("ReLU", B1)},
    {"leaky relu", 6, 4, 3, 1, L("ReLU", B1 " relu_param { negative_slope: 0.1 }")},
    {"lrn 5", 11, 4, 5, 1, L("LRN", B1 " lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }")},
    {"lrn 3 k=2", 7, 3, 3, 1, L("LRN", B1 " lrn_param { local_size: 3 alpha: 0.5 beta: 0.6 k: 2 }")},
    {"concat 3", 5, 4, 3, 3, L("Concat", B3)},
    {"eltwise sum coeff", 6, 3, 5, 3, L("Eltwise", B3 " eltwise_param { operation: SUM coeff: 0.5 coeff: -1 coeff: 2 }")},
    {"eltwise prod", 6, 3, 5, 2, L("Eltwise", B2 " eltwise_param { operation: PROD }")},
    {"eltwise max 3", 6, 3, 5, 3, L("Eltwise", B3 " eltwise_param { operation: MAX }")},
    {"fc 4-D input", 7, 3, 3, 1, L("InnerProduct", B1 " inner_product_param { num_output: 13 }")},
    {"fc 2-D input no bias", 33, 0, 0, 1, L("InnerProduct", B1 " inner_product_param { num_output: 9 bias_term: false }")},
    {"softmax 2-D", 10, 0, 0, 1, L("Softmax", B1)},
    {"softmax 4-D", 5, 3, 2, 1, L("Softmax", B1)},
    {"dropout", 4, 3, 3, 1, L("Dropout", B1 " dropout_param { dropout_ratio: 0.5 }")},
    {"batchnorm", 9, 4, 3, 1, L("BatchNorm", B1 " batch_norm_param { use_global_stats: true eps: 0.001 }")},
    {"scale bias", 9, 4, 3, 1, L("Scale", B1 " scale_param { bias_term: true }")},
    {"scale", 9, 4, 3, 1, L("Scale", B1)},
    {"flatten", 3, 4, 5, 1, L("Flatten", B1)},
};


// Writes the prototxt of case `tc` (Input layers, then the layer) into buf.
static inline void case_text(const tcase *tc, char *buf, size_t cap)
{
    int off = 0;
    for (int i = 0; i < tc->n_inputs; i++) {
        const char *nm = i == 0 ? "data" : (i == 1 ? "d1" : "d2");
        if (tc->h)
            off += snprintf(buf + off, cap - (size_t)off,
                            "layer { name: 'in%d' type: 'Input' top: '%s' input_param { shape { dim: 1 dim: %d dim: %d dim: %d } } }\n",
                            i, nm, tc->c, tc->h, tc->w);
        else
            off += snprintf(buf + off, cap - (size_t)off,
                            "layer { name: 'in%d' type: 'Input' top: '%s' input_param { shape { dim: 1 dim: %d } } }\n", i, nm,
                            tc->c);
    }
    snprintf(buf + off, cap - (size_t)off, "%s\n", tc->layer);
}

#endif
