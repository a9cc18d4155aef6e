// test_partition.c: the partitioner's solvers against brute force.
//
// Random small DAGs (chains, forks that join, in-place units, shared
// storage) with random device, split and transfer costs: the latency
// solver's answer must equal the best of every assignment, and the
// pipeline solver's the best of every division into stages, both costed
// by the same replay (hp_simulate). Many seeds.
#include "../../partitioner/part.h"
#include "../harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng_state;

static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int irand(int n) { return (int)(urand() * n); }

// A random network of n units: each unit reads one or two earlier blobs
// (a join), sometimes in place; blob 0 is the input, the last unit's top
// the output. Some pairs of blobs share storage (as concat branches do).
static void random_model(hp_model *m, hp_unit *u, hp_blob *b, int n, int n_ratios)
{
    memset(m, 0, sizeof *m);
    m->u = u, m->b = b, m->n_units = n, m->n_ratios = n_ratios;
    for (int j = 0; j < n_ratios; j++) m->ratio[j] = (j + 1.0) / (n_ratios + 1);
    int nb = 1;
    b[0] = (hp_blob){.bytes = 1e5 + urand() * 1e6, .root = 0, .is_input = true};
    for (int i = 0; i < n; i++) {
        hp_unit *x = &u[i];
        memset(x, 0, sizeof *x);
        x->first = x->last = i;
        x->in[0] = irand(nb);
        x->n_in = 1;
        if (nb > 1 && urand() < 0.3) {
            int o = irand(nb);
            if (o != x->in[0]) x->in[x->n_in++] = o;
        }
        bool in_place = x->n_in == 1 && x->in[0] != 0 && urand() < 0.2;
        if (in_place) {
            x->out = x->in[0];
        } else {
            x->out = nb;
            b[nb] = (hp_blob){.bytes = 1e4 + urand() * 2e6, .root = nb};
            if (nb > 1 && urand() < 0.25) b[nb].root = b[irand(nb - 1) + 1].root; // shared storage
            nb++;
        }
        x->t[0] = 0.1 + urand() * 3;
        x->t[1] = urand() < 0.1 ? INFINITY : 0.1 + urand() * 3; // sometimes the GPU cannot
        x->slow[0] = 1 + urand() * 0.5;
        x->slow[1] = 1 + urand() * 0.3;
        x->issue = urand() < 0.5 ? 0 : urand() * 0.2; // the host's part of a GPU unit
        for (int j = 0; j < n_ratios; j++) {
            x->cpu_share[j] = 1 - m->ratio[j];
            x->t_split[j] = urand() < 0.15 ? INFINITY : 0.1 + urand() * 2.5;
        }
    }
    // Make the last unit's top the one output.
    for (int k = 0; k < nb; k++) b[k].is_output = false;
    b[u[n - 1].out].is_output = true;
    m->n_blobs = nb;
    m->x_lat[0] = 0.01 + urand() * 0.3, m->x_lat[1] = 0.01 + urand() * 0.3;
    m->x_ms_per_byte[0] = urand() * 1e-6, m->x_ms_per_byte[1] = urand() * 1e-6;
    m->corun = urand() < 0.7;
    // Half the models have a GPU stream, faster or slower than the network,
    // taken with two images in flight or (as on PoCL) one.
    m->net[1] = 1 + urand() * 5;
    m->stream[1] = urand() < 0.5 ? 0 : m->net[1] * (0.5 + urand() * 0.7);
    m->stream_in_flight[1] = urand() < 0.7 ? 2 : 1;
    // Its own slowdown under load, beyond its units' (network_corun).
    m->stream_corun[1] = urand() < 0.5 ? 1.0 : 0.8 + urand() * 0.8;
}

static double brute_latency(const hp_model *m, int n_choices, hp_choice *c, int i)
{
    if (i == m->n_units) return hp_simulate(m, c);
    double best = INFINITY;
    for (int k = 0; k < n_choices; k++) {
        c[i] = k;
        double t = brute_latency(m, n_choices, c, i + 1);
        if (t < best) best = t;
    }
    return best;
}

// Every division into at most K stages with a device each, costed as the
// solver defines it: stage times from the replay, cycle = the larger total.
// *fewest: the fewest stages of a division whose cycle ties the best.
static double brute_pipeline(const hp_model *m, int K_min, int K, int n_dev, int *fewest)
{
    int n = m->n_units;
    double best = INFINITY;
    *fewest = 0;
    hp_choice c[16];
    for (unsigned cuts = 0; cuts < (1u << (n - 1)); cuts++) {
        int S = 1;
        for (unsigned x = cuts; x; x >>= 1) S += (int)(x & 1);
        if (S > K || S < K_min) continue;
        int first[17], s = 0;
        first[0] = 0;
        for (int i = 1; i < n; i++)
            if (cuts & (1u << (i - 1))) first[++s] = i;
        first[S] = n;
        int devs[16] = {0};
        long total = 1;
        for (int k = 0; k < S; k++) total *= n_dev;
        for (long code = 0; code < total; code++) {
            long x = code;
            for (int k = 0; k < S; k++) devs[k] = (int)(x % n_dev), x /= n_dev;
            hp_pipeline p = {.n_stages = S};
            for (int k = 0; k <= S; k++) p.first[k] = first[k];
            for (int k = 0; k < S; k++) p.dev[k] = devs[k];
            hp_pipeline_choices(m, &p, c);
            float res[2 * 64];
            hp_residence_init(m, res);
            double load[2] = {0, 0};
            bool ok = true;
            for (int k = 0; k < S && ok; k++) {
                double xfer = 0;
                double t = hp_simulate_range(m, c, first[k], first[k + 1], res, S > 1, k == S - 1, &xfer);
                if (!isfinite(t)) ok = false;
                // A GPU stage before the last keeps images in flight: the stream's speed.
                if (devs[k] == HP_GPU && k < S - 1 && m->stream[1] > 0 && m->stream_in_flight[1] == 2)
                    t *= m->stream[1] / m->net[1] * (m->corun ? m->stream_corun[1] : 1.0);
                if (devs[k] != HP_GPU) load[0] += t;
                if (devs[k] != HP_CPU) load[1] += t;
                if (devs[k] == HP_CPU) load[1] += xfer; // its reads from the GPU hold the GPU's lock
            }
            double cyc = load[0] > load[1] ? load[0] : load[1];
            if (!ok || cyc > best * (1 + 1e-9)) continue;
            if (cyc < best * (1 - 1e-9) || S < *fewest) *fewest = S;
            if (cyc < best) best = cyc;
        }
    }
    return best;
}

static void test_latency_exact(void)
{
    hp_unit u[16];
    hp_blob b[32];
    hp_model m;
    int agree = 0, cases = 0;
    for (int seed = 1; seed <= 1000; seed++) {
        rng_state = (unsigned long long)seed * 0x9E3779B97F4A7C15ull;
        int n = 2 + irand(6), R = irand(3);
        random_model(&m, u, b, n, R);
        hp_choice c[16], best_c[16];
        double bf = brute_latency(&m, 2 + R, c, 0);
        double dp = hp_solve_latency(&m, true, best_c);
        double re = hp_simulate(&m, best_c);
        cases++;
        bool ok = (isinf(bf) && isinf(dp)) || (fabs(dp - bf) <= 1e-9 * bf && fabs(re - dp) <= 1e-9 * dp);
        agree += ok;
        if (!ok) fprintf(stderr, "seed %d (n %d, R %d): dp %.9g, brute force %.9g, replayed %.9g\n", seed, n, R, dp, bf, re);
    }
    HET_CHECK(agree == cases, "latency solver = brute force on %d/%d random DAGs", agree, cases);
    // Without splits the solver must match brute force over CPU/GPU alone.
    agree = cases = 0;
    for (int seed = 1; seed <= 100; seed++) {
        rng_state = (unsigned long long)seed * 0xD1B54A32D192ED03ull;
        int n = 2 + irand(8);
        random_model(&m, u, b, n, 2);
        hp_choice c[16], best_c[16];
        double bf = brute_latency(&m, 2, c, 0);
        double dp = hp_solve_latency(&m, false, best_c);
        cases++;
        agree += (isinf(bf) && isinf(dp)) || fabs(dp - bf) <= 1e-9 * bf;
    }
    HET_CHECK(agree == cases, "mapping-only solver = brute force on %d/%d random DAGs", agree, cases);
}

static void test_pipeline_exact(void)
{
    hp_unit u[16];
    hp_blob b[32];
    hp_model m;
    int agree = 0, cases = 0;
    for (int seed = 1; seed <= 500; seed++) {
        rng_state = (unsigned long long)seed * 0xA0761D6478BD642Full;
        int n = 2 + irand(6), R = irand(3), K = 1 + irand(4);
        // Every other case asks for a minimum too (the thesis' exactly-2).
        int K_min = seed % 2 ? 1 : 1 + irand(K);
        random_model(&m, u, b, n, R);
        hp_pipeline p;
        int fewest;
        double bf = brute_pipeline(&m, K_min, K, 2 + R, &fewest);
        bool capped;
        double dp = hp_solve_pipeline(&m, K_min, K, true, (size_t)1 << 30, &capped, &p);
        cases++;
        // hetpart predict prices a plan read back from a file with
        // hp_pipeline_eval: the solver's answer must cost what it said.
        hp_pipeline again = p;
        double ev = isinf(dp) ? INFINITY : hp_pipeline_eval(&m, &again);
        bool ok = (isinf(bf) && isinf(dp)) ||
                  (fabs(dp - bf) <= 1e-9 * bf && p.n_stages == fewest && p.n_stages <= K && p.n_stages >= K_min &&
                   fabs(ev - dp) <= 1e-9 * dp && fabs(again.latency_ms - p.latency_ms) <= 1e-9 * p.latency_ms);
        agree += ok;
        if (!ok)
            fprintf(stderr, "seed %d (n %d, R %d, K %d..%d): dp %.9g in %d stages, brute force %.9g in %d, evaluated %.9g\n",
                    seed, n, R, K_min, K, dp, p.n_stages, bf, fewest, ev);
    }
    HET_CHECK(agree == cases, "pipeline solver = brute force on %d/%d random DAGs", agree, cases);
    // Past its memory cap it stops and says so, with no plan; the same
    // search within the cap is not capped.
    bool capped = false, capped_big = true;
    hp_pipeline p;
    rng_state = 7;
    random_model(&m, u, b, 7, 2);
    double small = hp_solve_pipeline(&m, 1, 4, true, 1, &capped, &p);
    double big = hp_solve_pipeline(&m, 1, 4, true, (size_t)1 << 30, &capped_big, &p);
    HET_CHECK(capped && isinf(small) && !capped_big && isfinite(big),
              "pipeline solver capped at 1 byte of states: capped %d (cycle %g); at 1 GiB: capped %d (cycle %g)", capped,
              small, capped_big, big);
}

// A hand-made case whose answer is known without the solver: two
// independent branches of equal cost; the best latency runs them on
// different devices at once, and with free transfers it halves the time.
static void test_branches_overlap(void)
{
    hp_unit u[3];
    hp_blob b[4];
    hp_model m = {.u = u, .b = b, .n_units = 3, .n_blobs = 4};
    b[0] = (hp_blob){.bytes = 1, .root = 0, .is_input = true};
    b[1] = (hp_blob){.bytes = 1, .root = 1};
    b[2] = (hp_blob){.bytes = 1, .root = 2};
    b[3] = (hp_blob){.bytes = 1, .root = 3, .is_output = true};
    u[0] = (hp_unit){.n_in = 1, .in = {0}, .out = 1, .t = {4, 4}, .slow = {1, 1}};
    u[1] = (hp_unit){.n_in = 1, .in = {0}, .out = 2, .t = {4, 4}, .slow = {1, 1}};
    u[2] = (hp_unit){.n_in = 2, .in = {1, 2}, .out = 3, .t = {0.5, 9}, .slow = {1, 1}};
    hp_choice c[3];
    double t = hp_solve_latency(&m, false, c);
    HET_CHECK(fabs(t - 4.5) < 1e-12 && c[0] != c[1] && c[2] == HP_CPU, "branches overlap: latency %.3f (want 4.5)", t);
}

// A plan's GPU share to a unit's choice: the ends are devices, a measured
// ratio is a split unless it leaves the unit whole on one side, anything
// else was not measured.
static void test_choice_of_share(void)
{
    hp_unit u[1] = {{.cpu_share = {0.75, 1.0}}};
    hp_model m = {.u = u, .n_units = 1, .n_ratios = 2, .ratio = {0.25, 0.01}};
    HET_CHECK(hp_choice_of_share(&m, 0, 0.0) == HP_CPU && hp_choice_of_share(&m, 0, 1.0) == HP_GPU,
              "shares 0 and 1 are the CPU and the GPU");
    HET_CHECK(hp_choice_of_share(&m, 0, 0.25) == HP_SPLIT(0), "a measured ratio is that split");
    HET_CHECK(hp_choice_of_share(&m, 0, 0.01) == HP_CPU, "a ratio that leaves the unit on the CPU runs there");
    HET_CHECK(hp_choice_of_share(&m, 0, 0.3) == -1, "an unmeasured ratio is refused");
}

int main(void)
{
    test_choice_of_share();
    test_branches_overlap();
    test_latency_exact();
    test_pipeline_exact();
    return het_test_summary("test_partition");
}
