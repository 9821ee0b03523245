/* Photo type detection and content-addressed storage (api/adapters/photos.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/adapters/photos.h"

static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13,
                                    'I',  'H', 'D', 'R', 0,    0,    0,    1,    0, 0, 0, 1};
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I',  'F',  0, 1,
                                     1,    0,    0,    1,    0, 1,  0,   0,   0xff, 0xd9, 0, 0};

Test(photos, magic_numbers_decide_the_type)
{
    cr_assert_str_eq(kito_photo_detect(png, sizeof(png)), "image/png");
    cr_assert_str_eq(kito_photo_detect(jpeg, sizeof(jpeg)), "image/jpeg");
    cr_assert_null(kito_photo_detect(png, sizeof(png) - 1)); /* too short to be a picture */
    unsigned char gif[24] = "GIF89a";
    cr_assert_null(kito_photo_detect(gif, sizeof(gif)));
    unsigned char no_ihdr[sizeof(png)];
    memcpy(no_ihdr, png, sizeof(png));
    no_ihdr[12] = 'X';
    cr_assert_null(kito_photo_detect(no_ihdr, sizeof(no_ihdr)));
    cr_assert_null(kito_photo_detect(NULL, 0));
}

Test(photos, content_types)
{
    cr_assert_str_eq(kito_photo_content_type("image/png", 9), "image/png");
    cr_assert_str_eq(kito_photo_content_type("IMAGE/JPEG; q=1", 15), "image/jpeg");
    cr_assert_str_eq(kito_photo_content_type("image/jpg", 9), "image/jpeg");
    cr_assert_null(kito_photo_content_type("image/pngx", 10));
    cr_assert_null(kito_photo_content_type("image/gif", 9));
    cr_assert_null(kito_photo_content_type("application/json", 16));
}

Test(photos, stored_once_by_sha256_and_read_back)
{
    char dir[] = "/tmp/kito-photos-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    char sha[KITO_SHA256_HEX_SIZE], sha2[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_photo_store(sub, png, sizeof(png), sha), KITO_OK);
    cr_assert(kito_photo_sha_valid(sha, strlen(sha)));
    cr_assert_eq(kito_photo_store(sub, png, sizeof(png), sha2), KITO_OK);
    cr_assert_str_eq(sha, sha2);
    char *bytes = NULL;
    size_t len = 0;
    cr_assert_eq(kito_photo_read(sub, sha, &bytes, &len), KITO_OK);
    cr_assert_eq(len, sizeof(png));
    cr_assert_eq(memcmp(bytes, png, len), 0);
    free(bytes);
    cr_assert_eq(kito_photo_read(sub,
                                 "0000000000000000000000000000000000000000000000000000000000000000",
                                 &bytes, &len),
                 KITO_E_NOT_FOUND);
    cr_assert_eq(kito_photo_read(sub, "../../etc/passwd", &bytes, &len), KITO_E_NOT_FOUND);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test $(find '%s' -name '.tmp-*' | wc -l) -eq 0 && rm -rf '%s'", dir,
             dir);
    cr_assert_eq(system(cmd), 0, "a temporary file was left behind");
}
