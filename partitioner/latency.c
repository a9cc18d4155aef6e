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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATES 200000 // a safety cap; reaching it is reported, never silent

// A clock pair reached after a step, in the Pareto front of its state.
typedef struct cand {
    double clk[2];
    int parent, choice;
    int next; // the next pair of the same front, -1 at the end
} cand;

// Which blobs and roots a step's key holds: those alive after it (produced,
// or an input, and read again later; roots likewise). Every other blob's
// residence and root's touch is a known constant (nothing produced yet, or
// dead and reset), so the key leaves them out: inside an inception module
// it is ~60 bytes instead of ~1300, and sorting tens of thousands of
// states a step is what the solve time was.
typedef struct layout {
    int n_res, n_touch;
    int *res, *touch;
    size_t len;
} layout;

typedef struct dp {
    const hp_model *m;
    layout *lay;        // lay[s + 1]: after unit s (lay[0]: before the first)
    int *last_use;      // per blob: last unit that reads or writes it (n_units for outputs)
    int *root_last;     // per root: the last use of any blob stored there
} dp;

// The key of state s after unit `step`, in that step's layout.
static void pack(const dp *d, const hp_sim *s, unsigned char *key, int step)
{
    const layout *L = &d->lay[step + 1];
    // Keys sit at any byte offset (their length is not a multiple of 4):
    // floats go in and out by memcpy.
    for (int k = 0; k < L->n_res; k++) memcpy(key + 8 * (size_t)k, &s->res[2 * L->res[k]], 8);
    unsigned char *t = key + 2 * sizeof(float) * (size_t)L->n_res;
    for (int k = 0; k < L->n_touch; k++) t[k] = s->touched[L->touch[k]];
    key[L->len - 1] = s->pending;
}

// The whole simulator state from a key of step `step`: blobs and roots
// outside the layout take their constant values.
static void unpack(const dp *d, const unsigned char *key, hp_sim *s, int step)
{
    const hp_model *m = d->m;
    const layout *L = &d->lay[step + 1];
    for (int b = 0; b < m->n_blobs; b++) s->res[2 * b] = 0.0f, s->res[2 * b + 1] = 1.0f;
    memset(s->touched, 0, (size_t)m->n_blobs);
    for (int k = 0; k < L->n_res; k++) memcpy(&s->res[2 * L->res[k]], key + 8 * (size_t)k, 8);
    const unsigned char *t = key + 2 * sizeof(float) * (size_t)L->n_res;
    for (int k = 0; k < L->n_touch; k++) s->touched[L->touch[k]] = t[k];
    s->pending = key[L->len - 1];
}

// Layouts for every step. A blob is in a key once produced (or an input)
// and until its last use; a root once any blob stored there is first used
// and until the last use of any of them. Outside those spans the values
// are constant: residence (0, 1) ("nothing valid anywhere", which is also
// what hp_residence_init gives a blob not yet produced) and no touch.
static bool make_layouts(dp *d)
{
    const hp_model *m = d->m;
    int n = m->n_units, nb = m->n_blobs;
    int *first = malloc(sizeof(int) * (size_t)nb), *root_first = malloc(sizeof(int) * (size_t)nb);
    d->lay = calloc((size_t)n + 1, sizeof *d->lay);
    bool ok = first && root_first && d->lay;
    for (int b = 0; ok && b < nb; b++) first[b] = root_first[b] = m->b[b].is_input ? -1 : n;
    for (int i = n - 1; ok && i >= 0; i--) {
        const hp_unit *u = &m->u[i];
        for (int k = 0; k < u->n_in; k++)
            if (i < first[u->in[k]]) first[u->in[k]] = i;
        if (i < first[u->out]) first[u->out] = i; // inputs keep -1: valid from the start
    }
    for (int b = 0; ok && b < nb; b++)
        if (first[b] < root_first[m->b[b].root]) root_first[m->b[b].root] = first[b];
    for (int st = -1; ok && st < n; st++) {
        layout *L = &d->lay[st + 1];
        L->res = malloc(sizeof(int) * (size_t)nb);
        L->touch = malloc(sizeof(int) * (size_t)nb);
        if (!L->res || !L->touch) {
            ok = false;
            break;
        }
        for (int b = 0; b < nb; b++) {
            if (first[b] <= st && d->last_use[b] > st) L->res[L->n_res++] = b;
            if (m->b[b].root == b && root_first[b] <= st && d->root_last[b] > st) L->touch[L->n_touch++] = b;
        }
        L->len = 2 * sizeof(float) * (size_t)L->n_res + (size_t)L->n_touch + 1;
    }
    free(first), free(root_first);
    return ok;
}

static void free_layouts(dp *d)
{
    for (int i = 0; d->lay && i <= d->m->n_units; i++) free(d->lay[i].res), free(d->lay[i].touch);
    free(d->lay);
}

double hp_solve_latency(const hp_model *m, bool allow_split, hp_choice *choice)
{
    if (m->n_blobs > HP_SIM_MAX_BLOBS || m->n_units == 0) return NAN;
    dp d = {.m = m};
    d.last_use = malloc(sizeof(int) * (size_t)m->n_blobs);
    d.root_last = malloc(sizeof(int) * (size_t)m->n_blobs);
    int n_choices = 2 + (allow_split ? m->n_ratios : 0);
    // Per step: the kept entries' parent and choice, to rebuild the answer.
    int **par = calloc((size_t)m->n_units, sizeof *par), **chs = calloc((size_t)m->n_units, sizeof *chs);
    float *res = malloc(sizeof(float) * 2 * (size_t)m->n_blobs);
    unsigned char *touched = malloc((size_t)m->n_blobs);
    // States of the kept entries, one after another; a key is never longer
    // than every blob and root plus the pending flag.
    size_t max_len = (size_t)m->n_blobs * 9 + 1;
    unsigned char *cur = malloc(max_len);
    double (*clk)[2] = malloc(sizeof *clk);
    double best = INFINITY;
    bool capped = false;
    int n_cur = 1;
    cand *cands = NULL;
    unsigned char *keys = NULL;
    int *table = NULL, *g_head = NULL;
    uint64_t *g_hash = NULL;
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
    if (!make_layouts(&d)) goto done;
    hp_sim s = {.res = res, .touched = touched};
    hp_residence_init(m, res);
    memset(touched, 0, (size_t)m->n_blobs);
    s.pending = false;
    pack(&d, &s, cur, -1);
    clk[0][0] = clk[0][1] = 0;
    for (int i = 0; i < m->n_units; i++) {
        size_t len_in = d.lay[i].len, len = d.lay[i + 1].len; // keys before and after unit i
        size_t n_max = (size_t)n_cur * (size_t)n_choices;
        // States are grouped by key in a hash table (open addressing); each
        // group keeps the Pareto front of its clock pairs as a list. No
        // sort: building the fronts is linear in the candidates.
        size_t tcap = 16;
        while (tcap < 2 * n_max) tcap <<= 1;
        cands = malloc(n_max * sizeof *cands);
        keys = malloc(n_max * len + 1);
        table = malloc(tcap * sizeof *table);
        g_hash = malloc(n_max * sizeof *g_hash);
        g_head = malloc(n_max * sizeof *g_head);
        if (!cands || !keys || !table || !g_hash || !g_head) goto done;
        memset(table, 0xff, tcap * sizeof *table); // -1: empty
        size_t n = 0, n_groups = 0;
        for (int e = 0; e < n_cur; e++) {
            for (int c = 0; c < n_choices; c++) {
                unpack(&d, cur + (size_t)e * len_in, &s, i - 1);
                s.clk[0] = clk[e][0], s.clk[1] = clk[e][1];
                if (!hp_sim_step(m, &s, i, c, false)) continue;
                unsigned char *k = keys + n_groups * len; // kept only if it starts a group
                pack(&d, &s, k, i);
                uint64_t h = het_fnv1a(HET_FNV_BASIS, k, len);
                size_t slot = (size_t)h & (tcap - 1);
                int g = -1;
                for (; table[slot] >= 0; slot = (slot + 1) & (tcap - 1)) {
                    int o = table[slot];
                    if (g_hash[o] == h && !memcmp(keys + (size_t)o * len, k, len)) {
                        g = o;
                        break;
                    }
                }
                if (g < 0) {
                    g = (int)n_groups++;
                    table[slot] = g;
                    g_hash[g] = h;
                    g_head[g] = -1;
                } else {
                    // Beaten (or equalled) by a pair of the front: dropped.
                    // Else the pairs it beats leave the front.
                    bool beaten = false;
                    for (int x = g_head[g]; x >= 0 && !beaten; x = cands[x].next)
                        beaten = cands[x].clk[0] <= s.clk[0] && cands[x].clk[1] <= s.clk[1];
                    if (beaten) continue;
                    for (int *link = &g_head[g]; *link >= 0;) {
                        cand *x = &cands[*link];
                        if (s.clk[0] <= x->clk[0] && s.clk[1] <= x->clk[1]) *link = x->next;
                        else link = &x->next;
                    }
                }
                cands[n] = (cand){{s.clk[0], s.clk[1]}, e, c, g_head[g]};
                g_head[g] = (int)n++;
            }
        }
        size_t kept = 0;
        for (size_t g = 0; g < n_groups; g++)
            for (int x = g_head[g]; x >= 0; x = cands[x].next) kept++;
        if (kept > MAX_STATES) {
            capped = true;
            kept = MAX_STATES; // keeps the first states found: no longer provably optimal
        }
        free(cur);
        free(clk);
        cur = malloc(kept * len + 1);
        clk = malloc((kept + 1) * sizeof *clk);
        par[i] = malloc((kept + 1) * sizeof(int));
        chs[i] = malloc((kept + 1) * sizeof(int));
        if (!cur || !clk || !par[i] || !chs[i]) goto done;
        size_t k = 0;
        for (size_t g = 0; g < n_groups && k < kept; g++)
            for (int x = g_head[g]; x >= 0 && k < kept; x = cands[x].next, k++) {
                memcpy(cur + k * len, keys + g * len, len);
                clk[k][0] = cands[x].clk[0], clk[k][1] = cands[x].clk[1];
                par[i][k] = cands[x].parent;
                chs[i][k] = cands[x].choice;
            }
        n_cur = (int)kept;
        free(cands), free(keys), free(table), free(g_hash), free(g_head);
        cands = NULL, keys = NULL, table = NULL, g_hash = NULL, g_head = NULL;
        if (n_cur == 0) goto done; // some unit can run nowhere
    }
    int arg = -1;
    for (int e = 0; e < n_cur; e++) {
        unpack(&d, cur + (size_t)e * d.lay[m->n_units].len, &s, m->n_units - 1);
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
    free(par), free(chs), free(res), free(touched), free(cur), free(clk), free(cands), free(keys);
    free(table), free(g_hash), free(g_head);
    if (d.lay) free_layouts(&d);
    free(d.last_use), free(d.root_last);
    return best;
}
