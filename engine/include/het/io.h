// io.h: tensors in and out of het: .npy files and decoded images.
#ifndef HET_IO_H
#define HET_IO_H

#include "het/het.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HET_NPY_MAX_DIMS 8

/// A float32 array read from or written to a .npy file (C order).
typedef struct het_npy {
    int ndim;
    long dims[HET_NPY_MAX_DIMS];
    float *data; // malloc'd
} het_npy;

/// Reads a little-endian float32 C-order .npy (versions 1-3). Other dtypes
/// or Fortran order are HET_E_INVALID with a message saying what was found.
het_status het_npy_read(const char *path, het_npy *out);
void het_npy_free(het_npy *a);

/// Writes data (dims[0]*...*dims[ndim-1] floats) as a float32 .npy,
/// atomically (temporary file, then rename).
het_status het_npy_write(const char *path, const float *data, int ndim, const long *dims);

/// A command's output files, written as one: each goes to a temporary
/// beside its path, created when it is added (so a path that cannot be
/// written fails before any work); het_outputs_commit renames them all into
/// place, and het_outputs_destroy removes every temporary not renamed. A
/// command that fails before committing leaves none of its outputs, and an
/// existing file keeps its old content.
typedef struct het_outputs het_outputs;
het_status het_outputs_create(het_outputs **out);
/// The temporary to write `path` to (owned by the set), or NULL after one
/// message: it cannot be created, or `path` was added already.
const char *het_outputs_add(het_outputs *o, const char *path);
/// Renames every temporary over its path; HET_E_IO after one message.
het_status het_outputs_commit(het_outputs *o);
void het_outputs_destroy(het_outputs *o);

/// One piece of a file het_write_file writes.
typedef struct het_chunk {
    const void *data;
    size_t len;
} het_chunk;

/// Writes the chunks, in order, as the file at `path`, atomically: into a
/// temporary beside it, flushed to disk, then renamed over `path`, so that
/// a reader sees the old file or the whole new one and a failure leaves
/// nothing. HET_E_IO on failure, after one message unless `quiet`.
het_status het_write_file(const char *path, const het_chunk *chunks, int n, bool quiet);

/// A decoded 8-bit RGB image.
typedef struct het_image {
    int w, h;
    unsigned char *rgb; // w*h*3, malloc'd
} het_image;

/// Decodes a JPEG or PNG file (by content, not extension). A file that is
/// neither, or a corrupt one, is HET_E_INVALID naming the file, and so is
/// one whose header declares more than `max_pixels` pixels, refused before
/// anything is decoded. A JPEG with damaged data decodes with a warning.
het_status het_image_load(const char *path, uint64_t max_pixels, het_image *out);

/// Default for het_image_load's max_pixels: 64 megapixels (192 MB decoded).
#define HET_IMAGE_MAX_PIXELS ((uint64_t)64 << 20)
void het_image_free(het_image *im);

/// Caffe-style preprocessing: bilinear resize to (h, w) with OpenCV's pixel
/// centre convention, BGR channel order, (pixel - mean[c]) * scale, planar
/// CHW into `chw` (3*h*w floats).
void het_image_to_chw(const het_image *im, int h, int w, const float mean_bgr[3], float scale, float *chw);

#endif
