// k_softmax.c: softmax over channels (axis 1) for each spatial position.
// A range [c0, c1) still reduces over all C channels (max and sum), then
// writes only its channels: that is what makes Softmax splittable.
#include "cpu_impl.h"

#include <math.h>

CPU_KERNEL_DECL(softmax)
{
    (void)cx;
    (void)state;
    const het_shape *is = &g->blobs[l->bottom[0]].shape;
    int C = is->c, hw = is->h * is->w;
    const float *x = in[0];
    for (int s = 0; s < hw; s++) {
        float mx = x[s];
        for (int c = 1; c < C; c++)
            if (x[(size_t)c * hw + s] > mx) mx = x[(size_t)c * hw + s];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)(x[(size_t)c * hw + s] - mx));
        float inv = (float)(1.0 / sum);
        for (int c = c0; c < c1; c++) out[(size_t)c * hw + s] = expf(x[(size_t)c * hw + s] - mx) * inv;
    }
    return HET_OK;
}
