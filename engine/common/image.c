// image.c: JPEG (libjpeg-turbo) and PNG (libpng) decoding, and Caffe-style
// preprocessing into a planar BGR float tensor.
#include "het/io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

typedef struct jerr_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_mgr;

static void jpeg_fail(j_common_ptr cinfo)
{
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

// Corrupt-data warnings (level -1) are counted, and the first kept, for one
// line after the image: libjpeg fills what is missing with grey.
static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    jerr_mgr *e = (jerr_mgr *)cinfo->err;
    if (level < 0 && e->pub.num_warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->msg);
}

static het_status too_many_pixels(const char *path, uint64_t w, uint64_t h, uint64_t max_pixels)
{
    het_log(HET_LOG_ERROR, "%s: the image declares %llux%llu pixels, more than the %llu allowed (--max-image-pixels)",
            path, (unsigned long long)w, (unsigned long long)h, (unsigned long long)max_pixels);
    return HET_E_INVALID;
}

static het_status no_memory(const char *path, uint64_t w, uint64_t h)
{
    het_log(HET_LOG_ERROR, "%s: out of memory for the %llux%llu pixels of the image", path, (unsigned long long)w,
            (unsigned long long)h);
    return HET_E_NOMEM;
}

static het_status load_jpeg(FILE *f, const char *path, uint64_t max_pixels, het_image *out)
{
    struct jpeg_decompress_struct ci;
    jerr_mgr err;
    unsigned char *volatile pix = NULL;
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_fail;
    err.pub.emit_message = jpeg_quiet;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        free(pix);
        het_log(HET_LOG_ERROR, "%s: corrupt JPEG: %s", path, err.msg);
        return HET_E_INVALID;
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    if ((uint64_t)ci.image_width * ci.image_height > max_pixels) {
        jpeg_destroy_decompress(&ci);
        return too_many_pixels(path, ci.image_width, ci.image_height, max_pixels);
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_components != 3 || ci.output_width == 0 || ci.output_height == 0 ||
        ci.output_width > 65535 || ci.output_height > 65535) {
        jpeg_destroy_decompress(&ci);
        het_log(HET_LOG_ERROR, "%s: unsupported JPEG layout", path);
        return HET_E_INVALID;
    }
    size_t stride = (size_t)ci.output_width * 3;
    pix = malloc(stride * ci.output_height);
    if (!pix) {
        jpeg_destroy_decompress(&ci);
        return no_memory(path, ci.output_width, ci.output_height);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = pix + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    if (err.pub.num_warnings)
        het_log(HET_LOG_WARN, "%s: damaged JPEG (%s); what could not be decoded is grey", path, err.msg);
    out->w = (int)ci.output_width;
    out->h = (int)ci.output_height;
    out->rgb = pix;
    jpeg_destroy_decompress(&ci);
    return HET_OK;
}

static het_status load_png(FILE *f, const char *path, uint64_t max_pixels, het_image *out)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&im, f)) {
        het_log(HET_LOG_ERROR, "%s: corrupt PNG: %s", path, im.message);
        return HET_E_INVALID;
    }
    im.format = PNG_FORMAT_RGB;
    if ((uint64_t)im.width * im.height > max_pixels) {
        png_image_free(&im);
        return too_many_pixels(path, im.width, im.height, max_pixels);
    }
    if (im.width == 0 || im.height == 0 || im.width > 65535 || im.height > 65535) {
        png_image_free(&im);
        het_log(HET_LOG_ERROR, "%s: PNG of %ux%u pixels is not supported", path, im.width, im.height);
        return HET_E_INVALID;
    }
    unsigned char *pix = malloc(PNG_IMAGE_SIZE(im));
    if (!pix) {
        png_image_free(&im);
        return no_memory(path, im.width, im.height);
    }
    if (!png_image_finish_read(&im, NULL, pix, 0, NULL)) {
        het_log(HET_LOG_ERROR, "%s: corrupt PNG: %s", path, im.message);
        free(pix);
        png_image_free(&im);
        return HET_E_INVALID;
    }
    out->w = (int)im.width;
    out->h = (int)im.height;
    out->rgb = pix;
    return HET_OK;
}

het_status het_image_load(const char *path, uint64_t max_pixels, het_image *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        het_log(HET_LOG_ERROR, "cannot open image '%s': %s", path, strerror(errno));
        return HET_E_IO;
    }
    unsigned char magic[8] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    rewind(f);
    het_status st;
    if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
        st = load_jpeg(f, path, max_pixels, out);
    } else if (n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8)) {
        st = load_png(f, path, max_pixels, out);
    } else {
        het_log(HET_LOG_ERROR, "%s: not a JPEG or PNG image", path);
        st = HET_E_INVALID;
    }
    fclose(f);
    return st;
}

void het_image_free(het_image *im)
{
    free(im->rgb);
    im->rgb = NULL;
}

// Bilinear resize with OpenCV's convention (pixel centres at +0.5, source
// coordinates clamped to the edge), so that het and cv2.resize agree.
void het_image_to_chw(const het_image *im, int h, int w, const float mean_bgr[3], float scale, float *chw)
{
    float sy = (float)im->h / (float)h, sx = (float)im->w / (float)w;
    for (int y = 0; y < h; y++) {
        float fy = ((float)y + 0.5f) * sy - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy;
        if (y0 > im->h - 1) y0 = im->h - 1;
        int y1 = y0 + 1 < im->h ? y0 + 1 : im->h - 1;
        float wy = fy - (float)y0;
        if (wy > 1) wy = 1;
        for (int x = 0; x < w; x++) {
            float fx = ((float)x + 0.5f) * sx - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx;
            if (x0 > im->w - 1) x0 = im->w - 1;
            int x1 = x0 + 1 < im->w ? x0 + 1 : im->w - 1;
            float wx = fx - (float)x0;
            if (wx > 1) wx = 1;
            const unsigned char *p00 = im->rgb + ((size_t)y0 * im->w + x0) * 3;
            const unsigned char *p01 = im->rgb + ((size_t)y0 * im->w + x1) * 3;
            const unsigned char *p10 = im->rgb + ((size_t)y1 * im->w + x0) * 3;
            const unsigned char *p11 = im->rgb + ((size_t)y1 * im->w + x1) * 3;
            for (int c = 0; c < 3; c++) {
                int rgb = 2 - c; // BGR output from RGB pixels
                float v = (1 - wy) * ((1 - wx) * p00[rgb] + wx * p01[rgb]) + wy * ((1 - wx) * p10[rgb] + wx * p11[rgb]);
                chw[(size_t)c * h * w + (size_t)y * w + x] = (v - mean_bgr[c]) * scale;
            }
        }
    }
}
