// test_profiler.c: the profiler's arithmetic that needs no device: how far
// a sweep's network bursts moved (het_net_acc_drift), which decides
// hetprof's drift warning and the networks row's note.
#include "../../profiler/measure.h"
#include "../harness.h"

int main(void)
{
    het_net_acc a = {0};
    double net, stream;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK(net == 1.0 && stream == 1.0, "no burst: no spread (%g, %g)", net, stream);
    a.bursts = 1;
    a.burst_ms[0] = 5.0;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK(net == 1.0, "one burst: no spread (%g)", net);
    // Three bursts, the slowest over the fastest; the stream's own medians.
    a.bursts = 3;
    a.burst_ms[1] = 6.5, a.burst_ms[2] = 5.2;
    a.n_stream = 9;
    a.burst_stream_ms[0] = 0.40, a.burst_stream_ms[1] = 0.42, a.burst_stream_ms[2] = 0.44;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK_NEAR(net, 1.3, 1e-12, "network spread %g", net);
    HET_CHECK_NEAR(stream, 1.1, 1e-12, "stream spread %g", stream);
    HET_CHECK(net > HET_NET_DRIFT && stream < HET_NET_DRIFT, "1.3x warns, 1.1x does not (threshold %g)", HET_NET_DRIFT);
    // No stream samples: the stream did not move, whatever the array holds.
    a.n_stream = 0;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK(stream == 1.0, "no stream: no spread (%g)", stream);
    // A burst without a time (not measured) makes no spread up.
    a.burst_ms[1] = 0.0;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK(net == 1.0, "a missing burst: no spread (%g)", net);
    // More bursts than are kept: the first HET_NET_BURSTS_CAP count.
    a.bursts = HET_NET_BURSTS_CAP + 3;
    for (int i = 0; i < HET_NET_BURSTS_CAP; i++) a.burst_ms[i] = 10.0 + i;
    het_net_acc_drift(&a, &net, &stream);
    HET_CHECK_NEAR(net, (10.0 + HET_NET_BURSTS_CAP - 1) / 10.0, 1e-12, "kept bursts' spread %g", net);
    return het_test_summary("test_profiler");
}
