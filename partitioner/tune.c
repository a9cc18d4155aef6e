// tune.c: hetpart tune, the user's question in one command. It sweeps what
// the database lacks (hetprof sweep, resumable), solves each mode, replays
// each mode's plan and each device alone at its best (hetrun), the
// candidates alternating round by round, and answers with the plan that
// measured best: a prediction that misses cannot make the answer slower
// than the obvious run, because the obvious runs are replayed beside it.
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "het/backend.h"
#include "het/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The machine counts as busy when others use more than this share of all
// its cores, or a hypervisor steals more than this share, over the sample:
// a sweep and replays taken then price and pick for a load that comes and
// goes.
#define TUNE_BUSY_LIMIT 0.10
#define TUNE_STEAL_LIMIT 0.05
#define TUNE_SAMPLE_MS 1000
// A plan that uses both devices is the answer only where its median beats
// the best device alone by at least this much: a smaller gain is within
// the round-to-round spread of these replays, and the device alone is the
// simpler run.
#define TUNE_MIN_GAIN 0.02
#define TUNE_MAX_CANDIDATES 10

typedef struct cand {
    const char *name; // "cpu alone", "mapping", ...
    bool single;      // a device alone: what a plan must beat
    hp_result r;
    hp_choice *choice; // owned
    char words[160];
    char path[PATH_MAX + 80]; // the plans' folder, and the name
    char *key;   // the plan without its prediction
    int same_as; // an earlier candidate with the same plan (not replayed), or -1
    double *v;   // per round: measured (NaN: the replay failed)
    double median, lo, hi;
    int n_ok;
} cand;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hetpart: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

// The share of all cores busy, and stolen, over a sample of the machine's
// counters (/proc/stat); false where they cannot be read.
static bool read_cpu(unsigned long long *busy, unsigned long long *steal, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
    fclose(f);
    if (n < 4) return false;
    // user nice system idle iowait irq softirq steal
    *busy = v[0] + v[1] + v[2] + v[5] + v[6];
    *steal = v[7];
    *total = *busy + v[3] + v[4] + v[7];
    return true;
}

static bool machine_load(double *busy, double *steal)
{
    unsigned long long b0, s0, t0, b1, s1, t1;
    if (!read_cpu(&b0, &s0, &t0)) return false;
    struct timespec ts = {TUNE_SAMPLE_MS / 1000, (TUNE_SAMPLE_MS % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted) {}
    if (!read_cpu(&b1, &s1, &t1) || t1 <= t0) return false;
    *busy = (double)(b1 - b0) / (double)(t1 - t0);
    *steal = (double)(s1 - s0) / (double)(t1 - t0);
    return true;
}

// `tool` in hetpart's own folder: tune drives the tools installed beside it.
static int tool_path(const char *tool, char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = n > 0 ? (self[n] = 0, strrchr(self, '/')) : NULL;
    if (!slash) return fail("tune cannot find its own folder (/proc/self/exe): it runs %s from there", tool);
    *slash = 0;
    if ((size_t)snprintf(buf, cap, "%s/%s", self, tool) >= cap || access(buf, X_OK) != 0)
        return fail("tune runs %s from hetpart's folder, and %s is not there or not executable", tool, buf);
    return 0;
}

// Runs argv (argv[0] a path); its standard output is captured into *out
// (NUL-terminated, the caller frees) or, with out NULL, sent to our
// standard error, so that tune's own output stays machine-readable. Its
// standard error is ours. Returns its exit status, 128 + the signal that
// ended it, or -1 where it could not be started.
static int run_tool(char *const argv[], char **out)
{
    int pfd[2] = {-1, -1};
    if (out && pipe(pfd) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        if (out) close(pfd[0]), close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        if (out) {
            dup2(pfd[1], STDOUT_FILENO);
            close(pfd[0]), close(pfd[1]);
        } else {
            dup2(STDERR_FILENO, STDOUT_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    size_t len = 0, cap = 0;
    char *buf = NULL;
    if (out) {
        close(pfd[1]);
        char chunk[4096];
        for (;;) {
            ssize_t got = read(pfd[0], chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) break;
            if (len + (size_t)got + 1 > cap) {
                size_t nc = cap ? cap * 2 : 8192;
                while (nc < len + (size_t)got + 1) nc *= 2;
                char *nb = realloc(buf, nc);
                if (!nb) break;
                buf = nb, cap = nc;
            }
            memcpy(buf + len, chunk, (size_t)got);
            len += (size_t)got;
        }
        close(pfd[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            free(buf);
            return -1;
        }
    if (out) {
        if (!buf) buf = calloc(1, 1);
        else buf[len] = 0;
        *out = buf;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

static cJSON *read_json_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

// The argument vector of a hetprof or hetrun run: the tool, its words, and
// the model options every run of one tune shares.
typedef struct args {
    char *v[48];
    int n;
} args;

static void arg(args *a, const char *s)
{
    if (a->n < (int)(sizeof a->v / sizeof a->v[0]) - 1) a->v[a->n++] = (char *)s, a->v[a->n] = NULL;
}

static void model_args(args *a, const hp_opts *o)
{
    arg(a, "--model"), arg(a, o->model);
    if (o->weights) arg(a, "--weights"), arg(a, o->weights);
    if (o->seed) arg(a, "--seed"), arg(a, o->seed);
    if (o->no_fold) arg(a, "--no-fold");
    if (o->gpu) arg(a, "--gpu"), arg(a, o->gpu);
}

// The default plan file, in the current folder: the model's name (its
// prototxt's, else its file's, else its folder's for Caffe's usual
// deploy.prototxt), made safe as a file name, and the objective.
static void default_out(const het_graph *g, const hp_opts *o, char *buf, size_t cap)
{
    char from[256];
    if (g->name[0]) {
        snprintf(from, sizeof from, "%s", g->name);
    } else {
        snprintf(from, sizeof from, "%s", o->model);
        char *dot = strrchr(from, '.'), *slash = strrchr(from, '/');
        if (dot && (!slash || dot > slash)) *dot = 0;
        slash = strrchr(from, '/');
        if (slash && !strcmp(slash + 1, "deploy")) {
            *slash = 0;
            slash = strrchr(from, '/');
        }
        if (slash) memmove(from, slash + 1, strlen(slash + 1) + 1);
    }
    char stem[128];
    size_t n = 0;
    for (const char *s = from; *s && n + 1 < sizeof stem; s++)
        stem[n++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                                   *s == '.' || *s == '-' || *s == '_'
                               ? *s
                               : '_');
    stem[n] = 0;
    snprintf(buf, cap, "%s.%s.plan.json", n ? stem : "model", o->objective);
}

// Adds the candidate of the plan space narrowed to one mode, unless that
// space has no plan.
static void add_mode(cand *c, int *n, const char *name, const hp_opts *base, bool mapping, bool split, bool pipeline,
                     bool image_parallel, const het_graph *g, const hp_loaded *L, hp_choice *scratch)
{
    hp_opts o = *base;
    o.modes_given = true;
    o.mapping = mapping, o.split = split, o.pipeline = pipeline, o.image_parallel = image_parallel;
    if (pipeline) o.min_stages = 2 <= o.max_stages ? 2 : o.max_stages;
    int nu = L->m.n_units;
    hp_choice *ch = malloc(sizeof *ch * (size_t)nu);
    if (!ch) return;
    hp_result r;
    bool base_wins;
    // The pipeline solve fills the second array; whichever the result
    // points to is kept.
    if (!hp_cli_best(&o, g, L, ch, scratch, &r, &base_wins)) {
        free(ch);
        return;
    }
    if (r.choice == scratch) {
        memcpy(ch, scratch, sizeof *ch * (size_t)nu);
        r.choice = ch;
    }
    c[*n] = (cand){.name = name, .r = r, .choice = ch, .same_as = -1};
    ++*n;
}

int hp_tune(const hp_opts *o)
{
    bool thr = !strcmp(o->objective, "throughput");
    const char *unit = thr ? "images/s" : "ms per image";
    char hetprof[PATH_MAX], hetrun[PATH_MAX], dir[PATH_MAX] = "", out_default[256];
    char all_cores[256], lane_cores[256], host_core[32]; // the lanes' core lists (candidates point at them)
    het_graph *g = NULL;
    het_db *db = NULL;
    hp_loaded L = {0};
    cand c[TUNE_MAX_CANDIDATES] = {{0}};
    int nc = 0, rc = 1;
    bool made_dir = false;
    hp_choice *scratch = NULL;
    cJSON *answer_plan = NULL, *report = NULL;
    if (tool_path("hetprof", hetprof, sizeof hetprof) || tool_path("hetrun", hetrun, sizeof hetrun)) return 1;
    if (hp_cli_load_model(o, &g) != HET_OK) return 1;
    const char *out = o->out;
    if (!out) default_out(g, o, out_default, sizeof out_default), out = out_default;

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    // 1. The machine must be quiet, or the user must say it need not be.
    double busy = NAN, steal = NAN;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (!machine_load(&busy, &steal)) {
        if (!o->allow_busy) {
            fail("cannot read the machine's load (/proc/stat); pass --allow-busy to tune without knowing it");
            goto done;
        }
    }
    bool is_busy = busy > TUNE_BUSY_LIMIT || steal > TUNE_STEAL_LIMIT;
    if (!o->quiet && !isnan(busy) && (o->allow_busy || !is_busy))
        fprintf(stderr, "hetpart: %smachine: %ld cores, %.0f%% busy, %.0f%% stolen over %.0f s\n",
                is_busy ? "warning: busy " : "", cores, busy * 100, steal * 100, TUNE_SAMPLE_MS / 1e3);
    if (!o->allow_busy && is_busy) {
        fprintf(stderr, "hetpart: error: the machine is busy: %.0f%% of its %ld cores in use by others and %.0f%% stolen "
                "over %.0f s (tune wants at most %.0f%% and %.0f%%): a sweep and replays taken now would price and pick "
                "for a load that comes and goes; wait until it is quiet, or pass --allow-busy\n",
                busy * 100, cores, steal * 100, TUNE_SAMPLE_MS / 1e3, TUNE_BUSY_LIMIT * 100, TUNE_STEAL_LIMIT * 100);
        goto done;
    }

    // 2. The sweep: hetprof measures only what the database lacks.
    long long sweep_id = -1;
    {
        args a = {0};
        arg(&a, hetprof), arg(&a, "sweep"), arg(&a, "--db"), arg(&a, o->db), arg(&a, "--json");
        model_args(&a, o);
        if (o->quiet) arg(&a, "-q");
        if (!o->quiet) fprintf(stderr, "hetpart: sweep (hetprof sweep: what %s lacks is measured)\n", o->db);
        char *text = NULL;
        int st = run_tool(a.v, &text);
        const char *last = text ? text : "";
        for (const char *p = last; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if (*p == '{') last = p;
        cJSON *js = st == 0 ? cJSON_Parse(last) : NULL;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(js, "sweep");
        if (cJSON_IsNumber(id)) sweep_id = (long long)id->valuedouble;
        cJSON_Delete(js);
        free(text);
        if (interrupted) goto done;
        if (st != 0 || sweep_id < 1) {
            fail("the sweep did not finish (hetprof sweep exited with %d%s); its message is above", st,
                 st == 1 ? ": run tune again to retry what failed" : "");
            goto done;
        }
    }

    // 3. The candidates: each device alone at its best, each mode's plan.
    if (het_db_open_existing(o->db, &db) != HET_OK) goto done;
    hp_load_opts lo = {.platform = o->platform, .sweep_id = sweep_id, .corun = o->corun,
                       .corun_per_layer = o->corun_per_layer, .allow_missing = o->allow_missing,
                       .calibrate = o->calibrate, .in_context = o->in_context, .issue = o->issue};
    if (hp_load(db, o->db, g, &lo, &L) != HET_OK) goto done;
    hp_warn_quality(&L);
    int nu = L.m.n_units;
    if (!(scratch = malloc(sizeof *scratch * (size_t)nu))) goto done;
    for (int d = 0; d < 2; d++) {
        hp_choice *ch = malloc(sizeof *ch * (size_t)nu);
        if (!ch) goto done;
        hp_result r = d == 0 ? hp_cli_cpu_alone(&L, ch) : hp_cli_gpu_alone(&L, thr, ch);
        if (!(r.latency_ms > 0) || !isfinite(r.latency_ms)) {
            free(ch);
            continue; // the sweep did not time the device's network
        }
        c[nc++] = (cand){.name = d == 0 ? "cpu alone" : "gpu alone", .single = true, .r = r, .choice = ch, .same_as = -1};
    }
    if (!nc) {
        fail("sweep %lld timed neither device's whole network; hetprof show lists what it holds", sweep_id);
        goto done;
    }
    // The CPU alone for throughput may do best as several lanes, each the
    // CPU backend on a group of the cores running images of its own (one
    // many-thread run leaves cores idle in the layers that divide poorly):
    // lanes of two cores and of one, measured only (the sweep times the
    // CPU on its cores as one). With a GPU, lanes of two on all but the
    // last core and the GPU's host on that one.
    if (thr) {
        int all[1024], n_all = het_available_cores(all, 1024);
        het_format_core_list(all, n_all, all_cores, sizeof all_cores);
        int ks[2] = {n_all >= 4 ? n_all / 2 : 0, n_all >= 2 ? n_all : 0};
        static const char *const lane_names[2] = {"cpu lanes of 2", "cpu lanes of 1"};
        for (int i = 0; i < 2 && nc < TUNE_MAX_CANDIDATES; i++) {
            if (ks[i] < 2) continue;
            hp_choice *ch = malloc(sizeof *ch * (size_t)nu);
            if (!ch) goto done;
            for (int u = 0; u < nu; u++) ch[u] = HP_CPU;
            c[nc++] = (cand){.name = lane_names[i], .single = true, .choice = ch, .same_as = -1,
                             .r = {.mode = "image-parallel", .latency_ms = NAN, .images_per_s = NAN, .choice = ch,
                                   .cpu_only = true, .cpu_lanes = ks[i], .cpu_cores = all_cores}};
        }
        if (n_all >= 5 && L.m.net[HP_GPU] > 0 && nc < TUNE_MAX_CANDIDATES) {
            het_format_core_list(all, n_all - 1, lane_cores, sizeof lane_cores);
            het_format_core_list(all + n_all - 1, 1, host_core, sizeof host_core);
            hp_choice *ch = malloc(sizeof *ch * (size_t)nu);
            if (!ch) goto done;
            for (int u = 0; u < nu; u++) ch[u] = HP_CPU;
            c[nc++] = (cand){.name = "cpu lanes + gpu", .choice = ch, .same_as = -1,
                             .r = {.mode = "image-parallel", .latency_ms = NAN, .images_per_s = NAN, .choice = ch,
                                   .cpu_lanes = (n_all - 1) / 2, .cpu_cores = lane_cores, .gpu_cores = host_core}};
        }
    }
    if (!o->modes_given || o->mapping) add_mode(c, &nc, "mapping", o, true, false, false, false, g, &L, scratch);
    if (!o->modes_given || o->split) add_mode(c, &nc, "split", o, true, true, false, false, g, &L, scratch);
    if (thr && (!o->modes_given || o->pipeline) && nu >= 2)
        add_mode(c, &nc, "pipeline", o, false, false, true, false, g, &L, scratch);
    if (thr && (!o->modes_given || o->image_parallel))
        add_mode(c, &nc, "image-parallel", o, false, false, false, true, g, &L, scratch);

    // Plan files, and which candidates are one plan.
    if (o->keep_plans) {
        if (mkdir(o->keep_plans, 0777) != 0 && errno != EEXIST) {
            fail("cannot make the folder %s for --keep-plans: %s", o->keep_plans, strerror(errno));
            goto done;
        }
        snprintf(dir, sizeof dir, "%s", o->keep_plans);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/hetpart-tune.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            fail("cannot make a temporary folder %s: %s", dir, strerror(errno));
            goto done;
        }
        made_dir = true;
    }
    for (int i = 0; i < nc; i++) {
        cand *k = &c[i];
        hp_cli_plan_words(&L, &k->r, k->words, sizeof k->words);
        cJSON *plan = hp_cli_plan_json(o, g, &L, &k->r, 0, &k->key);
        char *text = plan ? cJSON_Print(plan) : NULL;
        cJSON_Delete(plan);
        if (!text || !k->key) {
            free(text);
            goto done;
        }
        // The CPU alone on the sweep's cores is not the best the CPU does:
        // a mode that solves to it is answered by the CPU alone on every core.
        if (!k->single && !strcmp(k->r.mode, "single") && k->r.single_dev == HP_CPU && !strcmp(c[0].name, "cpu alone"))
            k->same_as = 0;
        for (int j = 0; j < i && k->same_as < 0; j++)
            if (!strcmp(c[j].key, k->key)) k->same_as = c[j].same_as >= 0 ? c[j].same_as : j;
        if (k->same_as >= 0) { // shown as the plan it is
            k->r = c[k->same_as].r;
            memcpy(k->words, c[k->same_as].words, sizeof k->words);
        }
        char name[64];
        snprintf(name, sizeof name, "%s", k->name);
        for (char *p = name; *p; p++)
            if (*p == ' ') *p = '-';
        snprintf(k->path, sizeof k->path, "%s/%s.json", dir, name);
        het_chunk parts[2] = {{text, strlen(text)}, {"\n", 1}};
        het_status st = k->same_as < 0 ? het_write_file(k->path, parts, 2, false) : HET_OK;
        free(text);
        if (st != HET_OK) goto done;
        if (!(k->v = malloc(sizeof *k->v * (size_t)o->repeat))) goto done;
        for (int r = 0; r < o->repeat; r++) k->v[r] = NAN;
    }

    // 4. Replays, the candidates alternating: each round starts one later.
    int n_play = 0;
    for (int i = 0; i < nc; i++) n_play += c[i].same_as < 0;
    if (!o->quiet)
        fprintf(stderr, "hetpart: replaying %d plan%s (hetrun), %d round%s of %d images each, %s\n", n_play,
                n_play == 1 ? "" : "s", o->repeat, o->repeat == 1 ? "" : "s", o->images, unit);
    char summary[PATH_MAX + 32], images[16], warmup[16];
    snprintf(summary, sizeof summary, "%s/.replay.json", dir);
    snprintf(images, sizeof images, "%d", o->images);
    snprintf(warmup, sizeof warmup, "%d", o->warmup);
    double t_start = het_now_ns() / 1e9;
    for (int round = 0; round < o->repeat; round++) {
        for (int j = 0; j < nc; j++) {
            cand *k = &c[(j + round) % nc];
            if (k->same_as >= 0) continue;
            args a = {0};
            arg(&a, hetrun);
            model_args(&a, o);
            arg(&a, "--plan"), arg(&a, k->path), arg(&a, "--images"), arg(&a, images), arg(&a, "--warmup"), arg(&a, warmup);
            arg(&a, "--top"), arg(&a, "0"), arg(&a, "-q"), arg(&a, "--summary-json"), arg(&a, summary);
            remove(summary);
            char *text = NULL;
            int st = run_tool(a.v, &text);
            free(text);
            if (interrupted) goto done;
            cJSON *js = st == 0 ? read_json_file(summary) : NULL;
            const cJSON *lat = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(js, "latency_ms"), "median");
            const cJSON *ips = cJSON_GetObjectItemCaseSensitive(js, "images_per_s");
            double v = thr ? cJSON_GetNumberValue(ips) : cJSON_GetNumberValue(lat);
            cJSON_Delete(js);
            if (!(v > 0) || !isfinite(v)) {
                fprintf(stderr, "hetpart: warning: the replay of %s (%s) failed (hetrun exited with %d); it is left out "
                        "of this round\n", k->name, k->path, st);
                v = NAN;
            }
            k->v[round] = v;
        }
        if (!o->quiet) {
            double el = het_now_ns() / 1e9 - t_start, left = el / (round + 1) * (o->repeat - round - 1);
            fprintf(stderr, "hetpart: round %d/%d:", round + 1, o->repeat);
            for (int i = 0; i < nc; i++)
                if (c[i].same_as < 0) fprintf(stderr, "%s %s %.*f", i ? "," : "", c[i].name, thr ? 1 : 3, c[i].v[round]);
            fprintf(stderr, " (%.0f s%s", el, round + 1 < o->repeat ? ", about " : ")\n");
            if (round + 1 < o->repeat) fprintf(stderr, "%.0f s left)\n", left);
        }
    }
    remove(summary);

    // 5. The answer: the best median; a plan using both devices only where
    // it beats the best device alone by TUNE_MIN_GAIN.
    int best_single = -1, best = -1;
    for (int i = 0; i < nc; i++) {
        cand *k = &c[i];
        if (k->same_as >= 0) continue;
        double *s = malloc(sizeof *s * (size_t)o->repeat);
        if (!s) goto done;
        for (int r = 0; r < o->repeat; r++)
            if (!isnan(k->v[r])) s[k->n_ok++] = k->v[r];
        k->median = het_median(s, k->n_ok); // sorts s
        k->lo = k->n_ok ? s[0] : NAN, k->hi = k->n_ok ? s[k->n_ok - 1] : NAN;
        free(s);
        if (!k->n_ok) continue;
#define BETTER(x, y) (thr ? (x) > (y) : (x) < (y))
        if (k->single && (best_single < 0 || BETTER(k->median, c[best_single].median))) best_single = i;
        if (best < 0 || BETTER(k->median, c[best].median)) best = i;
    }
    if (best < 0) {
        fail("every replay failed; hetrun's messages are above");
        goto done;
    }
    // How many times the best device alone: > 1 is better, for either objective.
#define VS(x) (best_single < 0 ? NAN : thr ? (x) / c[best_single].median : c[best_single].median / (x))
    bool within = false;
    int runner = best; // the plan that measured best, before the gain rule
    if (best_single >= 0 && !c[best].single && VS(c[best].median) < 1 + TUNE_MIN_GAIN) within = true, best = best_single;

    // 6. The table (or JSON), and the answer's plan file.
    report = cJSON_CreateObject();
    cJSON_AddStringToObject(report, "model", o->model);
    cJSON_AddStringToObject(report, "name", g->name);
    cJSON_AddStringToObject(report, "objective", o->objective);
    cJSON_AddStringToObject(report, "unit", unit);
    cJSON_AddStringToObject(report, "db", o->db);
    cJSON_AddNumberToObject(report, "sweep", (double)sweep_id);
    cJSON_AddStringToObject(report, "sweep_from", L.desc);
    if (!isnan(L.quality.median_cv)) cJSON_AddNumberToObject(report, "sweep_median_cv", L.quality.median_cv);
    cJSON_AddBoolToObject(report, "sweep_trusted", !(L.quality.median_cv > HET_SWEEP_CV_LIMIT));
    cJSON *mach = cJSON_AddObjectToObject(report, "machine");
    cJSON_AddNumberToObject(mach, "cores", (double)cores);
    if (!isnan(busy)) cJSON_AddNumberToObject(mach, "busy", busy), cJSON_AddNumberToObject(mach, "steal", steal);
    cJSON_AddNumberToObject(report, "rounds", o->repeat);
    cJSON_AddNumberToObject(report, "images", o->images);
    cJSON *arr = cJSON_AddArrayToObject(report, "candidates");
    for (int i = 0; i < nc; i++) {
        cand *k = &c[i];
        const cand *src = k->same_as >= 0 ? &c[k->same_as] : k;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", k->name);
        cJSON_AddStringToObject(e, "mode", k->r.mode);
        cJSON_AddStringToObject(e, "plan", k->words);
        cJSON_AddBoolToObject(e, "device_alone", k->single);
        double pv = thr ? k->r.images_per_s : k->r.latency_ms;
        if (isfinite(pv)) cJSON_AddNumberToObject(e, "predicted", pv);
        else cJSON_AddNullToObject(e, "predicted"); // measured only: the cost model has no time for it
        if (k->same_as >= 0) cJSON_AddStringToObject(e, "same_as", src->name);
        if (src->n_ok) {
            cJSON_AddNumberToObject(e, "measured", src->median);
            cJSON_AddNumberToObject(e, "min", src->lo);
            cJSON_AddNumberToObject(e, "max", src->hi);
            cJSON_AddNumberToObject(e, "vs_best_single", VS(src->median));
        } else {
            cJSON_AddNullToObject(e, "measured");
        }
        cJSON *runs = cJSON_AddArrayToObject(e, "runs");
        for (int r = 0; r < o->repeat; r++)
            cJSON_AddItemToArray(runs, isnan(src->v[r]) ? cJSON_CreateNull() : cJSON_CreateNumber(src->v[r]));
        cJSON_AddBoolToObject(e, "answer", i == best);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON *ans = cJSON_AddObjectToObject(report, "answer");
    cJSON_AddStringToObject(ans, "name", c[best].name);
    cJSON_AddStringToObject(ans, "plan", c[best].words);
    cJSON_AddStringToObject(ans, "plan_file", out);
    cJSON_AddNumberToObject(ans, "measured", c[best].median);
    if (best_single >= 0) {
        cJSON_AddStringToObject(ans, "best_single", c[best_single].name);
        cJSON_AddNumberToObject(ans, "vs_best_single", VS(c[best].median));
    }
    cJSON_AddBoolToObject(ans, "gain_within_noise", within);

    // The answer's plan, with what tune measured of it.
    answer_plan = hp_cli_plan_json(o, g, &L, &c[best].r, 0, NULL);
    if (!answer_plan) goto done;
    cJSON *meas = cJSON_AddObjectToObject(answer_plan, "measured");
    cJSON_AddStringToObject(meas, "by", "hetpart tune");
    cJSON_AddStringToObject(meas, "objective", o->objective);
    cJSON_AddStringToObject(meas, "unit", unit);
    cJSON_AddNumberToObject(meas, "median", c[best].median);
    cJSON_AddNumberToObject(meas, "rounds", c[best].n_ok);
    cJSON_AddNumberToObject(meas, "images", o->images);
    if (best_single >= 0) {
        cJSON_AddStringToObject(meas, "best_single", c[best_single].name);
        cJSON_AddNumberToObject(meas, "vs_best_single", VS(c[best].median));
    }
    {
        char *text = cJSON_Print(answer_plan);
        if (!text) goto done;
        het_chunk parts[2] = {{text, strlen(text)}, {"\n", 1}};
        het_status st = het_write_file(out, parts, 2, false);
        free(text);
        if (st != HET_OK) goto done;
    }

    if (o->json) {
        char *text = cJSON_Print(report);
        if (!text) goto done;
        puts(text);
        free(text);
    } else {
        if (g->name[0]) printf("%s (%s)", g->name, o->model);
        else printf("%s", o->model);
        printf(", objective %s: %s, median of %d round%s of %d images (min-max)\n", o->objective, unit, o->repeat,
               o->repeat == 1 ? "" : "s", o->images);
        printf("  %-15s %-44s %10s %24s %9s\n", "candidate", "plan", "predicted", "measured", "vs best");
        for (int i = 0; i < nc; i++) {
            cand *k = &c[i];
            const cand *src = k->same_as >= 0 ? &c[k->same_as] : k;
            char m[64] = "failed", vs[16] = "-";
            if (src->n_ok) {
                snprintf(m, sizeof m, "%.*f (%.*f-%.*f)", thr ? 1 : 3, src->median, thr ? 1 : 3, src->lo, thr ? 1 : 3,
                         src->hi);
                if (best_single >= 0) snprintf(vs, sizeof vs, "%.2fx", VS(src->median));
            }
            char words[160];
            snprintf(words, sizeof words, k->same_as >= 0 ? "= %s" : "%s", k->same_as >= 0 ? src->name : k->words);
            double pv = thr ? k->r.images_per_s : k->r.latency_ms;
            char pred[32] = "-";
            if (isfinite(pv)) snprintf(pred, sizeof pred, "%.*f", thr ? 1 : 3, pv);
            printf("%s %-15s %-44.44s %10s %24s %9s\n", i == best ? "*" : " ", k->name, words, pred, m, vs);
        }
        printf("(predicted: from %s; vs best: against the best device alone as measured here, above 1 is better)\n",
               L.desc);
        if (within)
            printf("answer: %s (%s), %.*f %s: %s measured %.2fx it, less than the %.0f%% a plan that uses both "
                   "devices must gain to be the answer\n", c[best].name, c[best].words, thr ? 1 : 3, c[best].median,
                   unit, c[runner].name, VS(c[runner].median), TUNE_MIN_GAIN * 100);
        else if (c[best].single)
            printf("answer: %s (%s), %.*f %s: no plan that uses both devices measured faster\n", c[best].name,
                   c[best].words, thr ? 1 : 3, c[best].median, unit);
        else
            printf("answer: %s (%s), %.*f %s: %.2fx %s\n", c[best].name, c[best].words, thr ? 1 : 3, c[best].median,
                   unit, VS(c[best].median), best_single >= 0 ? c[best_single].name : "?");
        printf("plan written to %s (replay it: hetrun --model %s --plan %s)\n", out, o->model, out);
    }
    rc = 0;
done:
    if (interrupted) {
        fprintf(stderr, "hetpart: interrupted; the sweep keeps what it measured (run tune again to resume)\n");
        rc = 130;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (int i = 0; i < nc; i++) {
        if (made_dir && c[i].same_as < 0 && c[i].path[0]) remove(c[i].path);
        free(c[i].choice), free(c[i].key), free(c[i].v);
    }
    if (made_dir) rmdir(dir);
    cJSON_Delete(report);
    cJSON_Delete(answer_plan);
    free(scratch);
    hp_loaded_free(&L);
    het_db_close(db);
    het_graph_destroy(g);
    return rc;
}
