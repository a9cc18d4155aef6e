// stream.c: images streamed through a pipeline or an image-parallel plan.
//
// Pipeline. Stage s runs layers [first_s, first_{s+1}) of an image and hands
// the image on. An image lives in a slot (a workspace bound to the GPU and an
// executor that tracks where its blobs are valid); slots circulate through
// queues: free -> stage 0 -> queue 1 -> stage 1 -> ... -> last stage -> free.
// A few slots suffice (two devices run at most two stages at once), so memory
// does not grow with the number of stages. The end of the stream is a poison
// value that follows the last image through every queue. If a stage fails,
// every stage stops computing but keeps forwarding slots, so no thread waits
// forever.
//
// Image-parallel. One thread per listed device, each with its own slot (a
// GPU's lane two where it runs images at once, device_main says why) and a single-device plan, taking
// image indices from one atomic counter.
//
// The slots are made once per het_stream and kept from stream to stream, so
// the warm-up leaves them warm for the timed stream.
//
// Each backend is used by several threads, so every call into it goes
// through that device's lock (het_hexec_set_locks; first come, first
// served: exec_impl.h says why); a stage's time includes
// its GPU work (it syncs before handing on; a stage on the GPU alone
// that keeps two images in flight waits for each before handing it on
// too, stage_main). A stage that runs on the CPU
// alone holds the CPU's lock for the whole stage instead: stages on one
// device then take turns a stage at a time, as the cost model assumes,
// rather than a layer at a time, where every hand-over woke a sleeping
// thread (SqueezeNet v1.1 with two CPU stages on one core: about 40
// hand-overs an image).
#define _GNU_SOURCE
#include "exec_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 6
#define POISON (-1)

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int buf[MAX_SLOTS + 2];
    int head, n;
} queue;

static void q_init(queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = q->n = 0;
}

static void q_destroy(queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static void q_push(queue *q, int v)
{
    pthread_mutex_lock(&q->mu);
    q->buf[(q->head + q->n) % (MAX_SLOTS + 2)] = v;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

// A value if one is queued, else -2 at once.
static int q_trypop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    int v = -2;
    if (q->n > 0) {
        v = q->buf[q->head];
        q->head = (q->head + 1) % (MAX_SLOTS + 2);
        q->n--;
    }
    pthread_mutex_unlock(&q->mu);
    return v;
}

static int q_pop(queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == 0) pthread_cond_wait(&q->cv, &q->mu);
    int v = q->buf[q->head];
    q->head = (q->head + 1) % (MAX_SLOTS + 2);
    q->n--;
    pthread_mutex_unlock(&q->mu);
    return v;
}

typedef struct slot {
    het_workspace *ws;
    het_hexec *hx;
    het_plan *own_plan; // image-parallel: this lane's single-device plan
    int image;
    uint64_t t_start;
    bool borrow; // the input blob points at the image in the stream's input array (copy_input)
} slot;

struct het_stream {
    const het_graph *g;
    const het_plan *p;
    het_backend *be[2];
    het_fifo_lock lock[2]; // per device, around every backend call
    het_fifo_lock cpu_turn; // CPU-only stages, a whole stage at a time: their turns come in the order asked
    int n_images, out_blob;
    const float *inputs;
    float *outputs;
    size_t in_count, out_count;
    slot slots[HET_PLAN_MAX_STAGES + 1]; // a pipeline uses at most MAX_SLOTS; image-parallel one per lane and a spare
    int n_slots;
    queue q[HET_PLAN_MAX_STAGES + 1]; // q[0]: free slots; q[s]: input of stage s
    atomic_int next_image, failed, n_events;
    het_status error;
    uint64_t t0;
    het_stream_report *rep;
    int lane_dev[HET_PLAN_MAX_STAGES]; // image-parallel: device of each lane (0 a CPU lane, 1 the GPU)
    het_backend *lane_be[HET_PLAN_MAX_STAGES]; // image-parallel: each lane's backend
    // Image-parallel CPU lanes, each with a CPU backend of its own on its
    // own cores: only its lane's thread calls it, so it takes no lock.
    int n_cpu_lanes;
    // Image-parallel: each lane's images so far and their total time, for
    // the end of the stream (take_image).
    _Atomic uint64_t lane_ns[HET_PLAN_MAX_STAGES];
    atomic_int lane_images[HET_PLAN_MAX_STAGES];
    atomic_int lanes_taking; // lanes still taking images
    int n_lanes;
    int spare_slot;      // image-parallel: the GPU lane's second slot, or -1
    bool pipe;
    bool one_each;       // warming: every lane takes one image and stops
    size_t in_stride;    // floats between images' inputs (0 when warming: one input for all)
};

typedef struct lane_arg {
    het_stream *s;
    int lane;
} lane_arg;

static double ms_since(const het_stream *s, uint64_t t) { return (double)(t - s->t0) / 1e6; }

static void record(het_stream *s, int lane, int image, uint64_t a, uint64_t b)
{
    int e = atomic_fetch_add(&s->n_events, 1);
    s->rep->events[e] = (het_stream_event){lane, image, ms_since(s, a), ms_since(s, b)};
}

static void fail(het_stream *s, het_status st)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->failed, &expected, 1)) s->error = st;
}

// Whether lane i computes anything on the CPU (where pin_lane puts it).
static bool lane_uses_cpu(const het_stream *s, bool pipe, int i)
{
    if (!pipe) return s->lane_dev[i] == 0;
    for (int l = s->p->stage_first[i]; l < s->p->stage_first[i + 1]; l++)
        if (s->p->gpu_ratio[l] < 1.0f) return true;
    return false;
}

// Pins lane i's thread where its work runs: its CPU backend's first core if
// the lane computes anything on the CPU (the thread becomes its worker 0),
// else the OpenCL device's core set (its host work stays off the CPU's cores).
static void pin_lane(het_stream *s, bool pipe, int i)
{
    het_backend *be = !pipe ? s->lane_be[i] : lane_uses_cpu(s, true, i) ? s->be[0] : s->be[1];
    if (be && be->ops->pin_thread) be->ops->pin_thread(be);
}

// The lock around CPU lane calls: the shared CPU backend's, none for a
// backend of the lane's own.
static het_fifo_lock *cpu_lock(het_stream *s) { return s->n_cpu_lanes > 1 ? NULL : &s->lock[0]; }

// Whether pipeline stage `i` keeps two images in flight (stage_main): on
// the GPU alone, not the last, where the GPU runs images at once.
static bool stage_streams(const het_stream *s, int i)
{
    bool uses_gpu = false;
    for (int l = s->p->stage_first[i]; l < s->p->stage_first[i + 1]; l++) uses_gpu |= s->p->gpu_ratio[l] > 0.0f;
    return uses_gpu && !lane_uses_cpu(s, true, i) && i < s->p->n_stages - 1 && het_stream_gpu_in_flight(s->be[1]) > 1;
}

// A thread starts on its creator's cores. The creator, usually the CPU
// backend's worker 0 and pinned to its first core, made a GPU lane start
// there behind the CPU lane already computing: on the H100 machine the GPU
// lane of an image-parallel run began 1.9-3.5 ms after the CPU's, 3-5% of
// SqueezeNet v1.1's 100 images. So the creator moves to each lane's cores
// to create it, and back to its own cores after.
typedef struct cores_saved {
#if defined(__linux__)
    cpu_set_t set;
#endif
    bool ok;
} cores_saved;

static void cores_save(cores_saved *c)
{
#if defined(__linux__)
    c->ok = pthread_getaffinity_np(pthread_self(), sizeof c->set, &c->set) == 0;
#else
    c->ok = false;
#endif
}

static void cores_restore(const cores_saved *c)
{
#if defined(__linux__)
    if (c->ok) pthread_setaffinity_np(pthread_self(), sizeof c->set, &c->set);
#else
    (void)c;
#endif
}

// The next image's index, or n_images when none is left (or a lane failed).
static int next_image(het_stream *s)
{
    return atomic_load(&s->failed) ? s->n_images : atomic_fetch_add(&s->next_image, 1);
}

// Gives slot `sl` image `img`'s input: points the slot's input blob at it
// where the slot's backends allow (make_slot), else copies it in, by the
// threads of CPU backend `pool` where given (taking `lk` around it where
// given: the caller may hold it).
static void copy_input(het_stream *s, slot *sl, int img, het_backend *pool, het_fifo_lock *lk)
{
    int in = s->g->inputs[0];
    const float *src = s->inputs + (size_t)img * s->in_stride;
    if (sl->borrow) {
        het_workspace_borrow(sl->ws, in, src);
        return;
    }
    float *dst = het_workspace_blob(sl->ws, in);
    if (pool) {
        if (lk) het_fifo_take(lk);
        pool->ops->host_copy(pool, dst, src, s->in_count);
        if (lk) het_fifo_give(lk);
    } else {
        memcpy(dst, src, s->in_count * sizeof(float));
    }
}

// The first stage: gives slot `si` the next image (its input copied in);
// false when none is left (the caller puts the slot back in the free queue).
static bool load_image(het_stream *s, int si, bool pool, bool holds)
{
    int img = next_image(s);
    if (img >= s->n_images) return false;
    s->slots[si].image = img;
    copy_input(s, &s->slots[si], img, pool ? s->be[0] : NULL, holds ? NULL : &s->lock[0]);
    return true;
}

// A CPU-only stage takes the CPU for the whole stage (its turn, then the
// CPU backend's lock, which the slot's executor then leaves alone) ...
static void cpu_take(het_stream *s, slot *sl)
{
    het_fifo_take(&s->cpu_turn);
    het_fifo_take(&s->lock[0]);
    het_hexec_set_locks(sl->hx, NULL, &s->lock[1]);
}

// ... gives the slot's executor its CPU lock back before the slot goes to
// another stage, whose thread runs that executor next: restored after the
// hand-on, a stage of CPU and GPU work could find no lock when it took the
// CPU and the lock when it gave it back, a give without a take, after
// which the first-come first-served lock never served again (a hang seen
// on ResNet-50's CPU | split | GPU pipeline) ...
static void cpu_restore(het_stream *s, slot *sl) { het_hexec_set_locks(sl->hx, &s->lock[0], &s->lock[1]); }

// ... and gives the CPU back only once the image has been handed on. The
// CPU stages' threads share a core (the CPU backend's first), so the stage
// woken here can take that core at once; handed on later, the image
// waited with the preempted thread: on the H100 machine, MobileNet's
// CPU | GPU | CPU pipeline fed its GPU stage up to 1.8 ms late.
static void cpu_give(het_stream *s)
{
    het_fifo_give(&s->lock[0]);
    het_fifo_give(&s->cpu_turn);
}

// An early stage (stage_main) hands on its held image `si`: it waits for
// the image's GPU work (and the copies behind it), then passes it to the
// next stage. The stage's busy time for it, shown ending at the hand-on:
// the issue since the last hand-on (the next image's, mostly) and the wait.
static void hand_on_held(het_stream *s, int st_i, int si, uint64_t *issued_ns)
{
    slot *sl = &s->slots[si];
    uint64_t a = het_now_ns();
    het_status st = het_hexec_sync(sl->hx);
    uint64_t b = het_now_ns();
    if (st != HET_OK) fail(s, st);
    uint64_t busy = *issued_ns + (b - a);
    *issued_ns = 0;
    if (!atomic_load(&s->failed)) {
        record(s, st_i, sl->image, b - busy, b);
        s->rep->lane_busy_ms[st_i] += (double)busy / 1e6;
    }
    q_push(&s->q[st_i + 1], si);
}

static void *stage_main(void *arg)
{
    lane_arg *la = arg;
    het_stream *s = la->s;
    int st_i = la->lane, S = s->p->n_stages;
    int first = s->p->stage_first[st_i], end = s->p->stage_first[st_i + 1];
    bool uses_cpu = lane_uses_cpu(s, true, st_i), uses_gpu = false, cpu_only = true;
    for (int l = first; l < end; l++) {
        uses_gpu |= s->p->gpu_ratio[l] > 0.0f;
        cpu_only &= s->p->gpu_ratio[l] == 0.0f;
    }
    // A first stage that ends waiting for the GPU loads the next image
    // meanwhile: where the input must be copied (a zero-copy device,
    // copy_input), copied between images it cost the stage's thread
    // 0.06-0.16 ms an image on the H100 machine (600 KB from memory), 8% of
    // SqueezeNet v1.1's first stage, on every image.
    // A stage on the GPU alone that is not the last keeps two images in
    // flight, as an image-parallel GPU lane does (lane_ahead): it issues an
    // image, then waits for the one before and hands that one on, so the
    // GPU has the next image's work queued while the host waits and issues.
    // The blobs the next stage reads on the CPU are copied back behind the
    // image's kernels (het_hexec_prefetch_host), so the wait covers them and
    // the next stage does not call the driver at all.
    // Only where the device runs images at once (overlaps_images): on the
    // H100 machine two-group pipelines went 1.15x (SqueezeNet v1.0) and
    // 1.35x (GoogLeNet) faster than image by image; on the build machine's
    // PoCL, whose queues share its one core, the example GPU | CPU plan
    // lost 4% (68.6 against 72.0 images/s, three alternating runs each).
    // The stage once handed each image on as soon as it was issued and the
    // next stage waited for it, but a thread waiting in NVIDIA's driver
    // (clFinish) slows every other thread's enqueues there (6-9 us a kernel
    // against about 5, experiments/gpu_machine/cl_transfer_probe.c): the
    // H100's pipelines ran 10-24% below the GPU's own stream.
    bool early = stage_streams(s, st_i);
    bool prefetch = st_i == 0 && S > 1 && uses_gpu && !early;
    // A first stage that computes on the CPU copies with the CPU's threads
    // when no other stage needs them meanwhile: it holds the CPU (CPU-only),
    // or every later stage runs on the GPU.
    bool pool = st_i == 0 && uses_cpu && s->be[0] && s->be[0]->ops->host_copy;
    for (int l = end; pool && !cpu_only && l < s->g->n_layers; l++) pool = s->p->gpu_ratio[l] == 1.0f;
    int loaded = -1; // a slot holding the next image already
    int held = -1;   // an early stage's image issued and not yet handed on
    uint64_t issued_ns = 0; // an early stage's issue time since its last hand-on
    pin_lane(s, true, st_i);
    for (;;) {
        int si = loaded >= 0 ? loaded : held >= 0 ? q_trypop(&s->q[st_i]) : q_pop(&s->q[st_i]);
        if (si == -2) {
            // Nothing to issue next: the held image goes on now. Held while
            // waiting, it could be the slot the stages before need (with
            // more stages than slots, every slot held so, a hang).
            hand_on_held(s, st_i, held, &issued_ns);
            held = -1;
            si = q_pop(&s->q[st_i]);
        }
        if (si == POISON) {
            if (held >= 0) hand_on_held(s, st_i, held, &issued_ns);
            if (st_i + 1 < S) q_push(&s->q[st_i + 1], POISON);
            break;
        }
        slot *sl = &s->slots[si];
        bool holds = cpu_only && !atomic_load(&s->failed);
        if (holds) cpu_take(s, sl);
        if (st_i == 0 && loaded < 0 && !load_image(s, si, pool, holds)) {
            if (holds) cpu_restore(s, sl);
            q_push(&s->q[0], si);
            if (holds) cpu_give(s);
            if (held >= 0) hand_on_held(s, st_i, held, &issued_ns);
            if (S > 1) q_push(&s->q[1], POISON);
            break;
        }
        loaded = -1;
        if (st_i == 0) sl->t_start = het_now_ns();
        if (!atomic_load(&s->failed)) {
            // Busy from here: the wait for the CPU's turn is idle time, not
            // the stage's (the timeline and the stage's busy time say so).
            uint64_t a = het_now_ns();
            het_status st = het_hexec_run_range(sl->hx, first, end, st_i == 0, st_i == S - 1, !prefetch && !early);
            // What the next stage's CPU share reads goes to the host behind
            // the kernels, so that the next stage waits once for both.
            if (early && st == HET_OK) st = het_hexec_prefetch_host(sl->hx, end, s->p->stage_first[st_i + 2]);
            if (early && st == HET_OK) st = het_hexec_flush(sl->hx);
            if (prefetch) {
                if (st == HET_OK) st = het_hexec_flush(sl->hx);
                int next = q_trypop(&s->q[0]);
                if (next >= 0) {
                    if (load_image(s, next, false, false)) loaded = next;
                    else q_push(&s->q[0], next); // no image left for it
                }
                het_status sst = het_hexec_sync(sl->hx);
                if (st == HET_OK) st = sst;
            }
            uint64_t b = het_now_ns();
            if (st != HET_OK) fail(s, st);
            if (early) {
                // This image stays in flight; the one before goes on.
                issued_ns += b - a;
                if (held >= 0) hand_on_held(s, st_i, held, &issued_ns);
                held = si;
                continue;
            }
            record(s, st_i, sl->image, a, b);
            s->rep->lane_busy_ms[st_i] += (double)(b - a) / 1e6;
            if (st_i == S - 1 && st == HET_OK) {
                if (s->outputs)
                    memcpy(s->outputs + (size_t)sl->image * s->out_count, het_workspace_blob(sl->ws, s->out_blob),
                           s->out_count * sizeof(float));
                s->rep->latency_ms[sl->image] = (double)(b - sl->t_start) / 1e6;
            }
        }
        if (holds) cpu_restore(s, sl);
        q_push(&s->q[st_i + 1 < S ? st_i + 1 : 0], si);
        if (holds) cpu_give(s);
    }
    return NULL;
}

// Image-parallel, at the end of the stream: whether `lane` should take
// another image. Not when the other lanes, at the rates they have shown,
// would finish every image left before this lane finished one: the slower
// device would otherwise hold the stream up with the last image (with 100
// images, MobileNet on the H100 machine took 122 ms where its rates allow
// 110: the CPU's last image, 4.9 ms, started as the GPU ran out).
static bool take_image(het_stream *s, int lane)
{
    int left = s->n_images - atomic_load(&s->next_image);
    int mine = atomic_load(&s->lane_images[lane]);
    if (left <= 0 || mine == 0) return true; // no rate of its own yet
    double my_ms = (double)atomic_load(&s->lane_ns[lane]) / 1e6 / mine, others_rate = 0; // images per ms
    for (int j = 0; j < s->n_lanes; j++) {
        int n = atomic_load(&s->lane_images[j]);
        if (j == lane) continue;
        if (n == 0) return true; // a lane not yet measured: no judgement
        others_rate += n / ((double)atomic_load(&s->lane_ns[j]) / 1e6);
    }
    if (others_rate <= 0 || left / others_rate > my_ms) return true;
    // Stop, unless this is the last lane still taking images (two equally
    // fast lanes could otherwise both leave the last image).
    int k = atomic_load(&s->lanes_taking);
    while (k > 1)
        if (atomic_compare_exchange_weak(&s->lanes_taking, &k, k - 1)) return false;
    return true;
}

int het_stream_gpu_in_flight(const het_backend *gpu)
{
    return gpu && gpu->ops->overlaps_images && gpu->ops->overlaps_images(gpu) ? 2 : 1;
}

// Slot `sl` ran image `img` to its end: the lane's times (busy from `a` to
// `b`) and the output; the image's latency counts from `start`.
static void lane_done(het_stream *s, int lane, const slot *sl, int img, uint64_t start, uint64_t a, uint64_t b)
{
    record(s, lane, img, a, b);
    s->rep->lane_busy_ms[lane] += (double)(b - a) / 1e6;
    s->rep->latency_ms[img] = (double)(b - start) / 1e6;
    atomic_fetch_add(&s->lane_ns[lane], b - a);
    atomic_fetch_add(&s->lane_images[lane], 1);
    if (s->outputs)
        memcpy(s->outputs + (size_t)img * s->out_count, het_workspace_blob(sl->ws, s->out_blob),
               s->out_count * sizeof(float));
}

// The lane's next image, or -1: none left, or (at the end of the stream)
// the other lanes will finish them sooner. Warming, a lane takes `quota`.
static int lane_next(het_stream *s, int lane, int taken, int quota)
{
    if (s->one_each ? taken >= quota : !take_image(s, lane)) return -1;
    int img = next_image(s);
    return img < s->n_images ? img : -1;
}

// A lane with one slot: image after image.
static void lane_serial(het_stream *s, int lane)
{
    slot *sl = &s->slots[lane];
    het_backend *be = s->lane_be[lane];
    het_backend *pool = s->lane_dev[lane] == 0 && be->ops->host_copy ? be : NULL;
    int taken = 0;
    for (int img; (img = lane_next(s, lane, taken, 1)) >= 0;) {
        copy_input(s, sl, img, pool, cpu_lock(s));
        taken++;
        uint64_t a = het_now_ns();
        het_status st = het_hexec_run_range(sl->hx, 0, s->g->n_layers, true, true, true);
        uint64_t b = het_now_ns();
        if (st != HET_OK) {
            fail(s, st);
            return;
        }
        lane_done(s, lane, sl, img, a, a, b);
    }
}

// Issues image `img` on slot `sl` without waiting for it (and submits it).
static het_status issue(het_stream *s, slot *sl, int img)
{
    copy_input(s, sl, img, NULL, NULL);
    het_status st = het_hexec_run_range(sl->hx, 0, s->g->n_layers, true, false, false);
    return st == HET_OK ? het_hexec_flush(sl->hx) : st;
}

// A GPU lane with two slots: the next image is issued before the lane
// waits for the current one, so the GPU has work queued while the host
// fetches an output and issues the image after. On the H100 machine the
// host issues SqueezeNet v1.1's kernels about as fast as the GPU runs
// them: image after image, the GPU waited for every image's input copy,
// its issue and its output fetch. The lane's busy intervals are made
// disjoint (each starts where the previous ended), and an image's latency
// counts from its issue.
static void lane_ahead(het_stream *s, int lane, int spare)
{
    int L = s->g->n_layers, cur = lane, other = spare, taken = 0;
    int img = lane_next(s, lane, taken, 2);
    if (img < 0) return;
    uint64_t start = het_now_ns(), a = start;
    het_status st = issue(s, &s->slots[cur], img);
    taken++;
    while (st == HET_OK) {
        int next = lane_next(s, lane, taken, 2);
        uint64_t next_start = het_now_ns();
        if (next >= 0) {
            st = issue(s, &s->slots[other], next);
            taken++;
        }
        // The outputs and the wait: run_range's own finish, over no layers.
        het_status fst = het_hexec_run_range(s->slots[cur].hx, L, L, false, true, true);
        if (st == HET_OK) st = fst;
        uint64_t b = het_now_ns();
        if (st != HET_OK) break;
        lane_done(s, lane, &s->slots[cur], img, start, a, b);
        if (next < 0) return;
        img = next, start = next_start, a = b;
        int t = cur;
        cur = other, other = t;
    }
    // Neither slot may be left with work in flight.
    het_hexec_sync(s->slots[cur].hx);
    het_hexec_sync(s->slots[other].hx);
    fail(s, st);
}

// An image-parallel lane: a GPU lane that runs images at once has a second
// slot (lane_ahead), other lanes one.
static void *device_main(void *arg)
{
    lane_arg *la = arg;
    het_stream *s = la->s;
    int lane = la->lane;
    pin_lane(s, false, lane);
    if (s->lane_dev[lane] == 1 && s->spare_slot >= 0) lane_ahead(s, lane, s->spare_slot);
    else lane_serial(s, lane);
    return NULL;
}

// A slot for plan `p`, its CPU work on `cpu` (the stream's CPU backend, or
// an image-parallel lane's own).
static het_status make_slot(het_stream *s, slot *sl, const het_plan *p, het_backend *cpu)
{
    het_status st = het_workspace_create_for(s->g, p->uses_gpu ? s->be[1] : NULL, &sl->ws);
    if (st == HET_OK && p->uses_gpu) st = het_exec_bind(s->be[1], s->g, sl->ws);
    if (st == HET_OK) st = het_hexec_create(s->g, p, p->uses_cpu ? cpu : NULL, p->uses_gpu ? s->be[1] : NULL,
                                            sl->ws, &sl->hx);
    if (st == HET_OK) het_hexec_set_locks(sl->hx, cpu_lock(s), &s->lock[1]);
    // No copy of each image into the slot where the layers can read it in
    // the stream's input array: on the H100 machine the GPU's host thread
    // is the bottleneck (it enqueues SqueezeNet v1.1's kernels about as fast
    // as the GPU runs them), and copying the next image's 600 KB in while
    // the GPU ran took its image-parallel lane from 0.55 to 0.65 ms an image.
    // A zero-copy device computes in the slot's own memory: it keeps copying.
    bool zero_copy = p->uses_gpu && s->be[1]->ops->binds_host && s->be[1]->ops->binds_host(s->be[1]);
    if (st == HET_OK) sl->borrow = !zero_copy && het_workspace_borrow(sl->ws, s->g->inputs[0], NULL) == HET_OK;
    return st;
}

void het_stream_report_free(het_stream_report *rep)
{
    if (!rep) return;
    free(rep->latency_ms);
    free(rep->events);
    memset(rep, 0, sizeof *rep);
}

void het_stream_destroy(het_stream *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_slots; i++) {
        het_hexec_destroy(s->slots[i].hx);
        het_workspace_destroy(s->slots[i].ws);
        het_plan_destroy(s->slots[i].own_plan);
    }
    het_fifo_destroy(&s->lock[0]);
    het_fifo_destroy(&s->lock[1]);
    het_fifo_destroy(&s->cpu_turn);
    free(s);
}

het_status het_stream_create(const het_graph *g, const het_plan *p, het_backend *cpu, het_backend *gpu,
                             het_stream **out)
{
    return het_stream_create_lanes(g, p, &cpu, 1, gpu, out);
}

het_status het_stream_create_lanes(const het_graph *g, const het_plan *p, het_backend *const *cpu, int n_cpu,
                                   het_backend *gpu, het_stream **out)
{
    *out = NULL;
    bool pipe = p->mode == HET_MODE_PIPELINE;
    if (!pipe && p->mode != HET_MODE_IMAGE_PARALLEL) {
        het_log(HET_LOG_ERROR, "het_stream_create: %s plans run image by image (het_hexec)", het_plan_mode_name(p->mode));
        return HET_E_INVALID;
    }
    int lanes_wanted = pipe || !p->uses_cpu ? 1 : p->cpu_lanes;
    if (p->uses_cpu && n_cpu != lanes_wanted) {
        het_log(HET_LOG_ERROR, "the plan has %d CPU lane%s but %d CPU backend%s were given", lanes_wanted,
                lanes_wanted == 1 ? "" : "s", n_cpu, n_cpu == 1 ? "" : "s");
        return HET_E_INVALID;
    }
    for (int i = 0; p->uses_cpu && i < n_cpu; i++)
        if (!cpu[i]) n_cpu = 0;
    if ((p->uses_cpu && !n_cpu) || (p->uses_gpu && !gpu)) {
        het_log(HET_LOG_ERROR, "the plan uses the %s, but no such backend was given", p->uses_gpu && !gpu ? "GPU" : "CPU");
        return HET_E_INVALID;
    }
    het_stream *s = calloc(1, sizeof *s);
    if (!s) return HET_E_NOMEM;
    *s = (het_stream){.g = g, .p = p, .be = {p->uses_cpu ? cpu[0] : NULL, gpu}, .pipe = pipe};
    het_fifo_init(&s->lock[0]);
    het_fifo_init(&s->lock[1]);
    het_fifo_init(&s->cpu_turn);
    s->in_count = het_shape_count(&g->blobs[g->inputs[0]].shape);
    s->n_cpu_lanes = p->uses_cpu ? lanes_wanted : 0;
    s->n_lanes = pipe ? p->n_stages : s->n_cpu_lanes + (int)p->uses_gpu;
    for (int i = 0; i < s->n_lanes && !pipe; i++) {
        s->lane_dev[i] = i < s->n_cpu_lanes ? 0 : 1;
        s->lane_be[i] = i < s->n_cpu_lanes ? cpu[i] : gpu;
    }
    // Slots: a pipeline needs enough for the stages that can run at once;
    // image-parallel one per device, and a second for a GPU that runs two
    // images at once (device_main). On the build machine's PoCL, whose
    // queues share the one core that issues them, the second slot only
    // made the host thread and the kernels take turns.
    s->spare_slot = !pipe && p->uses_gpu && het_stream_gpu_in_flight(gpu) > 1 ? s->n_lanes : -1;
    // A stage that keeps two images in flight (stage_streams) holds two.
    int early = 0;
    for (int i = 0; pipe && i < p->n_stages; i++) early += stage_streams(s, i);
    s->n_slots = pipe ? (p->n_stages + 1 + early < MAX_SLOTS ? p->n_stages + 1 + early : MAX_SLOTS)
                      : s->n_lanes + (s->spare_slot >= 0);
    het_status st = HET_OK;
    for (int i = 0; i < s->n_slots && st == HET_OK; i++) {
        if (pipe) {
            st = make_slot(s, &s->slots[i], p, s->be[0]);
        } else {
            bool on_gpu = i == s->spare_slot || s->lane_dev[i] == 1;
            st = het_plan_single(g, on_gpu, &s->slots[i].own_plan);
            if (st == HET_OK) st = make_slot(s, &s->slots[i], s->slots[i].own_plan, on_gpu ? NULL : s->lane_be[i]);
        }
    }
    if (st != HET_OK) {
        het_stream_destroy(s);
        return st;
    }
    *out = s;
    return HET_OK;
}

// One stream of images through the stream's slots; the per-run state starts
// afresh, the slots (their buffers, on the GPU too) are the stream's own.
static het_status stream_images(het_stream *s, int n_images, const float *inputs, size_t in_stride, bool one_each,
                                 int out_blob, float *outputs, het_stream_report *rep)
{
    bool pipe = s->pipe;
    int lanes = s->n_lanes;
    memset(rep, 0, sizeof *rep);
    s->n_images = n_images, s->inputs = inputs, s->in_stride = in_stride, s->one_each = one_each;
    s->out_blob = out_blob, s->outputs = outputs, s->rep = rep;
    s->out_count = het_shape_count(&s->g->blobs[out_blob].shape);
    atomic_store(&s->next_image, 0);
    atomic_store(&s->failed, 0);
    atomic_store(&s->n_events, 0);
    s->error = HET_OK;
    for (int i = 0; i < lanes; i++) {
        atomic_store(&s->lane_ns[i], 0);
        atomic_store(&s->lane_images[i], 0);
    }
    atomic_store(&s->lanes_taking, lanes);
    rep->n_images = n_images;
    rep->n_lanes = lanes;
    rep->latency_ms = calloc((size_t)n_images + 1, sizeof(double));
    rep->events = calloc((size_t)n_images * (size_t)lanes + 1, sizeof *rep->events);
    if (!rep->latency_ms || !rep->events) {
        het_stream_report_free(rep);
        return HET_E_NOMEM;
    }
    for (int i = 0; i < lanes; i++) {
        if (pipe) {
            float r = s->p->gpu_ratio[s->p->stage_first[i]];
            snprintf(rep->lane_name[i], sizeof rep->lane_name[i], "stage%d:%s", i + 1,
                     r == 0.0f ? "cpu" : (r == 1.0f ? "gpu" : "split"));
        } else {
            if (s->lane_dev[i] || s->n_cpu_lanes == 1)
                snprintf(rep->lane_name[i], sizeof rep->lane_name[i], "%s", s->lane_dev[i] ? "gpu" : "cpu");
            else
                snprintf(rep->lane_name[i], sizeof rep->lane_name[i], "cpu%d", i + 1);
        }
    }
    for (int i = 0; i < s->n_slots; i++) het_hexec_reset_stats(s->slots[i].hx);
    for (int d = 0; d < 2; d++) s->lock[d].waited = 0; // no thread runs yet
    het_status st = HET_OK;
    pthread_t th[HET_PLAN_MAX_STAGES];
    lane_arg args[HET_PLAN_MAX_STAGES];
    int started = 0;
    for (int i = 0; i <= (pipe ? s->p->n_stages : 0); i++) q_init(&s->q[i]);
    for (int i = 0; pipe && i < s->n_slots; i++) q_push(&s->q[0], i);
    cores_saved mine;
    cores_save(&mine);
    s->t0 = het_now_ns();
    for (int i = 0; i < lanes; i++) {
        args[i] = (lane_arg){s, i};
        if (mine.ok) pin_lane(s, pipe, i); // the lane starts where it will run
        if (pthread_create(&th[i], NULL, pipe ? stage_main : device_main, &args[i]) != 0) {
            het_log(HET_LOG_ERROR, "het_stream_run: failed to start thread %d", i);
            fail(s, HET_E_NOMEM);
            break;
        }
        started++;
    }
    cores_restore(&mine);
    // Stages that started while a later one could not: stage 0 may be
    // waiting for a free slot that will never come back; the poison
    // wakes it and then ends every started stage in turn.
    if (pipe && started < lanes && started > 0) q_push(&s->q[0], POISON);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    rep->wall_ms = ms_since(s, het_now_ns());
    rep->n_events = atomic_load(&s->n_events);
    for (int d = 0; d < 2; d++) rep->lock_waited[d] = s->lock[d].waited;
    for (int i = 0; i <= (pipe ? s->p->n_stages : 0); i++) q_destroy(&s->q[i]);
    if (atomic_load(&s->failed)) st = s->error;
    // The caller's images may go once the stream returns.
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].borrow) het_workspace_borrow(s->slots[i].ws, s->g->inputs[0], NULL);
    for (int i = 0; i < s->n_slots; i++) {
        het_xfer_stats x;
        het_hexec_stats(s->slots[i].hx, &x);
        het_xfer_stats_add(&rep->xfer, &x);
    }
    if (st != HET_OK) het_stream_report_free(rep);
    return st;
}

het_status het_stream_run(het_stream *s, int n_images, const float *inputs, int out_blob, float *outputs,
                          het_stream_report *rep)
{
    return stream_images(s, n_images, inputs, s->in_count, false, out_blob, outputs, rep);
}

het_status het_stream_warm(het_stream *s, const float *input)
{
    het_stream_report rep;
    // A pipeline's first n_slots images take the slots in turn (they leave
    // the free queue in order); an image-parallel lane takes one image per
    // slot of its own.
    het_status st = stream_images(s, s->n_slots, input, 0, !s->pipe, s->g->outputs[0], NULL,
                                  &rep);
    if (st == HET_OK) het_stream_report_free(&rep);
    return st;
}
