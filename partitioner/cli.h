// cli.h: what the hetpart tool's commands share (private to the tool): its
// options, a solved plan, the solve over a plan space, and plan files.
#ifndef HET_PARTITIONER_CLI_H
#define HET_PARTITIONER_CLI_H

#include "het/graph.h"
#include "load.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct hp_opts {
    const char *cmd, *db, *model, *objective, *out, *platform, *plan;
    bool modes_given; // --modes: the plan space is the user's, baselines are only weighed against
    bool mapping, split, pipeline, image_parallel, corun, corun_per_layer, allow_missing, calibrate, in_context, issue, json, no_fold;
    double net_ms[2]; // predict --cpu-ms, --gpu-ms
    double gpu_stream_ms; // predict --gpu-stream-ms
    int min_stages, max_stages;
    long search_mb; // the pipeline search's state memory cap
    long long sweep;
    // tune: the model's weights (passed to hetprof and hetrun), the OpenCL
    // device, the replays and where the candidates' plans are kept.
    const char *weights, *seed, *gpu, *keep_plans;
    int repeat, images, warmup; // rounds of replays, images a replay, its warm-up runs
    bool allow_busy, quiet;
} hp_opts;

typedef struct hp_result {
    const char *mode; // plan mode
    double latency_ms, images_per_s;
    hp_choice *choice;
    hp_pipeline pipe;
    hp_choice single_dev;
    const char *cpu_cores; // single on the CPU: its cores (the baseline's), or NULL for the sweep's
    bool gpu_only;         // image-parallel: the GPU's lane alone (its stream)
    bool cpu_only;         // image-parallel: CPU lanes alone
    int cpu_lanes;         // image-parallel: CPU lanes, each on its own group of cpu_cores (0: one)
    const char *gpu_cores; // the OpenCL host threads' cores, or NULL for hetrun's default
    bool measured;         // a baseline: its figures were measured, not predicted
} hp_result;

/// The model's structure as the sweep took it: folded unless --no-fold.
het_status hp_cli_load_model(const hp_opts *o, het_graph **g);

/// The model's name for messages: its prototxt's name, else the file.
const char *hp_cli_model_name(const hp_opts *o, const het_graph *g);

/// The best plan of the plan space `o` allows, for its objective, priced by
/// `L`. `lat_c` and `pipe_c` (n_units each) hold the chosen layers'
/// devices. Unless the space was narrowed (--modes, --min-stages above 1),
/// the obvious runs are candidates: the CPU alone on every core as the
/// sweep measured it (*base_wins: it is the answer) and, for throughput,
/// the GPU streaming alone. Returns false, with a message, when no plan can
/// run.
bool hp_cli_best(const hp_opts *o, const het_graph *g, const hp_loaded *L, hp_choice *lat_c, hp_choice *pipe_c,
                 hp_result *best, bool *base_wins);

/// The CPU alone at its best measured resources (every core, the sweep's
/// baseline; the sweep's CPU cores where it has none), and the GPU alone
/// at its best for the objective (streaming where the sweep timed a
/// stream and throughput counts). `choice`: n_units, filled.
hp_result hp_cli_cpu_alone(const hp_loaded *L, hp_choice *choice);
hp_result hp_cli_gpu_alone(const hp_loaded *L, bool throughput, hp_choice *choice);

/// The plan file of `r` (docs/plan.md), with what was predicted. `key`,
/// when not NULL, gets the plan without its prediction (two candidates
/// with equal keys run alike); the caller frees both.
cJSON *hp_cli_plan_json(const hp_opts *o, const het_graph *g, const hp_loaded *L, const hp_result *r,
                        double solve_ms, char **key);

/// How many times the CPU alone on every core the plan is predicted to be.
double hp_cli_vs_cpu_alone(const hp_loaded *L, const hp_result *r, bool throughput);

/// The plan in a few words ("3 of 26 units on the GPU", "2 stages: cpu | gpu").
void hp_cli_plan_words(const hp_loaded *L, const hp_result *r, char *buf, size_t cap);

/// hetpart tune (tune.c).
int hp_tune(const hp_opts *o);

#endif
