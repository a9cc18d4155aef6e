// stats.c: the stopping rule and summary of repeated timings (stats.h).
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double het_median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Linear interpolation between order statistics (sorted input).
static double quantile(const double *s, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1) return s[n - 1];
    return s[i] + (pos - i) * (s[i + 1] - s[i]);
}

void het_stats_compute(double *s, int n, double ci_target, het_stats *o)
{
    double first = o->first;
    *o = (het_stats){.n = n, .first = first};
    if (n <= 0) return;
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    double mean = sum / n;
    for (int i = 0; i < n; i++) sq += (s[i] - mean) * (s[i] - mean);
    o->median = quantile(s, n, 0.5);
    o->min = s[0];
    o->p10 = quantile(s, n, 0.1);
    o->p90 = quantile(s, n, 0.9);
    o->mean = mean;
    o->cv = n > 1 && mean > 0 ? sqrt(sq / (n - 1)) / mean : 0;
    // The median's 95% CI runs between the order statistics of ranks
    // n/2 -+ 1.96 sqrt(n)/2 (binomial, normal approximation).
    double h = 1.96 * sqrt((double)n) / 2;
    int lo = (int)floor(n / 2.0 - h), hi = (int)ceil(n / 2.0 + h);
    if (lo < 0 || hi > n - 1 || o->median <= 0) {
        o->ci_rel = INFINITY;
    } else {
        o->ci_rel = (s[hi] - s[lo]) / 2 / o->median;
    }
    o->converged = o->ci_rel <= ci_target;
}

het_status het_measure(const het_rep_policy *p, het_rep_fn fn, void *ctx, const volatile sig_atomic_t *stop,
                       het_stats *out)
{
    double first = 0;
    het_status st = fn(ctx, &first);
    for (int i = 0; st == HET_OK && i < p->warmup; i++) {
        double ignored;
        st = fn(ctx, &ignored);
    }
    if (st != HET_OK) return st;
    int cap = p->max_reps > p->min_reps ? p->max_reps : p->min_reps;
    double *s = malloc((size_t)cap * sizeof *s), *work = malloc((size_t)cap * sizeof *work);
    if (!s || !work) {
        free(s);
        free(work);
        return HET_E_NOMEM;
    }
    het_stats cur = {0};
    uint64_t t0 = het_now_ns();
    double spent = 0; // wall seconds, untimed set-up between repetitions included
    int n = 0;
    while (n < cap) {
        if (stop && *stop) {
            st = HET_E_STATE;
            break;
        }
        st = fn(ctx, &s[n]);
        if (st != HET_OK) break;
        spent = (het_now_ns() - t0) / 1e9;
        n++;
        // Checking the rule sorts a copy; cheap next to what is timed.
        if (n >= p->min_reps && (n % 4 == 0 || n == cap || spent >= p->max_seconds)) {
            for (int i = 0; i < n; i++) work[i] = s[i];
            het_stats_compute(work, n, p->ci_target, &cur);
            if (cur.converged || spent >= p->max_seconds) break;
        }
    }
    if (st == HET_OK) {
        cur.first = first;
        het_stats_compute(s, n, p->ci_target, &cur);
        *out = cur;
    }
    free(s);
    free(work);
    return st;
}
