// filler.c: Caffe's weight fillers and a portable seeded random generator.
//
// Weights must be identical on every machine for a given --seed, so the
// generator is our own (xoshiro128+) rather than rand(), and the Gaussian
// uses Box-Muller on it.
#include "model.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void het_rng_seed(het_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x), b = splitmix64(&x);
    r->s[0] = (uint32_t)a;
    r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b;
    r->s[3] = (uint32_t)(b >> 32) | 1u; // never all zero
}

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

uint32_t het_rng_u32(het_rng *r)
{
    uint32_t *s = r->s;
    uint32_t res = s[0] + s[3];
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return res;
}

float het_rng_uniform(het_rng *r, float lo, float hi)
{
    // 24 random bits: exactly representable in a float, in [0, 1).
    float u = (float)(het_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

float het_rng_gaussian(het_rng *r, float mean, float std)
{
    double u1 = ((het_rng_u32(r) >> 8) + 1.0) / 16777217.0; // (0, 1]
    double u2 = (het_rng_u32(r) >> 8) / 16777216.0;
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    return (float)(mean + std * z);
}

// Caffe's variance normalisation for xavier and msra.
static double fan(const Caffe__FillerParameter *f, int fan_in, int fan_out)
{
    int vn = f && f->has_variance_norm ? (int)f->variance_norm : CAFFE__FILLER_PARAMETER__VARIANCE_NORM__FAN_IN;
    if (vn == CAFFE__FILLER_PARAMETER__VARIANCE_NORM__FAN_OUT) return fan_out;
    if (vn == CAFFE__FILLER_PARAMETER__VARIANCE_NORM__AVERAGE) return (fan_in + fan_out) / 2.0;
    return fan_in;
}

het_status het_filler_fill(const Caffe__FillerParameter *f, float *data, size_t n, int fan_in,
                           int fan_out, het_rng *rng, const char *layer)
{
    const char *type = f ? f->type : "msra";
    double nfan = fan(f, fan_in, fan_out);
    if (nfan <= 0) nfan = 1;
    if (!strcmp(type, "constant")) {
        for (size_t i = 0; i < n; i++) data[i] = f->value;
    } else if (!strcmp(type, "gaussian")) {
        for (size_t i = 0; i < n; i++) data[i] = het_rng_gaussian(rng, f->mean, f->std);
    } else if (!strcmp(type, "uniform")) {
        for (size_t i = 0; i < n; i++) data[i] = het_rng_uniform(rng, f->min, f->max);
    } else if (!strcmp(type, "xavier")) {
        float scale = (float)sqrt(3.0 / nfan);
        for (size_t i = 0; i < n; i++) data[i] = het_rng_uniform(rng, -scale, scale);
    } else if (!strcmp(type, "msra")) {
        float std = (float)sqrt(2.0 / nfan);
        for (size_t i = 0; i < n; i++) data[i] = het_rng_gaussian(rng, 0.0f, std);
    } else {
        het_log(HET_LOG_ERROR, "layer '%s': filler type '%s' is not supported (msra, xavier, gaussian, uniform, constant)",
                layer, type);
        return HET_E_UNSUPPORTED;
    }
    return HET_OK;
}
