// env.h: the environment variables a user of het's tools may set, read in
// one place. The library reads no environment: its backends take their
// settings in het_cpu_cfg and het_gpu_cfg, and the tools fill those from
// their flags and, through these functions, from the environment
// (documented in docs/hetrun.md).
#ifndef HET_ENV_H
#define HET_ENV_H

#include "het/backend.h"

/// HET_SPIN_US (microseconds idle workers spin, 1 to 1000000) and
/// HET_CPU_CONV (gemm, direct, direct4, direct8, direct16), where `cfg`
/// leaves them unset. A value out of range is ignored with a warning.
void het_cpu_cfg_env(het_cpu_cfg *cfg);

/// HET_CL_CACHE (else $XDG_CACHE_HOME/het, else ~/.cache/het) where
/// cache_dir is NULL, and the measuring knobs: HET_CL_OVERLAP (0 or 1),
/// HET_CL_MAP_TRANSFERS (1), HET_CL_LAUNCH_CACHE (0), HET_CL_CONV (pix or
/// gemm), HET_CL_SPLITK (0: never, else the work-group target), HET_CL_DIR
/// (a folder of .cl sources). `buf` (cap bytes) holds the cache path and
/// must outlive `cfg`.
void het_gpu_cfg_env(het_gpu_cfg *cfg, char *buf, size_t cap);

#endif
