/* api/common/csv.h: RFC 4180 fields and rows, amounts, and no formula from free text. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "api/common/csv.h"

Test(csv, fields_rows_and_quoting)
{
    kito_csv c = {0};
    kito_csv_text(&c, "lot_number");
    kito_csv_text(&c, "variety");
    kito_csv_end_row(&c);
    kito_csv_int(&c, 7);
    kito_csv_text(&c, "blue, violet \"AAA\"");
    kito_csv_text(&c, NULL);
    kito_csv_text(&c, "two\nlines");
    kito_csv_end_row(&c);
    cr_assert_not(c.failed);
    cr_assert_str_eq(c.buf,
                     "lot_number,variety\r\n7,\"blue, violet \"\"AAA\"\"\",,\"two\nlines\"\r\n");
    cr_assert_eq(c.len, strlen(c.buf));
    kito_csv_free(&c);
    kito_csv_free(&c); /* twice is harmless */
    kito_csv_free(NULL);
}

Test(csv, amounts_in_minor_units)
{
    kito_csv c = {0};
    kito_csv_minor(&c, 125050);
    kito_csv_minor(&c, 5);
    kito_csv_minor(&c, 0);
    kito_csv_minor(&c, -305);
    kito_csv_minor(&c, INT64_MIN);
    kito_csv_end_row(&c);
    cr_assert_str_eq(c.buf, "1250.50,0.05,0.00,-3.05,-92233720368547758.08\r\n");
    kito_csv_free(&c);
}

Test(csv, free_text_never_becomes_a_formula)
{
    kito_csv c = {0};
    kito_csv_text(&c, "=HYPERLINK(\"http://x\")");
    kito_csv_text(&c, "+1");
    kito_csv_text(&c, "-2");
    kito_csv_text(&c, "@SUM(A1)");
    kito_csv_text(&c, "tanzanite");
    kito_csv_end_row(&c);
    cr_assert_str_eq(
        c.buf, "\"'=HYPERLINK(\"\"http://x\"\")\",\"'+1\",\"'-2\",\"'@SUM(A1)\",tanzanite\r\n");
    kito_csv_free(&c);
}

Test(csv, stops_at_its_bound)
{
    kito_csv c = {0};
    static char big[1 << 20];
    memset(big, 'x', sizeof(big) - 1);
    for (int i = 0; i < 9 && !c.failed; i++)
        kito_csv_text(&c, big);
    cr_assert(c.failed);
    cr_assert(c.len <= KITO_CSV_MAX);
    kito_csv_free(&c);
}
