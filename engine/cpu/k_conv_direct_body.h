// k_conv_direct_body.h: the direct convolution's inner loop, instantiated
// once per vector width by k_conv_direct.c (a C "template": define
// DIRECT_NAME, DIRECT_VW, DIRECT_PAIRS and DIRECT_ATTR, then include this
// file, which undefines them again).
//
// It computes one output row of eight output channels: for every vector of
// DIRECT_VW output columns, eight accumulators that stay in registers take
// one FMA per (input channel, ky, kx) from a load of the input row and
// eight broadcast weights. With DIRECT_PAIRS, two vectors at a time: sixteen
// accumulators, so that each broadcast weight feeds two FMAs; that needs
// 32 vector registers (AVX-512), not 16 (AVX2, SSE). The accumulators are
// spelled out so that the compiler need not unroll anything to keep them
// in registers (GCC at -O2 does not unroll the loop form; it ran 3x slower).
#if !defined(DIRECT_NAME) || !defined(DIRECT_VW) || !defined(DIRECT_PAIRS) || !defined(DIRECT_ATTR)
#error "define DIRECT_NAME, DIRECT_VW, DIRECT_PAIRS and DIRECT_ATTR before including k_conv_direct_body.h"
#endif

#define DIRECT_VT DIRECT_CAT(DIRECT_NAME, _vec)
#define DIRECT_CAT(a, b) DIRECT_CAT2(a, b)
#define DIRECT_CAT2(a, b) a##b

typedef float DIRECT_VT __attribute__((vector_size(DIRECT_VW * sizeof(float))));

#define DIRECT_INIT(v, m) v = (DIRECT_VT){0} + bias[m]
#define DIRECT_STORE(acc, m, at)                                                                           \
    do {                                                                                                   \
        int nv_ = r->wo - (at) < DIRECT_VW ? r->wo - (at) : DIRECT_VW;                                     \
        if ((m) >= r->m_lo && (m) < r->m_hi && nv_ > 0)                                                    \
            memcpy(r->out + (size_t)(m) * r->out_stride + (at), &(acc), (size_t)nv_ * sizeof(float));      \
    } while (0)

DIRECT_ATTR static void DIRECT_NAME(const direct_row *r)
{
    const int nk = r->n_rows;    // input channels x kernel rows
    const int kw = r->kw;
    const float *bias = r->bias; // 8 entries
    const int wo_vec = (r->wo + DIRECT_VW - 1) / DIRECT_VW * DIRECT_VW;
    int n0 = 0;
    // Two vectors of columns at a time while the row has them.
    for (; DIRECT_PAIRS && n0 + 2 * DIRECT_VW <= wo_vec; n0 += 2 * DIRECT_VW) {
        DIRECT_VT a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7;
        DIRECT_INIT(a0, 0), DIRECT_INIT(a1, 1), DIRECT_INIT(a2, 2), DIRECT_INIT(a3, 3);
        DIRECT_INIT(a4, 4), DIRECT_INIT(a5, 5), DIRECT_INIT(a6, 6), DIRECT_INIT(a7, 7);
        b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
        const float *w = r->w;
        for (int i = 0; i < nk; i++) {
            const float *src = r->rows + (size_t)i * r->row_stride + n0;
            for (int kx = 0; kx < kw; kx++, w += 8) {
                DIRECT_VT x, y;
                memcpy(&x, src + r->offs[kx], sizeof x);
                memcpy(&y, src + r->offs[kx] + DIRECT_VW, sizeof y);
                a0 += w[0] * x, b0 += w[0] * y;
                a1 += w[1] * x, b1 += w[1] * y;
                a2 += w[2] * x, b2 += w[2] * y;
                a3 += w[3] * x, b3 += w[3] * y;
                a4 += w[4] * x, b4 += w[4] * y;
                a5 += w[5] * x, b5 += w[5] * y;
                a6 += w[6] * x, b6 += w[6] * y;
                a7 += w[7] * x, b7 += w[7] * y;
            }
        }
        DIRECT_STORE(a0, 0, n0); DIRECT_STORE(a1, 1, n0); DIRECT_STORE(a2, 2, n0); DIRECT_STORE(a3, 3, n0);
        DIRECT_STORE(a4, 4, n0); DIRECT_STORE(a5, 5, n0); DIRECT_STORE(a6, 6, n0); DIRECT_STORE(a7, 7, n0);
        int n1 = n0 + DIRECT_VW;
        DIRECT_STORE(b0, 0, n1); DIRECT_STORE(b1, 1, n1); DIRECT_STORE(b2, 2, n1); DIRECT_STORE(b3, 3, n1);
        DIRECT_STORE(b4, 4, n1); DIRECT_STORE(b5, 5, n1); DIRECT_STORE(b6, 6, n1); DIRECT_STORE(b7, 7, n1);
    }
    // One vector at a time: every vector without DIRECT_PAIRS, else the
    // last of a row with an odd number of them.
    for (; n0 < r->wo; n0 += DIRECT_VW) {
        DIRECT_VT a0, a1, a2, a3, a4, a5, a6, a7;
        DIRECT_INIT(a0, 0), DIRECT_INIT(a1, 1), DIRECT_INIT(a2, 2), DIRECT_INIT(a3, 3);
        DIRECT_INIT(a4, 4), DIRECT_INIT(a5, 5), DIRECT_INIT(a6, 6), DIRECT_INIT(a7, 7);
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
        DIRECT_STORE(a0, 0, n0); DIRECT_STORE(a1, 1, n0); DIRECT_STORE(a2, 2, n0); DIRECT_STORE(a3, 3, n0);
        DIRECT_STORE(a4, 4, n0); DIRECT_STORE(a5, 5, n0); DIRECT_STORE(a6, 6, n0); DIRECT_STORE(a7, 7, n0);
    }
}

#undef DIRECT_INIT
#undef DIRECT_STORE
#undef DIRECT_VT
#undef DIRECT_CAT
#undef DIRECT_CAT2
#undef DIRECT_NAME
#undef DIRECT_VW
#undef DIRECT_PAIRS
#undef DIRECT_ATTR
