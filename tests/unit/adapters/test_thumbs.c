/* api/adapters/thumbs: photos sized for phones (issue 16): JPEG and PNG in, a JPEG that fits the
 * square out, proportions kept; made once and kept beside the photo. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "api/adapters/photos.h"
#include "api/adapters/thumbs.h"

/* A w x h JPEG of a colour gradient (malloc'd into *out). */
static void make_jpeg(unsigned w, unsigned h, unsigned char **out, unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    *out = NULL;
    *len = 0;
    jpeg_mem_dest(&c, out, len);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc(w * 3);
    while (c.next_scanline < h) {
        for (unsigned x = 0; x < w; x++) {
            row[x * 3] = (unsigned char)(x * 255 / w);
            row[x * 3 + 1] = (unsigned char)(c.next_scanline * 255 / h);
            row[x * 3 + 2] = 128;
        }
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
}

/* The size a JPEG says it is. */
static void jpeg_size(const char *bytes, size_t len, unsigned *w, unsigned *h)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, (const unsigned char *)bytes, (unsigned long)len);
    cr_assert_eq(jpeg_read_header(&d, TRUE), JPEG_HEADER_OK);
    *w = d.image_width;
    *h = d.image_height;
    jpeg_destroy_decompress(&d);
}

Test(thumbs, a_large_jpeg_fits_the_square_in_proportion)
{
    unsigned char *src;
    unsigned long src_len;
    make_jpeg(1200, 800, &src, &src_len);
    char *out = NULL;
    size_t len = 0;
    uint32_t w, h;
    cr_assert_eq(kito_thumb_make(src, src_len, "image/jpeg", 160, &out, &len, &w, &h), KITO_OK);
    cr_assert_eq(w, 160);
    cr_assert_eq(h, 107, "800 * 160 / 1200, rounded");
    unsigned jw, jh;
    jpeg_size(out, len, &jw, &jh);
    cr_assert_eq(jw, 160);
    cr_assert_eq(jh, 107);
    cr_assert_lt(len, src_len / 4, "a thumbnail is small: %zu of %lu bytes", len, src_len);
    free(out);
    /* portrait, and the large size */
    free(src);
    make_jpeg(900, 1800, &src, &src_len);
    cr_assert_eq(kito_thumb_make(src, src_len, "image/jpeg", 640, &out, &len, &w, &h), KITO_OK);
    cr_assert_eq(w, 320);
    cr_assert_eq(h, 640);
    free(out);
    free(src);
}

Test(thumbs, a_png_with_transparency_becomes_a_jpeg_and_a_small_one_keeps_its_size)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = 120;
    img.height = 90;
    img.format = PNG_FORMAT_RGBA;
    unsigned char *px = calloc(120 * 90, 4); /* all transparent: white once composed */
    png_alloc_size_t size = 0;
    cr_assert(png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL));
    unsigned char *png = malloc(size);
    cr_assert(png_image_write_to_memory(&img, png, &size, 0, px, 0, NULL));
    char *out = NULL;
    size_t len = 0;
    uint32_t w, h;
    cr_assert_eq(kito_thumb_make(png, size, "image/png", 160, &out, &len, &w, &h), KITO_OK);
    cr_assert_eq(w, 120, "already inside the square: its size is kept");
    cr_assert_eq(h, 90);
    cr_assert((unsigned char)out[0] == 0xFF && (unsigned char)out[1] == 0xD8, "a JPEG");
    free(out);
    free(png);
    free(px);
}

Test(thumbs, what_does_not_decode_is_refused)
{
    static const char junk[] = "\xFF\xD8\xFF this is not a JPEG at all, only its first bytes";
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(kito_thumb_make(junk, sizeof(junk), "image/jpeg", 160, &out, &len, NULL, NULL),
                 KITO_E_VALIDATION);
    cr_assert_eq(kito_thumb_make(junk, sizeof(junk), "image/png", 160, &out, &len, NULL, NULL),
                 KITO_E_VALIDATION);
    cr_assert_eq(kito_thumb_make(junk, sizeof(junk), "image/gif", 160, &out, &len, NULL, NULL),
                 KITO_E_VALIDATION);
    cr_assert_null(out);
    cr_assert(kito_thumb_width_valid(160) && kito_thumb_width_valid(640));
    cr_assert(!kito_thumb_width_valid(0) && !kito_thumb_width_valid(161) &&
              !kito_thumb_width_valid(4000));
}

Test(thumbs, the_copy_is_made_once_and_kept_beside_the_photo)
{
    char dir[] = "/tmp/kito-thumbs-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    unsigned char *src;
    unsigned long src_len;
    make_jpeg(800, 600, &src, &src_len);
    char sha[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_photo_store(dir, src, src_len, sha), KITO_OK);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(kito_thumb_get(dir, sha, "image/jpeg", 640, &out, &len), KITO_OK);
    char path[512], kept[600];
    cr_assert_eq(kito_photo_path(dir, sha, path, sizeof(path)), KITO_OK);
    snprintf(kept, sizeof(kept), "%s.w640.jpg", path);
    struct stat st;
    cr_assert_eq(stat(kept, &st), 0, "kept at %s", kept);
    cr_assert_eq((size_t)st.st_size, len);
    free(out);
    /* the kept copy is what is answered next time (overwritten here to tell them apart) */
    FILE *f = fopen(kept, "wb");
    fputs("kept", f);
    fclose(f);
    cr_assert_eq(kito_thumb_get(dir, sha, "image/jpeg", 640, &out, &len), KITO_OK);
    cr_assert_eq(len, 4);
    cr_assert(memcmp(out, "kept", 4) == 0);
    free(out);
    cr_assert_eq(kito_thumb_get(dir, sha, "image/jpeg", 200, &out, &len), KITO_E_VALIDATION);
    char missing[KITO_SHA256_HEX_SIZE];
    memset(missing, 'a', 64);
    missing[64] = '\0';
    cr_assert_eq(kito_thumb_get(dir, missing, "image/jpeg", 160, &out, &len), KITO_E_NOT_FOUND);
    free(src);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
