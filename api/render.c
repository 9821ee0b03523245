#include "api/render.h"

#include "api/validate.h"

json_t *kito_render_id(const char *prefix, uint64_t key)
{
    char id[KITO_ID_SIZE];
    if (kito_id_format(prefix, key, id, sizeof(id)) != KITO_OK)
        return NULL;
    return json_string(id);
}

json_t *kito_render_money(int64_t amount_minor, const char *currency)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)amount_minor, "currency", currency);
}

json_t *kito_render_time(int64_t ms_since_epoch)
{
    char t[KITO_TIME_SIZE];
    if (kito_time_format(ms_since_epoch, t) != KITO_OK)
        return NULL;
    return json_string(t);
}

json_t *kito_render_page(json_t *items, const char *next_cursor)
{
    return json_pack("{s:o,s:s?}", "items", items, "next_cursor", next_cursor);
}
