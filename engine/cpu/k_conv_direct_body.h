// k_conv_direct_body.h: the direct convolution's inner loop, instantiated
// once per vector width by k_conv_direct.c (a C "template": define
// DIRECT_NAME, DIRECT_VW and DIRECT_ATTR, then include this file).
//
// It computes one output row of eight output channels: for every group of
// DIRECT_VW output columns, eight accumulators that stay in registers take
// one FMA per (input channel, ky, kx) from a single load of the input row
// and eight broadcast weights. The eight accumulators are spelled out so
// that the compiler need not unroll anything to keep them in registers
// (GCC at -O2 does not unroll the loop form; it ran 3x slower).
#if !defined(DIRECT_NAME) || !defined(DIRECT_VW) || !defined(DIRECT_ATTR)
#error "define DIRECT_NAME, DIRECT_VW and DIRECT_ATTR before including k_conv_direct_body.h"
#endif

#define DIRECT_VT DIRECT_CAT(DIRECT_NAME, _vec)
#define DIRECT_CAT(a, b) DIRECT_CAT2(a, b)
#define DIRECT_CAT2(a, b) a##b

typedef float DIRECT_VT __attribute__((vector_size(DIRECT_VW * sizeof(float))));

DIRECT_ATTR static void DIRECT_NAME(const direct_row *r)
{
    const int nk = r->n_rows;   // input channels x kernel rows
    const int kw = r->kw;
    const float *bias = r->bias; // 8 entries
    for (int n0 = 0; n0 < r->wo; n0 += DIRECT_VW) {
        DIRECT_VT a0, a1, a2, a3, a4, a5, a6, a7;
        a0 = (DIRECT_VT){0} + bias[0];
        a1 = (DIRECT_VT){0} + bias[1];
        a2 = (DIRECT_VT){0} + bias[2];
        a3 = (DIRECT_VT){0} + bias[3];
        a4 = (DIRECT_VT){0} + bias[4];
        a5 = (DIRECT_VT){0} + bias[5];
        a6 = (DIRECT_VT){0} + bias[6];
        a7 = (DIRECT_VT){0} + bias[7];
        const float *w = r->w;
        for (int i = 0; i < nk; i++) {
            const float *src = r->rows + (size_t)i * r->row_stride + n0;
            for (int kx = 0; kx < kw; kx++, w += 8) {
                DIRECT_VT x;
                memcpy(&x, src + r->offs[kx], sizeof x);
                a0 += w[0] * x;
                a1 += w[1] * x;
                a2 += w[2] * x;
                a3 += w[3] * x;
                a4 += w[4] * x;
                a5 += w[5] * x;
                a6 += w[6] * x;
                a7 += w[7] * x;
            }
        }
        DIRECT_VT acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
        int nv = r->wo - n0 < DIRECT_VW ? r->wo - n0 : DIRECT_VW;
        for (int m = r->m_lo; m < r->m_hi; m++)
            memcpy(r->out + (size_t)m * r->out_stride + n0, &acc[m], (size_t)nv * sizeof(float));
    }
}

#undef DIRECT_VT
#undef DIRECT_CAT
#undef DIRECT_CAT2
