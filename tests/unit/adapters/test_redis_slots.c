/* Redis Cluster's key space (api/adapters/redis_slots.h): the spec's CRC16 and hash-tag rules,
 * a CLUSTER SLOTS reply read into a map, MOVED/ASK read. No socket: the replies are built here as
 * hiredis would build them (integration/test_cluster.c checks the same against a real cluster). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/redis_slots.h"

static uint16_t slot_of(const char *key)
{
    return kito_redis_key_slot(key, strlen(key));
}

Test(redis_slots, crc16_is_xmodem_with_the_specs_check_value)
{
    cr_assert_eq(kito_redis_crc16("123456789", 9), 0x31C3);
    cr_assert_eq(kito_redis_crc16("", 0), 0);
}

Test(redis_slots, well_known_keys_land_where_redis_puts_them)
{
    cr_assert_eq(slot_of("foo"), 12182);
    cr_assert_eq(slot_of("bar"), 5061);
    cr_assert_eq(slot_of("hello"), 866);
}

Test(redis_slots, a_hash_tag_is_what_lies_between_the_first_braces)
{
    cr_assert_eq(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    cr_assert_eq(slot_of("{user1000}.following"), slot_of("user1000"));
    cr_assert_eq(slot_of("foo{bar}{zap}"), slot_of("bar"));
    cr_assert_eq(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    /* an empty tag: the whole key is hashed */
    cr_assert_eq(slot_of("foo{}{bar}"), kito_redis_crc16("foo{}{bar}", 10) & 16383);
    cr_assert_eq(slot_of("{"), kito_redis_crc16("{", 1) & 16383);
    cr_assert_eq(slot_of("lot:{42}:journal"), slot_of("lot:{42}:snap"));
    cr_assert_neq(slot_of("lot:{42}:journal"), slot_of("lot:{43}:journal"));
}

Test(redis_slots, keys_are_binary_safe)
{
    const char key[] = {'a', '\0', 'b'};
    cr_assert_neq(kito_redis_key_slot(key, 3), kito_redis_key_slot(key, 1));
}

/* Builders of hiredis replies, freed with freeReplyObject like the real ones. */
static redisReply *reply(int type)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = type;
    return r;
}
static redisReply *integer(long long v)
{
    redisReply *r = reply(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}
static redisReply *string(const char *s)
{
    redisReply *r = reply(REDIS_REPLY_STRING);
    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}
static redisReply *array(size_t n, ...)
{
    redisReply *r = reply(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = calloc(n, sizeof(*r->element));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}
static redisReply *endpoint(const char *host, int port)
{
    return array(3, string(host), integer(port), string("0123456789abcdef"));
}

Test(redis_slots, a_cluster_slots_reply_becomes_a_map_of_masters_and_replicas)
{
    redisReply *r = array(
        3,
        array(4, integer(0), integer(5460), endpoint("127.0.0.1", 7001),
              endpoint("127.0.0.1", 7004)),
        array(4, integer(5461), integer(10922), endpoint("127.0.0.1", 7002),
              endpoint("127.0.0.1", 7005)),
        array(4, integer(10923), integer(16383), endpoint("", 7003), endpoint("127.0.0.1", 7006)));
    static kito_redis_slot_map map;
    cr_assert_eq(kito_redis_slot_map_read(&map, r, "10.0.0.9"), KITO_OK);
    cr_assert_eq(map.n_nodes, 6);
    cr_assert_eq(map.n_masters, 3);
    cr_assert_eq(kito_redis_slot_map_holes(&map), 0);
    cr_assert_eq(kito_redis_slot_master(&map, 0)->port, 7001);
    cr_assert_eq(kito_redis_slot_master(&map, 5460)->port, 7001);
    cr_assert_eq(kito_redis_slot_master(&map, 5461)->port, 7002);
    const kito_redis_node *third = kito_redis_slot_master(&map, 16383);
    cr_assert_eq(third->port, 7003);
    cr_assert_str_eq(third->host, "10.0.0.9", "an empty host is the address we asked");
    cr_assert_eq(third->master, -1);
    int replicas = 0;
    for (int i = 0; i < map.n_nodes; i++)
        if (map.nodes[i].master >= 0) {
            replicas++;
            cr_assert_eq(map.nodes[i].port - 3, map.nodes[map.nodes[i].master].port);
        }
    cr_assert_eq(replicas, 3);
    freeReplyObject(r);
}

Test(redis_slots, a_partial_map_has_holes_and_no_master_for_them)
{
    redisReply *r = array(1, array(3, integer(0), integer(99), endpoint("127.0.0.1", 7001)));
    static kito_redis_slot_map map;
    cr_assert_eq(kito_redis_slot_map_read(&map, r, "127.0.0.1"), KITO_OK);
    cr_assert_eq(kito_redis_slot_map_holes(&map), KITO_REDIS_SLOTS - 100);
    cr_assert_null(kito_redis_slot_master(&map, 100));
    cr_assert_not_null(kito_redis_slot_master(&map, 99));
    freeReplyObject(r);
}

Test(redis_slots, a_malformed_reply_is_refused_and_leaves_an_empty_map)
{
    static kito_redis_slot_map map;
    redisReply *good = array(1, array(3, integer(0), integer(16383), endpoint("127.0.0.1", 7001)));
    cr_assert_eq(kito_redis_slot_map_read(&map, good, "127.0.0.1"), KITO_OK);
    freeReplyObject(good);

    redisReply *bad[] = {
        string("ERR This instance has cluster support disabled"),
        array(1, array(3, integer(0), integer(16384), endpoint("127.0.0.1", 7001))),
        array(1, array(3, integer(10), integer(5), endpoint("127.0.0.1", 7001))),
        array(1, array(3, integer(0), integer(5), endpoint("127.0.0.1", 0))),
        array(1, array(2, integer(0), integer(5))),
        array(1, array(3, integer(0), integer(5), array(1, string("127.0.0.1")))),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(kito_redis_slot_map_read(&map, bad[i], "127.0.0.1"), KITO_E_BAD_REQUEST,
                     "case %zu", i);
        cr_assert_eq(map.n_nodes, 0);
        cr_assert_eq(kito_redis_slot_map_holes(&map), KITO_REDIS_SLOTS);
        freeReplyObject(bad[i]);
    }
    cr_assert_eq(kito_redis_slot_map_read(&map, NULL, "127.0.0.1"), KITO_E_BAD_REQUEST);
}

static kito_redis_redirect redirect(const char *s)
{
    return kito_redis_redirect_read(s, strlen(s));
}

Test(redis_slots, moved_and_ask_are_read_with_their_slot_and_node)
{
    kito_redis_redirect m = redirect("MOVED 3999 127.0.0.1:6381");
    cr_assert_eq(m.kind, KITO_REDIS_MOVED);
    cr_assert_eq(m.slot, 3999);
    cr_assert_str_eq(m.host, "127.0.0.1");
    cr_assert_eq(m.port, 6381);

    kito_redis_redirect a = redirect("ASK 16383 ::1:7002");
    cr_assert_eq(a.kind, KITO_REDIS_ASK);
    cr_assert_eq(a.slot, 16383);
    cr_assert_str_eq(a.host, "::1");
    cr_assert_eq(a.port, 7002);

    kito_redis_redirect unknown = redirect("MOVED 1 :7003"); /* Redis 7: "unknown endpoint" */
    cr_assert_eq(unknown.kind, KITO_REDIS_MOVED);
    cr_assert_str_eq(unknown.host, "");
    cr_assert_eq(unknown.port, 7003);
}

Test(redis_slots, other_errors_and_malformed_redirects_are_not_redirects)
{
    const char * not [] = {"ERR unknown command",
                           "MOVED",
                           "MOVED 3999",
                           "MOVED x 127.0.0.1:1",
                           "MOVED 16384 127.0.0.1:1",
                           "MOVED 1 127.0.0.1",
                           "MOVED 1 127.0.0.1:0",
                           "MOVED 1 127.0.0.1:70000",
                           "MOVED 1 127.0.0.1:12ab",
                           "ASKING",
                           "CLUSTERDOWN The cluster is down",
                           "TRYAGAIN Multiple keys request"};
    for (size_t i = 0; i < sizeof(not ) / sizeof(not [0]); i++)
        cr_assert_eq(redirect(not [i]).kind, KITO_REDIS_NOT_REDIRECT, "%s", not [i]);
}

Test(redis_slots, a_moved_slot_changes_owner_and_a_promoted_replica_becomes_a_master)
{
    redisReply *r = array(2,
                          array(4, integer(0), integer(8191), endpoint("127.0.0.1", 7001),
                                endpoint("127.0.0.1", 7004)),
                          array(3, integer(8192), integer(16383), endpoint("127.0.0.1", 7002)));
    static kito_redis_slot_map map;
    cr_assert_eq(kito_redis_slot_map_read(&map, r, "127.0.0.1"), KITO_OK);
    freeReplyObject(r);
    cr_assert_eq(map.n_masters, 2);

    /* 7001 died; its replica 7004 took over: the first MOVED names it */
    cr_assert(kito_redis_slot_map_move(&map, 42, "127.0.0.1", 7004));
    cr_assert_eq(kito_redis_slot_master(&map, 42)->port, 7004);
    cr_assert_eq(kito_redis_slot_master(&map, 43)->port, 7001, "one slot at a time");
    cr_assert_eq(map.n_masters, 3);
    cr_assert_eq(map.n_nodes, 3, "a known node is not added twice");

    cr_assert(kito_redis_slot_map_move(&map, 43, "127.0.0.1", 7009));
    cr_assert_eq(map.n_nodes, 4);
    cr_assert_eq(kito_redis_slot_master(&map, 43)->port, 7009);
}
