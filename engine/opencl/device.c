// device.c: OpenCL platform and device discovery, error names.
#include "cl_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *het_cl_err_str(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_MAP_FAILURE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES)
        E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR) E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE)
        E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE)
        E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET)
        E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_GLOBAL_WORK_SIZE)
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL driver registered)";
#undef E
    }
    return "unknown OpenCL error";
}

het_status het_cl_fail(const char *call, cl_int err, const char *func)
{
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES) {
        het_log(HET_LOG_ERROR, "%s: the OpenCL device ran out of memory or resources (%s in %s)", func,
                het_cl_err_str(err), call);
        return HET_E_NOMEM;
    }
    het_log(HET_LOG_ERROR, "%s: %s failed: %s (%d)", func, call, het_cl_err_str(err), (int)err);
    return HET_E_OPENCL;
}

// Every device of every platform, in platform order.
static int all_devices(cl_platform_id *plats, cl_uint *n_plats, cl_device_id *devs, cl_platform_id *dev_plat, int cap)
{
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS) np = 0;
    *n_plats = np;
    int n = 0;
    for (cl_uint p = 0; p < np && n < cap; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, (cl_uint)(cap - n), devs + n, &nd) != CL_SUCCESS) continue;
        for (cl_uint d = 0; d < nd; d++) dev_plat[n + (int)d] = plats[p];
        n += (int)nd;
    }
    return n;
}

static void fill_info(cl_platform_id p, cl_device_id d, cl_dev_info *o)
{
    memset(o, 0, sizeof *o);
    o->platform = p;
    o->device = d;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof o->platform_name - 1, o->platform_name, NULL);
    clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof o->platform_version - 1, o->platform_version, NULL);
    clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof o->device_name - 1, o->device_name, NULL);
    clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof o->device_version - 1, o->device_version, NULL);
    clGetDeviceInfo(d, CL_DRIVER_VERSION, sizeof o->driver - 1, o->driver, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof o->type, &o->type, NULL);
    cl_bool uni = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof uni, &uni, NULL);
    o->unified = uni == CL_TRUE;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof o->global_mem, &o->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof o->max_alloc, &o->max_alloc, NULL);
}

int het_cl_list_devices(void)
{
    cl_platform_id plats[16], dev_plat[64];
    cl_device_id devs[64];
    cl_uint np;
    int n = all_devices(plats, &np, devs, dev_plat, 64);
    if (n == 0) printf("no OpenCL device found (is an ICD installed in /etc/OpenCL/vendors?)\n");
    for (int i = 0; i < n; i++) {
        cl_dev_info d;
        fill_info(dev_plat[i], devs[i], &d);
        printf("%d: %s [%s] on %s, %s, driver %s, %.1f GiB (largest buffer %.1f GiB)%s\n", i, d.device_name,
               d.type & CL_DEVICE_TYPE_GPU ? "GPU" : (d.type & CL_DEVICE_TYPE_CPU ? "CPU" : "other"),
               d.platform_name, d.device_version, d.driver, d.global_mem / 1073741824.0,
               d.max_alloc / 1073741824.0, d.unified ? ", unified memory" : "");
    }
    return n;
}

het_status het_cl_pick_device(const char *want, cl_dev_info *out)
{
    cl_platform_id plats[16], dev_plat[64];
    cl_device_id devs[64];
    cl_uint np;
    int n = all_devices(plats, &np, devs, dev_plat, 64);
    if (n == 0) {
        het_log(HET_LOG_ERROR, "no OpenCL %s found: install an OpenCL driver (e.g. pocl-opencl-icd) or run with --device cpu",
                np ? "device" : "platform");
        return HET_E_OPENCL;
    }
    int pick = -1;
    if (!want) {
        for (int i = 0; i < n && pick < 0; i++) {
            cl_device_type t = 0;
            clGetDeviceInfo(devs[i], CL_DEVICE_TYPE, sizeof t, &t, NULL);
            if (t & CL_DEVICE_TYPE_GPU) pick = i;
        }
        if (pick < 0) pick = 0;
    } else {
        char *end;
        long idx = strtol(want, &end, 10);
        if (*want && !*end) {
            if (idx < 0 || idx >= n) {
                het_log(HET_LOG_ERROR, "--gpu %ld: there are %d OpenCL devices (0-%d); see --list-gpus", idx, n, n - 1);
                return HET_E_INVALID;
            }
            pick = (int)idx;
        } else {
            for (int i = 0; i < n && pick < 0; i++) {
                cl_dev_info d;
                fill_info(dev_plat[i], devs[i], &d);
                if (strstr(d.device_name, want) || strstr(d.platform_name, want)) pick = i;
            }
            if (pick < 0) {
                het_log(HET_LOG_ERROR, "--gpu '%s': no OpenCL device or platform name contains it; see --list-gpus", want);
                return HET_E_INVALID;
            }
        }
    }
    fill_info(dev_plat[pick], devs[pick], out);
    return HET_OK;
}
