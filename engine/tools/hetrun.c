// hetrun: load a Caffe model, run images through it on a device, print the
// top-K classes and latency, and optionally save outputs, blobs, weights
// and a JSON summary.
//
// Everything that can be checked is checked before the first inference, and
// every file is written only after the run succeeded (atomically), so a bad
// option never leaves half a result behind.
#define _GNU_SOURCE
#include "het/backend.h"
#include "het/exec.h"
#include "het/env.h"
#include "het/graph.h"
#include "het/het.h"
#include "het/io.h"
#include "het/plan.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/model.h"
#include "db.h"

#define MAX_SAVE_BLOBS 32

static void usage(FILE *f)
{
    fprintf(f,
        "usage: hetrun --model M.prototxt [options]\n"
        "\n"
        "Runs a Caffe network on images, batch 1, and reports top-K classes and latency.\n"
        "\n"
        "model and weights:\n"
        "  --model FILE          Caffe deploy .prototxt (required)\n"
        "  --weights FILE        .caffemodel; without it weights come from the prototxt's fillers\n"
        "  --seed S              seed for filler weights and synthetic images (default 1)\n"
        "  --save-weights FILE   write the weights in use as a .caffemodel (as the prototxt has them)\n"
        "  --no-fold             keep BatchNorm and Scale as layers of their own (by default they fold\n"
        "                        into the convolution before them; plans and sweeps name the layers\n"
        "                        of the graph they were made on)\n"
        "device:\n"
        "  --device cpu|gpu      where to run (default cpu; gpu is the OpenCL device)\n"
        "  --gpu INDEX|NAME      OpenCL device: index from --list-gpus or a name substring\n"
        "                        (default: the first GPU, else the first device)\n"
        "  --list-gpus           list the OpenCL devices and exit\n"
        "  --plan PLAN.json      run as the plan says: layers mapped to cpu/gpu or split between\n"
        "                        them (docs/plan.md); replaces --device\n"
        "  --gpu-buffers MODE    auto (zero-copy where memory is unified), copy or zero-copy\n"
        "  --cl-cache DIR        OpenCL program binary cache (default $HET_CL_CACHE or ~/.cache/het; '' disables)\n"
        "  --threads N           CPU threads (default: one per core in --cpu-cores, else all cores)\n"
        "  --cpu-cores LIST      pin CPU threads to these cores, e.g. 0-3 or 0,2\n"
        "  --gpu-cores LIST      confine an OpenCL device that runs on the CPU (PoCL) to these cores\n"
        "                        (a plan using both devices splits the cores in two halves by default)\n"
        "input:\n"
        "  --images DIR|FILE|N   JPEG/PNG files of a folder, one file, or N synthetic images (default 1)\n"
        "  --input X.npy         a ready float32 tensor [N,C,H,W] (no preprocessing)\n"
        "  --mean B,G,R          per-channel mean subtracted from images (default 104,117,123)\n"
        "  --scale S             multiply after mean subtraction (default 1)\n"
        "  --max-image-pixels N  refuse an image whose header declares more pixels (default 67108864)\n"
        "output:\n"
        "  --top K               classes printed per image (default 5; 0 prints none)\n"
        "  --labels FILE         synset list (one 'id label' per line) for the printed classes\n"
        "  --save-output F.npy   final output blob of every image as one array [N, ...]\n"
        "  --save-blob NAME=F.npy  the same for any named blob (repeatable)\n"
        "  --json FILE           run summary for scripts (latency, images/s, peak RSS); '-' prints\n"
        "                        it on stdout and the text on stderr (--summary-json is the same)\n"
        "  --timeline FILE       pipeline/image-parallel: CSV of (stage, image, start, end) for a Gantt chart\n"
        "  --db FILE             append the run's measurements to this SQLite database (docs/database.md)\n"
        "  --db-timeout S        wait up to S seconds for another writer's lock on --db (default 10)\n"
        "timing:\n"
        "  --warmup N            untimed runs before the first timed one (default 1); with a\n"
        "                        pipeline or image-parallel plan, N times the first image\n"
        "                        through every lane and every in-flight slot\n"
        "  --repeat R            timed runs per image; streams: timed streams of all images (default 1)\n"
        "  --profile             print each layer's median time over the timed runs\n"
        "  -q, --quiet           no per-image lines\n"
        "  -v, --verbose         log more\n"
        "  -h, --help            this text\n"
        "  --version             print the version\n");
}

typedef struct save_blob {
    const char *name, *path;
    int blob;
    float *acc;
} save_blob;

typedef struct opts {
    const char *model, *weights, *device, *images, *input, *labels, *save_output, *save_weights, *summary_json;
    const char *cpu_cores, *gpu_cores, *gpu, *cl_cache, *plan, *timeline, *db;
    int gpu_buffers;
    unsigned long long seed, max_pixels;
    int threads, top, warmup, repeat, quiet, profile, no_fold, db_timeout_s;
    float mean[3], scale;
    save_blob saves[MAX_SAVE_BLOBS];
    int n_saves;
    // Every output file: the paths above are switched to their temporaries
    // here, renamed into place only once the run, its outputs and its
    // database row have all succeeded.
    het_outputs *outs;
} opts;

// Registers every output file of the run and points its option at the
// temporary it is written to. 0, or 1 after one message.
static int stage_outputs(opts *o)
{
    if (het_outputs_create(&o->outs) != HET_OK) return 1;
    const char **paths[4 + MAX_SAVE_BLOBS] = {&o->save_output, &o->save_weights, &o->summary_json, &o->timeline};
    int n = 4;
    for (int i = 0; i < o->n_saves; i++) paths[n++] = &o->saves[i].path;
    for (int i = 0; i < n; i++)
        if (*paths[i] && strcmp(*paths[i], "-") && !(*paths[i] = het_outputs_add(o->outs, *paths[i]))) return 1;
    return 0;
}

static int fail(const char *fmt, const char *a)
{
    fprintf(stderr, "hetrun: error: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    return 2;
}

static int parse_int(const char *s, const char *opt, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "hetrun: error: %s needs an integer in [%d, %d], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    enum { O_MODEL = 256, O_WEIGHTS, O_SEED, O_DEVICE, O_IMAGES, O_INPUT, O_TOP, O_LABELS, O_SAVE_OUT,
           O_SAVE_BLOB, O_SAVE_W, O_SUMMARY, O_THREADS, O_CORES, O_WARMUP, O_REPEAT, O_MEAN, O_SCALE,
           O_VERSION, O_PROFILE, O_GPU, O_LIST_GPUS, O_GPU_BUFFERS, O_CL_CACHE, O_PLAN, O_GPU_CORES, O_TIMELINE, O_DB,
           O_NO_FOLD, O_DB_TIMEOUT, O_MAX_PIXELS };
    static const struct option lo[] = {
        {"model", required_argument, 0, O_MODEL}, {"weights", required_argument, 0, O_WEIGHTS},
        {"seed", required_argument, 0, O_SEED}, {"device", required_argument, 0, O_DEVICE},
        {"images", required_argument, 0, O_IMAGES}, {"input", required_argument, 0, O_INPUT},
        {"top", required_argument, 0, O_TOP}, {"labels", required_argument, 0, O_LABELS},
        {"save-output", required_argument, 0, O_SAVE_OUT}, {"save-blob", required_argument, 0, O_SAVE_BLOB},
        {"save-weights", required_argument, 0, O_SAVE_W}, {"no-fold", no_argument, 0, O_NO_FOLD}, {"summary-json", required_argument, 0, O_SUMMARY},
        {"json", required_argument, 0, O_SUMMARY},
        {"threads", required_argument, 0, O_THREADS}, {"cpu-cores", required_argument, 0, O_CORES},
        {"warmup", required_argument, 0, O_WARMUP}, {"repeat", required_argument, 0, O_REPEAT},
        {"mean", required_argument, 0, O_MEAN}, {"scale", required_argument, 0, O_SCALE},
        {"plan", required_argument, 0, O_PLAN}, {"db", required_argument, 0, O_DB}, {"db-timeout", required_argument, 0, O_DB_TIMEOUT}, {"max-image-pixels", required_argument, 0, O_MAX_PIXELS}, {"timeline", required_argument, 0, O_TIMELINE}, {"gpu-cores", required_argument, 0, O_GPU_CORES}, {"gpu", required_argument, 0, O_GPU}, {"list-gpus", no_argument, 0, O_LIST_GPUS},
        {"gpu-buffers", required_argument, 0, O_GPU_BUFFERS}, {"cl-cache", required_argument, 0, O_CL_CACHE},
        {"profile", no_argument, 0, O_PROFILE}, {"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION}, {0, 0, 0, 0}};
    *o = (opts){.device = "cpu", .gpu_buffers = -1, .seed = 1, .top = 5, .warmup = 1, .repeat = 1, .mean = {104, 117, 123},
                .scale = 1.0f, .db_timeout_s = 10, .max_pixels = HET_IMAGE_MAX_PIXELS};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":qvh", lo, NULL)) != -1) {
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_WEIGHTS: o->weights = optarg; break;
        case O_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-') return fail("--seed needs a non-negative integer, got '%s'", optarg);
            break;
        }
        case O_MAX_PIXELS: {
            char *end;
            errno = 0;
            o->max_pixels = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-' || !o->max_pixels)
                return fail("--max-image-pixels needs a positive integer, got '%s'", optarg);
            break;
        }
        case O_DEVICE: o->device = optarg; break;
        case O_IMAGES: o->images = optarg; break;
        case O_INPUT: o->input = optarg; break;
        case O_TOP: if (parse_int(optarg, "--top", 0, 100000, &o->top)) return 2; break;
        case O_LABELS: o->labels = optarg; break;
        case O_SAVE_OUT: o->save_output = optarg; break;
        case O_SAVE_BLOB: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) return fail("--save-blob needs NAME=FILE.npy, got '%s'", optarg);
            if (o->n_saves == MAX_SAVE_BLOBS) return fail("at most %s --save-blob options", "32");
            *eq = 0;
            o->saves[o->n_saves++] = (save_blob){.name = optarg, .path = eq + 1};
            break;
        }
        case O_SAVE_W: o->save_weights = optarg; break;
        case O_NO_FOLD: o->no_fold = 1; break;
        case O_SUMMARY: o->summary_json = optarg; break;
        case O_THREADS: if (parse_int(optarg, "--threads", 1, 1024, &o->threads)) return 2; break;
        case O_CORES: o->cpu_cores = optarg; break;
        case O_WARMUP: if (parse_int(optarg, "--warmup", 0, 1000000, &o->warmup)) return 2; break;
        case O_REPEAT: if (parse_int(optarg, "--repeat", 1, 1000000, &o->repeat)) return 2; break;
        case O_MEAN:
            if (sscanf(optarg, "%f,%f,%f", &o->mean[0], &o->mean[1], &o->mean[2]) != 3 || !isfinite(o->mean[0]) ||
                !isfinite(o->mean[1]) || !isfinite(o->mean[2]))
                return fail("--mean needs three finite numbers B,G,R, got '%s'", optarg);
            break;
        case O_SCALE: {
            char *end;
            o->scale = strtof(optarg, &end);
            if (!*optarg || *end || !isfinite(o->scale)) return fail("--scale needs a finite number, got '%s'", optarg);
            break;
        }
        case 'q': o->quiet = 1; break;
        case O_PROFILE: o->profile = 1; break;
        case O_GPU: o->gpu = optarg; break;
        case O_PLAN: o->plan = optarg; break;
        case O_TIMELINE: o->timeline = optarg; break;
        case O_DB: o->db = optarg; break;
        case O_DB_TIMEOUT: if (parse_int(optarg, "--db-timeout", 0, 86400, &o->db_timeout_s)) return 2; break;
        case O_GPU_CORES: o->gpu_cores = optarg; break;
        case O_CL_CACHE: o->cl_cache = optarg; break;
        case O_GPU_BUFFERS:
            if (!strcmp(optarg, "auto")) o->gpu_buffers = -1;
            else if (!strcmp(optarg, "copy")) o->gpu_buffers = 0;
            else if (!strcmp(optarg, "zero-copy")) o->gpu_buffers = 1;
            else return fail("--gpu-buffers takes auto, copy or zero-copy, not '%s'", optarg);
            break;
        case O_LIST_GPUS: {
#ifdef HET_WITH_OPENCL
            extern int het_cl_list_devices(void);
            exit(het_cl_list_devices() > 0 ? 0 : 1);
#else
            fprintf(stderr, "hetrun: error: this build has no OpenCL backend\n");
            exit(1);
#endif
        }
        case 'v': het_log_set_level(HET_LOG_DEBUG); break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: printf("hetrun %s\n", HET_VERSION); exit(0);
        case ':': return fail("option %s needs a value (see --help)", argv[optind - 1]);
        default: return fail("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) return fail("unexpected argument '%s' (see --help)", argv[optind]);
    if (!o->model) return fail("%s", "--model is required (see --help)");
    if (o->images && o->input) return fail("%s", "give --images or --input, not both");
    if (o->plan && o->profile) return fail("%s", "--profile times layers on one device; it does not combine with --plan");
    if (o->threads && o->cpu_cores) {
        // both is fine only if consistent: threads are spread over the cores
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

// Lists the images of a folder (sorted, so runs are reproducible).
static int list_images(const char *dir, char ***paths_out, int *n_out)
{
    DIR *d = opendir(dir);
    if (!d) return fprintf(stderr, "hetrun: error: cannot open image folder '%s': %s\n", dir, strerror(errno)), 2;
    char **paths = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **t = realloc(paths, (size_t)cap * sizeof *t);
            if (!t) break;
            paths = t;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        paths[n] = malloc(len);
        if (!paths[n]) break;
        snprintf(paths[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(paths);
        fprintf(stderr, "hetrun: error: no .jpg, .jpeg or .png images in '%s'\n", dir);
        return 2;
    }
    qsort(paths, (size_t)n, sizeof *paths, cmp_str);
    *paths_out = paths;
    *n_out = n;
    return 0;
}

static char **read_labels(const char *path, int *n_out)
{
    char *text;
    size_t len;
    if (het_read_file(path, &text, &len) != HET_OK) return NULL;
    int n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    char **lab = calloc((size_t)n + 1, sizeof *lab);
    if (!lab) { free(text); return NULL; }
    int k = 0;
    // Lines are "n01440764 tench, Tinca tinca"; tolerate CRLF endings and a
    // line quoted as a whole ('...'), both seen in circulating copies.
    for (char *line = strtok(text, "\n"); line && k <= n; line = strtok(NULL, "\n")) {
        size_t ll = strlen(line);
        while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) line[--ll] = 0;
        if (ll >= 2 && (line[0] == '\'' || line[0] == '"') && line[ll - 1] == line[0]) {
            line[ll - 1] = 0;
            line++;
        }
        char *sp = strchr(line, ' ');
        lab[k++] = strdup(sp ? sp + 1 : line);
    }
    free(text);
    *n_out = k;
    return lab;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q)
{
    if (n == 0) return 0;
    double pos = q * (n - 1);
    int i = (int)pos;
    double f = pos - i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

static uint64_t total_flops(const het_graph *g);

// Writes s as a JSON string literal.
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

// Text outputs, written into their staged temporaries (stage_outputs).
// --json -: the summary's stream, the process's stdout as it was before the
// text was sent to stderr (main).
static FILE *json_stdout;

static FILE *out_open(const char *tmp)
{
    if (!strcmp(tmp, "-")) return json_stdout;
    FILE *f = fopen(tmp, "w");
    if (!f) fprintf(stderr, "hetrun: error: cannot create '%s': %s\n", tmp, strerror(errno));
    return f;
}

// Closes what out_open gave (NULL: it failed); 0, or 1 after one message.
static int out_close(FILE *f, const char *tmp)
{
    if (!f) return 1;
    if (f == json_stdout ? fflush(f) != 0 : fclose(f) != 0) {
        fprintf(stderr, "hetrun: error: failed to write '%s': %s\n", tmp, strerror(errno));
        return 1;
    }
    return 0;
}

static int write_summary(const char *path, const opts *o, const het_graph *g, const char *desc, const het_plan *plan,
                         const het_xfer_stats *xs, int n_images, int n_threads, const double *sorted_ms, int n_runs,
                         double total_s, long rss_kb, double first_run_ms, double setup_ms)
{
    FILE *f = out_open(path);
    if (!f) return 1;
    fprintf(f, "{\n  \"model\": ");
    json_str(f, o->model);
    fprintf(f, ",\n  \"name\": ");
    json_str(f, g->name);
    fprintf(f, ",\n  \"model_hash\": \"%s\",\n", g->hash);
    if (g->n_inputs > 0) {
        const het_blob *in = &g->blobs[g->inputs[0]];
        fprintf(f, "  \"input\": {\"name\": ");
        json_str(f, in->name);
        fprintf(f, ", \"shape\": [%d, %d, %d, %d]},\n", in->shape.n, in->shape.c, in->shape.h, in->shape.w);
    }
    fprintf(f, "  \"device\": \"%s\",\n  \"backend\": ", o->device);
    json_str(f, desc);
    if (plan) {
        fprintf(f, ",\n  \"plan\": ");
        json_str(f, o->plan);
        fprintf(f, ",\n  \"plan_hash\": \"%s\",\n  \"mode\": \"%s\"", plan->hash, het_plan_mode_name(plan->mode));
    }
    if (xs)
        fprintf(f, ",\n  \"transfers\": {\"h2d_bytes\": %llu, \"h2d_ms\": %.3f, \"h2d_count\": %llu, "
                "\"d2h_bytes\": %llu, \"d2h_ms\": %.3f, \"d2h_count\": %llu}",
                (unsigned long long)xs->h2d_bytes, xs->h2d_ns / 1e6, (unsigned long long)xs->h2d_count,
                (unsigned long long)xs->d2h_bytes, xs->d2h_ns / 1e6, (unsigned long long)xs->d2h_count);
    fprintf(f, ",\n  \"threads\": %d,\n  \"cpu_cores\": \"%s\",\n", n_threads, o->cpu_cores ? o->cpu_cores : "");
    fprintf(f, "  \"setup_ms\": %.3f,\n  \"first_run_ms\": %.3f,\n", setup_ms, first_run_ms);
    fprintf(f, "  \"images\": %d,\n  \"runs\": %d,\n  \"warmup\": %d,\n", n_images, n_runs, o->warmup);
    fprintf(f, "  \"latency_ms\": {\"median\": %.6f, \"p90\": %.6f, \"min\": %.6f},\n", percentile(sorted_ms, n_runs, 0.5),
            percentile(sorted_ms, n_runs, 0.9), n_runs ? sorted_ms[0] : 0.0);
    fprintf(f, "  \"gflop_per_image\": %.6f,\n", total_flops(g) / 1e9);
    fprintf(f, "  \"images_per_s\": %.3f,\n  \"peak_rss_kb\": %ld\n}\n", total_s > 0 ? n_runs / total_s : 0.0, rss_kb);
    return out_close(f, path);
}

// Classes printed from weights that no training made (the prototxt's
// fillers) are meaningless: said once, before the first, and on each line.
static bool untrained;

static void print_top(const char *what, const float *v, size_t n, int k, char **labels, int n_labels)
{
    static bool said;
    if (untrained && !said) {
        printf("note: the weights come from the prototxt's fillers, not from training: the classes below mean "
               "nothing (--weights W.caffemodel gives a trained net's)\n");
        said = true;
    }
    if (k > (int)n) k = (int)n;
    printf("%s:", what);
    int idx[64];
    if (k > 64) k = 64;
    for (int r = 0; r < k; r++) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < r; q++) used |= idx[q] == (int)i;
            if (!used && (best < 0 || v[i] > v[best])) best = (int)i;
        }
        idx[r] = best;
        if (labels && best < n_labels) printf("  %d %.4f (%s)", best, v[best], labels[best]);
        else printf("  %d %.4f", best, v[best]);
        printf(r + 1 < k ? ";" : "");
    }
    printf(untrained ? "  [untrained]\n" : "\n");
}

// Fills `dst` with input image `im`: from the --input tensor, a decoded and
// preprocessed image file, or a seeded synthetic image; `what` names it.
static het_status load_input(const opts *o, const het_npy *input, char **paths, int im, const het_shape *ishape,
                             float *dst, char *what, size_t what_cap)
{
    size_t in_count = het_shape_count(ishape);
    if (o->input) {
        memcpy(dst, input->data + (size_t)im * in_count, in_count * sizeof(float));
        snprintf(what, what_cap, "%s[%d]", o->input, im);
    } else if (paths) {
        het_image img;
        het_status st = het_image_load(paths[im], o->max_pixels, &img);
        if (st != HET_OK) return st;
        het_image_to_chw(&img, ishape->h, ishape->w, o->mean, o->scale, dst);
        het_image_free(&img);
        snprintf(what, what_cap, "%s", paths[im]);
    } else {
        het_rng rng;
        het_rng_seed(&rng, o->seed * 1000003ull + (unsigned)im);
        for (size_t i = 0; i < in_count; i++) dst[i] = het_rng_uniform(&rng, -100.0f, 100.0f);
        snprintf(what, what_cap, "synthetic[%d]", im);
    }
    return HET_OK;
}

// Prints the plan's prediction (if it has one) next to the measurement, and
// appends the run to --db (nothing when it is not given). The database was
// checked before the run; the write is one transaction.
static int record_run(const opts *o, const het_graph *g, const het_plan *plan, const char *desc, het_backend *gpu_be,
                      int images, double wall_ms, double ips, double p50, double p90, double mn,
                      const het_xfer_stats *xs, int n_lanes, const char *const *lane_names, const double *busy)
{
    if (plan && !isnan(plan->predicted_images_per_s))
        printf("predicted by hetpart: %.3f ms latency, %.1f images/s; measured %.3f ms (p50), %.1f images/s "
               "(throughput error %+.1f%%)\n", plan->predicted_latency_ms, plan->predicted_images_per_s, p50, ips,
               (plan->predicted_images_per_s - ips) / ips * 100);
    if (!o->db) return 0;
    char plat[256], dev[256], drv[256], weights[64];
    het_opencl_identity(gpu_be, plat, dev, drv, sizeof plat);
    snprintf(weights, sizeof weights, "seed:%llu", o->seed);
    het_xfer_stats none = {0};
    if (!xs) xs = &none;
    het_db_run r = {.model_path = o->model, .model_name = g->name, .model_hash = g->hash,
                    .weights = o->weights ? o->weights : weights, .n_layers = g->n_layers,
                    .gflop = total_flops(g) / 1e9, .plan_path = o->plan, .plan_hash = plan ? plan->hash : NULL,
                    .mode = plan ? het_plan_mode_name(plan->mode) : "single",
                    .device = !plan ? o->device : plan->uses_cpu && plan->uses_gpu ? "cpu+gpu" : plan->uses_gpu ? "gpu" : "cpu",
                    .objective = plan && plan->objective[0] ? plan->objective : NULL,
                    .sweep_id = plan ? plan->sweep_id : -1,
                    .backend = desc, .cpu_cores = o->cpu_cores ? o->cpu_cores : "", .opencl_platform = plat,
                    .opencl_device = dev, .opencl_driver = drv, .images = images, .wall_ms = wall_ms,
                    .images_per_s = ips, .latency_p50_ms = p50, .latency_p90_ms = p90, .latency_min_ms = mn,
                    .h2d_bytes = xs->h2d_bytes, .d2h_bytes = xs->d2h_bytes, .h2d_ms = xs->h2d_ns / 1e6,
                    .d2h_ms = xs->d2h_ns / 1e6, .n_lanes = n_lanes, .lane_names = lane_names, .lane_busy_ms = busy,
                    .predicted_latency_ms = plan ? plan->predicted_latency_ms : NAN,
                    .predicted_images_per_s = plan ? plan->predicted_images_per_s : NAN};
    int64_t id;
    if (het_db_add_run(o->db, o->db_timeout_s * 1000, &r, &id) != HET_OK) return 1;
    printf("recorded as run %lld in %s\n", (long long)id, o->db);
    return 0;
}

// Prepares images [first, first + n) into `dst`, their names into `what`.
static het_status load_chunk(const opts *o, const het_npy *input, char **paths, int first, int n,
                             const het_shape *ishape, float *dst, char (*what)[512])
{
    size_t in_count = het_shape_count(ishape);
    for (int k = 0; k < n; k++) {
        het_status st = load_input(o, input, paths, first + k, ishape, dst + (size_t)k * in_count, what[k],
                                   sizeof what[k]);
        if (st != HET_OK) return st;
    }
    return HET_OK;
}

// Images a stream prepares at a time: up to 64 MiB of inputs, at least one.
// The study's 100 SqueezeNet images (600 KB each) are one chunk, so its
// streams run as one.
#define STREAM_CHUNK_BYTES ((size_t)64 << 20)

// Pipeline and image-parallel plans: inputs are prepared first, the first
// image runs untimed through every slot of every lane (--warmup times) to
// pay the first-run costs, then the timed stream runs --repeat times, back
// to back: a short stream is moved by any interruption of the machine, so
// throughput, latencies, busy times and transfers are over all of them, the
// timeline the last one's. A stream of more images
// than STREAM_CHUNK_BYTES holds runs in chunks of that many, each prepared
// untimed before it runs, so memory stays bounded by a chunk, not the
// stream: the pipeline fills and drains once a chunk.
// Prints throughput, latency p50/p90, each lane's busy and idle time and the
// transfers; writes --timeline, --save-output and --summary-json.
static int run_stream(const opts *o, const het_graph *g, const het_plan *plan, het_backend *const *cpu, int n_cpu,
                      het_backend *gpu,
                      const het_npy *input, char **paths, const het_shape *ishape, int n_images, int out_blob,
                      char **labels, int n_labels, const char *desc)
{
    size_t in_count = het_shape_count(ishape), out_count = het_shape_count(&g->blobs[out_blob].shape);
    size_t per_chunk = STREAM_CHUNK_BYTES / (in_count * sizeof(float));
    int chunk = per_chunk < 1 ? 1 : per_chunk < (size_t)n_images ? (int)per_chunk : n_images;
    int n_chunks = (n_images + chunk - 1) / chunk;
    // In the GPU's host memory: the stream hands the layers each image where
    // it is (het_workspace_borrow), so this is where the GPU uploads from.
    float *inputs = het_host_alloc(gpu, (size_t)chunk * in_count * sizeof(float));
    // Every image's output where --save-output keeps them, else a chunk's.
    bool keep = o->save_output != NULL;
    float *outputs = malloc((size_t)(keep ? n_images : chunk) * out_count * sizeof(float));
    char (*what)[512] = malloc((size_t)chunk * sizeof *what);
    int R = o->repeat, n_lat = n_images * R;
    double *lat = malloc((size_t)n_lat * sizeof *lat);
    double *stream_ms = calloc((size_t)R, sizeof *stream_ms); // each stream's wall time
    het_stream_event *tl = o->timeline ? malloc(((size_t)n_images * HET_PLAN_MAX_STAGES + 1) * sizeof *tl) : NULL;
    int n_tl = 0;
    het_stream_report rep = {0};
    het_stream *stream = NULL;
    int rc = 1;
    if (!inputs || !outputs || !what || !lat || !stream_ms || (o->timeline && !tl)) {
        fprintf(stderr, "hetrun: error: out of memory for %d images\n", n_images);
        goto out;
    }
    if (load_chunk(o, input, paths, 0, chunk, ishape, inputs, what) != HET_OK) goto out;
    int loaded = 0; // the chunk whose inputs are in `inputs`
    uint64_t t0 = het_now_ns();
    if (het_stream_create_lanes(g, plan, cpu, n_cpu, gpu, &stream) != HET_OK) goto out;
    for (int w = 0; w < o->warmup; w++)
        if (het_stream_warm(stream, inputs) != HET_OK) goto out;
    double first_ms = (het_now_ns() - t0) / 1e6;
    // Over the --repeat streams (the report keeps the last one's timeline).
    double wall = 0, busy[HET_PLAN_MAX_STAGES] = {0};
    het_xfer_stats xs = {0};
    unsigned long waited[2] = {0, 0};
    for (int r = 0; r < R; r++) {
        n_tl = 0;
        for (int c = 0; c < n_chunks; c++) {
            int first = c * chunk, nc = first + chunk <= n_images ? chunk : n_images - first;
            if (loaded != c) {
                if (load_chunk(o, input, paths, first, nc, ishape, inputs, what) != HET_OK) goto out;
                loaded = c;
            }
            float *outs = outputs + (keep ? (size_t)first * out_count : 0);
            het_stream_report_free(&rep);
            if (het_stream_run(stream, nc, inputs, out_blob, outs, &rep) != HET_OK) goto out;
            for (int e = 0; tl && r == R - 1 && e < rep.n_events; e++) {
                tl[n_tl] = rep.events[e];
                tl[n_tl].image += first;
                tl[n_tl].start_ms += stream_ms[r];
                tl[n_tl++].end_ms += stream_ms[r];
            }
            wall += rep.wall_ms;
            stream_ms[r] += rep.wall_ms;
            memcpy(lat + (size_t)r * n_images + first, rep.latency_ms, (size_t)nc * sizeof *lat);
            for (int l = 0; l < rep.n_lanes; l++) busy[l] += rep.lane_busy_ms[l];
            het_xfer_stats_add(&xs, &rep.xfer);
            waited[0] += rep.lock_waited[0], waited[1] += rep.lock_waited[1];
            if (r == R - 1)
                for (int im = 0; !o->quiet && o->top > 0 && im < nc; im++)
                    print_top(what[im], outs + (size_t)im * out_count, out_count, o->top, labels, n_labels);
        }
    }
    qsort(lat, (size_t)n_lat, sizeof *lat, cmp_double);
    double ips = wall > 0 ? n_lat / (wall / 1e3) : 0;
    char streams[48] = "";
    if (R > 1) snprintf(streams, sizeof streams, " x %d streams", R);
    printf("%s on %s: %d images%s in %.1f ms: %.2f images/s, latency p50 %.3f ms, p90 %.3f ms (warm-up stream %.1f ms "
           "not included)\n", g->name[0] ? g->name : o->model, desc, n_images, streams, wall, ips,
           percentile(lat, n_lat, 0.5), percentile(lat, n_lat, 0.9), first_ms);
    for (int l = 0; l < rep.n_lanes; l++)
        printf("  %-16s busy %9.1f ms (%5.1f%%), idle %9.1f ms\n", rep.lane_name[l], busy[l],
               wall > 0 ? 100.0 * busy[l] / wall : 0.0, wall - busy[l]);
    printf("transfers: host->gpu %llu x, %.2f MB, %.3f ms; gpu->host %llu x, %.2f MB, %.3f ms\n",
           (unsigned long long)xs.h2d_count, xs.h2d_bytes / 1e6, xs.h2d_ns / 1e6,
           (unsigned long long)xs.d2h_count, xs.d2h_bytes / 1e6, xs.d2h_ns / 1e6);
    printf("backend calls that waited for another thread's: cpu %lu, gpu %lu\n", waited[0], waited[1]);
    rc = 0;
    const char *names[HET_PLAN_MAX_STAGES];
    for (int l = 0; l < rep.n_lanes; l++) names[l] = rep.lane_name[l];
    if (o->timeline) {
        FILE *f = out_open(o->timeline);
        if (f) {
            fprintf(f, "lane,name,image,start_ms,end_ms\n");
            for (int e = 0; e < n_tl; e++)
                fprintf(f, "%d,%s,%d,%.4f,%.4f\n", tl[e].lane, rep.lane_name[tl[e].lane], tl[e].image,
                        tl[e].start_ms, tl[e].end_ms);
        }
        if (out_close(f, o->timeline)) rc = 1;
    }
    if (o->save_output) {
        const het_shape *s = &g->blobs[out_blob].shape;
        long dims[5] = {n_images, s->c, s->h, s->w};
        if (het_npy_write(o->save_output, outputs, s->ndim == 4 ? 4 : 2, dims) != HET_OK) rc = 1;
    }
    if (o->summary_json) {
        FILE *f = out_open(o->summary_json);
        if (f) {
            fprintf(f, "{\n  \"model\": ");
            json_str(f, o->model);
            fprintf(f, ",\n  \"model_hash\": \"%s\",\n  \"plan\": ", g->hash);
            json_str(f, o->plan);
            fprintf(f, ",\n  \"plan_hash\": \"%s\",\n  \"mode\": \"%s\",\n  \"backend\": ", plan->hash,
                    het_plan_mode_name(plan->mode));
            json_str(f, desc);
            fprintf(f, ",\n  \"images\": %d,\n  \"streams\": %d,\n  \"wall_ms\": %.3f,\n  \"images_per_s\": %.3f,\n",
                    n_images, R, wall, ips);
            // "median" as for runs image by image; "p50", its older name, too.
            fprintf(f, "  \"latency_ms\": {\"median\": %.6f, \"p50\": %.6f, \"p90\": %.6f, \"min\": %.6f},\n",
                    percentile(lat, n_lat, 0.5), percentile(lat, n_lat, 0.5), percentile(lat, n_lat, 0.9), lat[0]);
            // Each stream's rate: how much one --repeat stream differs from the next.
            fprintf(f, "  \"stream_images_per_s\": [");
            for (int r = 0; r < R; r++)
                fprintf(f, "%s%.3f", r ? ", " : "", stream_ms[r] > 0 ? n_images / (stream_ms[r] / 1e3) : 0.0);
            fprintf(f, "],\n  \"lanes\": [");
            for (int l = 0; l < rep.n_lanes; l++)
                fprintf(f, "%s{\"name\": \"%s\", \"busy_ms\": %.3f, \"idle_ms\": %.3f}", l ? ", " : "",
                        rep.lane_name[l], busy[l], wall - busy[l]);
            fprintf(f, "],\n  \"transfers\": {\"h2d_bytes\": %llu, \"h2d_ms\": %.3f, \"h2d_count\": %llu, "
                    "\"d2h_bytes\": %llu, \"d2h_ms\": %.3f, \"d2h_count\": %llu}\n}\n",
                    (unsigned long long)xs.h2d_bytes, xs.h2d_ns / 1e6, (unsigned long long)xs.h2d_count,
                    (unsigned long long)xs.d2h_bytes, xs.d2h_ns / 1e6, (unsigned long long)xs.d2h_count);
        }
        if (out_close(f, o->summary_json)) rc = 1;
    }
    // The database row last, once every output is written.
    if (rc == 0 && record_run(o, g, plan, desc, gpu, n_images, wall, ips, percentile(lat, n_lat, 0.5),
                   percentile(lat, n_lat, 0.9), lat[0], &xs, rep.n_lanes, names, busy))
        rc = 1;
out:
    het_stream_report_free(&rep);
    het_stream_destroy(stream);
    free(tl);
    het_host_free(gpu, inputs);
    free(outputs);
    free(what);
    free(lat);
    free(stream_ms);
    return rc;
}

// What runs an image: the single-device executor, or a plan's executor.
typedef struct runner {
    const het_graph *g;
    het_workspace *ws;
    het_backend *be;   // single device
    het_hexec *hx;     // --plan
} runner;

static het_status run_once(runner *r, uint64_t *layer_ns)
{
    return r->hx ? het_hexec_run(r->hx) : het_exec_run_single(r->be, r->g, r->ws, layer_ns);
}

static het_status fetch_blob(runner *r, int blob)
{
    return r->hx ? het_hexec_fetch(r->hx, blob) : het_exec_fetch(r->be, r->g, r->ws, blob);
}

// Per-layer medians, with MACs and achieved GFLOP/s (timed with the
// backend synchronised after every layer, so the sum slightly exceeds the
// whole-network latency).
static void print_profile(const het_graph *g, const uint64_t *ns, int n_runs)
{
    double *t = malloc((size_t)n_runs * sizeof *t);
    if (!t) return;
    double total = 0;
    printf("%-28s %-13s %10s %12s %9s\n", "layer", "type", "median ms", "MFLOP", "GFLOP/s");
    for (int l = 0; l < g->n_layers; l++) {
        for (int r = 0; r < n_runs; r++) t[r] = ns[(size_t)r * g->n_layers + l] / 1e6;
        qsort(t, (size_t)n_runs, sizeof *t, cmp_double);
        double med = percentile(t, n_runs, 0.5);
        total += med;
        const het_layer *L = &g->layers[l];
        printf("%-28s %-13s %10.4f %12.2f %9.1f\n", L->name, het_layer_kind_name(L->kind), med, L->flops / 1e6,
               med > 0 ? L->flops / (med * 1e6) : 0.0);
    }
    printf("%-28s %-13s %10.4f\n", "sum of layer medians", "", total);
    free(t);
}

static uint64_t total_flops(const het_graph *g)
{
    uint64_t f = 0;
    for (int i = 0; i < g->n_layers; i++) f += g->layers[i].flops;
    return f;
}

int main(int argc, char **argv)
{
    het_log_set_prefix("hetrun");
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    if (o.summary_json && !strcmp(o.summary_json, "-")) {
        // The summary keeps stdout; every text line goes to stderr.
        int fd = dup(STDOUT_FILENO);
        if (fd < 0 || !(json_stdout = fdopen(fd, "w")) || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
            return fail("cannot set stdout aside for --json -%s", "");
    }
    bool gpu = !strcmp(o.device, "gpu");
    if (!gpu && strcmp(o.device, "cpu") != 0) return fail("unknown device '%s' (expected cpu or gpu)", o.device);
    int cores[HET_MAX_CORES], n_cores = 0, gcores[HET_MAX_CORES], n_gcores = 0;
    if (o.cpu_cores && (n_cores = het_parse_core_list(o.cpu_cores, cores, HET_MAX_CORES)) < 0) return 2;
    if (o.gpu_cores && (n_gcores = het_parse_core_list(o.gpu_cores, gcores, HET_MAX_CORES)) < 0) return 2;

    het_graph *g = NULL, *g_raw = NULL;
    het_backend *be = NULL, *be_cpu = NULL, *be_gpu = NULL, **cpu_lanes = NULL;
    int n_cpu_lanes = 0; // backends in cpu_lanes
    het_workspace *ws = NULL;
    het_plan *plan = NULL;
    runner rn = {0};
    char plan_desc[1600] = "";
    het_npy input = {0};
    char **paths = NULL, **labels = NULL;
    int n_paths = 0, n_labels = 0;
    float *out_acc = NULL;
    double *lat = NULL;
    uint64_t *layer_ns = NULL;
    rc = 1;

    het_status st = het_net_load(o.model, o.weights, o.seed, &g);
    if (st != HET_OK) goto done;
    untrained = !o.weights;
    if (g->declared_batch > 1)
        printf("note: %s declares a batch of %lld; het runs one image at a time (batch 1)\n", o.model,
               (long long)g->declared_batch);
    if (o.db && (st = het_db_check(o.db)) != HET_OK) goto done; // before any work
    // --save-weights writes the weights as the prototxt has them, at the end
    // (nothing is written for a run that fails): keep an unfolded copy.
    if (o.save_weights && !o.no_fold && (st = het_net_load(o.model, o.weights, o.seed, &g_raw)) != HET_OK) goto done;
    if (!o.no_fold && (st = het_graph_fold(g, NULL)) != HET_OK) goto done;
    if (g_raw && !g->n_folded) {
        het_graph_destroy(g_raw); // nothing folded: the same weights
        g_raw = NULL;
    }
    if (g->n_inputs != 1) {
        fprintf(stderr, "hetrun: error: %s has %d inputs; hetrun feeds networks with exactly one\n", o.model, g->n_inputs);
        goto done;
    }
    const het_shape *ishape = &g->blobs[g->inputs[0]].shape;
    size_t in_count = het_shape_count(ishape);
    int out_blob = g->layers[g->n_layers - 1].top[0];
    size_t out_count = het_shape_count(&g->blobs[out_blob].shape);

    // Resolve every --save-blob name before running anything.
    for (int i = 0; i < o.n_saves; i++) {
        o.saves[i].blob = het_graph_find_blob(g, o.saves[i].name);
        if (o.saves[i].blob < 0) {
            fprintf(stderr, "hetrun: error: --save-blob: no blob named '%s' in %s%s\n", o.saves[i].name, o.model,
                    g->n_folded ? " once BatchNorm and Scale are folded (a blob only they read goes with them; "
                                  "--no-fold keeps every blob)"
                                : "");
            goto done;
        }
    }
    if (stage_outputs(&o)) goto done;
    if (o.labels && !(labels = read_labels(o.labels, &n_labels))) goto done;

    // The images: a folder, a file, a count, or a tensor.
    int n_images = 1;
    if (o.input) {
        if (het_npy_read(o.input, &input) != HET_OK) goto done;
        long per = 1;
        int first = input.ndim == 4 ? 1 : 0;
        for (int i = first; i < input.ndim; i++) per *= input.dims[i];
        if ((input.ndim != 4 && input.ndim != 3) || (size_t)per != in_count ||
            input.dims[first] != ishape->c || (ishape->ndim == 4 && (input.dims[first + 1] != ishape->h ||
                                                                     input.dims[first + 2] != ishape->w))) {
            fprintf(stderr, "hetrun: error: %s must have shape [N, %d, %d, %d] for this model\n", o.input, ishape->c,
                    ishape->h, ishape->w);
            goto done;
        }
        n_images = input.ndim == 4 ? (int)input.dims[0] : 1;
        if (n_images == 0) {
            fprintf(stderr, "hetrun: error: %s holds no images\n", o.input);
            goto done;
        }
        size_t bad = 0, all = (size_t)n_images * in_count;
        for (size_t i = 0; i < all; i++) bad += !isfinite(input.data[i]);
        if (bad)
            fprintf(stderr, "hetrun: warning: %s holds %zu NaN or infinite value%s; the outputs they reach will be "
                    "too\n", o.input, bad, bad == 1 ? "" : "s");
    } else if (o.images) {
        struct stat sb;
        char *end;
        long n = strtol(o.images, &end, 10);
        if (*o.images && !*end) {
            if (n < 1 || n > 10000000) {
                fprintf(stderr, "hetrun: error: --images N needs N >= 1\n");
                goto done;
            }
            n_images = (int)n;
        } else if (stat(o.images, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (list_images(o.images, &paths, &n_paths)) goto done;
            n_images = n_paths;
        } else if (stat(o.images, &sb) == 0) {
            paths = malloc(sizeof *paths);
            if (!paths || !(paths[0] = strdup(o.images))) goto done;
            n_paths = n_images = 1;
        } else {
            fprintf(stderr, "hetrun: error: --images '%s' is neither a count, a folder nor a file\n", o.images);
            goto done;
        }
        if (paths && (ishape->ndim != 4 || ishape->c != 3)) {
            fprintf(stderr, "hetrun: error: the model's input is not a 3-channel image; use --input\n");
            goto done;
        }
    }

    // --plan: the plan decides the devices; its platform settings apply
    // where the command line gives none.
    if (o.plan) {
        if ((st = het_plan_read(o.plan, g, &plan)) != HET_OK) goto done;
        if ((plan->mode == HET_MODE_PIPELINE || plan->mode == HET_MODE_IMAGE_PARALLEL) && o.n_saves) {
            fprintf(stderr, "hetrun: error: --save-blob is not available for %s plans (images are in flight in several "
                    "workspaces); use --save-output\n", het_plan_mode_name(plan->mode));
            goto done;
        }
        if (!o.cpu_cores && plan->cpu_cores && (n_cores = het_parse_core_list(plan->cpu_cores, cores, HET_MAX_CORES)) < 0)
            goto done;
        if (!o.gpu_cores && plan->gpu_cores && (n_gcores = het_parse_core_list(plan->gpu_cores, gcores, HET_MAX_CORES)) < 0)
            goto done;
        if (!o.gpu && plan->gpu) o.gpu = plan->gpu;
        if (o.gpu_buffers == -1 && plan->gpu_buffers) {
            if (!strcmp(plan->gpu_buffers, "copy")) o.gpu_buffers = 0;
            else if (!strcmp(plan->gpu_buffers, "zero-copy")) o.gpu_buffers = 1;
            else if (strcmp(plan->gpu_buffers, "auto") != 0) {
                fprintf(stderr, "hetrun: error: %s: gpu_buffers '%s' is not auto, copy or zero-copy\n", o.plan, plan->gpu_buffers);
                goto done;
            }
        }
    }
    bool want_cpu = plan ? plan->uses_cpu : !gpu, want_gpu = plan ? plan->uses_gpu : gpu;
    // Both devices in use and no core sets given: half the cores each.
    if (want_cpu && want_gpu && !n_cores && !n_gcores && !o.threads)
        het_default_core_sets((int)sysconf(_SC_NPROCESSORS_ONLN), cores, &n_cores, gcores, &n_gcores, HET_MAX_CORES);
    het_cpu_cfg cfg = {.n_threads = o.threads, .cores = n_cores ? cores : NULL, .n_cores = n_cores};
    het_gpu_cfg gcfg = {.device = o.gpu, .zero_copy = o.gpu_buffers, .cache_dir = o.cl_cache,
                        .cores = n_gcores ? gcores : NULL, .n_cores = n_gcores};
    char cache_buf[4096];
    het_cpu_cfg_env(&cfg);
    het_gpu_cfg_env(&gcfg, cache_buf, sizeof cache_buf);
    if (want_gpu && (st = het_opencl_backend_create(&gcfg, &be_gpu)) != HET_OK) goto done;
    // Image-parallel CPU lanes: the CPU's cores in equal groups, a CPU
    // backend on each (lane 0's is be_cpu).
    int n_lanes = plan && plan->mode == HET_MODE_IMAGE_PARALLEL && plan->cpu_lanes > 1 ? plan->cpu_lanes : 1;
    if (want_cpu && n_lanes > 1) {
        if (o.threads) {
            fail("--threads does not go with a plan's CPU lanes: each lane has a thread per core of its group%s", "");
            goto done;
        }
        if (!n_cores && (n_cores = het_available_cores(cores, HET_MAX_CORES)) < 1) goto done;
        if (n_cores < n_lanes) {
            fprintf(stderr, "hetrun: error: %s has %d CPU lanes, but the CPU has %d core%s (--cpu-cores); a lane needs "
                    "one at least\n", o.plan, n_lanes, n_cores, n_cores == 1 ? "" : "s");
            goto done;
        }
        if (!(cpu_lanes = calloc((size_t)n_lanes, sizeof *cpu_lanes))) goto done;
        n_cpu_lanes = n_lanes;
        for (int i = 0; i < n_lanes; i++) {
            int a = i * n_cores / n_lanes, b = (i + 1) * n_cores / n_lanes;
            het_cpu_cfg lc = cfg;
            lc.cores = cores + a, lc.n_cores = b - a, lc.n_threads = b - a;
            if ((st = het_cpu_backend_create(&lc, &cpu_lanes[i])) != HET_OK) goto done;
            if (i > 0 && (st = het_exec_prepare(cpu_lanes[i], g)) != HET_OK) goto done;
        }
        be_cpu = cpu_lanes[0];
    } else if (want_cpu && (st = het_cpu_backend_create(&cfg, &be_cpu)) != HET_OK) {
        goto done;
    }
    be = want_gpu ? be_gpu : be_cpu; // the single-device backend, or the one whose set-up time is reported
    st = het_workspace_create_for(g, be_gpu, &ws);
    if (st == HET_OK && be_gpu) st = het_exec_bind(be_gpu, g, ws);
    if (st == HET_OK && be_gpu) st = het_exec_prepare(be_gpu, g);
    if (st == HET_OK && be_cpu) st = het_exec_prepare(be_cpu, g);
    if (st != HET_OK) goto done;
    rn = (runner){.g = g, .ws = ws, .be = be};
    if (plan)
        snprintf(plan_desc, sizeof plan_desc, "plan %s (%s)%s%s%s%s", het_plan_mode_name(plan->mode), o.plan,
                 be_cpu ? "; " : "", be_cpu ? het_backend_describe(be_cpu) : "", be_gpu ? "; " : "",
                 be_gpu ? het_backend_describe(be_gpu) : "");
    if (plan && (plan->mode == HET_MODE_PIPELINE || plan->mode == HET_MODE_IMAGE_PARALLEL)) {
        rc = run_stream(&o, g, plan, cpu_lanes ? cpu_lanes : &be_cpu, cpu_lanes ? n_lanes : 1, be_gpu, &input, paths,
                        ishape, n_images, out_blob, labels, n_labels, plan_desc);
        if (rc == 0 && het_outputs_commit(o.outs) != HET_OK) rc = 1;
        st = HET_OK;
        goto done;
    }
    if (plan && (st = het_hexec_create(g, plan, be_cpu, be_gpu, ws, &rn.hx)) != HET_OK) goto done;
    int n_threads = cfg.n_threads ? cfg.n_threads : (n_cores ? n_cores : (int)sysconf(_SC_NPROCESSORS_ONLN));

    if (o.save_output && !(out_acc = malloc(out_count * (size_t)n_images * sizeof(float)))) goto oom;
    for (int i = 0; i < o.n_saves; i++) {
        size_t c = het_shape_count(&g->blobs[o.saves[i].blob].shape);
        if (!(o.saves[i].acc = malloc(c * (size_t)n_images * sizeof(float)))) goto oom;
    }
    int n_runs = n_images * o.repeat;
    if (!(lat = malloc((size_t)n_runs * sizeof *lat))) goto oom;
    // --profile: every layer's time of every timed run (layer-major).
    if (o.profile && !(layer_ns = malloc((size_t)n_runs * g->n_layers * sizeof *layer_ns))) goto oom;

    float *in = het_workspace_blob(ws, g->inputs[0]);
    double total_s = 0, first_run_ms = 0;
    int run = 0;
    for (int im = 0; im < n_images; im++) {
        char what[512];
        if ((st = load_input(&o, &input, paths, im, ishape, in, what, sizeof what)) != HET_OK) goto done;
        // The very first run pays one-time costs (first kernel launches,
        // lazy driver work; ten times the steady state on embedded GPUs):
        // it is reported apart and never among the timed runs.
        if (im == 0) {
            uint64_t t0 = het_now_ns();
            if ((st = run_once(&rn, NULL)) != HET_OK) goto done;
            first_run_ms = (het_now_ns() - t0) / 1e6;
            for (int w = 1; w < o.warmup; w++)
                if ((st = run_once(&rn, NULL)) != HET_OK) goto done;
            if (rn.hx) het_hexec_reset_stats(rn.hx); // transfers of the timed runs only
        }
        for (int r = 0; r < o.repeat; r++) {
            uint64_t t0 = het_now_ns();
            st = run_once(&rn, layer_ns ? layer_ns + (size_t)run * g->n_layers : NULL);
            uint64_t dt = het_now_ns() - t0;
            if (st != HET_OK) goto done;
            lat[run++] = dt / 1e6;
            total_s += dt / 1e9;
        }
        for (int i = 0; i < o.n_saves; i++)
            if ((st = fetch_blob(&rn, o.saves[i].blob)) != HET_OK) goto done;
        const float *outp = het_workspace_blob(ws, out_blob);
        if (out_acc) memcpy(out_acc + (size_t)im * out_count, outp, out_count * sizeof(float));
        for (int i = 0; i < o.n_saves; i++) {
            size_t c = het_shape_count(&g->blobs[o.saves[i].blob].shape);
            memcpy(o.saves[i].acc + (size_t)im * c, het_workspace_blob(ws, o.saves[i].blob), c * sizeof(float));
        }
        if (!o.quiet && o.top > 0) print_top(what, outp, out_count, o.top, labels, n_labels);
    }
    if (layer_ns) print_profile(g, layer_ns, n_runs);
    qsort(lat, (size_t)n_runs, sizeof *lat, cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double setup_ms = het_backend_setup_ns(be) / 1e6;
    printf("%s on %s: %d image%s, %d timed run%s: median %.3f ms, p90 %.3f ms, min %.3f ms, %.1f images/s, "
           "peak RSS %.1f MiB (first run %.3f ms and setup %.1f ms not included)\n",
           g->name[0] ? g->name : o.model, plan ? plan_desc : het_backend_describe(be), n_images, n_images == 1 ? "" : "s", n_runs,
           n_runs == 1 ? "" : "s", percentile(lat, n_runs, 0.5), percentile(lat, n_runs, 0.9), lat[0],
           n_runs / total_s, ru.ru_maxrss / 1024.0, first_run_ms, setup_ms);

    // Outputs, each written atomically.
    rc = 0;
    if (out_acc) {
        const het_shape *s = &g->blobs[out_blob].shape;
        long dims[5] = {n_images, s->c, s->h, s->w};
        if (het_npy_write(o.save_output, out_acc, s->ndim == 4 ? 4 : 2, dims) != HET_OK) rc = 1;
    }
    for (int i = 0; i < o.n_saves; i++) {
        const het_shape *s = &g->blobs[o.saves[i].blob].shape;
        long dims[5] = {n_images, s->c, s->h, s->w};
        if (het_npy_write(o.saves[i].path, o.saves[i].acc, s->ndim == 4 ? 4 : 2, dims) != HET_OK) rc = 1;
    }
    if (o.save_weights && het_graph_save_weights(g_raw ? g_raw : g, o.save_weights) != HET_OK) rc = 1;
    het_xfer_stats xs = {0};
    if (rn.hx) {
        het_hexec_stats(rn.hx, &xs);
        printf("transfers over %d timed run%s: host->gpu %llu x, %.2f MB, %.3f ms; gpu->host %llu x, %.2f MB, %.3f ms\n",
               n_runs, n_runs == 1 ? "" : "s", (unsigned long long)xs.h2d_count, xs.h2d_bytes / 1e6, xs.h2d_ns / 1e6,
               (unsigned long long)xs.d2h_count, xs.d2h_bytes / 1e6, xs.d2h_ns / 1e6);
    }
    if (o.summary_json && write_summary(o.summary_json, &o, g, plan ? plan_desc : het_backend_describe(be), plan,
                                        rn.hx ? &xs : NULL, n_images, be_cpu ? n_threads : 0, lat, n_runs, total_s,
                                        ru.ru_maxrss, first_run_ms, setup_ms))
        rc = 1;
    // The database row last, once every output is written; the outputs are
    // renamed into place only once it is stored.
    if (rc == 0 && record_run(&o, g, plan, plan ? plan_desc : het_backend_describe(be), be_gpu, n_images,
                              total_s * 1e3, n_runs / total_s, percentile(lat, n_runs, 0.5),
                              percentile(lat, n_runs, 0.9), lat[0], rn.hx ? &xs : NULL, 0, NULL, NULL))
        rc = 1;
    if (rc == 0 && het_outputs_commit(o.outs) != HET_OK) rc = 1;
    goto done;
oom:
    fprintf(stderr, "hetrun: error: out of memory\n");
done:
    // Errors are reported where they are detected; only a lifecycle error
    // (a bug in het, not in the input) gets a line of its own here.
    if (rc && st == HET_E_STATE) fprintf(stderr, "hetrun: error: internal (a bug in het): %s\n", het_status_str(st));
    for (int i = 0; i < o.n_saves; i++) free(o.saves[i].acc);
    free(out_acc);
    free(lat);
    free(layer_ns);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    for (int i = 0; labels && i < n_labels; i++) free(labels[i]);
    free(labels);
    het_npy_free(&input);
    het_workspace_destroy(ws);
    het_hexec_destroy(rn.hx);
    het_plan_destroy(plan);
    if (cpu_lanes) {
        for (int i = 0; i < n_cpu_lanes; i++) het_backend_destroy(cpu_lanes[i]);
        be_cpu = NULL;
    }
    free(cpu_lanes);
    het_backend_destroy(be_cpu);
    het_backend_destroy(be_gpu);
    het_graph_destroy(g_raw);
    het_graph_destroy(g);
    het_outputs_destroy(o.outs);
    return rc;
}
