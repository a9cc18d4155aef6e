// hetprof: measures every layer of a model on the CPU, the GPU and split
// between them, plus transfers, co-run interference and whole networks,
// into het's SQLite database (docs/hetprof.md); shows and exports it.
#define _GNU_SOURCE
#include "het/exec.h"
#include "report.h"
#include "sweep.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CORES 1024

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hetprof sweep --model M.prototxt --db DB [options]\n"
        "       hetprof show --db DB [--model M.prototxt] [--sweep ID]\n"
        "       hetprof export --db DB --csv DIR\n"
        "\n"
        "sweep: time every layer of the model on each device alone (inputs already\n"
        "resident), fused with its ReLU where executors fuse, split between CPU and GPU\n"
        "at each ratio, every blob's transfer each way (and a fitted latency + bandwidth\n"
        "model), each layer while the other device runs the network (co-run), and the\n"
        "whole network on each device. Every measurement is stored as soon as it is\n"
        "known: an interrupted sweep resumes where it stopped when run again.\n"
        "\n"
        "  --model FILE        Caffe deploy prototxt (required)\n"
        "  --weights FILE      .caffemodel (default: the prototxt's fillers, with --seed)\n"
        "  --seed N            filler seed (default 1)\n"
        "  --db FILE           results database, created if missing (required)\n"
        "  --devices LIST      cpu, gpu or cpu,gpu (default cpu,gpu)\n"
        "  --ratios LIST       GPU shares of the output channels for splits\n"
        "                      (default 0.1,0.2,...,0.9)\n"
        "  --reps N            at most N timed repetitions per measurement (default 50)\n"
        "  --min-reps N        at least N (default 5)\n"
        "  --warmup N          untimed repetitions after the first run (default 2)\n"
        "  --ci X              stop once the median's 95%% confidence interval is within\n"
        "                      X of it (default 0.02)\n"
        "  --max-time S        or once a measurement took S seconds (default 1)\n"
        "  --events LIST       PAPI events per CPU layer (default PAPI_TOT_CYC,PAPI_TOT_INS;\n"
        "                      'none': no counters)\n"
        "  --no-corun          skip the co-run interference measurements\n"
        "  --drift-limit X     warn when a device's whole-network bursts, timed before,\n"
        "                      amid and after the layers, spread by X or more (slowest\n"
        "                      over fastest; default 1.2)\n"
        "  --no-fold           keep BatchNorm and Scale as layers (default: folded into the\n"
        "                      convolution before them, as hetrun runs them; also for show)\n"
        "  --force             measure again what the database already holds\n"
        "  --cpu-cores LIST    cores of the CPU backend (default: the first half)\n"
        "  --gpu-cores LIST    cores for the OpenCL device's host threads (default: the\n"
        "                      second half; confines PoCL)\n"
        "  --threads N         CPU backend threads (default: one per core)\n"
        "  --gpu DEV           OpenCL device: index or name substring (see hetrun --list-gpus)\n"
        "  --gpu-buffers MODE  auto, copy or zero-copy (default auto)\n"
        "  --cl-cache DIR      OpenCL program cache ('' disables)\n"
        "  --db-timeout S      wait up to S seconds for another writer's lock (default 10)\n"
        "  -q, --quiet         no progress\n"
        "\n"
        "show: the per-layer table of each sweep of the database (or of one model or\n"
        "sweep): CPU and GPU medians, the faster device, the best split and its time,\n"
        "the speedup of the best choice over the faster device, co-run slowdowns.\n"
        "\n"
        "export: one CSV file per table into DIR.\n");
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct opts {
    const char *cmd, *model, *weights, *db, *csv, *cpu_cores, *gpu_cores, *gpu, *cl_cache;
    unsigned long long seed;
    long long sweep_id;
    bool dev[2], corun, force, quiet, no_fold;
    double drift_limit; // 0: HET_NET_DRIFT
    int gpu_buffers, threads;
    double ratios[HET_MAX_RATIOS];
    int n_ratios;
    char *events_buf;
    const char *events[HET_MAX_EVENTS];
    int n_events;
    het_rep_policy policy;
    double db_timeout;
} opts;

static int bad(const char *fmt, const char *a)
{
    fprintf(stderr, "hetprof: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, " (see hetprof --help)\n");
    return 2;
}

static int num(const char *s, const char *opt, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "hetprof: %s '%s': expected a number in [%g, %g] (see hetprof --help)\n", opt, s, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.seed = 1, .dev = {true, true}, .corun = true, .gpu_buffers = -1, .sweep_id = -1,
                .policy = {.warmup = 2, .min_reps = 5, .max_reps = 50, .ci_target = 0.02, .max_seconds = 1.0},
                .db_timeout = 10, .n_ratios = 9};
    for (int i = 0; i < 9; i++) o->ratios[i] = (i + 1) / 10.0;
    static char default_events[] = "PAPI_TOT_CYC,PAPI_TOT_INS";
    char *events = default_events;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 1;
    }
    o->cmd = argv[1];
    if (strcmp(o->cmd, "sweep") && strcmp(o->cmd, "show") && strcmp(o->cmd, "export"))
        return bad("unknown command '%s' (expected sweep, show or export)", o->cmd);
    enum { O_MODEL = 256, O_WEIGHTS, O_SEED, O_DB, O_DEVICES, O_RATIOS, O_REPS, O_MINREPS, O_WARMUP, O_CI, O_MAXTIME,
           O_EVENTS, O_NOCORUN, O_DRIFT, O_FORCE, O_CPUCORES, O_GPUCORES, O_THREADS, O_GPU, O_GPUBUF, O_CLCACHE, O_TIMEOUT,
           O_CSV, O_SWEEP, O_NOFOLD };
    static const struct option lo[] = {
        {"model", 1, 0, O_MODEL}, {"weights", 1, 0, O_WEIGHTS}, {"seed", 1, 0, O_SEED}, {"db", 1, 0, O_DB},
        {"devices", 1, 0, O_DEVICES}, {"ratios", 1, 0, O_RATIOS}, {"reps", 1, 0, O_REPS},
        {"min-reps", 1, 0, O_MINREPS}, {"warmup", 1, 0, O_WARMUP}, {"ci", 1, 0, O_CI}, {"max-time", 1, 0, O_MAXTIME},
        {"events", 1, 0, O_EVENTS}, {"no-corun", 0, 0, O_NOCORUN}, {"drift-limit", 1, 0, O_DRIFT}, {"no-fold", 0, 0, O_NOFOLD}, {"force", 0, 0, O_FORCE},
        {"cpu-cores", 1, 0, O_CPUCORES}, {"gpu-cores", 1, 0, O_GPUCORES}, {"threads", 1, 0, O_THREADS},
        {"gpu", 1, 0, O_GPU}, {"gpu-buffers", 1, 0, O_GPUBUF}, {"cl-cache", 1, 0, O_CLCACHE},
        {"db-timeout", 1, 0, O_TIMEOUT}, {"csv", 1, 0, O_CSV}, {"sweep", 1, 0, O_SWEEP}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_WEIGHTS: o->weights = optarg; break;
        case O_SEED:
            if (num(optarg, "--seed", 0, 1e15, &v)) return 2;
            o->seed = (unsigned long long)v;
            break;
        case O_DB: o->db = optarg; break;
        case O_DEVICES: {
            o->dev[0] = o->dev[1] = false;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (!strcmp(t, "cpu")) o->dev[0] = true;
                else if (!strcmp(t, "gpu")) o->dev[1] = true;
                else return bad("--devices: unknown device '%s' (expected cpu, gpu or cpu,gpu)", t);
            }
            if (!o->dev[0] && !o->dev[1]) return bad("--devices '%s' names no device", optarg);
            break;
        }
        case O_RATIOS: {
            o->n_ratios = 0;
            char *buf = strdup(optarg);
            if (!buf) return 1;
            int rc = 0;
            for (char *t = strtok(buf, ","); t && !rc; t = strtok(NULL, ",")) {
                if (o->n_ratios == HET_MAX_RATIOS) rc = bad("--ratios: more than 64 ratios in '%s'", optarg);
                else if ((rc = num(t, "--ratios", 0, 1, &v)) != 0) break;
                else if (v <= 0 || v >= 1)
                    rc = bad("--ratios: '%s' is not strictly between 0 and 1 (0 and 1 are the devices alone)", t);
                else o->ratios[o->n_ratios++] = v;
            }
            free(buf);
            if (rc) return rc;
            break;
        }
        case O_REPS:
            if (num(optarg, "--reps", 1, 1e6, &v)) return 2;
            o->policy.max_reps = (int)v;
            break;
        case O_MINREPS:
            if (num(optarg, "--min-reps", 1, 1e6, &v)) return 2;
            o->policy.min_reps = (int)v;
            break;
        case O_WARMUP:
            if (num(optarg, "--warmup", 0, 1e6, &v)) return 2;
            o->policy.warmup = (int)v;
            break;
        case O_CI:
            if (num(optarg, "--ci", 0, 1, &v)) return 2;
            o->policy.ci_target = v;
            break;
        case O_MAXTIME:
            if (num(optarg, "--max-time", 0, 1e6, &v)) return 2;
            o->policy.max_seconds = v;
            break;
        case O_EVENTS: events = optarg; break;
        case O_NOCORUN: o->corun = false; break;
        case O_DRIFT:
            if (num(optarg, "--drift-limit", 1, 1e6, &o->drift_limit)) return 2;
            break;
        case O_NOFOLD: o->no_fold = true; break;
        case O_FORCE: o->force = true; break;
        case O_CPUCORES: o->cpu_cores = optarg; break;
        case O_GPUCORES: o->gpu_cores = optarg; break;
        case O_THREADS:
            if (num(optarg, "--threads", 1, 4096, &v)) return 2;
            o->threads = (int)v;
            break;
        case O_GPU: o->gpu = optarg; break;
        case O_GPUBUF:
            if (!strcmp(optarg, "auto")) o->gpu_buffers = -1;
            else if (!strcmp(optarg, "copy")) o->gpu_buffers = 0;
            else if (!strcmp(optarg, "zero-copy")) o->gpu_buffers = 1;
            else return bad("--gpu-buffers '%s': expected auto, copy or zero-copy", optarg);
            break;
        case O_CLCACHE: o->cl_cache = optarg; break;
        case O_TIMEOUT:
            if (num(optarg, "--db-timeout", 0, 86400, &o->db_timeout)) return 2;
            break;
        case O_CSV: o->csv = optarg; break;
        case O_SWEEP:
            if (num(optarg, "--sweep", 1, 1e15, &v)) return 2;
            o->sweep_id = (long long)v;
            break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); return 1;
        case ':': return bad("%s needs a value", argv[optind - 1]);
        default: return bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
    if (!o->db) return bad("%s needs --db FILE", o->cmd);
    if (!strcmp(o->cmd, "sweep") && !o->model) return bad("%s needs --model FILE", o->cmd);
    if (!strcmp(o->cmd, "export") && !o->csv) return bad("%s needs --csv DIR", o->cmd);
    if (o->policy.min_reps > o->policy.max_reps) o->policy.max_reps = o->policy.min_reps;
    if (strcmp(events, "none") != 0) {
        if (!(o->events_buf = strdup(events))) return 1;
        for (char *t = strtok(o->events_buf, ","); t; t = strtok(NULL, ",")) {
            if (o->n_events == HET_MAX_EVENTS) return bad("--events: at most 8 events, not '%s'", events);
            o->events[o->n_events++] = t;
        }
    }
    return 0;
}

// Prepares every layer on `be`, noting those it cannot run instead of
// failing: a sweep records them as unsupported and goes on.
static het_status prepare_layers(het_backend *be, const het_graph *g, bool *unsup, int *n_unsup)
{
    *n_unsup = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        het_status st = be->ops->supports && !be->ops->supports(be, g, l) ? HET_E_UNSUPPORTED
                                                                           : be->ops->prepare(be, g, l);
        if (st == HET_E_UNSUPPORTED || st == HET_E_OPENCL) {
            unsup[i] = true;
            ++*n_unsup;
        } else if (st != HET_OK) {
            return st;
        }
    }
    return HET_OK;
}

static bool runs_all_layers(const bool *unsup, int n)
{
    for (int i = 0; unsup && i < n; i++)
        if (unsup[i]) return false;
    return true;
}

static int sweep(opts *o)
{
    int rc = 1;
    het_db *db = NULL;
    het_graph *g = NULL;
    het_backend *be[2] = {NULL, NULL};
    het_workspace *probe = NULL;
    het_prof *p = NULL;
    het_counters *ctr = NULL;
    bool *unsup[2] = {NULL, NULL};
    char why_gpu[512] = "", why_cpu[256] = "", note[512] = "";
    int cores[MAX_CORES], n_cores = 0, gcores[MAX_CORES], n_gcores = 0;
    if (o->cpu_cores && (n_cores = het_parse_core_list(o->cpu_cores, cores, MAX_CORES)) < 0) return 2;
    if (o->gpu_cores && (n_gcores = het_parse_core_list(o->gpu_cores, gcores, MAX_CORES)) < 0) return 2;
    // The database first: a bad --db costs no work.
    if (het_db_open(o->db, (int)(o->db_timeout * 1000), &db) != HET_OK) return 1;
    het_status st = het_net_load(o->model, o->weights, o->seed, &g);
    if (st == HET_OK && !o->no_fold) st = het_graph_fold(g, NULL);
    if (st != HET_OK) goto done;
    if (o->dev[0] && o->dev[1] && !n_cores && !n_gcores && !o->threads)
        het_default_core_sets((int)sysconf(_SC_NPROCESSORS_ONLN), cores, &n_cores, gcores, &n_gcores, MAX_CORES);
    char core_list[64] = "";
    for (int i = 0, len = 0; i < n_cores && len < (int)sizeof core_list - 8; i++)
        len += snprintf(core_list + len, sizeof core_list - (size_t)len, "%s%d", i ? "," : "", cores[i]);
    het_gpu_cfg gcfg = {.device = o->gpu, .zero_copy = o->gpu_buffers, .cache_dir = o->cl_cache,
                        .cores = n_gcores ? gcores : NULL, .n_cores = n_gcores};
    het_cpu_cfg cfg = {.n_threads = o->threads, .cores = n_cores ? cores : NULL, .n_cores = n_cores};
    if (o->dev[1] && (st = het_opencl_backend_create(&gcfg, &be[1])) != HET_OK) {
        fprintf(stderr, "hetprof: no usable OpenCL device for the GPU measurements; sweep the CPU alone with "
                        "--devices cpu\n");
        goto done;
    }
    if (o->dev[0] && (st = het_cpu_backend_create(&cfg, &be[0])) != HET_OK) goto done;
    for (int d = 0; d < 2; d++) {
        if (!be[d]) continue;
        if (!(unsup[d] = calloc((size_t)g->n_layers, sizeof(bool)))) goto oom;
    }
    const char *gpu_unusable = NULL;
    if (be[1]) {
        // A model whose blobs the device cannot hold runs nothing there:
        // every GPU measurement is recorded as unsupported, with the reason.
        if ((st = het_workspace_create(g, &probe)) != HET_OK) goto done;
        if (het_exec_bind(be[1], g, probe) != HET_OK) {
            snprintf(why_gpu, sizeof why_gpu, "the OpenCL device cannot hold this model's blobs");
            gpu_unusable = why_gpu;
            for (int i = 0; i < g->n_layers; i++) unsup[1][i] = true;
            fprintf(stderr, "hetprof: %s; GPU measurements are recorded as unsupported\n", why_gpu);
        }
        het_workspace_destroy(probe);
        probe = NULL;
    }
    int n_unsup[2] = {0, 0};
    for (int d = 0; d < 2; d++) {
        if (!be[d] || (d == 1 && gpu_unusable)) continue;
        if ((st = prepare_layers(be[d], g, unsup[d], &n_unsup[d])) != HET_OK) goto done;
        if (n_unsup[d]) {
            snprintf(d ? why_gpu : why_cpu, d ? sizeof why_gpu : sizeof why_cpu, "the %s backend cannot run it",
                     d ? "OpenCL" : "CPU");
            fprintf(stderr, "hetprof: %d layer%s cannot run on the %s; recorded as unsupported\n", n_unsup[d],
                    n_unsup[d] == 1 ? "" : "s", d ? "GPU" : "CPU");
        }
    }
    if (!be[0] && !runs_all_layers(unsup[1], g->n_layers)) {
        fprintf(stderr, "hetprof: the GPU cannot run the whole model and the CPU is not swept; nothing to measure "
                        "against\n");
        goto done;
    }

    // The sweep's identity, and resuming.
    char plat[256] = "", dev[256] = "", drv[256] = "", weights[64], settings[512];
    het_opencl_identity(be[1], plat, dev, drv, sizeof plat);
    snprintf(weights, sizeof weights, "seed:%llu", o->seed);
    int len = snprintf(settings, sizeof settings, "{\"reps\":%d,\"min_reps\":%d,\"warmup\":%d,\"ci\":%g,"
                       "\"max_time\":%g,\"corun\":%s,\"ratios\":[", o->policy.max_reps, o->policy.min_reps,
                       o->policy.warmup, o->policy.ci_target, o->policy.max_seconds, o->corun ? "true" : "false");
    for (int i = 0; i < o->n_ratios && len < (int)sizeof settings - 16; i++)
        len += snprintf(settings + len, sizeof settings - (size_t)len, "%s%g", i ? "," : "", o->ratios[i]);
    snprintf(settings + len, sizeof settings - (size_t)len, "]}");
    het_db_sweep_info info = {.g = g, .model_path = o->model, .weights = o->weights ? o->weights : weights,
                              .cpu_cores = core_list, .cpu_desc = be[0] ? het_backend_describe(be[0]) : NULL,
                              .ocl_platform = plat, .ocl_device = dev, .ocl_driver = drv,
                              .gpu_desc = be[1] ? het_backend_describe(be[1]) : NULL, .settings = settings};
    int64_t sweep_id;
    bool resumed;
    if ((st = het_db_sweep_begin(db, &info, &sweep_id, &resumed)) != HET_OK) goto done;
    if (!o->quiet) {
        fprintf(stderr, "hetprof: %s sweep %lld of %s (%d layers) into %s\n", resumed ? "resuming" : "starting",
                (long long)sweep_id, g->name[0] ? g->name : o->model, g->n_layers, o->db);
        for (int d = 0; d < 2; d++)
            if (be[d]) fprintf(stderr, "hetprof:   %s\n", het_backend_describe(be[d]));
    }

    // Counters: where they cannot be counted, the reason once, and NULLs.
    if (o->n_events > 0 && be[0]) {
        if (be[0]->ops->pin_thread) be[0]->ops->pin_thread(be[0]);
        ctr = het_counters_open(o->events, o->n_events, note, sizeof note);
        if (!ctr && !o->quiet) fprintf(stderr, "hetprof: no hardware counters: %s; their values are NULL\n", note);
    }

    sigset_t none;
    sigemptyset(&none);
    struct sigaction sa = {.sa_handler = on_signal, .sa_mask = none, .sa_flags = SA_RESETHAND};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    bool corun = o->corun && be[0] && be[1] && !gpu_unusable;
    if ((st = het_prof_create(g, be[0], gpu_unusable ? NULL : be[1], corun, o->seed, &o->policy, &stop_flag, &p)) !=
        HET_OK)
        goto done;
    het_sweep_opts so = {.dev = {be[0] != NULL, be[1] != NULL}, .n_ratios = o->n_ratios, .corun = corun,
                         .force = o->force, .quiet = o->quiet, .n_events = o->n_events, .counters = ctr,
                         .unsupported = {unsup[0], unsup[1]}, .unsupported_why = {why_cpu, why_gpu},
                         .gpu_unusable = gpu_unusable, .drift_limit = o->drift_limit, .stop = &stop_flag};
    memcpy(so.ratios, o->ratios, sizeof so.ratios);
    memcpy(so.events, o->events, sizeof so.events);
    het_sweep_summary sum;
    st = het_sweep_run(db, sweep_id, p, g, &so, &sum);
    if (st == HET_E_STATE && stop_flag) {
        fprintf(stderr, "hetprof: interrupted; %d measurement%s stored in %s; run the same command again to resume\n",
                sum.done, sum.done == 1 ? "" : "s", o->db);
        rc = 130;
        goto done;
    }
    if (st != HET_OK) goto done;
    if ((st = het_db_sweep_finish(db, sweep_id, o->n_events ? (ctr ? NULL : note) : "no events requested")) != HET_OK)
        goto done;
    char cv[64] = "";
    if (!isnan(sum.median_cv)) snprintf(cv, sizeof cv, "; median CV of the layer timings %.1f%%", sum.median_cv * 100);
    printf("sweep %lld: %d measurement%s taken in %.1f s (%d already stored), %d unsupported, %d failed%s\n",
           (long long)sweep_id, sum.done, sum.done == 1 ? "" : "s", sum.seconds, sum.skipped, sum.unsupported,
           sum.failed, cv);
    rc = sum.failed ? 1 : 0;
    if (sum.failed) fprintf(stderr, "hetprof: %d measurement%s failed; run again to retry them\n", sum.failed,
                            sum.failed == 1 ? "" : "s");
    goto done;
oom:
    fprintf(stderr, "hetprof: out of memory\n");
done:
    het_prof_destroy(p);
    het_counters_close(ctr);
    het_workspace_destroy(probe);
    for (int d = 0; d < 2; d++) {
        het_backend_destroy(be[d]);
        free(unsup[d]);
    }
    het_graph_destroy(g);
    het_db_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        free(o.events_buf);
        return rc == 1 && argc >= 2 ? 0 : rc;
    }
    if (!strcmp(o.cmd, "sweep")) rc = sweep(&o);
    else if (!strcmp(o.cmd, "show")) rc = het_report_show(o.db, o.model, !o.no_fold, o.sweep_id, stdout);
    else rc = het_report_export(o.db, o.csv);
    free(o.events_buf);
    return rc;
}
