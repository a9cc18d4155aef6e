// sim.h: the executor replay's step function, private to the partitioner
// (the solvers expand states with it; hp_simulate strings steps together).
#ifndef HET_PARTITIONER_SIM_H
#define HET_PARTITIONER_SIM_H

#include "part.h"

#define HP_SIM_MAX_BLOBS 2048

typedef struct hp_sim {
    double clk[2];          // host (CPU) and GPU clocks (ms)
    float *res;             // 2 per blob: cpu_hi, gpu_lo
    unsigned char *touched; // per root: the GPU used its storage since the last wait
    bool pending;           // GPU work enqueued since the last wait
    double xfer_ms;         // transfer time so far (for explanations)
    double *xfer_by_blob;   // optional, per blob: transfer time spent moving it
} hp_sim;

/// Runs unit `unit` with choice `c`; false if it cannot run there.
/// `both`: a pipeline keeps the other device busy (co-run factors apply).
bool hp_sim_step(const hp_model *m, hp_sim *s, int unit, hp_choice c, bool both);
/// Makes a blob whole on `dev`, transferring what is missing.
void hp_sim_need(const hp_model *m, hp_sim *s, int blob, int dev);
/// Waits for the GPU.
void hp_sim_sync(const hp_model *m, hp_sim *s);
/// Brings the network's outputs to the host and waits for the GPU.
void hp_sim_finish(const hp_model *m, hp_sim *s);

#endif
