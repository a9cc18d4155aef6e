// exec.h: running a graph on backends.
//
// A workspace owns the storage of every blob for one inference: 64-byte
// aligned host buffers that het allocates itself (where buffers land in
// memory changed a peer's latency by up to 1.7x on our machines, so het
// does not leave it to chance). Executors borrow the graph, the backends
// and the workspace.
#ifndef HET_EXEC_H
#define HET_EXEC_H

#include "het/backend.h"

typedef struct het_workspace het_workspace;

/// Allocates host storage for every blob of `g` (borrowed; must outlive
/// the workspace). In-place layers share their blob's buffer.
het_status het_workspace_create(const het_graph *g, het_workspace **ws_out);
/// het_workspace_create with the blobs in `dev`'s host memory
/// (het_host_alloc): page-locked on a discrete GPU, so that its transfers
/// run at full speed. For workspaces bound to `dev`; `dev` must outlive the
/// workspace. NULL: as het_workspace_create. Nothing is allocated where
/// `dev` cannot hold the workspace (het_exec_check_fits).
het_status het_workspace_create_for(const het_graph *g, het_backend *dev, het_workspace **ws_out);
void het_workspace_destroy(het_workspace *ws);
/// Host buffer of a blob (het_shape_count floats).
float *het_workspace_blob(het_workspace *ws, int blob_id);
/// The blob table that backends read, indexed by blob id.
const het_blob_data *het_workspace_table(const het_workspace *ws);
/// Points graph input `blob` at the caller's memory `src` (read only, the
/// blob's het_shape_count floats, kept alive while it is used) instead of
/// the workspace's own storage: a stream hands each image to the layers
/// where it already is, with no copy. NULL points it back. HET_E_INVALID
/// for a blob that is not an input, or that a layer writes in place.
/// Not for a workspace bound to a backend whose binds_host says true.
het_status het_workspace_borrow(het_workspace *ws, int blob, const float *src);

/// Loads a model as het_graph_load does and, when the weights come from
/// fillers (caffemodel NULL), sets BatchNorm statistics to those of a seeded
/// synthetic input (het_exec_calibrate_batchnorm). Tools load models this way.
het_status het_net_load(const char *prototxt, const char *caffemodel, uint64_t seed, het_graph **g_out);

/// Gives every BatchNorm of `g` the per-channel mean and variance of its
/// input on one synthetic image drawn from `seed`, so random nets keep
/// activations in a sane range. Runs on a temporary 1-thread CPU backend.
het_status het_exec_calibrate_batchnorm(het_graph *g, uint64_t seed);

/// Fills the inputs of `ws` with a seeded synthetic image (uniform in
/// [-100, 100), the range of mean-subtracted pixels).
void het_exec_synthetic_inputs(const het_graph *g, het_workspace *ws, uint64_t seed);

/// Prepares every layer of `g` on `be`.
het_status het_exec_prepare(het_backend *be, const het_graph *g);

/// Whether `be`'s device can hold the storage of a workspace of `g`:
/// HET_E_NOMEM, with one message naming the blob or the total, where one
/// blob exceeds the device's largest buffer or all of them its memory.
/// Decided from the shapes, before anything is allocated; HET_OK for
/// backends that compute in host memory.
het_status het_exec_check_fits(const het_backend *be, const het_graph *g);

/// Gives a device backend the workspace (device storage mirroring it).
/// Call once after het_workspace_create; a no-op for the CPU.
het_status het_exec_bind(het_backend *be, const het_graph *g, het_workspace *ws);

/// Makes a blob's device value valid in the workspace's host storage (for
/// saving intermediate blobs); a no-op for the CPU.
het_status het_exec_fetch(het_backend *be, const het_graph *g, het_workspace *ws, int blob);

/// The in-place ReLU that directly follows convolution `l` and may run as
/// its epilogue, or NULL.
const het_layer *het_exec_fusable_relu(const het_graph *g, const het_layer *l);

/// Uploads the inputs, runs every layer of `g` on `be` in order (all
/// output channels), and downloads the outputs, fusing
/// each convolution with a following in-place ReLU where the backend can.
/// If `layer_ns` is not NULL it receives each layer's wall time (n_layers)
/// and nothing is fused, so that every layer is timed on its own.
het_status het_exec_run_single(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *layer_ns);

/// het_exec_run_single as executors run it (fused), with each unit's wall
/// time: unit_ns[i] for the unit starting at layer i (a convolution with
/// the ReLU fused into it counts once; the ReLU's entry is 0), the backend
/// synchronised after every unit. On the CPU, whose calls return when done,
/// this is the network's own timing; the profiler keeps it as each unit's
/// time in context (caches holding other layers' data, not its own).
het_status het_exec_run_units(het_backend *be, const het_graph *g, het_workspace *ws, uint64_t *unit_ns);

#endif
