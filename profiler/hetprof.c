// hetprof: measures every layer of a model on the CPU, the GPU and split
// between them, plus transfers, co-run interference and whole networks,
// into het's SQLite database (docs/hetprof.md); shows and exports it.
#define _GNU_SOURCE
#include "het/env.h"
#include "het/exec.h"
#include "parts.h"
#include "report.h"
#include "sweep.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


// The help: the synopsis and each command's options; `hetprof CMD --help`
// prints that command's alone.
static const char *const synopsis =
        "usage: hetprof sweep --model M.prototxt --db DB [options]\n"
        "       hetprof show --db DB [--model M.prototxt] [--sweep ID]\n"
        "       hetprof export --db DB --csv DIR\n"
        "       hetprof parts --model M.prototxt [--layer NAME[,NAME...]] [options]\n"
        "       hetprof --version\n"
        "every command: -h/--help (its options), -v/--verbose (log more)\n";

static const struct { const char *cmd, *text; } help[] = {
    {"sweep",
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
        "  --repeat N          at most N timed repetitions per measurement (default 50;\n"
        "                      the same as the older spelling, reps)\n"
        "  --min-reps N        at least N (default 5)\n"
        "  --warmup N          untimed repetitions after the first run (default 2)\n"
        "  --ci X              stop once the median's 95% confidence interval is within\n"
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
        "  --json              print the sweep's summary as one JSON object (sweep id,\n"
        "                      measurements taken and stored, median CV)\n"
        "  -q, --quiet         no progress\n"},
    {"show",
        "show: the per-layer table of each sweep of the database (or of one model or\n"
        "sweep): CPU and GPU medians, the faster device, the best split and its time,\n"
        "the speedup of the best choice over the faster device, co-run slowdowns.\n"},
    {"export",
        "export: one CSV file per table into DIR.\n"},
    {"parts",
        "parts: each part of an intra-layer split alone, for a range of channel counts k:\n"
        "the CPU on output channels [0, k), the GPU on [k, C), printed as measured (no\n"
        "database). Shows what each device's share costs: what stays the same whatever the\n"
        "share, and where a device's time only moves in steps.\n"
        "\n"
        "  --layer LIST        layers to time, by name, comma-separated or repeated\n"
        "                      (default: the four splittable layers with the most MACs)\n"
        "  --channels LIST     CPU channel counts k (default: 0, STEP, 2 STEP, ..., C; the\n"
        "                      devices alone, k = 0 and C, always)\n"
        "  --step N            channel step (default: a multiple of 8, about 32 rows)\n"
        "  --format F          table or csv (default table)\n"
        "  and --model, --weights, --seed, --devices, --repeat, --min-reps, --warmup, --ci,\n"
        "  --max-time, --no-fold, the core options, --gpu, --gpu-buffers, --cl-cache, -q\n"
        "  as for sweep.\n"},
};

static void usage(FILE *f, const char *cmd)
{
    fputs(synopsis, f);
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++)
        if (!cmd || !strcmp(cmd, help[i].cmd)) fprintf(f, "\n%s", help[i].text);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

// Ctrl-C or a TERM ends the measurement in flight; a second one kills.
static void catch_stop(void)
{
    sigset_t none;
    sigemptyset(&none);
    struct sigaction sa = {.sa_handler = on_signal, .sa_mask = none, .sa_flags = SA_RESETHAND};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct opts {
    const char *cmd, *model, *weights, *db, *csv, *cpu_cores, *gpu_cores, *gpu, *cl_cache;
    unsigned long long seed;
    long long sweep_id;
    bool dev[2], corun, force, quiet, no_fold, json;
    double drift_limit; // 0: HET_NET_DRIFT
    int gpu_buffers, threads;
    double ratios[HET_MAX_RATIOS];
    int n_ratios;
    char *events_buf;
    const char *events[HET_MAX_EVENTS];
    int n_events;
    het_rep_policy policy;
    double db_timeout;
    // parts
    char *layers_buf;        // the --layer values, comma-joined
    int channels[1024], n_channels, step;
    bool format_csv, format_given;
} opts;

static int bad(const char *fmt, const char *a)
{
    fprintf(stderr, "hetprof: error: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, " (see hetprof --help)\n");
    return 2;
}

static int num(const char *s, const char *opt, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "hetprof: error: %s '%s': expected a number in [%g, %g] (see hetprof --help)\n", opt, s, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

// A whole number in [lo, hi] (a count of channels).
static int whole(const char *s, const char *opt, double lo, double hi, int *out)
{
    double v;
    if (num(s, opt, lo, hi, &v)) return 2;
    if (v != floor(v)) {
        fprintf(stderr, "hetprof: error: %s: '%s' is not a whole number of channels (see hetprof --help)\n", opt, s);
        return 2;
    }
    *out = (int)v;
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
        usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? 2 : 1;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hetprof %s\n", HET_VERSION);
        return 1;
    }
    o->cmd = argv[1];
    if (strcmp(o->cmd, "sweep") && strcmp(o->cmd, "show") && strcmp(o->cmd, "export") && strcmp(o->cmd, "parts"))
        return bad("unknown command '%s' (expected sweep, show, export or parts)", o->cmd);
    enum { O_MODEL = 256, O_WEIGHTS, O_SEED, O_DB, O_DEVICES, O_RATIOS, O_REPS, O_MINREPS, O_WARMUP, O_CI, O_MAXTIME,
           O_EVENTS, O_NOCORUN, O_DRIFT, O_FORCE, O_CPUCORES, O_GPUCORES, O_THREADS, O_GPU, O_GPUBUF, O_CLCACHE, O_TIMEOUT,
           O_CSV, O_SWEEP, O_NOFOLD, O_LAYER, O_CHANNELS, O_STEP, O_FORMAT, O_JSON };
    static const struct option lo[] = {
        {"model", 1, 0, O_MODEL}, {"weights", 1, 0, O_WEIGHTS}, {"seed", 1, 0, O_SEED}, {"db", 1, 0, O_DB},
        {"devices", 1, 0, O_DEVICES}, {"ratios", 1, 0, O_RATIOS}, {"reps", 1, 0, O_REPS},
        {"min-reps", 1, 0, O_MINREPS}, {"warmup", 1, 0, O_WARMUP}, {"ci", 1, 0, O_CI}, {"max-time", 1, 0, O_MAXTIME},
        {"events", 1, 0, O_EVENTS}, {"no-corun", 0, 0, O_NOCORUN}, {"drift-limit", 1, 0, O_DRIFT}, {"no-fold", 0, 0, O_NOFOLD}, {"force", 0, 0, O_FORCE},
        {"cpu-cores", 1, 0, O_CPUCORES}, {"gpu-cores", 1, 0, O_GPUCORES}, {"threads", 1, 0, O_THREADS},
        {"gpu", 1, 0, O_GPU}, {"gpu-buffers", 1, 0, O_GPUBUF}, {"cl-cache", 1, 0, O_CLCACHE},
        {"db-timeout", 1, 0, O_TIMEOUT}, {"csv", 1, 0, O_CSV}, {"sweep", 1, 0, O_SWEEP}, {"quiet", 0, 0, 'q'},
        {"layer", 1, 0, O_LAYER}, {"channels", 1, 0, O_CHANNELS}, {"step", 1, 0, O_STEP}, {"format", 1, 0, O_FORMAT},
        {"json", 0, 0, O_JSON}, {"repeat", 1, 0, O_REPS}, {"verbose", 0, 0, 'v'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":qvh", lo, NULL)) != -1) {
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
        case O_LAYER: {
            size_t have = o->layers_buf ? strlen(o->layers_buf) : 0;
            char *b = realloc(o->layers_buf, have + strlen(optarg) + 2);
            if (!b) return 1;
            snprintf(b + have, strlen(optarg) + 2, "%s%s", have ? "," : "", optarg);
            o->layers_buf = b;
            break;
        }
        case O_CHANNELS: {
            o->n_channels = 0;
            char buf[4096];
            if (strlen(optarg) >= sizeof buf) return bad("--channels: list too long: '%s'", optarg);
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (o->n_channels == (int)(sizeof o->channels / sizeof o->channels[0]))
                    return bad("--channels: more than 1024 counts in '%s'", optarg);
                if (whole(t, "--channels", 0, 1e6, &o->channels[o->n_channels++])) return 2;
            }
            if (!o->n_channels) return bad("--channels '%s' names no channel count", optarg);
            break;
        }
        case O_STEP:
            if (whole(optarg, "--step", 1, 1e6, &o->step)) return 2;
            break;
        case O_FORMAT:
            o->format_given = true;
            if (!strcmp(optarg, "csv")) o->format_csv = true;
            else if (!strcmp(optarg, "table")) o->format_csv = false;
            else return bad("--format '%s': expected table or csv", optarg);
            break;
        case O_JSON: o->json = true; break;
        case 'q': o->quiet = true; break;
        case 'v': het_log_set_level(HET_LOG_DEBUG); break;
        case 'h': usage(stdout, o->cmd); return 1;
        case ':': return bad("%s needs a value", argv[optind - 1]);
        default: return bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
    bool is_parts = !strcmp(o->cmd, "parts");
    if (!o->db && !is_parts) return bad("%s needs --db FILE", o->cmd);
    if ((!strcmp(o->cmd, "sweep") || is_parts) && !o->model) return bad("%s needs --model FILE", o->cmd);
    if (!is_parts && (o->layers_buf || o->n_channels || o->step || o->format_given))
        return bad("--layer, --channels, --step and --format are options of parts, not of %s", o->cmd);
    if (!strcmp(o->cmd, "export") && !o->csv) return bad("%s needs --csv DIR", o->cmd);
    if (o->json && strcmp(o->cmd, "sweep") && strcmp(o->cmd, "show"))
        return bad("--json is an option of sweep and show, not of %s", o->cmd);
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

// What a measuring command runs on: the model, as the executors take it,
// and the backends with every layer prepared (or noted as unsupported).
typedef struct devices {
    het_graph *g;
    het_backend *be[2];
    bool *unsup[2];
    int n_unsup[2];
    const char *gpu_unusable; // why no GPU measurement can run, or NULL
    char why_gpu[512], why_cpu[256];
    char core_list[64];
    int cores[HET_MAX_CORES], n_cores, gcores[HET_MAX_CORES], n_gcores;
} devices;

// The core lists of --cpu-cores and --gpu-cores, before anything is
// opened: a bad list costs no work. Returns a process exit code.
static int parse_cores(const opts *o, devices *d)
{
    *d = (devices){0};
    if (o->cpu_cores && (d->n_cores = het_parse_core_list(o->cpu_cores, d->cores, HET_MAX_CORES)) < 0) return 2;
    if (o->gpu_cores && (d->n_gcores = het_parse_core_list(o->gpu_cores, d->gcores, HET_MAX_CORES)) < 0) return 2;
    return 0;
}

static void close_devices(devices *d)
{
    for (int i = 0; i < 2; i++) {
        het_backend_destroy(d->be[i]);
        free(d->unsup[i]);
    }
    het_graph_destroy(d->g);
}

// After parse_cores: loads and folds the model, creates the backends of
// --devices on their core sets and prepares every layer. Returns a
// process exit code.
static int open_devices(const opts *o, devices *d)
{
    int *cores = d->cores, *gcores = d->gcores, n_cores = d->n_cores, n_gcores = d->n_gcores;
    het_workspace *probe = NULL;
    het_status st = het_net_load(o->model, o->weights, o->seed, &d->g);
    if (st == HET_OK && !o->no_fold) st = het_graph_fold(d->g, NULL);
    if (st != HET_OK) return 1;
    het_graph *g = d->g;
    if (o->dev[0] && o->dev[1] && !n_cores && !n_gcores && !o->threads)
        het_default_core_sets((int)sysconf(_SC_NPROCESSORS_ONLN), cores, &n_cores, gcores, &n_gcores, HET_MAX_CORES);
    for (int i = 0, len = 0; i < n_cores && len < (int)sizeof d->core_list - 8; i++)
        len += snprintf(d->core_list + len, sizeof d->core_list - (size_t)len, "%s%d", i ? "," : "", cores[i]);
    het_gpu_cfg gcfg = {.device = o->gpu, .zero_copy = o->gpu_buffers, .cache_dir = o->cl_cache,
                        .cores = n_gcores ? gcores : NULL, .n_cores = n_gcores};
    het_cpu_cfg cfg = {.n_threads = o->threads, .cores = n_cores ? cores : NULL, .n_cores = n_cores};
    static char cache_buf[4096];
    het_cpu_cfg_env(&cfg);
    het_gpu_cfg_env(&gcfg, cache_buf, sizeof cache_buf);
    if (o->dev[1] && het_opencl_backend_create(&gcfg, &d->be[1]) != HET_OK) {
        fprintf(stderr, "hetprof: error: no usable OpenCL device for the GPU measurements; measure the CPU alone with "
                        "--devices cpu\n");
        return 1;
    }
    if (o->dev[0] && het_cpu_backend_create(&cfg, &d->be[0]) != HET_OK) return 1;
    for (int i = 0; i < 2; i++) {
        if (!d->be[i]) continue;
        if (!(d->unsup[i] = calloc((size_t)g->n_layers, sizeof(bool)))) {
            fprintf(stderr, "hetprof: error: out of memory\n");
            return 1;
        }
    }
    if (d->be[1]) {
        // A model whose blobs the device cannot hold runs nothing there:
        // every GPU measurement is recorded as unsupported, with the reason.
        bool fits = het_exec_check_fits(d->be[1], g) == HET_OK;
        if (fits && het_workspace_create(g, &probe) != HET_OK) return 1;
        if (!fits || het_exec_bind(d->be[1], g, probe) != HET_OK) {
            snprintf(d->why_gpu, sizeof d->why_gpu, "the OpenCL device cannot hold this model's blobs");
            d->gpu_unusable = d->why_gpu;
            for (int i = 0; i < g->n_layers; i++) d->unsup[1][i] = true;
        }
        het_workspace_destroy(probe);
    }
    for (int i = 0; i < 2; i++) {
        if (!d->be[i] || (i == 1 && d->gpu_unusable)) continue;
        if (prepare_layers(d->be[i], g, d->unsup[i], &d->n_unsup[i]) != HET_OK) return 1;
        if (d->n_unsup[i])
            snprintf(i ? d->why_gpu : d->why_cpu, i ? sizeof d->why_gpu : sizeof d->why_cpu,
                     "the %s backend cannot run it", i ? "OpenCL" : "CPU");
    }
    return 0;
}

static int sweep(opts *o)
{
    int rc = 1;
    het_db *db = NULL;
    devices d = {0};
    het_prof *p = NULL;
    het_counters *ctr = NULL;
    het_backend *cpu_all = NULL;
    char note[512] = "";
    het_status st = HET_OK;
    // The core lists first: bad ones cost no work.
    if ((rc = parse_cores(o, &d)) != 0) return rc;
    // The baseline: the CPU backend on every core this process may use, as
    // `hetrun --device cpu` runs; a plan that does not beat it is no answer
    // (hetpart returns it instead). Read before any backend pins this thread.
    int all[HET_MAX_CORES], n_all = het_available_cores(all, HET_MAX_CORES);
    char all_list[256];
    het_format_core_list(all, n_all, all_list, sizeof all_list);
    // A database that exists is opened before the model and devices (a bad
    // one costs no work); a new one only once they are ready, so that a bad
    // model leaves no empty database behind.
    bool exists = access(o->db, F_OK) == 0;
    if (exists && het_db_open(o->db, (int)(o->db_timeout * 1000), &db) != HET_OK) return 1;
    if ((rc = open_devices(o, &d)) != 0) goto done;
    if (!exists && het_db_open(o->db, (int)(o->db_timeout * 1000), &db) != HET_OK) {
        rc = 1;
        goto done;
    }
    rc = 1;
    het_cpu_cfg all_cfg = {.n_threads = n_all, .cores = all, .n_cores = n_all};
    het_cpu_cfg_env(&all_cfg);
    if (o->dev[0] && het_cpu_backend_create(&all_cfg, &cpu_all) != HET_OK) goto done;
    het_graph *g = d.g;
    het_backend **be = d.be;
    bool **unsup = d.unsup;
    const char *gpu_unusable = d.gpu_unusable;
    char *why_gpu = d.why_gpu, *why_cpu = d.why_cpu, *core_list = d.core_list;
    if (gpu_unusable) fprintf(stderr, "hetprof: warning: %s; GPU measurements are recorded as unsupported\n", why_gpu);
    for (int i = 0; i < 2; i++)
        if (d.n_unsup[i])
            fprintf(stderr, "hetprof: warning: %d layer%s cannot run on the %s; recorded as unsupported\n", d.n_unsup[i],
                    d.n_unsup[i] == 1 ? "" : "s", i ? "GPU" : "CPU");
    if (!be[0] && !runs_all_layers(unsup[1], g->n_layers)) {
        fprintf(stderr, "hetprof: error: the GPU cannot run the whole model and the CPU is not swept; nothing to measure "
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

    catch_stop();

    bool corun = o->corun && be[0] && be[1] && !gpu_unusable;
    if ((st = het_prof_create(g, be[0], gpu_unusable ? NULL : be[1], corun, o->seed, &o->policy, &stop_flag, &p)) !=
        HET_OK)
        goto done;
    het_sweep_opts so = {.dev = {be[0] != NULL, be[1] != NULL}, .n_ratios = o->n_ratios, .corun = corun,
                         .force = o->force, .quiet = o->quiet, .n_events = o->n_events, .counters = ctr,
                         .unsupported = {unsup[0], unsup[1]}, .unsupported_why = {why_cpu, why_gpu},
                         .gpu_unusable = gpu_unusable, .drift_limit = o->drift_limit, .stop = &stop_flag,
                         .cpu_all = cpu_all, .cpu_all_cores = all_list, .cpu_all_threads = n_all};
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
    char cv_num[32] = "null";
    if (!isnan(sum.median_cv)) {
        snprintf(cv, sizeof cv, "; median CV of the layer timings %.1f%%", sum.median_cv * 100);
        snprintf(cv_num, sizeof cv_num, "%.6f", sum.median_cv);
    }
    if (o->json)
        printf("{\"sweep\": %lld, \"measurements\": %d, \"already_stored\": %d, \"unsupported\": %d, "
               "\"failed\": %d, \"seconds\": %.3f, \"median_cv\": %s}\n", (long long)sweep_id, sum.done, sum.skipped,
               sum.unsupported, sum.failed, sum.seconds, cv_num);
    else
        printf("sweep %lld: %d measurement%s taken in %.1f s (%d already stored), %d unsupported, %d failed%s\n",
               (long long)sweep_id, sum.done, sum.done == 1 ? "" : "s", sum.seconds, sum.skipped, sum.unsupported,
               sum.failed, cv);
    rc = sum.failed ? 1 : 0;
    if (sum.failed) fprintf(stderr, "hetprof: error: %d measurement%s failed; run again to retry them\n", sum.failed,
                            sum.failed == 1 ? "" : "s");
done:
    het_prof_destroy(p);
    het_counters_close(ctr);
    het_backend_destroy(cpu_all);
    close_devices(&d);
    het_db_close(db);
    return rc;
}

// The `n` splittable layers with the most multiply-accumulates, heaviest
// first: where a split could pay.
static int heaviest(const het_graph *g, int *out, int n)
{
    int m = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const het_layer *l = &g->layers[i];
        if (!het_layer_kind_splittable(l->kind) || !l->macs) continue;
        int j = m < n ? m++ : n;
        if (j == n && l->macs <= g->layers[out[n - 1]].macs) continue;
        if (j == n) j = n - 1;
        for (; j > 0 && g->layers[out[j - 1]].macs < l->macs; j--) out[j] = out[j - 1];
        out[j] = i;
    }
    return m;
}

static int parts(opts *o)
{
    devices d;
    int rc = parse_cores(o, &d);
    if (rc) return rc;
    het_prof *p = NULL;
    int *layers = NULL, n_layers = 0;
    if ((rc = open_devices(o, &d)) != 0) goto done;
    rc = 1;
    const het_graph *g = d.g;
    if (d.gpu_unusable) {
        fprintf(stderr, "hetprof: error: %s; time the CPU alone with --devices cpu\n", d.why_gpu);
        goto done;
    }
    if (!(layers = malloc((size_t)(g->n_layers > 4 ? g->n_layers : 4) * sizeof *layers))) goto done;
    if (!o->layers_buf) {
        n_layers = heaviest(g, layers, 4);
        if (!n_layers) {
            fprintf(stderr, "hetprof: error: %s has no layer that can be split by output channel\n", o->model);
            goto done;
        }
    } else {
        for (char *t = strtok(o->layers_buf, ","); t; t = strtok(NULL, ",")) {
            int id = het_graph_find_layer(g, t);
            if (id < 0) {
                fprintf(stderr, "hetprof: error: no layer '%s' in %s%s\n", t, o->model,
                        o->no_fold ? "" : " (folded: BatchNorm and Scale are part of their convolution; "
                                          "--no-fold keeps them)");
                goto done;
            }
            if (n_layers < g->n_layers) layers[n_layers++] = id;
        }
        if (!n_layers) {
            fprintf(stderr, "hetprof: error: --layer names no layer\n");
            goto done;
        }
    }
    for (int i = 0; i < n_layers; i++)
        for (int dv = 0; dv < 2; dv++)
            if (d.be[dv] && d.unsup[dv][layers[i]]) {
                fprintf(stderr, "hetprof: error: layer '%s': %s\n", g->layers[layers[i]].name,
                        dv ? d.why_gpu : d.why_cpu);
                goto done;
            }
    het_parts_opts po = {.layers = layers, .n_layers = n_layers, .channels = o->n_channels ? o->channels : NULL,
                         .n_channels = o->n_channels, .step = o->step, .csv = o->format_csv, .quiet = o->quiet};
    if (het_parts_check(g, &po) != HET_OK) {
        rc = 2;
        goto done;
    }
    if (!o->quiet)
        for (int dv = 0; dv < 2; dv++)
            if (d.be[dv]) fprintf(stderr, "hetprof:   %s\n", het_backend_describe(d.be[dv]));
    catch_stop();
    if (het_prof_create(g, d.be[0], d.be[1], false, o->seed, &o->policy, &stop_flag, &p) != HET_OK) goto done;
    if (!o->format_csv) printf("hetprof parts (git %s), %s\n\n", het_db_git_rev(), o->model);
    het_status st = het_parts_run(p, g, d.be, &po, stdout);
    if (st == HET_E_STATE && stop_flag) {
        fprintf(stderr, "hetprof: interrupted\n");
        rc = 130;
    } else if (st == HET_OK) {
        rc = 0;
    } else if (st == HET_E_INVALID) {
        rc = 2; // het_parts_run said which layer and why
    }
done:
    het_prof_destroy(p);
    free(layers);
    close_devices(&d);
    return rc;
}

int main(int argc, char **argv)
{
    het_log_set_prefix("hetprof");
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        free(o.events_buf);
        free(o.layers_buf);
        return rc == 1 && argc >= 2 ? 0 : rc;
    }
    if (!strcmp(o.cmd, "sweep")) rc = sweep(&o);
    else if (!strcmp(o.cmd, "parts")) rc = parts(&o);
    else if (!strcmp(o.cmd, "show")) rc = het_report_show(o.db, o.model, !o.no_fold, o.sweep_id, o.json, stdout);
    else rc = het_report_export(o.db, o.csv);
    free(o.events_buf);
    free(o.layers_buf);
    return rc;
}
