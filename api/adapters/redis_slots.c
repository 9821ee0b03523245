/* Redis Cluster's key space: see redis_slots.h. */
#include "api/adapters/redis_slots.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(KITO_REDIS_MAX_NODES < KITO_REDIS_NO_NODE,
               "a node index must fit owner[] beside NO_NODE");

uint16_t kito_redis_crc16(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t kito_redis_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from) /* an empty tag "{}" hashes the whole key */
            return kito_redis_crc16(key + from, (size_t)(close - (key + from))) & 16383;
    }
    return kito_redis_crc16(key, len) & 16383;
}

static void map_clear(kito_redis_slot_map *map)
{
    map->n_nodes = 0;
    map->n_masters = 0;
    memset(map->owner, KITO_REDIS_NO_NODE, sizeof(map->owner));
}

/* The index of host:port in map, added (as a replica of master, or a master when master is -1)
 * when new; -1 when the map is full. A node already known keeps its index, and becomes what this
 * entry says it is. */
static int map_node(kito_redis_slot_map *map, const char *host, int port, int master)
{
    for (int i = 0; i < map->n_nodes; i++)
        if (map->nodes[i].port == port && strcmp(map->nodes[i].host, host) == 0) {
            if (map->nodes[i].master == -1 && master != -1)
                map->n_masters--;
            else if (map->nodes[i].master != -1 && master == -1)
                map->n_masters++;
            map->nodes[i].master = master;
            return i;
        }
    if (map->n_nodes == KITO_REDIS_MAX_NODES)
        return -1;
    kito_redis_node *n = &map->nodes[map->n_nodes];
    memset(n, 0, sizeof(*n));
    strncpy(n->host, host, sizeof(n->host) - 1);
    n->port = port;
    n->master = master;
    if (master == -1)
        map->n_masters++;
    return map->n_nodes++;
}

/* [host, port, id, ...] of CLUSTER SLOTS: false when it is not that shape. */
static bool read_endpoint(const redisReply *r, const char *default_host, char *host, int *port)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[1]->type != REDIS_REPLY_INTEGER)
        return false;
    const redisReply *h = r->element[0];
    if (h->type == REDIS_REPLY_NIL || (h->type == REDIS_REPLY_STRING && h->len == 0))
        h = NULL;
    else if (h->type != REDIS_REPLY_STRING || h->len >= KITO_REDIS_HOST_SIZE)
        return false;
    const char *from = h ? h->str : default_host;
    if (strlen(from) >= KITO_REDIS_HOST_SIZE)
        return false;
    strcpy(host, from);
    long long p = r->element[1]->integer;
    if (p <= 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

kito_err kito_redis_slot_map_read(kito_redis_slot_map *map, const redisReply *reply,
                                  const char *default_host)
{
    map_clear(map);
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return KITO_E_BAD_REQUEST;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *range = reply->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER)
            goto bad;
        long long from = range->element[0]->integer, to = range->element[1]->integer;
        if (from < 0 || to < from || to >= KITO_REDIS_SLOTS)
            goto bad;
        char host[KITO_REDIS_HOST_SIZE];
        int port;
        if (!read_endpoint(range->element[2], default_host, host, &port))
            goto bad;
        int master = map_node(map, host, port, -1);
        if (master < 0)
            goto bad;
        for (size_t r = 3; r < range->elements; r++) {
            if (!read_endpoint(range->element[r], default_host, host, &port))
                goto bad;
            if (map_node(map, host, port, master) < 0)
                goto bad;
        }
        memset(map->owner + from, master, (size_t)(to - from + 1));
    }
    return KITO_OK;
bad:
    map_clear(map);
    return KITO_E_BAD_REQUEST;
}

const kito_redis_node *kito_redis_slot_master(const kito_redis_slot_map *map, uint16_t slot)
{
    if (slot >= KITO_REDIS_SLOTS || map->owner[slot] == KITO_REDIS_NO_NODE)
        return NULL;
    return &map->nodes[map->owner[slot]];
}

int kito_redis_slot_map_holes(const kito_redis_slot_map *map)
{
    int holes = 0;
    for (int s = 0; s < KITO_REDIS_SLOTS; s++)
        holes += map->owner[s] == KITO_REDIS_NO_NODE;
    return holes;
}

kito_redis_redirect kito_redis_redirect_read(const char *error, size_t len)
{
    kito_redis_redirect r = {.kind = KITO_REDIS_NOT_REDIRECT};
    kito_redis_redirect_kind kind;
    size_t skip;
    if (len > 6 && memcmp(error, "MOVED ", 6) == 0)
        kind = KITO_REDIS_MOVED, skip = 6;
    else if (len > 4 && memcmp(error, "ASK ", 4) == 0)
        kind = KITO_REDIS_ASK, skip = 4;
    else
        return r;
    char text[KITO_REDIS_HOST_SIZE + 32];
    if (len - skip >= sizeof(text))
        return r;
    memcpy(text, error + skip, len - skip);
    text[len - skip] = '\0';

    char *end;
    long slot = strtol(text, &end, 10);
    if (end == text || *end != ' ' || slot < 0 || slot >= KITO_REDIS_SLOTS)
        return r;
    char *endpoint = end + 1;
    char *colon = strrchr(endpoint, ':');
    if (!colon || (size_t)(colon - endpoint) >= KITO_REDIS_HOST_SIZE)
        return r;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535)
        return r;
    memcpy(r.host, endpoint, (size_t)(colon - endpoint));
    r.host[colon - endpoint] = '\0';
    r.port = (int)port;
    r.slot = (uint16_t)slot;
    r.kind = kind;
    return r;
}

bool kito_redis_slot_map_move(kito_redis_slot_map *map, uint16_t slot, const char *host, int port)
{
    if (slot >= KITO_REDIS_SLOTS || strlen(host) >= KITO_REDIS_HOST_SIZE)
        return false;
    int node = map_node(map, host, port, -1);
    if (node < 0)
        return false;
    map->owner[slot] = (uint8_t)node;
    return true;
}
