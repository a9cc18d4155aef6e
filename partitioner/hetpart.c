// hetpart: the best plan for a model from the profiler's measurements
// (docs/hetpart.md): exact solvers (part.h) over the cost model of a sweep
// (load.h), written as a plan hetrun replays, with the prediction inside.
#define _POSIX_C_SOURCE 200809L
#include "het/io.h"
#include "het/plan.h"
#include "cli.h"
#include "load.h"
#include "sim.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// The help: the synopsis and each command's options; `hetpart CMD --help`
// prints that command's alone.
static const char *const synopsis =
        "usage: hetpart tune --model M.prototxt [--objective latency|throughput] [options]\n"
        "       hetpart solve --db DB --model M.prototxt --objective latency|throughput [options]\n"
        "       hetpart predict --db DB --model M.prototxt --plan PLAN.json [options]\n"
        "       hetpart explain PLAN.json\n"
        "       hetpart --version\n"
        "every command: -h/--help (its options), -q/--quiet (no progress), -v/--verbose (log more)\n";

static const struct { const char *cmd, *text; } help[] = {
    {"tune",
        "tune: the fastest way to run the model on this machine, and how much faster it is\n"
        "than each device alone, in one command. Sweeps what the database lacks (hetprof\n"
        "sweep, resumable), solves each mode, replays each mode's plan and each device alone\n"
        "at its best (hetrun), the candidates alternating round by round, and prints one\n"
        "table: predicted, measured (median, min-max), against the best device alone. The\n"
        "answer is the plan that measured best; one that uses both devices must beat the\n"
        "best device alone by 2%, else that device alone is the answer.\n"
        "\n"
        "  --objective O       latency (default) or throughput\n"
        "  --db DB             the measurements (default het.db, created if missing)\n"
        "  --out PLAN.json     the answer's plan (default NAME.OBJECTIVE.plan.json here)\n"
        "  --json              print the table as one JSON object\n"
        "  --repeat R          rounds of replays (default 3)\n"
        "  --images N          synthetic images a replay runs (default 30)\n"
        "  --warmup N          hetrun's untimed runs before each replay (default 2)\n"
        "  --allow-busy        tune even when others use the machine (by default tune\n"
        "                      measures its load for 1 s first and refuses above 10% busy\n"
        "                      or 5% stolen by a hypervisor)\n"
        "  --keep-plans DIR    keep every candidate's plan there (default: a temporary folder)\n"
        "  --gpu DEV           OpenCL device: index or name substring (hetrun --list-gpus)\n"
        "  --weights, --seed, --no-fold   the model, as for hetrun and hetprof\n"
        "  --modes, --max-stages, --search-memory and the cost-model options as for solve\n"
        "  -q, --quiet         no progress\n"},
    {"solve",
        "solve: reads the model's latest CPU+GPU sweep (hetprof sweep) and finds the\n"
        "plan that minimises latency, or maximises throughput, exactly for het's cost\n"
        "model (docs/hetpart.md); prints it and writes it with --out.\n"
        "\n"
        "  --objective O       latency or throughput (required)\n"
        "  --modes LIST        among mapping,split,pipeline,image-parallel (default all, and\n"
        "                      each device alone at its best: the CPU on every core as the sweep\n"
        "                      measured it, the GPU streaming; given, only these modes)\n"
        "  --max-stages K      pipeline stages at most (default 2, the thesis' layer groups)\n"
        "  --search-memory MB  memory for the pipeline search's states (default 1024): it is\n"
        "                      exact, and grows about tenfold with each stage allowed; where\n"
        "                      K stages would pass this, the plan is the best of fewer, said so\n"
        "  --min-stages M      pipeline stages at least (default 1; 2 with --max-stages 2\n"
        "                      and --modes pipeline: exactly the thesis' two groups)\n"
        "  --no-corun          ignore co-run slowdowns (ablation)\n"
        "  --corun-per-layer   each layer's own co-run slowdown, also where the sweep timed\n"
        "                      whole networks co-running (ablation)\n"
        "  --allow-missing     estimate missing layer times from the device's FLOP rate\n"
        "  --platform TEXT     use a sweep whose CPU model or OpenCL device contains TEXT\n"
        "  --sweep ID          use this sweep\n"
        "  --no-calibration    do not scale layer sums to the measured whole networks\n"
        "  --isolated          use every layer's time measured alone, also where the sweep\n"
        "                      timed it inside the running network (ablation)\n"
        "  --no-issue          GPU layers cost the host nothing to issue (ablation)\n"
        "  --out PLAN.json     write the plan (hetrun --plan replays it)\n"
        "  --json              print the plan (as --out writes it) instead of text\n"
        "  --weights, --seed   only for loading the model (its hash selects the sweep)\n"
        "  --no-fold           the model with BatchNorm and Scale as layers of their own, for\n"
        "                      a sweep made with hetprof sweep --no-fold (also for predict)\n"},
    {"predict",
        "predict: what the cost model says of any plan (hand-written or solved):\n"
        "latency, images/s and, for pipelines, each stage's time. Takes --no-corun,\n"
        "--corun-per-layer, --platform, --sweep, --no-calibration, --isolated, --no-issue, and:\n"
        "  --plan PLAN.json    the plan (required)\n"
        "  --cpu-ms X          calibrate CPU layer times to a whole network of X ms measured\n"
        "                      now (e.g. by hetrun --device cpu) instead of the sweep's\n"
        "  --gpu-ms X          the same for the GPU\n"
        "  --gpu-stream-ms X   the GPU streaming images (an image-parallel plan on the GPU\n"
        "                      alone) measured now, ms an image, instead of the sweep's\n"
        "  --json              print one JSON object instead of text\n"},
    {"explain",
        "explain: the plan's predicted table: layer, device or ratio, predicted time,\n"
        "transfers in and out, stage.\n"},
};

static void usage(FILE *f, const char *cmd)
{
    fputs(synopsis, f);
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++)
        if (!cmd || !strcmp(cmd, help[i].cmd)) fprintf(f, "\n%s", help[i].text);
}

static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hetpart: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see hetpart --help)\n");
    va_end(ap);
    return 2;
}

// The long option whose value is `c`, for messages.
static const char *opt_name(const struct option *lo, int c)
{
    for (; lo->name; lo++)
        if (lo->val == c) return lo->name;
    return "?";
}

// How many units the cost model timed inside the running network, per
// device (the rest were timed alone): [cpu, gpu].
static void add_in_context(cJSON *obj, const hp_loaded *L)
{
    cJSON *a = cJSON_AddArrayToObject(obj, "in_context_units");
    for (int d = 0; d < 2; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber(L->in_context[d]));
}

// The whole-network co-run slowdowns the model applied, [cpu, gpu], where
// it applied them (hp_load).
static void add_corun(cJSON *obj, const hp_loaded *L)
{
    cJSON_AddBoolToObject(obj, "corun", L->m.corun);
    if (!L->m.corun || isnan(L->net_slow[0]) || isnan(L->net_slow[1])) return;
    cJSON *a = cJSON_AddArrayToObject(obj, "corun_network");
    for (int d = 0; d < 2; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber(L->net_slow[d]));
}

static int parse(int argc, char **argv, hp_opts *o)
{
    *o = (hp_opts){.mapping = true, .split = true, .pipeline = true, .image_parallel = true, .corun = true,
                .calibrate = true, .in_context = true, .issue = true, .min_stages = 1, .max_stages = 2, .search_mb = 1024, .sweep = -1};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? 2 : 1;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hetpart %s\n", HET_VERSION);
        return 1;
    }
    o->cmd = argv[1];
    if (strcmp(o->cmd, "tune") && strcmp(o->cmd, "solve") && strcmp(o->cmd, "explain") && strcmp(o->cmd, "predict"))
        return bad("unknown command '%s' (expected tune, solve, predict or explain)", o->cmd);
    bool tune = !strcmp(o->cmd, "tune");
    if (tune) o->repeat = 3, o->images = 30, o->warmup = 2, o->db = "het.db", o->objective = "latency";
    enum { O_DB = 256, O_MODEL, O_OBJ, O_MODES, O_K, O_KMIN, O_NOCORUN, O_MISSING, O_PLATFORM, O_SWEEP, O_OUT, O_NOCAL, O_W, O_S,
           O_PLAN, O_CPUMS, O_GPUMS, O_STREAMMS, O_JSON, O_ISOLATED, O_NOISSUE, O_NOFOLD, O_CORUN_LAYER, O_SEARCH_MB,
           O_REPEAT, O_IMAGES, O_WARMUP, O_ALLOW_BUSY, O_KEEP, O_GPU };
    static const struct option lo[] = {
        {"db", 1, 0, O_DB}, {"model", 1, 0, O_MODEL}, {"objective", 1, 0, O_OBJ}, {"modes", 1, 0, O_MODES},
        {"max-stages", 1, 0, O_K}, {"min-stages", 1, 0, O_KMIN}, {"no-corun", 0, 0, O_NOCORUN}, {"allow-missing", 0, 0, O_MISSING},
        {"platform", 1, 0, O_PLATFORM}, {"sweep", 1, 0, O_SWEEP}, {"out", 1, 0, O_OUT},
        {"no-calibration", 0, 0, O_NOCAL}, {"weights", 1, 0, O_W}, {"seed", 1, 0, O_S}, {"help", 0, 0, 'h'},
        {"plan", 1, 0, O_PLAN}, {"cpu-ms", 1, 0, O_CPUMS}, {"gpu-ms", 1, 0, O_GPUMS},
        {"gpu-stream-ms", 1, 0, O_STREAMMS}, {"json", 0, 0, O_JSON},
        {"isolated", 0, 0, O_ISOLATED}, {"no-issue", 0, 0, O_NOISSUE}, {"no-fold", 0, 0, O_NOFOLD},
        {"corun-per-layer", 0, 0, O_CORUN_LAYER}, {"search-memory", 1, 0, O_SEARCH_MB},
        {"repeat", 1, 0, O_REPEAT}, {"images", 1, 0, O_IMAGES}, {"warmup", 1, 0, O_WARMUP}, {"allow-busy", 0, 0, O_ALLOW_BUSY},
        {"keep-plans", 1, 0, O_KEEP}, {"gpu", 1, 0, O_GPU}, {"quiet", 0, 0, 'q'}, {"verbose", 0, 0, 'v'}, {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    char *end;
    const char *tune_only = NULL; // an option only tune takes, as given
    while ((c = getopt_long(argc, argv, ":hqv", lo, NULL)) != -1) {
        if (c == O_REPEAT || c == O_IMAGES || c == O_WARMUP || c == O_ALLOW_BUSY || c == O_KEEP || c == O_GPU)
            tune_only = opt_name(lo, c);
        switch (c) {
        case O_DB: o->db = optarg; break;
        case O_MODEL: o->model = optarg; break;
        case O_OBJ: o->objective = optarg; break;
        case O_MODES: {
            o->modes_given = true;
            o->mapping = o->split = o->pipeline = o->image_parallel = false;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                if (!strcmp(t, "mapping")) o->mapping = true;
                else if (!strcmp(t, "split")) o->split = true;
                else if (!strcmp(t, "pipeline")) o->pipeline = true;
                else if (!strcmp(t, "image-parallel")) o->image_parallel = true;
                else return bad("--modes: unknown mode '%s' (expected mapping, split, pipeline, image-parallel)", t);
            }
            break;
        }
        case O_K:
        case O_KMIN: {
            long k = strtol(optarg, &end, 10);
            if (!*optarg || *end || k < 1 || k > 64)
                return bad(c == O_K ? "--max-stages '%s': expected 1 to 64" : "--min-stages '%s': expected 1 to 64",
                           optarg);
            *(c == O_K ? &o->max_stages : &o->min_stages) = (int)k;
            break;
        }
        case O_SEARCH_MB: {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 16 || v > 1048576) return bad("--search-memory '%s': expected 16 to 1048576 (MiB)", optarg);
            o->search_mb = v;
            break;
        }
        case O_NOCORUN: o->corun = false; break;
        case O_CORUN_LAYER: o->corun_per_layer = true; break;
        case O_MISSING: o->allow_missing = true; break;
        case O_PLATFORM: o->platform = optarg; break;
        case O_SWEEP: {
            long long v = strtoll(optarg, &end, 10);
            if (!*optarg || *end || v < 1) return bad("--sweep '%s': expected a sweep id", optarg);
            o->sweep = v;
            break;
        }
        case O_OUT: o->out = optarg; break;
        case O_NOCAL: o->calibrate = false; break;
        case O_ISOLATED: o->in_context = false; break;
        case O_NOISSUE: o->issue = false; break;
        case O_NOFOLD: o->no_fold = true; break;
        case O_PLAN: o->plan = optarg; break;
        case O_JSON: o->json = true; break;
        case O_CPUMS:
        case O_GPUMS:
        case O_STREAMMS: {
            double v = strtod(optarg, &end);
            if (!*optarg || *end || !(v > 0) || !isfinite(v))
                return bad(c == O_CPUMS   ? "--cpu-ms '%s': expected a time in ms above 0"
                           : c == O_GPUMS ? "--gpu-ms '%s': expected a time in ms above 0"
                                          : "--gpu-stream-ms '%s': expected a time in ms above 0", optarg);
            if (c == O_STREAMMS) o->gpu_stream_ms = v;
            else o->net_ms[c == O_GPUMS] = v;
            break;
        }
        case O_W: o->weights = optarg; break; // solve and predict: the structure alone selects the sweep
        case O_S: o->seed = optarg; break;
        case O_REPEAT:
        case O_IMAGES:
        case O_WARMUP: {
            long v = strtol(optarg, &end, 10);
            long lo_v = c == O_WARMUP ? 0 : 1, hi_v = c == O_IMAGES ? 100000 : 1000;
            if (!*optarg || *end || v < lo_v || v > hi_v)
                return bad("--%s '%s': expected %ld to %ld", opt_name(lo, c), optarg, lo_v, hi_v);
            *(c == O_REPEAT ? &o->repeat : c == O_IMAGES ? &o->images : &o->warmup) = (int)v;
            break;
        }
        case O_ALLOW_BUSY: o->allow_busy = true; break;
        case O_KEEP: o->keep_plans = optarg; break;
        case O_GPU: o->gpu = optarg; break;
        case 'q': o->quiet = true; break;
        case 'v': het_log_set_level(HET_LOG_DEBUG); break;
        case 'h': usage(stdout, o->cmd); return 1;
        case ':': return bad("%s needs a value", argv[optind - 1]);
        default: return bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!strcmp(o->cmd, "explain")) {
        if (tune_only) return bad("--%s is for tune", tune_only);
        if (optind != argc - 1) return bad("%s", "explain needs exactly one PLAN.json");
        o->plan = argv[optind];
        return 0;
    }
    if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
    if (!o->db) return bad("%s needs --db DB", o->cmd);
    if (!o->model) return bad("%s needs --model M.prototxt", o->cmd);
    bool predict = !strcmp(o->cmd, "predict");
    if (predict != (o->plan != NULL)) return bad("%s", predict ? "predict needs --plan PLAN.json" : "--plan is for predict");
    if (!predict && (o->net_ms[0] > 0 || o->net_ms[1] > 0 || o->gpu_stream_ms > 0))
        return bad("%s", "--cpu-ms, --gpu-ms and --gpu-stream-ms are for predict");
    if (!tune && tune_only) return bad("--%s is for tune", tune_only);
    if ((o->net_ms[0] > 0 || o->net_ms[1] > 0) && !o->calibrate)
        return bad("%s", "--cpu-ms and --gpu-ms calibrate: they cannot go with --no-calibration");
    if (predict) return 0;
    if (!o->objective) return bad("%s needs --objective latency|throughput", o->cmd);
    if (strcmp(o->objective, "latency") && strcmp(o->objective, "throughput"))
        return bad("unknown objective '%s' (expected latency or throughput)", o->objective);
    if (o->min_stages > o->max_stages) return bad("%s", "--min-stages is larger than --max-stages");
    if (o->min_stages > 1 && (o->mapping || o->split || o->image_parallel || !o->pipeline))
        return bad("%s", "--min-stages above 1 asks for a pipeline: give --modes pipeline alone");
    if (!strcmp(o->objective, "latency") && !o->mapping && !o->split)
        return bad("%s", "--objective latency needs mapping or split among --modes (pipelines and image-parallel "
                         "raise throughput, not latency)");
    return 0;
}

// A layer's device in a plan: "cpu", "gpu" or the GPU share.
static cJSON *dev_json(const hp_model *m, hp_choice c)
{
    return c == HP_CPU ? cJSON_CreateString("cpu") : c == HP_GPU ? cJSON_CreateString("gpu")
                                                                 : cJSON_CreateNumber(m->ratio[c - 2]);
}

static void dev_text(const hp_model *m, hp_choice c, char *buf, size_t cap)
{
    if (c < 2) snprintf(buf, cap, "%s", c == HP_CPU ? "cpu" : "gpu");
    else snprintf(buf, cap, "split %.2f", m->ratio[c - 2]);
}


// Per unit: predicted time, and transfer time in (before it ran) and out
// (moving its output), replaying the choice; for pipelines stage by stage.
static void explain_units(const hp_model *m, const hp_result *r, cJSON *arr, const het_graph *g, const int *stage_of)
{
    float *res = malloc(sizeof(float) * 2 * (size_t)m->n_blobs);
    unsigned char *touched = calloc((size_t)m->n_blobs, 1);
    double *by_blob = calloc((size_t)m->n_blobs, sizeof *by_blob), *in = calloc((size_t)m->n_units, sizeof *in),
           *own = calloc((size_t)m->n_units, sizeof *own);
    if (!res || !touched || !by_blob || !in || !own) goto done;
    hp_residence_init(m, res);
    hp_sim s = {.res = res, .touched = touched, .xfer_by_blob = by_blob};
    bool pipe = !strcmp(r->mode, "pipeline");
    for (int i = 0; i < m->n_units; i++) {
        if (pipe && i > 0 && stage_of[i] != stage_of[i - 1]) {
            hp_sim_sync(m, &s);
            s.clk[0] = s.clk[1] = 0;
        }
        double x0 = s.xfer_ms, before = s.clk[0] > s.clk[1] ? s.clk[0] : s.clk[1];
        hp_sim_step(m, &s, i, r->choice[i], pipe && r->pipe.n_stages > 1);
        double after = s.clk[0] > s.clk[1] ? s.clk[0] : s.clk[1];
        in[i] = s.xfer_ms - x0;
        own[i] = after - before - in[i];
    }
    hp_sim_finish(m, &s);
    for (int i = 0; i < m->n_units; i++) {
        const hp_unit *u = &m->u[i];
        char name[300], dev[32];
        snprintf(name, sizeof name, "%s%s%s", g->layers[u->first].name, u->last > u->first ? "+" : "",
                 u->last > u->first ? g->layers[u->last].name : "");
        dev_text(m, r->choice[i], dev, sizeof dev);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "layers", name);
        cJSON_AddStringToObject(e, "device", dev);
        cJSON_AddNumberToObject(e, "ms", own[i] < 0 ? 0 : own[i]);
        cJSON_AddNumberToObject(e, "transfer_in_ms", in[i]);
        cJSON_AddNumberToObject(e, "transfer_out_ms", by_blob[u->out]);
        if (pipe) cJSON_AddNumberToObject(e, "stage", stage_of[i] + 1);
        cJSON_AddItemToArray(arr, e);
    }
done:
    free(res), free(touched), free(by_blob), free(in), free(own);
}

// How many times the CPU alone on every core (the sweep's baseline) the
// plan is predicted to be, for the objective: its rate over the baseline's,
// or the baseline's latency over its own.
double hp_cli_vs_cpu_alone(const hp_loaded *L, const hp_result *r, bool thr)
{
    return thr ? r->images_per_s * L->base_cpu_ms / 1e3 : L->base_cpu_ms / r->latency_ms;
}

void hp_cli_plan_words(const hp_loaded *L, const hp_result *r, char *buf, size_t cap)
{
    const hp_model *m = &L->m;
    if (!strcmp(r->mode, "single")) {
        if (r->single_dev == HP_CPU)
            snprintf(buf, cap, "cpu, cores %s", r->cpu_cores ? r->cpu_cores : L->sweep_cpu_cores[0] ? L->sweep_cpu_cores : "all");
        else snprintf(buf, cap, "gpu, one image at a time");
    } else if (!strcmp(r->mode, "image-parallel") && r->cpu_lanes > 1) {
        snprintf(buf, cap, "%d cpu lanes on cores %s%s%s, an image each", r->cpu_lanes, r->cpu_cores,
                 r->cpu_only ? "" : " + gpu, host core ", r->cpu_only ? "" : r->gpu_cores ? r->gpu_cores : "default");
    } else if (!strcmp(r->mode, "image-parallel")) {
        snprintf(buf, cap, r->gpu_only ? "gpu streaming, its images in flight" : "cpu and gpu, an image each");
    } else if (!strcmp(r->mode, "pipeline")) {
        size_t n = (size_t)snprintf(buf, cap, "%d stage%s:", r->pipe.n_stages, r->pipe.n_stages > 1 ? "s" : "");
        for (int s = 0; s < r->pipe.n_stages && n < cap; s++) {
            char dev[32];
            dev_text(m, r->pipe.dev[s], dev, sizeof dev);
            n += (size_t)snprintf(buf + n, cap - n, "%s %s (%d units)", s ? " |" : "", dev,
                                  r->pipe.first[s + 1] - r->pipe.first[s]);
        }
    } else {
        int gpu = 0, split = 0;
        for (int i = 0; i < m->n_units; i++) gpu += r->choice[i] == HP_GPU, split += r->choice[i] >= 2;
        if (split) snprintf(buf, cap, "%d of %d units split, %d on the gpu", split, m->n_units, gpu);
        else snprintf(buf, cap, "%d of %d units on the gpu", gpu, m->n_units);
    }
}

cJSON *hp_cli_plan_json(const hp_opts *o, const het_graph *g, const hp_loaded *L, const hp_result *r, double solve_ms,
                        char **key)
{
    const hp_model *m = &L->m;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "het_plan", 1);
    cJSON_AddStringToObject(root, "model_hash", g->hash);
    cJSON_AddStringToObject(root, "mode", r->mode);
    int *stage_of = calloc((size_t)m->n_units, sizeof *stage_of);
    if (!strcmp(r->mode, "single")) {
        cJSON_AddItemToObject(root, "device", dev_json(m, r->single_dev));
        // The CPU on the cores it was priced on: the baseline's, or the
        // sweep's (hetrun would otherwise take every core).
        const char *cores = r->cpu_cores ? r->cpu_cores : L->sweep_cpu_cores;
        if (r->single_dev == HP_CPU && cores[0])
            cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "platform"), "cpu_cores", cores);
    } else if (!strcmp(r->mode, "image-parallel")) {
        cJSON *d = cJSON_AddArrayToObject(root, "devices");
        for (int i = 0; !r->gpu_only && i < (r->cpu_lanes > 1 ? r->cpu_lanes : 1); i++)
            cJSON_AddItemToArray(d, cJSON_CreateString("cpu"));
        if (!r->cpu_only) cJSON_AddItemToArray(d, cJSON_CreateString("gpu"));
        if (r->cpu_cores || r->gpu_cores) {
            // The lanes' cores: a plan of lanes names the cores it divides.
            cJSON *pl = cJSON_AddObjectToObject(root, "platform");
            if (r->cpu_cores) cJSON_AddStringToObject(pl, "cpu_cores", r->cpu_cores);
            if (r->gpu_cores) cJSON_AddStringToObject(pl, "gpu_cores", r->gpu_cores);
        }
    } else if (!strcmp(r->mode, "pipeline")) {
        cJSON *st = cJSON_AddArrayToObject(root, "stages");
        for (int s = 0; s < r->pipe.n_stages; s++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "first", g->layers[m->u[r->pipe.first[s]].first].name);
            cJSON_AddStringToObject(e, "last", g->layers[m->u[r->pipe.first[s + 1] - 1].last].name);
            cJSON_AddItemToObject(e, "device", dev_json(m, r->pipe.dev[s]));
            cJSON_AddItemToArray(st, e);
            for (int i = r->pipe.first[s]; stage_of && i < r->pipe.first[s + 1]; i++) stage_of[i] = s;
        }
    } else {
        cJSON *ly = cJSON_AddObjectToObject(root, "layers");
        for (int i = 0; i < m->n_units; i++)
            for (int l = m->u[i].first; l <= m->u[i].last; l++)
                cJSON_AddItemToObject(ly, g->layers[l].name, dev_json(m, r->choice[i]));
    }
    if (key) *key = cJSON_PrintUnformatted(root);
    cJSON *pr = cJSON_AddObjectToObject(root, "predicted");
    cJSON_AddStringToObject(pr, "objective", o->objective);
    cJSON_AddNumberToObject(pr, "latency_ms", r->latency_ms);
    cJSON_AddNumberToObject(pr, "images_per_s", r->images_per_s);
    if (r->measured) cJSON_AddStringToObject(pr, "measured", "by the sweep (baselines): the figures above are a run's");
    if (isfinite(L->base_cpu_ms)) {
        // The obvious run this plan was weighed against.
        cJSON *b = cJSON_AddObjectToObject(pr, "cpu_alone");
        cJSON_AddStringToObject(b, "cores", L->base_cpu_cores);
        cJSON_AddNumberToObject(b, "latency_ms", L->base_cpu_ms);
        cJSON_AddNumberToObject(b, "images_per_s", 1e3 / L->base_cpu_ms);
        cJSON_AddNumberToObject(b, "speedup", hp_cli_vs_cpu_alone(L, r, !strcmp(o->objective, "throughput")));
    }
    cJSON_AddStringToObject(pr, "from", L->desc);
    cJSON_AddNumberToObject(pr, "sweep", (double)L->sweep);
    add_corun(pr, L);
    add_in_context(pr, L);
    cJSON_AddNumberToObject(pr, "solve_ms", solve_ms);
    if (!strcmp(r->mode, "pipeline")) {
        cJSON *sm = cJSON_AddArrayToObject(pr, "stage_ms");
        for (int s = 0; s < r->pipe.n_stages; s++) cJSON_AddItemToArray(sm, cJSON_CreateNumber(r->pipe.stage_ms[s]));
    }
    if (strcmp(r->mode, "image-parallel") != 0 && stage_of)
        explain_units(m, r, cJSON_AddArrayToObject(pr, "units"), g, stage_of);
    free(stage_of);
    return root;
}

static int write_plan(const hp_opts *o, const het_graph *g, const hp_loaded *L, const hp_result *r, double solve_ms)
{
    cJSON *root = hp_cli_plan_json(o, g, L, r, solve_ms, NULL);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return 1;
    int rc = 0;
    if (o->out) {
        het_chunk parts[2] = {{text, strlen(text)}, {"\n", 1}};
        if (het_write_file(o->out, parts, 2, false) != HET_OK) rc = 1;
        else fprintf(o->json ? stderr : stdout, "plan written to %s\n", o->out);
    }
    if (rc == 0 && o->json) puts(text);
    free(text);
    return rc;
}

static double now_ms(void) { return het_now_ns() / 1e6; }

const char *hp_cli_model_name(const hp_opts *o, const het_graph *g) { return g->name[0] ? g->name : o->model; }

// Weights do not matter here: the structure's hash selects the sweep.
het_status hp_cli_load_model(const hp_opts *o, het_graph **g)
{
    het_status st = het_graph_load(o->model, NULL, 1, g);
    if (st == HET_OK && !o->no_fold) st = het_graph_fold(*g, NULL);
    return st;
}

hp_result hp_cli_cpu_alone(const hp_loaded *L, hp_choice *choice)
{
    const hp_model *m = &L->m;
    for (int i = 0; i < m->n_units; i++) choice[i] = HP_CPU;
    if (isfinite(L->base_cpu_ms))
        return (hp_result){.mode = "single", .latency_ms = L->base_cpu_ms, .images_per_s = 1e3 / L->base_cpu_ms,
                           .choice = choice, .single_dev = HP_CPU, .cpu_cores = L->base_cpu_cores, .measured = true};
    return (hp_result){.mode = "single", .latency_ms = m->net[HP_CPU], .images_per_s = 1e3 / m->net[HP_CPU],
                       .choice = choice, .single_dev = HP_CPU};
}

hp_result hp_cli_gpu_alone(const hp_loaded *L, bool throughput, hp_choice *choice)
{
    const hp_model *m = &L->m;
    for (int i = 0; i < m->n_units; i++) choice[i] = HP_GPU;
    if (throughput && m->stream[HP_GPU] > 0 && m->stream[HP_GPU] < m->net[HP_GPU])
        return (hp_result){.mode = "image-parallel", .latency_ms = m->net[HP_GPU], .images_per_s = 1e3 / m->stream[HP_GPU],
                           .choice = choice, .gpu_only = true};
    return (hp_result){.mode = "single", .latency_ms = m->net[HP_GPU], .images_per_s = 1e3 / m->net[HP_GPU],
                       .choice = choice, .single_dev = HP_GPU};
}

bool hp_cli_best(const hp_opts *o, const het_graph *g, const hp_loaded *L, hp_choice *lat_c, hp_choice *pipe_c,
                 hp_result *out, bool *base_wins)
{
    const hp_model *m = &L->m;
    int n = m->n_units;
    bool thr = !strcmp(o->objective, "throughput");
    hp_result best = {.latency_ms = INFINITY, .images_per_s = 0};
    // One image at a time: mapping (and split) by the latency solver.
    if (o->mapping || o->split) {
        double lat = hp_solve_latency(m, o->split, lat_c);
        if (isfinite(lat)) {
            best = (hp_result){.latency_ms = lat, .images_per_s = 1e3 / lat, .choice = lat_c};
            bool any_split = false, all_same = true;
            for (int i = 0; i < n; i++) any_split |= lat_c[i] >= 2, all_same &= lat_c[i] == lat_c[0];
            best.mode = any_split ? "split" : all_same ? "single" : "mapping";
            best.single_dev = lat_c[0];
        }
    }
    if (thr && o->pipeline) {
        // One more stage at a time, each search exact: the states grow
        // about tenfold with each stage, so where K stages would pass the
        // memory cap the best plan of fewer is kept, and said to be.
        hp_pipeline p, q;
        double cyc = INFINITY;
        int solved = 0;
        for (int k = o->min_stages; k <= o->max_stages; k++) {
            bool capped;
            double c = hp_solve_pipeline(m, o->min_stages, k, o->split, (size_t)o->search_mb << 20, &capped, &q);
            if (capped) {
                if (solved)
                    fprintf(stderr, "hetpart: warning: a pipeline of up to %d stages needs more than --search-memory %ld MiB "
                            "to search; the pipeline is the best of up to %d\n", k, o->search_mb, solved);
                else
                    fprintf(stderr, "hetpart: warning: a pipeline of %d stages needs more than --search-memory %ld MiB to "
                            "search; no pipeline is solved\n", k, o->search_mb);
                break;
            }
            solved = k;
            cyc = c, p = q;
            if (k >= m->n_units) break; // no more stages to cut
        }
        if (isfinite(cyc) && 1e3 / cyc > best.images_per_s) {
            hp_pipeline_choices(m, &p, pipe_c);
            best = (hp_result){.mode = "pipeline", .latency_ms = p.latency_ms, .images_per_s = 1e3 / cyc,
                               .choice = pipe_c, .pipe = p};
            if (p.n_stages == 1 && p.dev[0] < 2) best.mode = "single", best.single_dev = p.dev[0];
        }
    }
    if (thr && o->image_parallel) {
        double rate = hp_image_parallel_rate(m);
        if (rate > best.images_per_s) {
            // Each image runs on one device: its latency is that device's
            // network; the mean of the two is what is reported.
            best = (hp_result){.mode = "image-parallel", .latency_ms = (m->net[0] + m->net[1]) / 2,
                               .images_per_s = rate, .choice = lat_c};
        }
    }
    // The obvious runs are candidates unless --modes or --min-stages
    // narrowed the plan space (the study solves each mode to replay it):
    // the GPU streaming alone at the sweep's best in-flight count, and the
    // CPU alone on every core as measured (baselines). A plan that is not
    // predicted to beat them is no answer.
    bool open_space = !o->modes_given && o->min_stages <= 1;
    if (open_space && thr && m->stream[HP_GPU] > 0 && 1e3 / m->stream[HP_GPU] > best.images_per_s)
        best = (hp_result){.mode = "image-parallel", .latency_ms = m->net[HP_GPU], .images_per_s = 1e3 / m->stream[HP_GPU],
                           .choice = lat_c, .gpu_only = true};
    *base_wins = false;
    if (open_space && isfinite(L->base_cpu_ms)) {
        double base_ips = 1e3 / L->base_cpu_ms;
        // The CPU alone on the sweep's cores, where those are the
        // baseline's, is the baseline: priced as measured.
        bool same_run = best.mode && !strcmp(best.mode, "single") && best.single_dev == HP_CPU &&
                        !strcmp(L->sweep_cpu_cores, L->base_cpu_cores);
        *base_wins = !best.mode || same_run ||
                     (thr ? base_ips >= best.images_per_s : L->base_cpu_ms <= best.latency_ms);
        if (*base_wins) best = hp_cli_cpu_alone(L, lat_c);
    }
    if (!best.mode) {
        if (o->min_stages > n)
            fprintf(stderr, "hetpart: error: no plan of %d or more stages: %s has %d units (a conv and its ReLU are one)\n",
                    o->min_stages, hp_cli_model_name(o, g), n);
        else
            fprintf(stderr, "hetpart: error: no feasible plan: some layer can run on neither device in %s\n", L->desc);
        return false;
    }
    *out = best;
    return true;
}

static int solve(const hp_opts *o)
{
    het_graph *g = NULL;
    het_db *db = NULL;
    hp_loaded L = {0};
    int rc = 1;
    hp_choice *lat_c = NULL, *pipe_c = NULL;
    if (het_db_open_existing(o->db, &db) != HET_OK) return 1;
    if (hp_cli_load_model(o, &g) != HET_OK) goto done;
    hp_load_opts lo = {.platform = o->platform, .sweep_id = o->sweep, .corun = o->corun,
                       .corun_per_layer = o->corun_per_layer, .allow_missing = o->allow_missing,
                       .calibrate = o->calibrate, .in_context = o->in_context, .issue = o->issue};
    if (hp_load(db, o->db, g, &lo, &L) != HET_OK) goto done;
    const hp_model *m = &L.m;
    lat_c = malloc(sizeof *lat_c * (size_t)m->n_units), pipe_c = malloc(sizeof *pipe_c * (size_t)m->n_units);
    if (!lat_c || !pipe_c) goto done;
    bool thr = !strcmp(o->objective, "throughput"), base_wins;
    hp_result best;
    double t0 = now_ms();
    if (!hp_cli_best(o, g, &L, lat_c, pipe_c, &best, &base_wins)) goto done;
    double solve_ms = now_ms() - t0;
    hp_warn_quality(&L);
    if (!o->json) {
        char corun[96];
        hp_corun_text(&L, corun, sizeof corun);
        printf("%s, %s: objective %s -> %s plan: predicted %.3f ms per image, %.1f images/s (solved in %.1f ms; "
               "calibration cpu %.2f, gpu %.2f; co-run %s; %d CPU units timed in the network)\n",
               hp_cli_model_name(o, g), L.desc, o->objective, best.mode, best.latency_ms, best.images_per_s, solve_ms,
               L.calibration[0], L.calibration[1], corun, L.in_context[0]);
        if (base_wins)
            printf("  no plan is predicted to beat the CPU alone on cores %s (%.3f ms an image, measured by the sweep): "
                   "that run is the answer\n", L.base_cpu_cores, L.base_cpu_ms);
        else if (isfinite(L.base_cpu_ms))
            printf("  predicted %.2fx the CPU alone on cores %s (%.3f ms an image, measured by the sweep)\n",
                   hp_cli_vs_cpu_alone(&L, &best, thr), L.base_cpu_cores, L.base_cpu_ms);
        else
            printf("  the sweep has no CPU baseline on every core (it predates schema 7): sweep again to weigh the plan "
                   "against it\n");
        if (!strcmp(best.mode, "pipeline"))
            for (int s = 0; s < best.pipe.n_stages; s++) {
                char dev[32];
                dev_text(m, best.pipe.dev[s], dev, sizeof dev);
                printf("  stage %d: %s .. %s on %s: %.3f ms\n", s + 1, g->layers[m->u[best.pipe.first[s]].first].name,
                       g->layers[m->u[best.pipe.first[s + 1] - 1].last].name, dev, best.pipe.stage_ms[s]);
            }
    }
    rc = write_plan(o, g, &L, &best, solve_ms);
done:
    free(lat_c), free(pipe_c);
    hp_loaded_free(&L);
    het_db_close(db);
    het_graph_destroy(g);
    return rc;
}

// The unit choices of a plan: every layer of a unit (a conv and its fused
// ReLU) must carry one share, and every share must have been measured.
static int plan_choices(const hp_model *m, const het_graph *g, const het_plan *p, hp_choice *c)
{
    for (int i = 0; i < m->n_units; i++) {
        const hp_unit *u = &m->u[i];
        double r = p->gpu_ratio[u->first];
        if (p->gpu_ratio[u->last] != p->gpu_ratio[u->first]) {
            fprintf(stderr, "hetpart: error: %s and %s run fused as one unit; give them the same device or ratio\n",
                    g->layers[u->first].name, g->layers[u->last].name);
            return 1;
        }
        if ((c[i] = hp_choice_of_share(m, i, r)) < 0) {
            fprintf(stderr, "hetpart: error: layer %s: ratio %g was not measured (the sweep has", g->layers[u->first].name, r);
            for (int j = 0; j < m->n_ratios; j++) fprintf(stderr, "%s%g", j ? ", " : " ", m->ratio[j]);
            fprintf(stderr, "); hetprof sweep --ratios can add it\n");
            return 1;
        }
    }
    return 0;
}

static int predict(const hp_opts *o)
{
    het_graph *g = NULL;
    het_db *db = NULL;
    het_plan *p = NULL;
    hp_loaded L = {0};
    hp_choice *c = NULL;
    int rc = 1;
    if (het_db_open_existing(o->db, &db) != HET_OK) return 1;
    if (hp_cli_load_model(o, &g) != HET_OK || het_plan_read(o->plan, g, &p) != HET_OK) goto done;
    hp_load_opts lo = {.platform = o->platform, .sweep_id = o->sweep, .corun = o->corun,
                       .corun_per_layer = o->corun_per_layer, .calibrate = o->calibrate, .in_context = o->in_context,
                       .issue = o->issue, .net_ms = {o->net_ms[0], o->net_ms[1]},
                       .gpu_stream_ms = o->gpu_stream_ms};
    if (hp_load(db, o->db, g, &lo, &L) != HET_OK) goto done;
    const hp_model *m = &L.m;
    if (!(c = malloc(sizeof *c * (size_t)m->n_units)) || plan_choices(m, g, p, c)) goto done;
    hp_pipeline pipe = {0};
    double lat, ips;
    // The obvious runs solve may answer are priced as solve priced them:
    // the CPU alone on the baseline's cores as the sweep measured it, the
    // GPU's lane alone as its stream.
    bool base = p->mode == HET_MODE_SINGLE && !p->uses_gpu && isfinite(L.base_cpu_ms) && p->cpu_cores &&
                !strcmp(p->cpu_cores, L.base_cpu_cores);
    if (base) {
        lat = L.base_cpu_ms;
        ips = 1e3 / lat;
    } else if (p->mode == HET_MODE_IMAGE_PARALLEL && p->cpu_lanes > 1) {
        fprintf(stderr, "hetpart: error: %s has %d CPU lanes: the cost model has no time for a group of the CPU's "
                "cores alone (hetpart tune measures such plans instead)\n", o->plan, p->cpu_lanes);
        goto done;
    } else if (p->mode == HET_MODE_IMAGE_PARALLEL && !p->uses_cpu) {
        lat = m->net[HP_GPU];
        ips = 1e3 / (m->stream[HP_GPU] > 0 ? m->stream[HP_GPU] : m->net[HP_GPU]);
    } else if (p->mode == HET_MODE_IMAGE_PARALLEL) {
        ips = hp_image_parallel_rate(m);
        lat = (m->net[0] + m->net[1]) / 2; // as solve reports it: the mean image
    } else if (p->mode == HET_MODE_PIPELINE) {
        pipe.n_stages = p->n_stages;
        for (int s = 0, i = 0; s <= p->n_stages; s++) {
            int layer = s < p->n_stages ? p->stage_first[s] : g->n_layers;
            while (i < m->n_units && m->u[i].first < layer) i++;
            if (s < p->n_stages && (i == m->n_units || m->u[i].first != layer)) {
                fprintf(stderr, "hetpart: error: stage %d starts at %s, inside a fused unit; start it at %s\n", s + 1,
                        g->layers[layer].name, g->layers[m->u[i - 1].first].name);
                goto done;
            }
            pipe.first[s] = i;
            // The stage's choice: its first unit's share, before the
            // rounding that may leave that unit whole on one device
            // (plan_choices has checked that every share was measured).
            if (s < p->n_stages) {
                double r = p->gpu_ratio[layer];
                pipe.dev[s] = r <= 0 ? HP_CPU : r >= 1 ? HP_GPU : HP_SPLIT(hp_ratio_index(m, r));
            }
        }
        double cyc = hp_pipeline_eval(m, &pipe);
        lat = pipe.latency_ms;
        ips = 1e3 / cyc;
    } else {
        lat = hp_simulate(m, c);
        ips = 1e3 / lat;
    }
    if (!isfinite(lat) || !(ips > 0)) {
        fprintf(stderr, "hetpart: error: %s puts a layer where %s has no time for it\n", o->plan, L.desc);
        goto done;
    }
    const char *mode = het_plan_mode_name(p->mode);
    hp_warn_quality(&L);
    if (o->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "plan", o->plan);
        cJSON_AddStringToObject(root, "mode", mode);
        cJSON_AddNumberToObject(root, "latency_ms", lat);
        cJSON_AddNumberToObject(root, "images_per_s", ips);
        if (p->mode == HET_MODE_PIPELINE) {
            cJSON *sm = cJSON_AddArrayToObject(root, "stage_ms");
            for (int s = 0; s < pipe.n_stages; s++) cJSON_AddItemToArray(sm, cJSON_CreateNumber(pipe.stage_ms[s]));
        }
        cJSON_AddNumberToObject(root, "sweep", (double)L.sweep);
        cJSON *cal = cJSON_AddArrayToObject(root, "calibration");
        for (int d = 0; d < 2; d++) cJSON_AddItemToArray(cal, cJSON_CreateNumber(L.calibration[d]));
        add_corun(root, &L);
        add_in_context(root, &L);
        char *text = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!text) goto done;
        puts(text);
        free(text);
    } else {
        char corun[96];
        hp_corun_text(&L, corun, sizeof corun);
        printf("%s, %s: %s plan %s: predicted %.3f ms per image, %.1f images/s (calibration cpu %.2f, gpu %.2f; "
               "co-run %s; %d CPU units timed in the network)\n",
               hp_cli_model_name(o, g), L.desc, mode, o->plan, lat, ips, L.calibration[0], L.calibration[1], corun,
               L.in_context[0]);
        for (int s = 0; p->mode == HET_MODE_PIPELINE && s < pipe.n_stages; s++)
            printf("  stage %d: %s .. %s: %.3f ms\n", s + 1, g->layers[m->u[pipe.first[s]].first].name,
                   g->layers[m->u[pipe.first[s + 1] - 1].last].name, pipe.stage_ms[s]);
    }
    rc = 0;
done:
    free(c);
    hp_loaded_free(&L);
    het_plan_destroy(p);
    het_db_close(db);
    het_graph_destroy(g);
    return rc;
}

static int explain(const hp_opts *o)
{
    FILE *f = fopen(o->plan, "rb");
    if (!f) {
        fprintf(stderr, "hetpart: error: cannot read %s\n", o->plan);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!text) return 1;
    text[got] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(root, "predicted");
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(pr, "units");
    if (!root || !cJSON_IsObject(pr)) {
        fprintf(stderr, "hetpart: error: %s is %s; explain reads plans that hetpart solve wrote\n", o->plan,
                root ? "a plan without a \"predicted\" block" : "not valid JSON");
        cJSON_Delete(root);
        return 1;
    }
    // Totals of the units' own times by where they ran, and of the
    // transfers that fed them.
    double tot[3] = {0}, xfer = 0; // cpu, gpu, split
    const cJSON *u;
    cJSON_ArrayForEach(u, units)
    {
        const char *dev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "device"));
        int k = dev && !strcmp(dev, "cpu") ? 0 : dev && !strcmp(dev, "gpu") ? 1 : 2;
        tot[k] += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "ms"));
        xfer += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "transfer_in_ms"));
    }
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    const cJSON *meas = cJSON_GetObjectItemCaseSensitive(root, "measured");
    if (o->json) {
        cJSON *js = cJSON_CreateObject();
        cJSON_AddStringToObject(js, "plan", o->plan);
        cJSON_AddItemToObject(js, "mode", cJSON_Duplicate(mode, 1));
        cJSON_AddItemToObject(js, "predicted", cJSON_Duplicate(pr, 1));
        if (meas) cJSON_AddItemToObject(js, "measured", cJSON_Duplicate(meas, 1));
        if (cJSON_IsArray(units)) {
            cJSON *t = cJSON_AddObjectToObject(js, "totals_ms");
            cJSON_AddNumberToObject(t, "cpu", tot[0]);
            cJSON_AddNumberToObject(t, "gpu", tot[1]);
            cJSON_AddNumberToObject(t, "split", tot[2]);
            cJSON_AddNumberToObject(t, "transfers", xfer);
        }
        char *out = cJSON_Print(js);
        cJSON_Delete(js);
        if (out) puts(out);
        free(out);
        cJSON_Delete(root);
        return out ? 0 : 1;
    }
    printf("%s: %s plan, objective %s, from %s\n", o->plan, cJSON_IsString(mode) ? mode->valuestring : "?",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pr, "objective")),
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pr, "from")));
    printf("predicted: %.3f ms per image, %.1f images/s\n",
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pr, "latency_ms")),
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pr, "images_per_s")));
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(pr, "cpu_alone");
    if (cJSON_IsObject(base))
        printf("against the CPU alone on cores %s (%.3f ms an image, measured by the sweep): %.2fx%s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(base, "cores")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(base, "latency_ms")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(base, "speedup")),
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pr, "measured")) ? " (this plan is that run)" : "");
    if (cJSON_IsObject(meas))
        printf("measured by %s: %.3f %s (median of %d rounds), %.2fx %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meas, "by")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(meas, "median")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meas, "unit")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(meas, "rounds")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(meas, "vs_best_single")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meas, "best_single")));
    if (cJSON_IsArray(units)) {
        printf("%-44s %-10s %9s %9s %9s %5s\n", "layers (a unit: a conv and its fused ReLU)", "device", "own ms",
               "in ms", "out ms", "stage");
        cJSON_ArrayForEach(u, units)
        {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(u, "stage");
            char stage[16] = "-";
            if (cJSON_IsNumber(st)) snprintf(stage, sizeof stage, "%d", st->valueint);
            printf("%-44s %-10s %9.3f %9.3f %9.3f %5s\n",
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "layers")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "device")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "ms")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "transfer_in_ms")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "transfer_out_ms")), stage);
        }
        printf("total: %.3f ms on the cpu, %.3f on the gpu, %.3f split, %.3f moving data in (own ms: the unit's "
               "time on its device; in ms: transfers before it ran; out ms: moving its output)\n",
               tot[0], tot[1], tot[2], xfer);
    }
    const cJSON *sm = cJSON_GetObjectItemCaseSensitive(pr, "stage_ms");
    int s = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, sm) printf("stage %d: %.3f ms\n", ++s, v->valuedouble);
    cJSON_Delete(root);
    return 0;
}

int main(int argc, char **argv)
{
    het_log_set_prefix("hetpart");
    hp_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    return !strcmp(o.cmd, "tune")      ? hp_tune(&o)
           : !strcmp(o.cmd, "solve")   ? solve(&o)
           : !strcmp(o.cmd, "predict") ? predict(&o)
                                       : explain(&o);
}
