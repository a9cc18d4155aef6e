// fuzz.c: a seeded mutation fuzzer for het's parsers.
//
//   het_fuzz TARGET CORPUS_DIR ITERATIONS SEED WORK_DIR [MODEL]
//
// TARGET is prototxt, caffemodel, plan, npy or image. Every file of
// CORPUS_DIR is first parsed as it is (the seeds, and the reproducers of
// bugs once found), then ITERATIONS mutants of them: bytes flipped, set,
// inserted or removed, runs copied from another seed, numbers replaced by
// boundary values, lines duplicated or dropped. Each input is written to
// WORK_DIR/current.TARGET before it is parsed, so the one that crashed is
// there to replay (`het_fuzz TARGET DIR 0 0 WORK` parses DIR's files only).
// The caffemodel and plan targets need MODEL, the prototxt they belong to.
//
// Built with ASan and UBSan (which halts on its first report) this makes
// any memory error, undefined behaviour, leak or abort a failure; an input
// that takes more than HANG_SECONDS is one too (SIGALRM ends the process).
// It checks the parsers' contract as well: a rejected input returns a
// failure status, an accepted one a usable result.
#define _POSIX_C_SOURCE 200809L
#include "het/graph.h"
#include "het/io.h"
#include "het/plan.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_SEEDS 256
#define MAX_INPUT (1 << 20)
#define HANG_SECONDS 20

// A mutant declaring a huge tensor must exercise het's out-of-memory path,
// not spend the machine's memory, and the time to fill gigabytes of weights
// with random numbers, which would pass for a hang. Under ASan allocations
// over 256 MiB fail (NULL) instead of aborting; elsewhere the address
// space is held to 1 GiB (ASan's shadow needs far more, so not there).
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1:max_allocation_size_mb=256"; }

static void limit_memory(void)
{
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit lim = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
}

typedef struct seed {
    unsigned char *data;
    size_t len;
    char name[256];
} seed;

static uint64_t rng;

static uint64_t next(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

static int load_seeds(const char *dir, seed *s)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "het_fuzz: cannot open corpus %s: %s\n", dir, strerror(errno));
        return -1;
    }
    // Sorted, so that a seed's index (and so a run) is the same everywhere.
    char *names[MAX_SEEDS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_SEEDS)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(s[i].name, sizeof s[i].name, "%s", names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        s[i].data = malloc(MAX_INPUT);
        s[i].len = f && s[i].data ? fread(s[i].data, 1, MAX_INPUT, f) : 0;
        if (f) fclose(f);
        if (!s[i].data) return -1;
    }
    return n;
}

// Values at the edges of the integer types and of het's limits.
static const char *const interesting[] = {"0", "-1", "1", "2", "3", "7", "64", "65", "4096", "4097", "65535",
                                          "65536", "16777216", "2147483647", "2147483648", "4294967295",
                                          "4294967296", "-2147483648", "9223372036854775807", "1e308", "-0", "nan",
                                          "inf", "0.5", "1.5", "536870912", "23170", "46341"};

// One mutation of buf (len bytes, room for MAX_INPUT) in place.
static size_t mutate(unsigned char *buf, size_t len, const seed *seeds, int n_seeds)
{
    switch (below(9)) {
    case 0: // flip a bit
        if (len) buf[below(len)] ^= (unsigned char)(1u << below(8));
        break;
    case 1: // set a byte to an edge value
        if (len) buf[below(len)] = (unsigned char[]){0, 0xff, 0x7f, 0x80, '{', '}', '"', '\n', ':'}[below(9)];
        break;
    case 2: { // remove a run
        if (!len) break;
        size_t at = below(len), n = 1 + below(len - at < 64 ? len - at : 64);
        memmove(buf + at, buf + at + n, len - at - n);
        len -= n;
        break;
    }
    case 3: { // insert random bytes
        size_t at = below(len + 1), n = 1 + below(16);
        if (len + n > MAX_INPUT) break;
        memmove(buf + at + n, buf + at, len - at);
        for (size_t i = 0; i < n; i++) buf[at + i] = (unsigned char)next();
        len += n;
        break;
    }
    case 4: { // copy a run from another seed (or this one) in
        const seed *o = &seeds[below((size_t)n_seeds)];
        if (!o->len) break;
        size_t from = below(o->len), n = 1 + below(o->len - from < 256 ? o->len - from : 256);
        size_t at = below(len + 1);
        if (len + n > MAX_INPUT) break;
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, o->data + from, n);
        len += n;
        break;
    }
    case 5:
    case 6: { // replace a number (a run of digits) by an edge value
        size_t at = below(len);
        while (at < len && !(buf[at] >= '0' && buf[at] <= '9')) at++;
        if (at >= len) break;
        size_t end = at;
        while (end < len && buf[end] >= '0' && buf[end] <= '9') end++;
        const char *v = interesting[below(sizeof interesting / sizeof *interesting)];
        size_t vn = strlen(v);
        if (len - (end - at) + vn > MAX_INPUT) break;
        memmove(buf + at + vn, buf + end, len - end);
        memcpy(buf + at, v, vn);
        len = len - (end - at) + vn;
        break;
    }
    case 7: { // duplicate a line
        size_t a = below(len), b;
        while (a > 0 && buf[a - 1] != '\n') a--;
        for (b = a; b < len && buf[b] != '\n'; b++) {}
        if (b < len) b++;
        size_t n = b - a;
        if (!n || len + n > MAX_INPUT) break;
        memmove(buf + b + n, buf + b, len - b);
        memcpy(buf + b, buf + a, n);
        len += n;
        break;
    }
    default: { // set a 32-bit little-endian word (binary formats' lengths and dims)
        if (len < 4) break;
        static const uint32_t words[] = {0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff, 0x10000, 65536 * 4};
        uint32_t w = words[below(sizeof words / sizeof *words)];
        memcpy(buf + below(len - 3), &w, 4);
        break;
    }
    }
    return len;
}

typedef struct target {
    const char *name;
    const char *model; // the prototxt, for caffemodel and plan
    het_graph *graph;  // loaded from it, for plan
} target;

// Parses one input: 1 accepted, 0 refused, -1 where the parser broke its
// contract.
static int parse(target *t, const char *path)
{
    if (!strcmp(t->name, "prototxt") || !strcmp(t->name, "caffemodel")) {
        het_graph *g = NULL;
        bool proto = !strcmp(t->name, "prototxt");
        het_status st = het_graph_load(proto ? path : t->model, proto ? NULL : path, 1, &g);
        if ((st == HET_OK) != (g != NULL)) return -1;
        if (g && het_graph_fold(g, NULL) != HET_OK) st = HET_E_INVALID;
        het_graph_destroy(g);
        return st == HET_OK;
    }
    if (!strcmp(t->name, "plan")) {
        het_plan *p = NULL;
        het_status st = het_plan_read(path, t->graph, &p);
        int bad = (st == HET_OK) != (p != NULL);
        het_plan_destroy(p);
        return bad ? -1 : st == HET_OK;
    }
    if (!strcmp(t->name, "npy")) {
        het_npy a;
        het_status st = het_npy_read(path, &a);
        int bad = (st == HET_OK) != (a.data != NULL);
        if (st == HET_OK) { // every element the header promises is readable
            size_t n = 1;
            for (int i = 0; i < a.ndim; i++) n *= (size_t)a.dims[i];
            volatile float sum = 0;
            for (size_t i = 0; i < n; i++) sum += a.data[i];
        }
        het_npy_free(&a);
        return bad ? -1 : st == HET_OK;
    }
    het_image im;
    het_status st = het_image_load(path, (uint64_t)1 << 22, &im);
    int bad = (st == HET_OK) != (im.rgb != NULL);
    if (st == HET_OK) {
        float chw[3 * 8 * 8];
        het_image_to_chw(&im, 8, 8, (const float[3]){104, 117, 123}, 1.0f, chw);
    }
    het_image_free(&im);
    return bad ? -1 : st == HET_OK;
}

static int write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: het_fuzz prototxt|caffemodel|plan|npy|image CORPUS_DIR ITERATIONS SEED WORK_DIR "
                        "[MODEL]\n");
        return 2;
    }
    target t = {.name = argv[1], .model = argc > 6 ? argv[6] : NULL};
    const char *names[] = {"prototxt", "caffemodel", "plan", "npy", "image"};
    bool known = false;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) known |= !strcmp(t.name, names[i]);
    long iterations = strtol(argv[3], NULL, 10);
    rng = strtoull(argv[4], NULL, 10);
    if (!known || iterations < 0 || ((!strcmp(t.name, "caffemodel") || !strcmp(t.name, "plan")) && !t.model)) {
        fprintf(stderr, "het_fuzz: bad arguments (see the opening comment of tests/fuzz/fuzz.c)\n");
        return 2;
    }
    if (!strcmp(t.name, "plan") && het_graph_load(t.model, NULL, 1, &t.graph) != HET_OK) return 1;
    static seed seeds[MAX_SEEDS];
    int n_seeds = load_seeds(argv[2], seeds);
    if (n_seeds <= 0) {
        fprintf(stderr, "het_fuzz: no seeds in %s\n", argv[2]);
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/current.%s", argv[5], t.name);
    unsigned char *buf = malloc(MAX_INPUT);
    if (!buf) return 1;
    limit_memory();
    het_log_set_level(HET_LOG_NONE);
    fprintf(stderr, "het_fuzz %s: %d seeds, %ld mutants, seed %s; the input being parsed is %s\n", t.name, n_seeds,
            iterations, argv[4], path);
    int broken = 0;
    long accepted = 0;
    for (long it = -n_seeds; it < iterations; it++) {
        size_t len;
        if (it < 0) { // the seeds themselves
            const seed *s = &seeds[it + n_seeds];
            memcpy(buf, s->data, s->len);
            len = s->len;
        } else {
            const seed *s = &seeds[below((size_t)n_seeds)];
            memcpy(buf, s->data, s->len);
            len = s->len;
            for (size_t m = 1 + below(4); m > 0; m--) len = mutate(buf, len, seeds, n_seeds);
        }
        if (write_file(path, buf, len) != 0) {
            fprintf(stderr, "het_fuzz: cannot write %s\n", path);
            return 1;
        }
        alarm(HANG_SECONDS);
        int r = parse(&t, path);
        accepted += r > 0;
        if (r < 0) {
            fprintf(stderr, "het_fuzz %s: input %ld broke the status/result contract (kept in %s)\n", t.name, it,
                    path);
            broken++;
            break;
        }
        alarm(0);
    }
    het_graph_destroy(t.graph);
    for (int i = 0; i < n_seeds; i++) free(seeds[i].data);
    free(buf);
    if (!broken) remove(path);
    printf("het_fuzz %s: %ld inputs (%ld accepted), %d broken\n", t.name, iterations + n_seeds, accepted, broken);
    return broken ? 1 : 0;
}
