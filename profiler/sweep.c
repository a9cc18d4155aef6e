// sweep.c: the order of a sweep, progress, and storing each measurement.
#define _POSIX_C_SOURCE 200809L
#include "sweep.h"

#include "het/exec.h"
#include "het/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Phases run in this order; co-run phases keep one device busy.
//
// The layers phase measures each layer on the CPU, on the GPU and split at
// every ratio, one layer at a time, rather than all CPU layers, then all
// GPU layers, then all splits: the cost model compares a layer's splits
// with its whole times and scales them all by the same in-network factor,
// and on a shared machine the speed drifts within a sweep. Measured a
// minute apart, GoogLeNet's splits at GPU share 0.1 took 0.80x of the CPU
// alone on average on the build machine (at least 0.9x is possible), and
// the solver picked 57 splits that measured slower than the CPU alone.
enum phase { PH_LAYERS, PH_NETWORKS, PH_BASELINES, PH_XFER, PH_CORUN_CPU, PH_CORUN_GPU, PH_NET_CORUN, PH_N };

static const char *const phase_name[PH_N] = {"layers",     "networks",   "baselines", "transfers",
                                             "cpu co-run", "gpu co-run", "net co-run"};

// Alone-then-busy rounds of a network co-run (het_prof_corun_network).
#define NET_CORUN_ROUNDS 3

typedef struct unit {
    enum phase ph;
    het_db_item it;
    bool burst; // a network: an early burst of its repetitions, not stored yet
} unit;

typedef struct units {
    unit *u;
    int n, cap;
} units;

static int add_unit(units *us, enum phase ph, het_db_item it, bool burst)
{
    if (us->n == us->cap) {
        int cap = us->cap ? 2 * us->cap : 256;
        unit *nu = realloc(us->u, (size_t)cap * sizeof *nu);
        if (!nu) return -1;
        us->u = nu, us->cap = cap;
    }
    us->u[us->n++] = (unit){ph, it, burst};
    return 0;
}

static int add(units *us, enum phase ph, het_db_item it) { return add_unit(us, ph, it, false); }

// The whole networks are timed in three bursts, pooled: before the layers,
// halfway through them, and after them (the stored row), so that their
// medians, the cost model's calibration, are not one moment's speed. On
// the H100 machine the 15 CPU cores ran SqueezeNet v1.1 in 2.3 to 4.7 ms
// from one minute to the next.
static int add_bursts(units *us, const het_sweep_opts *o)
{
    int err = 0;
    for (int d = 0; d < 2; d++)
        if (o->dev[d]) err |= add_unit(us, PH_NETWORKS, (het_db_item){.kind = HET_DB_NETWORK, .device = d}, true);
    return err;
}

// A convolution that executors run fused with the ReLU after it.
static bool fusable(const het_graph *g, int layer) { return het_exec_fusable_relu(g, &g->layers[layer]) != NULL; }

// A ReLU that the executors fold into the convolution before it: for
// splits, it is measured as part of that convolution.
static bool folded_relu(const het_graph *g, int layer)
{
    return layer > 0 && g->layers[layer].kind == HET_LAYER_RELU && het_exec_fusable_relu(g, &g->layers[layer - 1]);
}

// Every measurement a full sweep owes, in phase order.
static int list_units(const het_graph *g, const het_sweep_opts *o, units *us)
{
    int err = 0;
    bool both = o->dev[0] && o->dev[1];
    err |= add_bursts(us, o);
    for (int i = 0; i < g->n_layers; i++) {
        if (i == g->n_layers / 2) err |= add_bursts(us, o);
        for (int d = 0; d < 2; d++)
            for (int f = 0; o->dev[d] && f <= (fusable(g, i) ? 1 : 0); f++)
                err |= add(us, PH_LAYERS, (het_db_item){HET_DB_LAYER, i, d, f, 0, 0});
        const het_layer *l = &g->layers[i];
        if (!both || !het_layer_kind_splittable(l->kind) || folded_relu(g, i)) continue;
        int C = het_layer_out_channels(g, l);
        for (int r = 0; r < o->n_ratios; r++) {
            int k = het_split_cpu_channels(C, (float)o->ratios[r]);
            if (k <= 0 || k >= C) continue; // all on one device at this ratio: not a split
            err |= add(us, PH_LAYERS, (het_db_item){HET_DB_SPLIT, i, 0, fusable(g, i), o->ratios[r], 0});
        }
    }
    for (int d = 0; d < 2; d++)
        if (o->dev[d]) err |= add(us, PH_NETWORKS, (het_db_item){.kind = HET_DB_NETWORK, .device = d});
    if (o->dev[HET_DEV_CPU] && o->cpu_all)
        err |= add(us, PH_BASELINES, (het_db_item){.kind = HET_DB_BASELINE, .device = HET_DEV_CPU});
    if (!both) return err;
    // Transfers: every blob whole, each way; and, for a sweep of sizes down
    // to one channel, the largest blob in power-of-two channel counts.
    int largest = 0;
    for (int b = 0; b < g->n_blobs; b++) {
        if (het_shape_count(&g->blobs[b].shape) > het_shape_count(&g->blobs[largest].shape)) largest = b;
        for (int dir = 1; dir >= 0; dir--)
            err |= add(us, PH_XFER, (het_db_item){HET_DB_TRANSFER, b, dir, 0, 0, g->blobs[b].shape.c});
    }
    for (int c = 1; c < g->blobs[largest].shape.c; c *= 2)
        for (int dir = 1; dir >= 0; dir--) err |= add(us, PH_XFER, (het_db_item){HET_DB_TRANSFER, largest, dir, 0, 0, c});
    if (!o->corun) return err;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < g->n_layers; i++)
            for (int f = 0; f <= (fusable(g, i) ? 1 : 0); f++)
                err |= add(us, d ? PH_CORUN_GPU : PH_CORUN_CPU, (het_db_item){HET_DB_CORUN, i, d, f, 0, 0});
    for (int d = 0; d < 2; d++) err |= add(us, PH_NET_CORUN, (het_db_item){.kind = HET_DB_NETWORK_CORUN, .device = d});
    return err;
}

// Whether device `d` can run the whole network.
static bool runs_all(const het_graph *g, const het_sweep_opts *o, int d)
{
    for (int i = 0; o->unsupported[d] && i < g->n_layers; i++)
        if (o->unsupported[d][i]) return false;
    return true;
}

// Why a unit cannot be measured (it is then stored as unsupported), or NULL.
static const char *unsupported(const het_graph *g, const het_sweep_opts *o, const unit *u)
{
    const het_db_item *it = &u->it;
    int d = it->device;
    switch (it->kind) {
    case HET_DB_CORUN:
        // The other device must run the whole network, over and over.
        if (!runs_all(g, o, 1 - d)) return o->unsupported_why[1 - d];
        return o->unsupported[d] && o->unsupported[d][it->index] ? o->unsupported_why[d] : NULL;
    case HET_DB_LAYER:
        return o->unsupported[d] && o->unsupported[d][it->index] ? o->unsupported_why[d] : NULL;
    case HET_DB_SPLIT:
        for (int k = 0; k < 2; k++)
            if (o->unsupported[k] && o->unsupported[k][it->index]) return o->unsupported_why[k];
        return NULL;
    case HET_DB_TRANSFER:
        return o->gpu_unusable;
    case HET_DB_NETWORK:
    case HET_DB_BASELINE:
        return runs_all(g, o, d) ? NULL : o->unsupported_why[d];
    case HET_DB_NETWORK_CORUN:
        for (int k = 0; k < 2; k++)
            if (!runs_all(g, o, k)) return o->unsupported_why[k];
        return NULL;
    }
    return NULL;
}

static void describe(const het_graph *g, const unit *u, char *buf, size_t cap)
{
    const het_db_item *it = &u->it;
    const char *dev = it->device ? "gpu" : "cpu";
    switch (it->kind) {
    case HET_DB_LAYER:
        snprintf(buf, cap, "%s%s on %s", g->layers[it->index].name, it->fused ? "+relu" : "", dev);
        break;
    case HET_DB_SPLIT:
        snprintf(buf, cap, "%s%s split %.2f", g->layers[it->index].name, it->fused ? "+relu" : "", it->ratio);
        break;
    case HET_DB_TRANSFER:
        snprintf(buf, cap, "%s[0:%d] %s", g->blobs[it->index].name, it->channels, it->device ? "to gpu" : "to host");
        break;
    case HET_DB_CORUN:
        snprintf(buf, cap, "%s%s on %s, %s busy", g->layers[it->index].name, it->fused ? "+relu" : "", dev,
                 it->device ? "cpu" : "gpu");
        break;
    case HET_DB_NETWORK:
        snprintf(buf, cap, "whole network on %s%s", dev, u->burst ? ", early burst" : "");
        break;
    case HET_DB_NETWORK_CORUN:
        snprintf(buf, cap, "whole network on %s, alone and %s busy", dev, it->device ? "cpu" : "gpu");
        break;
    case HET_DB_BASELINE:
        snprintf(buf, cap, "whole network on %s, every core", dev);
        break;
    }
}

static void progress(const het_sweep_opts *o, bool tty, int k, int n, double elapsed, const char *what,
                     enum phase ph, bool phase_start)
{
    if (o->quiet) return;
    double eta = k > 0 ? elapsed / k * (n - k) : 0;
    if (tty) {
        fprintf(stderr, "\r\033[K[%*d/%d] %-11s %-44.44s %5.0f s, ETA %d:%02d", n >= 1000 ? 4 : 3, k + 1, n,
                phase_name[ph], what, elapsed, (int)eta / 60, (int)eta % 60);
        fflush(stderr);
    } else if (phase_start || (n >= 10 && (k * 10 / n) != ((k - 1) * 10 / n))) {
        // Plain lines for logs: each phase, and every tenth of the way.
        fprintf(stderr, "hetprof: [%d/%d] %s: %s (%.0f s, ETA %.0f s)\n", k + 1, n, phase_name[ph], what, elapsed,
                eta);
    }
}

// Sum of a device's per-layer medians as the executors run them (a fused
// convolution and ReLU count once, as the fused measurement).
static double layer_sum(het_db *db, int64_t sweep, const het_graph *g, int dev)
{
    double sum = 0;
    for (int i = 0; i < g->n_layers; i++) {
        bool f = het_exec_fusable_relu(g, &g->layers[i]) != NULL;
        double t = het_db_median(db, sweep, &(het_db_item){HET_DB_LAYER, i, dev, f, 0, 0});
        if (f && isnan(t)) t = het_db_median(db, sweep, &(het_db_item){HET_DB_LAYER, i, dev, 0, 0, 0});
        else if (f) i++; // the ReLU is inside the fused time
        sum += t;
    }
    return sum;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Scratch space of measure(): per-layer statistics and the units they make.
typedef struct scratch {
    het_stats *layer;  // n_layers
    het_db_unit *unit; // n_layers
    het_net_acc net[2]; // each device's network bursts so far
    char note[2][320];  // a network row's note: how far its bursts moved
} scratch;

static void scratch_free(scratch *sc)
{
    free(sc->layer);
    free(sc->unit);
    het_net_acc_free(&sc->net[0]);
    het_net_acc_free(&sc->net[1]);
}

// Where a device's network bursts (or its stream's samples, burst by
// burst) moved by `limit` or more (HET_NET_DRIFT by default), a warning
// and the row's note (*note, in buf) say so: the cost model is priced at
// the sweep's pooled median, and the replays meet whatever speed the
// machine has then. The build machine (a shared 2-core VM) once ran
// SqueezeNet v1.1 on its CPU at 94 and 131 images/s in one study.
static void drift_note(const het_net_acc *acc, int dev, double limit, char *buf, size_t cap, const char **note)
{
    double net, stream;
    het_net_acc_drift(acc, &net, &stream);
    // Spreads are 1 with one burst or without a stream: nothing to say then.
    bool several = acc->bursts >= 2;
    bool moved = several && net >= limit, smoved = several && acc->n_stream > 0 && stream >= limit;
    if (!moved && !smoved) return;
    int n = acc->bursts < HET_NET_BURSTS_CAP ? acc->bursts : HET_NET_BURSTS_CAP;
    const double *v = moved ? acc->burst_ms : acc->burst_stream_ms;
    // The note's first words say which moved: experiments/study.py sweeps
    // again on "the network moved" only.
    int k = snprintf(buf, cap, "%s moved %.2fx across the sweep's %d bursts (", moved ? "the network" : "the stream",
                     moved ? net : stream, n);
    for (int i = 0; i < n && k > 0 && (size_t)k < cap; i++)
        k += snprintf(buf + k, cap - (size_t)k, "%s%.3f", i ? ", " : "", v[i]);
    if (k > 0 && (size_t)k < cap) snprintf(buf + k, cap - (size_t)k, " ms%s)", moved ? "" : " an image");
    het_log(HET_LOG_WARN, "hetprof: whole network on the %s: %s; predictions from this sweep carry the machine's speed "
            "of one moment (sweep again when it is quieter, or compare with replays)", dev == HET_DEV_CPU ? "CPU" : "GPU",
            buf);
    *note = buf;
}

// Measures one unit; fills r (and the storage its pointers use).
static het_status measure(het_db *db, int64_t sweep, het_prof *p, const het_graph *g, const het_sweep_opts *o,
                          const unit *u, het_db_result *r, het_stats *s, het_stats *s2, double *counters,
                          scratch *sc)
{
    const het_db_item *it = &u->it;
    het_status st = HET_OK;
    switch (it->kind) {
    case HET_DB_LAYER:
        st = het_prof_layer(p, it->index, it->device, it->fused, s, it->device == HET_DEV_GPU ? s2 : NULL);
        if (st == HET_OK && it->device == HET_DEV_GPU) r->issue = s2;
        if (st == HET_OK && it->device == HET_DEV_CPU && o->n_events > 0) {
            r->n_counters = o->n_events;
            r->events = o->events;
            r->counters = counters;
            for (int e = 0; e < o->n_events; e++) counters[e] = NAN;
            if (o->counters) st = het_prof_counters(p, it->index, it->fused, o->counters, o->n_events, 3, counters);
        }
        break;
    case HET_DB_SPLIT: {
        int C = het_layer_out_channels(g, &g->layers[it->index]);
        r->cpu_channels = het_split_cpu_channels(C, (float)it->ratio);
        r->gpu_channels = C - r->cpu_channels;
        st = het_prof_split(p, it->index, it->fused, it->ratio, s, s2);
        r->compute_ms = s2->median;
        break;
    }
    case HET_DB_TRANSFER: {
        const het_shape *sh = &g->blobs[it->index].shape;
        r->bytes = (uint64_t)it->channels * (het_shape_count(sh) / (size_t)sh->c) * sizeof(float);
        st = het_prof_transfer(p, it->index, it->device == 1, it->channels, s);
        break;
    }
    case HET_DB_CORUN:
        r->alone_ms = het_db_median(db, sweep, &(het_db_item){HET_DB_LAYER, it->index, it->device, it->fused, 0, 0});
        st = het_prof_layer(p, it->index, it->device, it->fused, s, NULL);
        break;
    case HET_DB_NETWORK_CORUN: {
        het_prof_corun c;
        st = het_prof_corun_network(p, it->device, NET_CORUN_ROUNDS, &c);
        if (st == HET_OK) {
            *s = c.busy;
            r->alone_ms = c.alone_ms;
            r->slowdown = c.slowdown;
            r->rounds = c.rounds;
            r->busy_runs = c.busy_runs;
            r->stream_alone_ms = c.stream_alone_ms;
            r->stream_slowdown = c.stream_slowdown;
        }
        break;
    }
    case HET_DB_BASELINE:
        st = het_prof_network_alone(p, o->cpu_all, s);
        r->cores = o->cpu_all_cores;
        r->threads = o->cpu_all_threads;
        break;
    case HET_DB_NETWORK: {
        // The CPU's units are timed inside the network too (free there; a
        // GPU would pay a synchronisation per unit).
        bool cpu = it->device == HET_DEV_CPU;
        het_net_acc *acc = &sc->net[it->device];
        st = het_prof_network_burst(p, it->device, cpu, acc);
        if (st == HET_OK) st = het_net_acc_stats(p, acc, s, cpu ? sc->layer : NULL, s2);
        if (st == HET_OK && acc->n_stream > 0) {
            r->stream = s2;
            r->stream_in_flight = acc->stream_in_flight;
            r->stream_images = acc->stream_images;
        }
        if (st == HET_OK)
            drift_note(acc, it->device, o->drift_limit > 0 ? o->drift_limit : HET_NET_DRIFT, sc->note[it->device],
                       sizeof sc->note[0], &r->note);
        r->layer_sum_ms = layer_sum(db, sweep, g, it->device);
        for (int i = 0; cpu && st == HET_OK && i < g->n_layers; i++) {
            bool f = fusable(g, i);
            sc->unit[r->n_units++] = (het_db_unit){.layer = i, .fused = f, .stats = sc->layer[i]};
            i += f; // the ReLU is inside the unit
        }
        r->units = sc->unit;
        break;
    }
    }
    r->stats = st == HET_OK ? s : NULL;
    return st;
}

het_status het_sweep_run(het_db *db, int64_t sweep, het_prof *p, const het_graph *g, const het_sweep_opts *o,
                         het_sweep_summary *sum)
{
    *sum = (het_sweep_summary){0};
    units all = {0};
    if (list_units(g, o, &all)) {
        free(all.u);
        return HET_E_NOMEM;
    }
    // What is left to do (everything, with --force).
    int n = 0;
    for (int i = 0; i < all.n; i++) {
        int has = o->force ? 0 : het_db_has(db, sweep, &all.u[i].it);
        if (has < 0) {
            free(all.u);
            return HET_E_DB;
        }
        if (!has) all.u[n++] = all.u[i];
    }
    int left = 0; // measurements to take (bursts are parts of one)
    for (int i = 0; i < all.n; i++) sum->owed += !all.u[i].burst;
    for (int i = 0; i < n; i++) left += !all.u[i].burst;
    sum->skipped = sum->owed - left;
    double *cvs = malloc((size_t)(n + 1) * sizeof *cvs);
    scratch sc = {calloc((size_t)g->n_layers, sizeof *sc.layer), calloc((size_t)g->n_layers, sizeof *sc.unit)};
    bool acc_ok = het_net_acc_init(p, &sc.net[0]) == HET_OK && het_net_acc_init(p, &sc.net[1]) == HET_OK;
    if (!cvs || !sc.layer || !sc.unit || !acc_ok) {
        free(cvs);
        scratch_free(&sc);
        free(all.u);
        return HET_E_NOMEM;
    }
    int n_cv = 0;
    bool tty = isatty(2);
    uint64_t t0 = het_now_ns();
    het_status st = HET_OK;
    int busy = -1; // device kept busy by the co-run loop
    enum phase cur = PH_N;
    int pinned = -1; // the device whose cores the measuring thread is on
    for (int k = 0; k < n && st == HET_OK; k++) {
        const unit *u = &all.u[k];
        if (o->stop && *o->stop) {
            st = HET_E_STATE;
            break;
        }
        char what[160];
        describe(g, u, what, sizeof what);
        bool phase_start = u->ph != cur;
        progress(o, tty, k, n, (het_now_ns() - t0) / 1e9, what, u->ph, phase_start);
        const char *why = unsupported(g, o, u);
        if (phase_start) {
            // Co-run phases keep the other device busy.
            int want_busy = u->ph == PH_CORUN_CPU ? HET_DEV_GPU : u->ph == PH_CORUN_GPU ? HET_DEV_CPU : -1;
            if (want_busy >= 0 && !runs_all(g, o, want_busy)) want_busy = -1; // its rows are unsupported
            if (busy >= 0 && busy != want_busy) {
                st = het_prof_busy_stop(p, NULL);
                busy = -1;
            }
            if (st == HET_OK && want_busy >= 0 && busy < 0) {
                st = het_prof_busy_start(p, want_busy);
                if (st == HET_OK) busy = want_busy;
            }
            if (st != HET_OK) break;
            cur = u->ph;
        }
        // The measuring thread sits on the cores of the device it drives.
        // Splits and transfers are issued from the CPU's side, as the
        // executor does one image at a time (from the GPU's own core PoCL
        // took 0.04 ms after idling, against 0.22).
        int want_pin = u->it.kind == HET_DB_SPLIT || u->it.kind == HET_DB_TRANSFER ? HET_DEV_CPU : u->it.device;
        if (want_pin != pinned) {
            het_prof_pin(p, want_pin);
            pinned = want_pin;
        }
        if (u->burst) {
            if (why) continue; // the stored row says why
            het_status bst = het_prof_network_burst(p, u->it.device, u->it.device == HET_DEV_CPU, &sc.net[u->it.device]);
            if (bst == HET_E_STATE && o->stop && *o->stop) {
                st = bst;
                break;
            }
            // A failed burst leaves fewer samples; the last one decides.
            if (bst != HET_OK) het_log(HET_LOG_WARN, "hetprof: %s, early burst, failed (%s)", what, het_status_str(bst));
            continue;
        }
        het_stats s = {0}, s2 = {0};
        double counters[HET_MAX_EVENTS];
        het_db_result r = {.status = "ok"};
        het_status mst = HET_OK;
        if (why) {
            r.status = "unsupported";
            r.note = why;
            sum->unsupported++;
        } else if ((mst = measure(db, sweep, p, g, o, u, &r, &s, &s2, counters, &sc)) == HET_E_STATE && o->stop &&
                   *o->stop) {
            st = HET_E_STATE; // interrupted: the measurement in flight is dropped
            break;
        } else if (mst != HET_OK) {
            r.status = "failed";
            r.note = het_status_str(mst);
            sum->failed++;
            het_log(HET_LOG_ERROR, "hetprof: %s failed (%s); recorded as failed, the sweep goes on", what,
                    het_status_str(mst));
        }
        if (mst == HET_OK && !why && u->it.kind == HET_DB_LAYER) cvs[n_cv++] = s.cv;
        if ((st = het_db_put(db, sweep, &u->it, &r)) != HET_OK) break;
        sum->done++;
    }
    if (busy >= 0) {
        het_status bst = het_prof_busy_stop(p, NULL);
        if (st == HET_OK) st = bst;
    }
    if (tty && !o->quiet && n > 0) fprintf(stderr, "\r\033[K");
    sum->seconds = (het_now_ns() - t0) / 1e9;
    if (n_cv > 0) {
        qsort(cvs, (size_t)n_cv, sizeof *cvs, cmp_double);
        sum->median_cv = cvs[n_cv / 2];
    } else {
        sum->median_cv = NAN;
    }
    free(cvs);
    scratch_free(&sc);
    free(all.u);
    if (st == HET_OK) {
        double handoff = 0;
        // The network's last kernel layer: small, so that the difference is
        // the hand-off and not noise in a long kernel.
        int last = g->n_layers - 1;
        while (last > 0 && g->layers[last].kind == HET_LAYER_CONCAT) last--;
        if (o->dev[0] && o->dev[1] && !(o->unsupported[1] && o->unsupported[1][last])) {
            het_prof_pin(p, HET_DEV_CPU);
            het_status hst = het_prof_handoff(p, last, &handoff);
            if (hst != HET_OK) {
                handoff = 0;
                het_log(HET_LOG_WARN, "hetprof: could not time the GPU hand-off (%s); transfers go without it",
                        het_status_str(hst));
            } else if (!o->quiet) {
                fprintf(stderr, "hetprof: waking the GPU after host work: %.3f ms (added to the host->GPU "
                        "transfer latency)\n", handoff);
            }
        }
        st = het_db_fit_transfers(db, sweep, handoff);
    }
    return st;
}
