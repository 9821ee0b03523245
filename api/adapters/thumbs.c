/* Photos sized for phones (api/adapters/thumbs.h). */
#include "api/adapters/thumbs.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "api/adapters/photos.h"

bool kito_thumb_width_valid(uint32_t width)
{
    return width == KITO_THUMB_SMALL || width == KITO_THUMB_LARGE;
}

/* An RGB picture, 3 bytes a pixel, rows packed. */
typedef struct rgb {
    uint32_t w, h;
    uint8_t *px; /* owned */
} rgb;

/* ---- decoding -------------------------------------------------------------------------------- */

/* libjpeg reports errors by calling error_exit, which must not return: back to the caller. */
typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
} jerr;

static void jerr_exit(j_common_ptr c)
{
    longjmp(((jerr *)c->err)->back, 1);
}

static void jerr_silent(j_common_ptr c, int level)
{
    (void)c, (void)level; /* warnings (a truncated file) are not logged per request */
}

/* Decodes a JPEG, letting libjpeg scale by 1/2, 1/4 or 1/8 while it decodes as long as the result
 * still covers want x want (the DCT does the first and largest part of the shrinking). */
static kito_err decode_jpeg(const void *bytes, size_t len, uint32_t want, rgb *out)
{
    struct jpeg_decompress_struct d;
    jerr e;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    e.mgr.emit_message = jerr_silent;
    if (setjmp(e.back) != 0) {
        jpeg_destroy_decompress(&d);
        free(px);
        return KITO_E_VALIDATION;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, bytes, (unsigned long)len);
    if (jpeg_read_header(&d, TRUE) != JPEG_HEADER_OK) {
        jpeg_destroy_decompress(&d);
        return KITO_E_VALIDATION;
    }
    if ((uint64_t)d.image_width * d.image_height > KITO_THUMB_SOURCE_PIXELS) {
        jpeg_destroy_decompress(&d);
        return KITO_E_CAPACITY;
    }
    uint32_t longest = d.image_width > d.image_height ? d.image_width : d.image_height;
    unsigned denom = 1;
    while (denom < 8 && longest / (denom * 2) >= want)
        denom *= 2;
    d.scale_num = 1;
    d.scale_denom = denom;
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    size_t stride = (size_t)d.output_width * 3;
    px = malloc(stride * d.output_height);
    if (px == NULL) {
        jpeg_destroy_decompress(&d);
        return KITO_E_NOMEM;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + stride * d.output_scanline;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    *out = (rgb){d.output_width, d.output_height, px};
    jpeg_destroy_decompress(&d);
    return KITO_OK;
}

static kito_err decode_png(const void *bytes, size_t len, rgb *out)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, bytes, len))
        return KITO_E_VALIDATION;
    if ((uint64_t)img.width * img.height > KITO_THUMB_SOURCE_PIXELS) {
        png_image_free(&img);
        return KITO_E_CAPACITY;
    }
    img.format = PNG_FORMAT_RGB; /* alpha, if any, composed over the background below */
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (px == NULL) {
        png_image_free(&img);
        return KITO_E_NOMEM;
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&img, &white, px, 0, NULL)) {
        png_image_free(&img);
        free(px);
        return KITO_E_VALIDATION;
    }
    *out = (rgb){img.width, img.height, px};
    return KITO_OK;
}

/* ---- scaling and encoding -------------------------------------------------------------------- */

/* Scales src to fit want x want by averaging the source pixels each target pixel covers (a box
 * filter: sharp enough for a thumbnail, never aliased like nearest-neighbour). A picture already
 * inside the square keeps its size. */
static kito_err scale(const rgb *src, uint32_t want, rgb *out)
{
    uint32_t w = src->w, h = src->h;
    if (w > want || h > want) {
        if (w >= h) {
            h = (uint32_t)(((uint64_t)h * want + w / 2) / w);
            w = want;
        } else {
            w = (uint32_t)(((uint64_t)w * want + h / 2) / h);
            h = want;
        }
    }
    if (w == 0)
        w = 1;
    if (h == 0)
        h = 1;
    uint8_t *px = malloc((size_t)w * h * 3);
    if (px == NULL)
        return KITO_E_NOMEM;
    for (uint32_t y = 0; y < h; y++) {
        uint32_t y0 = (uint32_t)((uint64_t)y * src->h / h);
        uint32_t y1 = (uint32_t)((uint64_t)(y + 1) * src->h / h);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t x0 = (uint32_t)((uint64_t)x * src->w / w);
            uint32_t x1 = (uint32_t)((uint64_t)(x + 1) * src->w / w);
            if (x1 <= x0)
                x1 = x0 + 1;
            uint64_t sum[3] = {0, 0, 0}, n = (uint64_t)(x1 - x0) * (y1 - y0);
            for (uint32_t sy = y0; sy < y1; sy++) {
                const uint8_t *p = src->px + ((size_t)sy * src->w + x0) * 3;
                for (uint32_t sx = x0; sx < x1; sx++, p += 3) {
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                }
            }
            uint8_t *q = px + ((size_t)y * w + x) * 3;
            for (int c = 0; c < 3; c++)
                q[c] = (uint8_t)((sum[c] + n / 2) / n);
        }
    }
    *out = (rgb){w, h, px};
    return KITO_OK;
}

static kito_err encode_jpeg(const rgb *img, char **out, size_t *out_len)
{
    struct jpeg_compress_struct c;
    jerr e;
    unsigned char *volatile mem = NULL;
    unsigned long mem_len = 0;
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jerr_exit;
    e.mgr.emit_message = jerr_silent;
    if (setjmp(e.back) != 0) {
        jpeg_destroy_compress(&c);
        free(mem);
        return KITO_E_INTERNAL;
    }
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&c, &buf, &mem_len);
    c.image_width = img->w;
    c.image_height = img->h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, KITO_THUMB_QUALITY, TRUE);
    c.optimize_coding = TRUE; /* smaller Huffman tables: a few percent, for nothing but CPU */
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->px + (size_t)c.next_scanline * img->w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    mem = buf;
    jpeg_destroy_compress(&c);
    *out = (char *)mem;
    *out_len = mem_len;
    return KITO_OK;
}

kito_err kito_thumb_make(const void *bytes, size_t len, const char *mime, uint32_t width,
                         char **out, size_t *out_len, uint32_t *w, uint32_t *h)
{
    rgb src = {0}, dst = {0};
    kito_err e;
    if (mime != NULL && strcmp(mime, "image/png") == 0)
        e = decode_png(bytes, len, &src);
    else if (mime != NULL && strcmp(mime, "image/jpeg") == 0)
        e = decode_jpeg(bytes, len, width, &src);
    else
        e = KITO_E_VALIDATION;
    if (e == KITO_OK)
        e = scale(&src, width, &dst);
    if (e == KITO_OK)
        e = encode_jpeg(&dst, out, out_len);
    if (e == KITO_OK && w != NULL)
        *w = dst.w;
    if (e == KITO_OK && h != NULL)
        *h = dst.h;
    free(src.px);
    free(dst.px);
    return e;
}

/* ---- the copies on disk ---------------------------------------------------------------------- */

static kito_err sized_path(const char *dir, const char *sha, uint32_t width, char *out, size_t cap)
{
    char photo[4096];
    kito_err e = kito_photo_path(dir, sha, photo, sizeof(photo));
    if (e != KITO_OK)
        return e;
    int n = snprintf(out, cap, "%s.w%u.jpg", photo, (unsigned)width);
    return n > 0 && (size_t)n < cap ? KITO_OK : KITO_E_CAPACITY;
}

/* Reads a whole small file into a new buffer; KITO_E_NOT_FOUND when there is none. */
static kito_err read_whole(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT ? KITO_E_NOT_FOUND : KITO_E_IO;
    kito_err e = KITO_OK;
    char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size <= 0 || (size_t)size > KITO_PHOTO_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0)
        e = KITO_E_IO;
    else if ((buf = malloc((size_t)size)) == NULL)
        e = KITO_E_NOMEM;
    else if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        e = KITO_E_IO;
    fclose(f);
    if (e != KITO_OK) {
        free(buf);
        return e;
    }
    *out = buf;
    *len = (size_t)size;
    return KITO_OK;
}

/* Writes bytes to path by a temporary name and a rename: a reader sees all of it or nothing. */
static kito_err write_atomic(const char *path, const char *bytes, size_t len)
{
    char tmp[4200];
    int tmp_len = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (tmp_len < 0 || (size_t)tmp_len >= sizeof(tmp))
        return KITO_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return KITO_E_IO;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, bytes + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool ok = done == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return KITO_E_IO;
    }
    return KITO_OK;
}

kito_err kito_thumb_get(const char *dir, const char *sha, const char *mime, uint32_t width,
                        char **out, size_t *out_len)
{
    char path[4200];
    if (!kito_thumb_width_valid(width))
        return KITO_E_VALIDATION;
    kito_err e = sized_path(dir, sha, width, path, sizeof(path));
    if (e != KITO_OK)
        return e;
    e = read_whole(path, out, out_len);
    if (e != KITO_E_NOT_FOUND)
        return e;
    char *photo = NULL;
    size_t photo_len = 0;
    e = kito_photo_read(dir, sha, &photo, &photo_len);
    if (e == KITO_OK)
        e = kito_thumb_make(photo, photo_len, mime, width, out, out_len, NULL, NULL);
    free(photo);
    if (e == KITO_OK && write_atomic(path, *out, *out_len) != KITO_OK)
        fprintf(stderr, "thumbs: cannot keep %s: %s\n", path, strerror(errno)); /* served anyway */
    return e;
}
