// parts.h: `hetprof parts`: each part of an intra-layer split timed alone,
// channel count by channel count, where a split's time goes.
//
// A sweep times a split as it runs (both parts at once, then the merge),
// which shows whether a split wins but not why not. Alone, the two parts
// show each device's time as a function of its share: what a channel
// costs, what costs the same whatever the share (the CPU's im2col reads
// the whole input for one channel or all), and where a device's time only
// moves in steps (a GPU kernel's work-groups cover a fixed number of
// channels each).
#ifndef HET_PROFILER_PARTS_H
#define HET_PROFILER_PARTS_H

#include "measure.h"

#include <stdio.h>

typedef struct het_parts_opts {
    const int *layers; // layer indices
    int n_layers;
    const int *channels; // CPU channel counts k to time, or NULL: 0, step, 2 step, ..., C
    int n_channels;
    int step;          // 0: per layer, het_parts_default_step
    bool csv;          // CSV rows instead of a table per layer
    bool quiet;        // no progress on stderr
} het_parts_opts;

/// The channel step when none is given: a multiple of 8 giving about 32
/// rows (8 for up to 256 channels).
int het_parts_default_step(int C);

/// Whether every layer of `o` can be split and has at least the largest
/// of o->channels output channels: HET_E_INVALID (logged, naming the
/// layer) before anything is measured. het_parts_run checks it first.
het_status het_parts_check(const het_graph *g, const het_parts_opts *o);

/// For every layer of `o` and every k: the CPU on output channels [0, k)
/// and the GPU on [k, C), each alone (where its backend is given and the
/// part is not empty), with the layer's in-place ReLU fused where the
/// executors fuse it. Prints as it goes. HET_E_INVALID names the layer
/// (a layer that cannot be split, a k above C); HET_E_STATE: interrupted.
het_status het_parts_run(het_prof *p, const het_graph *g, het_backend *const be[2], const het_parts_opts *o,
                         FILE *out);

#endif
