// counters.c: PAPI where het was built with it (HET_WITH_PAPI), and an
// honest "not available" everywhere else.
#include "counters.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef HET_WITH_PAPI
#include <papi.h>

struct het_counters {
    int set, n;
};

het_counters *het_counters_open(const char *const *events, int n, char *why, size_t cap)
{
    int rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT) {
        snprintf(why, cap, "PAPI cannot start: %s", rc > 0 ? "library version mismatch" : PAPI_strerror(rc));
        return NULL;
    }
    // The perf_event component says why it is off (perf_event_paranoid,
    // no PMU); that is the reason worth recording.
    const PAPI_component_info_t *ci = PAPI_get_component_info(0);
    int hw = PAPI_num_cmp_hwctrs(0);
    het_counters *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    c->set = PAPI_NULL;
    c->n = n;
    if ((rc = PAPI_create_eventset(&c->set)) != PAPI_OK) goto fail_rc;
    for (int i = 0; i < n; i++) {
        int code;
        if ((rc = PAPI_event_name_to_code((char *)events[i], &code)) != PAPI_OK ||
            (rc = PAPI_add_event(c->set, code)) != PAPI_OK) {
            snprintf(why, cap, "%s: %s; PAPI %d.%d sees %d hardware counter%s%s%s%s", events[i], PAPI_strerror(rc),
                     PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION), hw, hw == 1 ? "" : "s",
                     hw == 0 ? " (a virtual machine without a PMU?)" : "",
                     ci && ci->disabled ? "; perf_event: " : "", ci && ci->disabled ? ci->disabled_reason : "");
            het_counters_close(c);
            return NULL;
        }
    }
    return c;
fail_rc:
    snprintf(why, cap, "PAPI: %s", PAPI_strerror(rc));
    het_counters_close(c);
    return NULL;
}

void het_counters_close(het_counters *c)
{
    if (!c) return;
    if (c->set != PAPI_NULL) {
        PAPI_cleanup_eventset(c->set);
        PAPI_destroy_eventset(&c->set);
    }
    free(c);
}

het_status het_counters_start(het_counters *c)
{
    int rc = PAPI_start(c->set);
    if (rc == PAPI_OK) return HET_OK;
    het_log(HET_LOG_WARN, "PAPI_start: %s", PAPI_strerror(rc));
    return HET_E_UNSUPPORTED;
}

het_status het_counters_stop(het_counters *c, long long *values)
{
    int rc = PAPI_stop(c->set, values);
    if (rc == PAPI_OK) return HET_OK;
    het_log(HET_LOG_WARN, "PAPI_stop: %s", PAPI_strerror(rc));
    return HET_E_UNSUPPORTED;
}

#else

het_counters *het_counters_open(const char *const *events, int n, char *why, size_t cap)
{
    (void)events;
    (void)n;
    snprintf(why, cap, "het was built without PAPI (install libpapi-dev and rebuild)");
    return NULL;
}

void het_counters_close(het_counters *c) { (void)c; }

het_status het_counters_start(het_counters *c)
{
    (void)c;
    return HET_E_UNSUPPORTED;
}

het_status het_counters_stop(het_counters *c, long long *values)
{
    (void)c;
    (void)values;
    return HET_E_UNSUPPORTED;
}

#endif
