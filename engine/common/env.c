// env.c: the environment a user may set for het's tools, read into the
// backends' configurations (env.h). Only the tools call this.
#define _POSIX_C_SOURCE 200809L
#include "het/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *var(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void het_cpu_cfg_env(het_cpu_cfg *cfg)
{
    const char *v;
    if (cfg->spin_us <= 0 && (v = var("HET_SPIN_US"))) {
        char *end;
        long us = strtol(v, &end, 10);
        if (*end || us < 1 || us > 1000000)
            het_log(HET_LOG_WARN, "HET_SPIN_US='%s' ignored: expected microseconds from 1 to 1000000", v);
        else
            cfg->spin_us = (int)us;
    }
    if (!cfg->conv && (v = var("HET_CPU_CONV"))) {
        if (strcmp(v, "gemm") && strcmp(v, "direct") && strcmp(v, "direct4") && strcmp(v, "direct8") &&
            strcmp(v, "direct16"))
            het_log(HET_LOG_WARN, "HET_CPU_CONV='%s' ignored: expected gemm, direct, direct4, direct8 or direct16", v);
        else
            cfg->conv = v;
    }
}

void het_gpu_cfg_env(het_gpu_cfg *cfg, char *buf, size_t cap)
{
    const char *v;
    if (!cfg->cache_dir) {
        const char *xdg = var("XDG_CACHE_HOME"), *home = var("HOME");
        if ((v = getenv("HET_CL_CACHE"))) cfg->cache_dir = v; // set but empty: no cache
        else if (xdg) snprintf(buf, cap, "%s/het", xdg), cfg->cache_dir = buf;
        else if (home) snprintf(buf, cap, "%s/.cache/het", home), cfg->cache_dir = buf;
    }
    if (!cfg->overlap_images && (v = var("HET_CL_OVERLAP"))) cfg->overlap_images = strcmp(v, "0") ? 1 : -1;
    if ((v = var("HET_CL_MAP_TRANSFERS")) && strcmp(v, "0")) cfg->map_transfers = true;
    if ((v = var("HET_CL_LAUNCH_CACHE")) && !strcmp(v, "0")) cfg->no_launch_cache = true;
    if (!cfg->conv && (v = var("HET_CL_CONV"))) {
        if (strcmp(v, "pix") && strcmp(v, "gemm")) het_log(HET_LOG_WARN, "HET_CL_CONV='%s' ignored: expected pix or gemm", v);
        else cfg->conv = v;
    }
    if (!cfg->splitk_groups && (v = var("HET_CL_SPLITK"))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 0 || n > 1000000) het_log(HET_LOG_WARN, "HET_CL_SPLITK='%s' ignored: expected 0 to 1000000", v);
        else cfg->splitk_groups = n == 0 ? -1 : (int)n;
    }
    if (!cfg->kernel_dir && (v = var("HET_CL_DIR"))) cfg->kernel_dir = v;
}
