// model.h: the model module's interface to the rest of the engine.
//
// Reads and writes the Caffe formats: .prototxt (protobuf text format) and
// .caffemodel (protobuf binary). These types are protobuf-c's, so this header
// is for engine modules only; tools and the public API go through het/net.h.
#ifndef HET_MODEL_MODEL_H
#define HET_MODEL_MODEL_H

#include "het/het.h"

#include <stdbool.h>
#include <stdint.h>

#include "caffe.pb-c.h"

/// Parses protobuf text format `text` (length `len`) as a message of type
/// `desc`. Any field of the schema parses; no per-message code. On error,
/// logs "FILE:LINE:COL: reason" (FILE is `name`) and returns HET_E_INVALID.
/// The result is freed with protobuf_c_message_free_unpacked(msg, NULL).
het_status het_textformat_parse(const char *text, size_t len, const char *name,
                                const ProtobufCMessageDescriptor *desc,
                                ProtobufCMessage **msg_out);

/// Reads a .prototxt file into a NetParameter.
het_status het_model_read_prototxt(const char *path, Caffe__NetParameter **net_out);

/// Reads a binary .caffemodel into a NetParameter. A truncated or corrupt
/// file is HET_E_INVALID with a message naming the file.
het_status het_model_read_caffemodel(const char *path, Caffe__NetParameter **net_out);

/// Serialises `net` to `path` atomically (written to a temporary file in the
/// same folder, then renamed), so a failed write never leaves half a file.
het_status het_model_write_caffemodel(const char *path, const Caffe__NetParameter *net);

/// Reads a whole file into a NUL-terminated buffer (free with free()).
het_status het_read_file(const char *path, char **buf_out, size_t *len_out);

/// A small deterministic random generator (xoshiro128+ seeded by splitmix64),
/// so that `--seed S` gives the same weights on every platform.
typedef struct het_rng { uint32_t s[4]; } het_rng;
void het_rng_seed(het_rng *r, uint64_t seed);
uint32_t het_rng_u32(het_rng *r);
float het_rng_uniform(het_rng *r, float lo, float hi); // [lo, hi)
float het_rng_gaussian(het_rng *r, float mean, float std);

/// Fills `n` floats from a Caffe FillerParameter (NULL: He-normal, i.e.
/// msra with FAN_IN). fan_in and fan_out are Caffe's: count / num and
/// count / channels. An unknown filler type is HET_E_UNSUPPORTED.
het_status het_filler_fill(const Caffe__FillerParameter *f, float *data, size_t n,
                           int fan_in, int fan_out, het_rng *rng, const char *layer);

#endif
