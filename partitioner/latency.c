// latency.c: the exact minimum-latency assignment (part.h).
//
// Dynamic programming over the units in topological order. After unit i
// the future depends on the past only through the residence of the blobs
// still to be read, which storage the GPU touched since it was last waited
// for, and the two clocks. States with equal discrete parts are merged,
// keeping the clock pairs no other pair beats on both clocks (every rule of
// the replay is non-decreasing in both clocks, so a beaten pair can never
// lead to a better end). Dead blobs are reset to one value so that states
// differing only in the past merge. The number of states is the product of
// the choices over the blobs alive at once, a handful in these networks.
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATES 200000 // a safety cap; reaching it is reported, never silent

typedef struct cand {
    unsigned char *key; // residence, touched roots, pending (state_len bytes)
    double clk[2];
    int parent, choice;
} cand;

typedef struct dp {
    const hp_model *m;
    size_t state_len;
    int *last_use;      // per blob: last unit that reads or writes it (n_units for outputs)
    int *root_last;     // per root: the last use of any blob stored there
} dp;

static size_t g_key_len; // for the comparator (qsort has no context argument)

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = *(cand *const *)a, *y = *(cand *const *)b;
    int c = memcmp(x->key, y->key, g_key_len);
    if (c) return c;
    if (x->clk[0] != y->clk[0]) return x->clk[0] < y->clk[0] ? -1 : 1;
    if (x->clk[1] != y->clk[1]) return x->clk[1] < y->clk[1] ? -1 : 1;
    return 0;
}

static void pack(const dp *d, const hp_sim *s, unsigned char *key, int step)
{
    const hp_model *m = d->m;
    for (int b = 0; b < m->n_blobs; b++) {
        if (d->last_use[b] <= step) s->res[2 * b] = 0.0f, s->res[2 * b + 1] = 1.0f; // dead: one value
        if (d->root_last[b] <= step) s->touched[b] = 0;
    }
    memcpy(key, s->res, 2 * sizeof(float) * (size_t)m->n_blobs);
    memcpy(key + 2 * sizeof(float) * (size_t)m->n_blobs, s->touched, (size_t)m->n_blobs);
    key[d->state_len - 1] = s->pending;
}

static void unpack(const dp *d, const unsigned char *key, hp_sim *s)
{
    const hp_model *m = d->m;
    memcpy(s->res, key, 2 * sizeof(float) * (size_t)m->n_blobs);
    memcpy(s->touched, key + 2 * sizeof(float) * (size_t)m->n_blobs, (size_t)m->n_blobs);
    s->pending = key[d->state_len - 1];
}

double hp_solve_latency(const hp_model *m, bool allow_split, hp_choice *choice)
{
    if (m->n_blobs > HP_SIM_MAX_BLOBS || m->n_units == 0) return NAN;
    dp d = {.m = m, .state_len = (size_t)m->n_blobs * 9 + 1};
    g_key_len = d.state_len;
    d.last_use = malloc(sizeof(int) * (size_t)m->n_blobs);
    d.root_last = malloc(sizeof(int) * (size_t)m->n_blobs);
    int n_choices = 2 + (allow_split ? m->n_ratios : 0);
    // Per step: the kept entries' parent and choice, to rebuild the answer.
    int **par = calloc((size_t)m->n_units, sizeof *par), **chs = calloc((size_t)m->n_units, sizeof *chs);
    float *res = malloc(sizeof(float) * 2 * (size_t)m->n_blobs);
    unsigned char *touched = malloc((size_t)m->n_blobs);
    unsigned char *cur = malloc(d.state_len); // states of the kept entries, one after another
    double (*clk)[2] = malloc(sizeof *clk);
    double best = INFINITY;
    bool capped = false;
    int n_cur = 1;
    cand *cands = NULL, **order = NULL;
    unsigned char *keys = NULL;
    if (!d.last_use || !d.root_last || !par || !chs || !res || !touched || !cur || !clk) goto done;
    for (int b = 0; b < m->n_blobs; b++) d.last_use[b] = m->b[b].is_output ? m->n_units : -1, d.root_last[b] = -1;
    for (int i = 0; i < m->n_units; i++) {
        const hp_unit *u = &m->u[i];
        for (int k = 0; k < u->n_in; k++)
            if (d.last_use[u->in[k]] < i) d.last_use[u->in[k]] = i;
        if (d.last_use[u->out] < i) d.last_use[u->out] = i;
    }
    for (int b = 0; b < m->n_blobs; b++)
        if (d.last_use[b] > d.root_last[m->b[b].root]) d.root_last[m->b[b].root] = d.last_use[b];
    hp_sim s = {.res = res, .touched = touched};
    hp_residence_init(m, res);
    memset(touched, 0, (size_t)m->n_blobs);
    s.pending = false;
    pack(&d, &s, cur, -1);
    clk[0][0] = clk[0][1] = 0;
    for (int i = 0; i < m->n_units; i++) {
        size_t n_max = (size_t)n_cur * (size_t)n_choices;
        cands = malloc(n_max * sizeof *cands);
        order = malloc(n_max * sizeof *order);
        keys = malloc(n_max * d.state_len);
        if (!cands || !order || !keys) goto done;
        size_t n = 0;
        for (int e = 0; e < n_cur; e++) {
            for (int c = 0; c < n_choices; c++) {
                unpack(&d, cur + (size_t)e * d.state_len, &s);
                s.clk[0] = clk[e][0], s.clk[1] = clk[e][1];
                if (!hp_sim_step(m, &s, i, c, false)) continue;
                unsigned char *k = keys + n * d.state_len;
                pack(&d, &s, k, i);
                cands[n] = (cand){k, {s.clk[0], s.clk[1]}, e, c};
                order[n] = &cands[n];
                n++;
            }
        }
        qsort(order, n, sizeof *order, cmp_cand);
        // Keep, per discrete state, the clock pairs no other pair beats.
        size_t kept = 0;
        double min_gpu = INFINITY;
        for (size_t k = 0; k < n; k++) {
            bool new_key = k == 0 || memcmp(order[k]->key, order[k - 1]->key, d.state_len) != 0;
            if (new_key) min_gpu = INFINITY;
            if (order[k]->clk[1] < min_gpu) {
                min_gpu = order[k]->clk[1];
                order[kept++] = order[k];
            }
        }
        if (kept > MAX_STATES) {
            capped = true;
            kept = MAX_STATES; // keeps the first states in key order: no longer provably optimal
        }
        free(cur);
        free(clk);
        cur = malloc(kept * d.state_len + 1);
        clk = malloc((kept + 1) * sizeof *clk);
        par[i] = malloc((kept + 1) * sizeof(int));
        chs[i] = malloc((kept + 1) * sizeof(int));
        if (!cur || !clk || !par[i] || !chs[i]) goto done;
        for (size_t k = 0; k < kept; k++) {
            memcpy(cur + k * d.state_len, order[k]->key, d.state_len);
            clk[k][0] = order[k]->clk[0], clk[k][1] = order[k]->clk[1];
            par[i][k] = order[k]->parent;
            chs[i][k] = order[k]->choice;
        }
        n_cur = (int)kept;
        free(cands), free(order), free(keys);
        cands = NULL, order = NULL, keys = NULL;
        if (n_cur == 0) goto done; // some unit can run nowhere
    }
    int arg = -1;
    for (int e = 0; e < n_cur; e++) {
        unpack(&d, cur + (size_t)e * d.state_len, &s);
        s.clk[0] = clk[e][0], s.clk[1] = clk[e][1];
        hp_sim_finish(m, &s);
        if (s.clk[0] < best) best = s.clk[0], arg = e;
    }
    for (int i = m->n_units - 1; i >= 0 && arg >= 0; i--) {
        choice[i] = chs[i][arg];
        arg = par[i][arg];
    }
    if (capped) het_log(HET_LOG_WARN, "hetpart: the latency search hit its cap of %d states; the plan may not be optimal",
                        MAX_STATES);
done:
    for (int i = 0; par && i < m->n_units; i++) free(par[i]);
    for (int i = 0; chs && i < m->n_units; i++) free(chs[i]);
    free(par), free(chs), free(res), free(touched), free(cur), free(clk), free(cands), free(order), free(keys);
    free(d.last_use), free(d.root_last);
    return best;
}
