// parts.c: `hetprof parts`, each part of a split alone (parts.h).
#include "parts.h"

#include "het/exec.h"

#include <math.h>
#include <stdlib.h>

int het_parts_default_step(int C)
{
    int step = (C / 32 + 7) / 8 * 8;
    return step < 8 ? 8 : step;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// The k to time for a layer of C channels: the list or the step, always
// with 0 and C (the devices alone, the reference of every row), sorted,
// without repeats. Returns the count, or -1 (out of memory).
static int channel_list(const het_parts_opts *o, int C, int **out)
{
    int step = o->step > 0 ? o->step : het_parts_default_step(C);
    int n = o->channels ? o->n_channels : C / step + 1;
    int *k = malloc((size_t)(n + 2) * sizeof *k);
    if (!k) return -1;
    for (int i = 0; i < n; i++) k[i] = o->channels ? o->channels[i] : i * step;
    k[n++] = 0;
    k[n++] = C;
    qsort(k, (size_t)n, sizeof *k, cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || k[i] != k[m - 1]) k[m++] = k[i];
    *out = k;
    return m;
}

// One part: device `dev` on [c0, c1), fused with the layer's ReLU where
// that device's executor fuses it. An empty part or a missing backend
// leaves `ms` NaN.
static het_status part(het_prof *p, const het_graph *g, het_backend *const be[2], int layer, int dev, int c0, int c1,
                       het_stats *s)
{
    s->median = s->p90 = NAN;
    if (!be[dev] || c0 >= c1) return HET_OK;
    const het_layer *l = &g->layers[layer];
    bool fused = het_exec_fusable_relu(g, l) && be[dev]->ops->run_with_relu;
    het_prof_pin(p, dev); // the thread sits on the cores of the device it drives, as in a sweep
    return het_prof_part(p, layer, dev, fused, c0, c1, s, NULL);
}

// The split itself at k, both parts at once, merged on the host or on the
// GPU; NaN where it is not a split or a device is missing.
static het_status split(het_prof *p, const het_graph *g, het_backend *const be[2], int layer, int k, bool on_gpu,
                        het_stats *s)
{
    s->median = s->p90 = NAN;
    const het_layer *l = &g->layers[layer];
    int C = het_layer_out_channels(g, l);
    if (!be[0] || !be[1] || k <= 0 || k >= C) return HET_OK;
    bool fused = het_exec_fusable_relu(g, l) && be[0]->ops->run_with_relu && be[1]->ops->run_with_relu;
    het_stats compute;
    het_prof_pin(p, 0); // splits are issued from the CPU's side, as the executor does
    return het_prof_split_at(p, layer, fused, k, on_gpu, s, &compute);
}

static void cell(FILE *out, const het_stats *s, bool csv)
{
    if (csv) {
        if (isnan(s->median)) fprintf(out, ",,");
        else fprintf(out, ",%.6f,%.6f", s->median, s->p90);
    } else if (isnan(s->median)) {
        fprintf(out, " %17s", "-");
    } else {
        fprintf(out, " %8.4f (%6.4f)", s->median, s->p90);
    }
}

het_status het_parts_check(const het_graph *g, const het_parts_opts *o)
{
    int kmax = 0;
    for (int i = 0; o->channels && i < o->n_channels; i++) kmax = o->channels[i] > kmax ? o->channels[i] : kmax;
    for (int li = 0; li < o->n_layers; li++) {
        const het_layer *l = &g->layers[o->layers[li]];
        int C = het_layer_out_channels(g, l);
        if (!het_layer_kind_splittable(l->kind)) {
            het_log(HET_LOG_ERROR, "layer '%s' (%s) cannot be split by output channel", l->name,
                    het_layer_kind_name(l->kind));
            return HET_E_INVALID;
        }
        if (kmax > C) {
            het_log(HET_LOG_ERROR, "layer '%s' has %d output channels; cannot give the CPU %d", l->name, C, kmax);
            return HET_E_INVALID;
        }
    }
    return HET_OK;
}

het_status het_parts_run(het_prof *p, const het_graph *g, het_backend *const be[2], const het_parts_opts *o,
                         FILE *out)
{
    het_status st = het_parts_check(g, o); // before anything is measured
    if (st != HET_OK) return st;
    if (o->csv)
        fprintf(out, "layer,cpu_channels,gpu_channels,cpu_ms,cpu_p90_ms,gpu_ms,gpu_p90_ms,split_host_ms,"
                     "split_host_p90_ms,split_gpu_ms,split_gpu_p90_ms\n");
    for (int li = 0; li < o->n_layers; li++) {
        int layer = o->layers[li];
        const het_layer *l = &g->layers[layer];
        int C = het_layer_out_channels(g, l);
        int *k = NULL;
        int n = channel_list(o, C, &k);
        if (n < 0) return HET_E_NOMEM;
        const het_layer *relu = het_exec_fusable_relu(g, l);
        if (!o->quiet) fprintf(stderr, "hetprof: %s: %d channel counts on each device\n", l->name, n);
        if (!o->csv) {
            fprintf(out, "%s: %s, %d output channels%s%s; each part alone, its inputs resident; median ms (p90)\n",
                    l->name, het_layer_kind_name(l->kind), C, relu ? ", with " : "", relu ? relu->name : "");
            fprintf(out, "%8s %8s %17s %17s %13s %17s %17s %16s\n", "cpu ch", "gpu ch", "cpu [0, k)", "gpu [k, C)",
                    "both, no merge", "split, host merge", "split, gpu merge", "vs faster alone");
        }
        het_stats *cpu = calloc((size_t)n, sizeof *cpu), *gpu = calloc((size_t)n, sizeof *gpu);
        st = cpu && gpu ? HET_OK : HET_E_NOMEM;
        // The devices alone first (k = 0 and C; n >= 2): every row is
        // compared with the faster.
        for (int i = 0; st == HET_OK && i < n; i += n - 1) {
            if ((st = part(p, g, be, layer, 0, 0, k[i], &cpu[i])) == HET_OK)
                st = part(p, g, be, layer, 1, k[i], C, &gpu[i]);
        }
        double fastest = fmin(isnan(cpu[n - 1].median) ? INFINITY : cpu[n - 1].median,
                              isnan(gpu[0].median) ? INFINITY : gpu[0].median);
        for (int i = 0; st == HET_OK && i < n; i++) {
            if (i > 0 && i < n - 1) {
                if ((st = part(p, g, be, layer, 0, 0, k[i], &cpu[i])) != HET_OK) break;
                if ((st = part(p, g, be, layer, 1, k[i], C, &gpu[i])) != HET_OK) break;
            }
            het_stats sh, sg;
            if ((st = split(p, g, be, layer, k[i], false, &sh)) != HET_OK) break;
            if ((st = split(p, g, be, layer, k[i], true, &sg)) != HET_OK) break;
            // Both parts at once with nothing else paid: the slower of the two.
            double both = be[0] && be[1] ? fmax(isnan(cpu[i].median) ? 0 : cpu[i].median,
                                                isnan(gpu[i].median) ? 0 : gpu[i].median)
                                         : 0;
            if (o->csv) {
                fprintf(out, "%s,%d,%d", l->name, k[i], C - k[i]);
                cell(out, &cpu[i], true);
                cell(out, &gpu[i], true);
                cell(out, &sh, true);
                cell(out, &sg, true);
                fprintf(out, "\n");
            } else {
                fprintf(out, "%8d %8d", k[i], C - k[i]);
                cell(out, &cpu[i], false);
                cell(out, &gpu[i], false);
                if (both > 0) fprintf(out, " %14.4f", both);
                else fprintf(out, " %14s", "-");
                cell(out, &sh, false);
                cell(out, &sg, false);
                // The measured split (its better merge) or, at k = 0 and C,
                // the device alone, against the faster device alone.
                double t = fmin(isnan(sh.median) ? INFINITY : sh.median, isnan(sg.median) ? INFINITY : sg.median);
                if (k[i] == 0 || k[i] == C) t = k[i] == 0 ? gpu[i].median : cpu[i].median;
                if (isfinite(fastest) && t > 0 && isfinite(t)) fprintf(out, " %15.2fx\n", fastest / t);
                else fprintf(out, " %16s\n", "-");
            }
            fflush(out);
        }
        if (!o->csv && st == HET_OK) fprintf(out, "\n");
        free(cpu);
        free(gpu);
        free(k);
        if (st != HET_OK) return st;
    }
    return HET_OK;
}
