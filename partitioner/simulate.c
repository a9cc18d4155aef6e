// simulate.c: the cost of an assignment (part.h), by replaying the
// heterogeneous executor's rules on two clocks.
//
// Residence per blob is two numbers, as in the executor's intervals: the
// CPU holds channels [0, cpu_hi) and the GPU [gpu_lo, 1) (fractions of
// the channels). Whole on the CPU: cpu_hi = 1; nothing on the GPU:
// gpu_lo = 1; a split at CPU share f leaves cpu_hi = gpu_lo = f.
#include "sim.h"

#include <math.h>
#include <string.h>

static double maxd(double a, double b) { return a > b ? a : b; }

void hp_sim_sync(const hp_model *m, hp_sim *s)
{
    s->clk[0] = s->clk[1] = maxd(s->clk[0], s->clk[1]);
    s->pending = false;
    memset(s->touched, 0, (size_t)m->n_blobs);
}

// Moves `frac` of a blob to device `to`: the executor waits for the GPU,
// then the host blocks on the copy.
static void xfer(const hp_model *m, hp_sim *s, int blob, int to, double frac)
{
    hp_sim_sync(m, s);
    double t = m->x_lat[to] + frac * m->b[blob].bytes * m->x_ms_per_byte[to];
    s->clk[0] = s->clk[1] = s->clk[0] + t;
    s->xfer_ms += t;
    if (s->xfer_by_blob) s->xfer_by_blob[blob] += t;
}

void hp_sim_need(const hp_model *m, hp_sim *s, int blob, int dev)
{
    float *r = &s->res[2 * blob];
    if (dev == HP_CPU && r[0] < 1.0f - 1e-6f) {
        xfer(m, s, blob, HP_CPU, 1.0 - r[0]);
        r[0] = 1.0f;
    } else if (dev == HP_GPU && r[1] > 1e-6f) {
        xfer(m, s, blob, HP_GPU, r[1]);
        r[1] = 0.0f;
    }
}

enum { GPU_READ = 1, GPU_WROTE = 2 };

static void touch(const hp_model *m, hp_sim *s, const hp_unit *u)
{
    s->pending = true;
    for (int i = 0; i < u->n_in; i++) s->touched[m->b[u->in[i]].root] |= GPU_READ;
    s->touched[m->b[u->out].root] |= GPU_WROTE;
}

// As the executor: a CPU unit waits for the GPU when it writes storage the
// GPU used, or reads storage the GPU wrote, since the last wait.
static bool hazard(const hp_model *m, const hp_sim *s, const hp_unit *u)
{
    if (!s->pending) return false;
    bool h = s->touched[m->b[u->out].root] != 0;
    for (int i = 0; i < u->n_in; i++) h |= (s->touched[m->b[u->in[i]].root] & GPU_WROTE) != 0;
    return h;
}

bool hp_sim_step(const hp_model *m, hp_sim *s, int unit, hp_choice c, bool both)
{
    const hp_unit *u = &m->u[unit];
    bool split = c >= 2;
    int j = c - 2;
    if (split ? (j >= m->n_ratios || !isfinite(u->t_split[j])) : !isfinite(u->t[c])) return false;
    for (int dev = 0; dev < 2; dev++)
        if (split || c == dev)
            for (int i = 0; i < u->n_in; i++) hp_sim_need(m, s, u->in[i], dev);
    float *r = &s->res[2 * u->out];
    if (split) {
        double start = maxd(s->clk[0], s->clk[1]);
        s->clk[0] = s->clk[1] = start + u->t_split[j];
        r[0] = r[1] = (float)u->cpu_share[j];
        touch(m, s, u);
    } else if (c == HP_GPU) {
        // The GPU's clock as always (the unit's time, issue included, from
        // when both are free); the host is busy issuing meanwhile, so CPU
        // units after it start later: with many GPU units between CPU ones
        // (GoogLeNet's mapping) that is time the host does not have.
        double t = u->t[1] * (both && m->corun ? u->slow[1] : 1.0);
        double start = maxd(s->clk[1], s->clk[0]);
        s->clk[0] += u->issue < t ? u->issue : t;
        s->clk[1] = start + t;
        r[0] = 0.0f, r[1] = 0.0f;
        touch(m, s, u);
    } else {
        if (hazard(m, s, u)) hp_sim_sync(m, s);
        double t = u->t[0];
        if (m->corun && both) {
            t *= u->slow[0];
        } else if (m->corun) {
            // The part of this unit that runs while the GPU still works
            // is slowed by the co-run factor.
            double overlap = s->clk[1] - s->clk[0];
            overlap = overlap < 0 ? 0 : overlap > t ? t : overlap;
            t += overlap * (u->slow[0] - 1.0);
        }
        s->clk[0] += t;
        r[0] = 1.0f, r[1] = 1.0f;
    }
    return true;
}

void hp_residence_init(const hp_model *m, float *res)
{
    for (int b = 0; b < m->n_blobs; b++) {
        res[2 * b] = m->b[b].is_input ? 1.0f : 0.0f; // nothing valid anywhere until produced
        res[2 * b + 1] = 1.0f;
    }
}

void hp_sim_finish(const hp_model *m, hp_sim *s)
{
    for (int b = 0; b < m->n_blobs; b++)
        if (m->b[b].is_output) hp_sim_need(m, s, b, HP_CPU);
    hp_sim_sync(m, s);
}

double hp_simulate(const hp_model *m, const hp_choice *choice)
{
    float res[2 * HP_SIM_MAX_BLOBS];
    unsigned char touched[HP_SIM_MAX_BLOBS];
    if (m->n_blobs > HP_SIM_MAX_BLOBS) return NAN;
    hp_sim s = {.res = res, .touched = touched};
    hp_residence_init(m, res);
    memset(touched, 0, sizeof touched);
    for (int i = 0; i < m->n_units; i++)
        if (!hp_sim_step(m, &s, i, choice[i], false)) return INFINITY;
    hp_sim_finish(m, &s);
    return s.clk[0];
}

double hp_simulate_range(const hp_model *m, const hp_choice *choice, int first, int end, float *res, bool both,
                         bool last, double *xfer_ms)
{
    unsigned char touched[HP_SIM_MAX_BLOBS];
    if (m->n_blobs > HP_SIM_MAX_BLOBS) return NAN;
    memset(touched, 0, sizeof touched);
    hp_sim s = {.res = res, .touched = touched};
    for (int i = first; i < end; i++)
        if (!hp_sim_step(m, &s, i, choice[i], both)) return INFINITY;
    if (last) hp_sim_finish(m, &s);
    else hp_sim_sync(m, &s);
    if (xfer_ms) *xfer_ms = s.xfer_ms;
    return s.clk[0];
}
