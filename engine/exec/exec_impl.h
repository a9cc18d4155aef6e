// exec_impl.h: private to engine/exec.
#ifndef HET_EXEC_EXEC_IMPL_H
#define HET_EXEC_EXEC_IMPL_H

#include "het/plan.h"

#include <pthread.h>

// Runs layers [first, end) of one image. begin: the image starts here (the
// inputs are in host storage, nothing else is valid); finish: the outputs
// are made valid in host storage; sync: wait for the GPU before returning
// (so that a pipeline stage's time includes its GPU work).
het_status het_hexec_run_range(het_hexec *x, int first, int end, bool begin, bool finish, bool sync);

// Starts the GPU work enqueued so far without waiting for it (a no-op when
// none is unflushed), and waits for it (het_hexec_run_range's `sync` done
// later), so that a caller can use the host meanwhile.
het_status het_hexec_flush(het_hexec *x);
het_status het_hexec_sync(het_hexec *x);

// Starts copying to the host, behind the GPU work issued so far, every blob
// that the CPU's share of layers [first, end) reads and that only the GPU
// holds (the backend's to_host_async; nothing where it has none or needs
// none). The thread that runs those layers then waits once, for the GPU and
// the copies together, where it waited for the GPU and then for each copy
// in turn.
het_status het_hexec_prefetch_host(het_hexec *x, int first, int end);

// A first-come first-served lock: waiters are served in the order they
// asked. A plain mutex lets the thread that just released it take it again
// while the waiter is still waking, and a thread that calls a backend in a
// loop (a GPU stage issuing ~60 kernels an image) starved another that
// needed one call (the next stage's GPU->host transfer).
typedef struct het_fifo_lock {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long next, serving;
    unsigned long waited; // takes that found the lock held (and slept until served)
} het_fifo_lock;
void het_fifo_init(het_fifo_lock *l);
void het_fifo_destroy(het_fifo_lock *l);
void het_fifo_take(het_fifo_lock *l);
void het_fifo_give(het_fifo_lock *l);

// Per-device locks held around every backend call, for executors that share
// backends across threads. NULL: no locking.
void het_hexec_set_locks(het_hexec *x, het_fifo_lock *cpu, het_fifo_lock *gpu);

#endif
