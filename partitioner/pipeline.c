// pipeline.c: the exact best division into contiguous stages, and the
// image-parallel rate (part.h).
//
// A pipeline's stages each replay their units (hp_simulate_range) and end
// with a wait for the GPU, so a stage's time depends on what came before
// only through the residence at its first unit. Dynamic programming over
// (boundary, stages used, residence at the boundary) keeps, per state, the
// pairs (CPU total, GPU total) that no other pair beats on both; the cycle
// is the larger total (stages on one device take turns; a split stage
// occupies both; a CPU stage's reads from the GPU hold the GPU too). Both
// totals only grow, so pruning beaten pairs is exact.
// In a pipeline of two or more stages the devices work at once, so co-run
// slowdowns apply to every stage; a single stage is one device alone.
#include "sim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    float *res;          // residence at the boundary
    double load[2];      // CPU, GPU totals so far
    double latency;      // sum of the stage times so far
    int parent, stages;  // previous node, stages used
    int start;           // the boundary's unit
    hp_choice dev;       // the stage that ended here
    double stage_ms;
    int next_same;       // the next node at this boundary with this residence hash
} node;

// Nodes by (boundary, residence hash): the dominance check of a new node
// looks only at nodes that can share its residence. (A scan over every
// node at the boundary made 3-stage plans with splits take minutes.)
typedef struct bucket {
    uint64_t h;
    int end, head; // head -1: empty slot
} bucket;

typedef struct res_map {
    bucket *v;
    size_t cap, n;
} res_map;

static size_t map_home(const res_map *mp, int end, uint64_t h)
{
    return (size_t)((h ^ ((uint64_t)(unsigned)end * 0x9E3779B97F4A7C15ull)) & (mp->cap - 1));
}

// The slot of (end, h), made if missing; SIZE_MAX when out of memory.
static size_t map_slot(res_map *mp, int end, uint64_t h)
{
    if (2 * (mp->n + 1) > mp->cap) {
        res_map g = {.cap = mp->cap ? 2 * mp->cap : 4096};
        if (!(g.v = malloc(g.cap * sizeof *g.v))) return SIZE_MAX;
        for (size_t i = 0; i < g.cap; i++) g.v[i].head = -1;
        for (size_t i = 0; i < mp->cap; i++) {
            if (mp->v[i].head < 0) continue;
            size_t j = map_home(&g, mp->v[i].end, mp->v[i].h);
            while (g.v[j].head >= 0) j = (j + 1) & (g.cap - 1);
            g.v[j] = mp->v[i];
        }
        g.n = mp->n;
        free(mp->v);
        *mp = g;
    }
    size_t j = map_home(mp, end, h);
    for (; mp->v[j].head >= 0; j = (j + 1) & (mp->cap - 1))
        if (mp->v[j].h == h && mp->v[j].end == end) return j;
    // A new slot; head stays -1 until a node is linked (map_link).
    mp->v[j] = (bucket){h, end, -1};
    return j;
}

static void map_link(res_map *mp, size_t slot, node *v, int id)
{
    if (mp->v[slot].head < 0) mp->n++;
    v[id].next_same = mp->v[slot].head;
    mp->v[slot].head = id;
}

typedef struct pool {
    node *v;
    int n, cap;
} pool;

static int push(pool *p, node nd)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 1024;
        node *nv = realloc(p->v, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        p->v = nv, p->cap = cap;
    }
    p->v[p->n] = nd;
    return p->n++;
}

// Adds a stage of `t` ms on `dev` to the devices' totals. A stage counts
// on the devices it computes on, and a CPU stage's reads from the GPU
// (`xfer` ms) count on the GPU too: the executor made them under the GPU's
// lock, so the stage issuing the GPU's next image waited for them (on the
// H100 machine SqueezeNet v1.1's GPU stage took 0.72-0.88 ms where the
// model, without them, said 0.56). OpenCL's transfers now go without the
// lock; the charge stays, a conservative one.
static void add_stage(double load[2], hp_choice dev, double t, double xfer)
{
    if (dev != HP_GPU) load[0] += t;
    if (dev != HP_CPU) load[1] += t;
    if (dev == HP_CPU) load[1] += xfer;
}

// A stage on the GPU alone that is not the last keeps two images in
// flight where the GPU runs images at once (stream.c, stage_main), as an
// image-parallel GPU lane does: the stage's time is
// scaled as the sweep's stream is against the network image by image
// (network_streams; 1 without one, or where the stream went image by
// image). Tried before the driver's lock was found (1c41f1a), this
// over-predicted the H100's two-group pipelines by 36-40%: a later stage
// waiting in a blocking read held up the GPU stage's issue
// (docs/hetpart.md).
//
// Such a stage runs beside the other stages (co-run): the stream's own
// slowdown under load, beyond its units' (stream_corun), applies too.
static double stream_corun(const hp_model *m, int d)
{
    return m->corun && m->stream_corun[d] > 0 ? m->stream_corun[d] : 1.0;
}

double hp_gpu_stream_factor(const hp_model *m)
{
    return m->stream[HP_GPU] > 0 && m->net[HP_GPU] > 0 && m->stream_in_flight[HP_GPU] > 1
               ? m->stream[HP_GPU] / m->net[HP_GPU] * stream_corun(m, HP_GPU)
               : 1.0;
}

// Every unit of a stage gets the stage's choice; at a ratio that leaves a
// unit whole on one device, it runs there.
static hp_choice unit_choice(const hp_model *m, int unit, hp_choice dev)
{
    if (dev < 2) return dev;
    const hp_unit *u = &m->u[unit];
    int j = dev - 2;
    // As the executor rounds: all channels on one side runs there alone.
    return u->cpu_share[j] >= 1.0 ? HP_CPU : u->cpu_share[j] <= 0.0 ? HP_GPU : dev;
}

void hp_pipeline_choices(const hp_model *m, const hp_pipeline *p, hp_choice *choice)
{
    for (int s = 0; s < p->n_stages; s++)
        for (int i = p->first[s]; i < p->first[s + 1]; i++) choice[i] = unit_choice(m, i, p->dev[s]);
}

int hp_ratio_index(const hp_model *m, double gpu_share)
{
    for (int j = 0; j < m->n_ratios; j++)
        if (fabs(m->ratio[j] - gpu_share) < 1e-6) return j;
    return -1;
}

hp_choice hp_choice_of_share(const hp_model *m, int unit, double gpu_share)
{
    if (gpu_share <= 0.0) return HP_CPU;
    if (gpu_share >= 1.0) return HP_GPU;
    int j = hp_ratio_index(m, gpu_share);
    return j < 0 ? -1 : unit_choice(m, unit, HP_SPLIT(j));
}

double hp_pipeline_eval(const hp_model *m, hp_pipeline *p)
{
    if (m->n_blobs > HP_SIM_MAX_BLOBS) return NAN;
    float *res = malloc(sizeof(float) * 2 * (size_t)(m->n_blobs ? m->n_blobs : 1));
    hp_choice *c = malloc(sizeof *c * (size_t)(m->n_units ? m->n_units : 1));
    double load[2] = {0, 0}, lat = 0, cyc = NAN;
    if (!res || !c || p->n_stages < 1 || p->first[0] != 0 || p->first[p->n_stages] != m->n_units) goto done;
    hp_residence_init(m, res);
    hp_pipeline_choices(m, p, c);
    // As the solver: co-run factors once there are two stages; each stage
    // counts on the devices its choice uses (a split stage on both).
    for (int s = 0; s < p->n_stages; s++) {
        double xfer = 0;
        double t = hp_simulate_range(m, c, p->first[s], p->first[s + 1], res, p->n_stages > 1, s == p->n_stages - 1,
                                     &xfer);
        if (p->dev[s] == HP_GPU && s < p->n_stages - 1) t *= hp_gpu_stream_factor(m);
        p->stage_ms[s] = t;
        lat += t;
        add_stage(load, p->dev[s], t, xfer);
    }
    cyc = load[0] > load[1] ? load[0] : load[1];
    p->cycle_ms = cyc;
    p->latency_ms = lat;
done:
    free(res), free(c);
    return cyc;
}

// Whether node a is no worse than b on both totals (same boundary state).
static bool dominates(const node *a, const node *b)
{
    return a->load[0] <= b->load[0] && a->load[1] <= b->load[1];
}

// Cycles within TIE (relative) of each other are equal. Ties are common:
// while one device is the bottleneck, any division of the other device's
// work into stages costs the same, and the model prices no stage's own
// costs (a host thread, a queue hand-off, the turn on a shared device).
// So among equal cycles the fewest stages win, then the lowest latency of
// the plans the search keeps (a state with no larger totals and no more
// stages drops a later one, whatever its latency):
// GoogLeNet on the H100 machine was given GPU | CPU | CPU, the CPU's
// layers cut in two for nothing, and measured 18% slower than GPU | CPU.
#define TIE 1e-9

// Whether a complete plan (cycle, stages, latency) beats `cur` (NULL: none yet).
static bool better(double cyc, int stages, double latency, const hp_pipeline *cur)
{
    if (!cur || cyc < cur->cycle_ms * (1 - TIE)) return true;
    if (cyc > cur->cycle_ms * (1 + TIE)) return false;
    return stages < cur->n_stages || (stages == cur->n_stages && latency < cur->latency_ms);
}

double hp_solve_pipeline(const hp_model *m, int min_stages, int max_stages, bool allow_split, size_t max_bytes,
                         bool *capped, hp_pipeline *out)
{
    int n = m->n_units, nb = m->n_blobs;
    *capped = false;
    if (max_stages > 64) max_stages = 64;
    if (min_stages < 1) min_stages = 1;
    if (max_stages < min_stages || n == 0 || nb > HP_SIM_MAX_BLOBS) return NAN;
    int n_dev = 2 + (allow_split ? m->n_ratios : 0);
    size_t rbytes = sizeof(float) * 2 * (size_t)nb;
    // What one kept state holds: the node, its residence, its index entry
    // and its share of the hash map (at most half full).
    size_t state_bytes = sizeof(node) + rbytes + sizeof(int) + 2 * sizeof(bucket);
    pool P = {0};
    res_map M = {0};
    node root = {.parent = -1};
    int *cnt = calloc((size_t)n + 1, sizeof *cnt);
    int **idx = calloc((size_t)n + 1, sizeof *idx);
    float *work = malloc(rbytes);
    unsigned char *touched = malloc((size_t)nb);
    double best = INFINITY;
    bool found = false;
    // rest[i]: a lower bound on the work of units [i, n) (each on its
    // cheaper side; a split occupies both devices, so it counts twice).
    double *rest = calloc((size_t)n + 1, sizeof *rest);
    if (!rest || !cnt || !idx || !work || !touched || !(root.res = malloc(rbytes))) goto done;
    hp_residence_init(m, root.res);
    double sf = hp_gpu_stream_factor(m), gpu_lo = sf < 1 ? sf : 1; // a GPU unit's least cost
    for (int i = n - 1; i >= 0; i--) {
        const hp_unit *u = &m->u[i];
        double lo_t = u->t[0] < gpu_lo * u->t[1] ? u->t[0] : gpu_lo * u->t[1];
        for (int j = 0; allow_split && j < m->n_ratios; j++)
            if (2 * u->t_split[j] < lo_t) lo_t = 2 * u->t_split[j];
        rest[i] = rest[i + 1] + (isfinite(lo_t) ? lo_t : 0);
    }
    // Nodes live in P; idx[i] lists the kept nodes at boundary i.
    for (int pass = 0; pass < 2; pass++) {
        // pass 0: one stage, devices alone; pass 1: two or more stages, co-run.
        bool both = pass == 1;
        int lo = pass == 0 ? 1 : (min_stages > 2 ? min_stages : 2), hi = pass == 0 ? 1 : max_stages;
        if (pass == 0 && min_stages > 1) continue;
        if (lo > hi) continue;
        for (int i = 0; i <= n; i++) {
            for (int k = 0; k < cnt[i]; k++) free(P.v[idx[i][k]].res);
            free(idx[i]);
            idx[i] = NULL, cnt[i] = 0;
        }
        P.n = 0;
        free(M.v);
        M = (res_map){0};
        node r0 = root;
        r0.res = malloc(rbytes);
        if (!r0.res) goto done;
        memcpy(r0.res, root.res, rbytes);
        int id = push(&P, r0);
        if (id < 0 || !(idx[0] = malloc(sizeof(int)))) goto done;
        idx[0][0] = id, cnt[0] = 1;
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < cnt[i]; k++) {
                int from = idx[i][k];
                if (P.v[from].stages >= hi) continue;
                for (hp_choice dev = 0; dev < n_dev; dev++) {
                    // One replay per (start, device), extended unit by unit:
                    // every end is a candidate stage.
                    memcpy(work, P.v[from].res, rbytes);
                    memset(touched, 0, (size_t)nb);
                    hp_sim sim = {.res = work, .touched = touched};
                    for (int end = i + 1; end <= n; end++) {
                        if (!hp_sim_step(m, &sim, end - 1, unit_choice(m, end - 1, dev), both)) break;
                        double t;
                        if (end == n) {
                            hp_sim_finish(m, &sim);
                            t = sim.clk[0];
                        } else {
                            t = sim.clk[0] > sim.clk[1] ? sim.clk[0] : sim.clk[1];
                            if (dev == HP_GPU) t *= sf; // not the last stage
                        }
                        node nd = {.load = {P.v[from].load[0], P.v[from].load[1]}, .parent = from,
                                   .stages = P.v[from].stages + 1, .start = i, .dev = dev, .stage_ms = t,
                                   .latency = P.v[from].latency + t};
                        if (nd.stages < lo && end == n) continue;
                        add_stage(nd.load, dev, t, sim.xfer_ms);
                        // Bound: the cycle is at least the larger total, and at
                        // least half of all the work; both only grow. A node
                        // that cannot beat the best complete plan is dropped.
                        // Ties survive: the plan with fewer stages wins them.
                        double cyc = nd.load[0] > nd.load[1] ? nd.load[0] : nd.load[1];
                        double half = (nd.load[0] + nd.load[1] + rest[end]) / 2;
                        if (cyc > best * (1 + TIE) || half > best * (1 + TIE)) continue;
                        if (end == n && cyc < best) best = cyc; // the plan is rebuilt after the pass
                        // Same boundary, same residence, no more stages, no
                        // larger totals: this one can be dropped. Fewer
                        // stages only beat more when every continuation (at
                        // least one more stage) still reaches the minimum.
                        bool beaten = false;
                        // Only nodes in this (boundary, hash) chain can hold the same residence.
                        size_t slot = map_slot(&M, end, het_fnv1a(HET_FNV_BASIS, work, rbytes));
                        if (slot == SIZE_MAX) goto done;
                        for (int q = M.v[slot].head; q >= 0 && !beaten; q = P.v[q].next_same) {
                            node *o = &P.v[q];
                            bool fewer_ok = o->stages == nd.stages || (o->stages < nd.stages && o->stages + 1 >= lo);
                            beaten = fewer_ok && dominates(o, &nd) && !memcmp(o->res, work, rbytes);
                        }
                        if (beaten) continue;
                        if ((size_t)P.n * state_bytes > max_bytes) {
                            *capped = true;
                            found = false;
                            goto done;
                        }
                        if (!(nd.res = malloc(rbytes))) goto done;
                        memcpy(nd.res, work, rbytes);
                        int nid = push(&P, nd);
                        if (nid >= 0) map_link(&M, slot, P.v, nid);
                        int *ni = nid < 0 ? NULL : realloc(idx[end], sizeof(int) * (size_t)(cnt[end] + 1));
                        if (!ni) goto done;
                        idx[end] = ni;
                        idx[end][cnt[end]++] = nid;
                    }
                }
            }
        }
        for (int k = 0; k < cnt[n]; k++) {
            node *e = &P.v[idx[n][k]];
            double cyc = e->load[0] > e->load[1] ? e->load[0] : e->load[1];
            if (e->stages >= lo && better(cyc, e->stages, e->latency, found ? out : NULL)) {
                if (cyc < best) best = cyc;
                // Rebuild now: the pool is reused by the next pass.
                int s = e->stages;
                out->n_stages = s;
                out->cycle_ms = cyc;
                out->latency_ms = e->latency;
                out->first[s] = n;
                for (int id2 = idx[n][k]; P.v[id2].parent >= 0; id2 = P.v[id2].parent) {
                    s--;
                    out->first[s] = P.v[id2].start;
                    out->dev[s] = P.v[id2].dev;
                    out->stage_ms[s] = P.v[id2].stage_ms;
                }
                found = true;
            }
        }
    }
done:
    for (int i = 0; idx && i <= n; i++) {
        for (int k = 0; k < cnt[i]; k++) free(P.v[idx[i][k]].res);
        free(idx[i]);
    }
    free(root.res);
    free(P.v), free(cnt), free(idx), free(work), free(touched), free(rest);
    free(M.v);
    return found ? out->cycle_ms : INFINITY;
}

double hp_image_parallel_rate(const hp_model *m)
{
    double rate = 0;
    for (int d = 0; d < 2; d++) {
        if (!(m->net[d] > 0) || !isfinite(m->net[d])) continue;
        double sum = 0, slowed = 0;
        for (int i = 0; i < m->n_units; i++) {
            sum += m->u[i].t[d];
            slowed += m->u[i].t[d] * (m->corun ? m->u[i].slow[d] : 1.0);
        }
        double f = sum > 0 && isfinite(slowed) ? slowed / sum : 1.0;
        // A lane streams its images (the GPU's, two in flight) where the
        // sweep measured it, slowed as the stream is under load.
        if (m->stream[d] > 0) f *= stream_corun(m, d);
        rate += 1e3 / ((m->stream[d] > 0 ? m->stream[d] : m->net[d]) * f);
    }
    return rate;
}
