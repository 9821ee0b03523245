/* Redis Cluster as Kito will read it (issue 20; api/adapters/redis_slots.h), against a real
 * cluster: six redis-server processes on loopback (three masters, a replica each), password
 * protected like every store here, made by the operator's `ops/kito cluster up` (ops/cluster.sh).
 * Each test builds its own cluster on free ports in its own folder and kills it; nothing is shared
 * with the test Redis.
 *   - the slot map read from CLUSTER SLOTS covers every slot, and for every key the slot we
 *     compute is CLUSTER KEYSLOT's, our master takes the write, any other master answers MOVED
 *     naming ours;
 *   - a master killed with SIGKILL: its replica is promoted, the old map's writes are refused,
 *     the first MOVED (or a re-read of CLUSTER SLOTS) gives the new master, and every key
 *     written and acknowledged with WAIT 1 before the kill is on it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "api/adapters/redis_slots.h"

#define NODES 6

typedef struct cluster {
    char dir[512];
    char password[65];
    int port[NODES];
    pid_t pid[NODES];
} cluster;

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A port whose cluster bus port (+10000) is free too. */
static int pick_port(const cluster *c, int taken)
{
    for (;;) {
        int p = 20000 + (int)(random() % 20000);
        bool dup = false;
        for (int i = 0; i < taken; i++)
            dup |= c->port[i] == p;
        if (!dup && port_free(p) && port_free(p + 10000))
            return p;
    }
}

static redisContext *connect_node(const cluster *c, int port)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *r = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!r || r->err) {
        if (r)
            redisFree(r);
        return NULL;
    }
    redisSetTimeout(r, tv);
    redisReply *a = redisCommand(r, "AUTH %s", c->password);
    bool ok = a && a->type == REDIS_REPLY_STATUS;
    freeReplyObject(a);
    if (!ok) {
        redisFree(r);
        return NULL;
    }
    return r;
}

static void cluster_start(cluster *c)
{
    const char *var = getenv("KITO_TEST_VAR"), *root = getenv("KITO_TEST_ROOT");
    cr_assert(var && root, "KITO_TEST_VAR, KITO_TEST_ROOT: run through ops/kito test");
    srandom((unsigned)(getpid() ^ time(NULL)));
    snprintf(c->dir, sizeof(c->dir), "%s/cluster-%d", var, (int)getpid());
    cr_assert(mkdir(c->dir, 0700) == 0 || errno == EEXIST);

    char ports[128] = "";
    for (int i = 0; i < NODES; i++) {
        c->port[i] = pick_port(c, i);
        snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s%d", i ? " " : "",
                 c->port[i]);
    }
    /* the operator's command builds it, so the test proves that too */
    char up[2048];
    snprintf(up, sizeof(up),
             "KITO_CLUSTER_PORTS='%s' KITO_CLUSTER_VAR='%s' KITO_CLUSTER_SECRETS='%s/secrets.env' "
             "'%s/ops/kito' cluster up >'%s/up.log' 2>&1",
             ports, c->dir, c->dir, root, c->dir);
    cr_assert_eq(system(up), 0, "ops/kito cluster up failed: see %s/up.log", c->dir);

    char path[700], line[256];
    snprintf(path, sizeof(path), "%s/secrets.env", c->dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "KITO_REDIS_ADMIN_PASSWORD=%64s", c->password) == 1)
            break;
    fclose(f);
    cr_assert(c->password[0], "no admin password in %s", path);
    for (int i = 0; i < NODES; i++) {
        snprintf(path, sizeof(path), "%s/node-%d/redis.pid", c->dir, c->port[i]);
        f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        cr_assert_eq(fscanf(f, "%d", &c->pid[i]), 1);
        fclose(f);
    }
    /* `up` returns once the slots are served and the replicas synced; the gossip may take a
     * moment more to tell node 0 about every replica */
    for (int t = 0; t < 200; t++) {
        static kito_redis_slot_map m;
        redisContext *r = connect_node(c, c->port[0]);
        redisReply *slots = r ? redisCommand(r, "CLUSTER SLOTS") : NULL;
        bool all = slots && kito_redis_slot_map_read(&m, slots, "127.0.0.1") == KITO_OK &&
                   m.n_nodes == NODES;
        freeReplyObject(slots);
        if (r)
            redisFree(r);
        if (all)
            return;
        usleep(50 * 1000);
    }
    cr_assert_fail("CLUSTER SLOTS never named every node");
}

static void cluster_stop(cluster *c)
{
    for (int i = 0; i < NODES; i++) /* not our child (redis daemonizes): no waitpid */
        if (c->pid[i] > 0) {
            kill(c->pid[i], SIGKILL);
            c->pid[i] = 0;
        }
    if (c->dir[0]) {
        char rm[600];
        snprintf(rm, sizeof(rm), "rm -rf '%s'", c->dir);
        if (system(rm) != 0)
            fprintf(stderr, "could not remove %s\n", c->dir);
    }
}

static void read_map(const cluster *c, int port, kito_redis_slot_map *map)
{
    redisContext *r = connect_node(c, port);
    cr_assert_not_null(r);
    redisReply *slots = redisCommand(r, "CLUSTER SLOTS");
    cr_assert_eq(kito_redis_slot_map_read(map, slots, "127.0.0.1"), KITO_OK);
    freeReplyObject(slots);
    redisFree(r);
}

static int index_of(const cluster *c, int port)
{
    for (int i = 0; i < NODES; i++)
        if (c->port[i] == port)
            return i;
    return -1;
}

static cluster cl;
static kito_redis_slot_map map;

static void teardown(void)
{
    cluster_stop(&cl);
}

Test(cluster, our_slots_and_map_are_the_clusters, .fini = teardown, .timeout = 120)
{
    cluster_start(&cl);
    read_map(&cl, cl.port[0], &map);
    cr_assert_eq(map.n_masters, 3);
    cr_assert_eq(map.n_nodes, NODES);
    cr_assert_eq(kito_redis_slot_map_holes(&map), 0);

    redisContext *node[NODES];
    for (int i = 0; i < NODES; i++)
        cr_assert_not_null(node[i] = connect_node(&cl, cl.port[i]));

    for (int k = 0; k < 600; k++) {
        char key[64];
        if (k % 3 == 0)
            snprintf(key, sizeof(key), "lot:{%d}:journal", k);
        else if (k % 3 == 1)
            snprintf(key, sizeof(key), "sale:{%d}:lease", k * 7919);
        else
            snprintf(key, sizeof(key), "k%ld", random());
        uint16_t slot = kito_redis_key_slot(key, strlen(key));

        redisReply *ks = redisCommand(node[0], "CLUSTER KEYSLOT %s", key);
        cr_assert_eq(ks->type, REDIS_REPLY_INTEGER);
        cr_assert_eq(ks->integer, slot, "%s: ours %u, the cluster's %lld", key, slot, ks->integer);
        freeReplyObject(ks);

        const kito_redis_node *m = kito_redis_slot_master(&map, slot);
        int mine = index_of(&cl, m->port);
        cr_assert_geq(mine, 0);
        redisReply *set = redisCommand(node[mine], "SET %s %d", key, k);
        cr_assert_eq(set->type, REDIS_REPLY_STATUS, "%s on its master: %s", key, set->str);
        freeReplyObject(set);

        /* another master refuses it, and says where it lives */
        for (int o = 0; o < map.n_nodes; o++) {
            if (map.nodes[o].master != -1 || map.nodes[o].port == m->port)
                continue;
            redisReply *wrong = redisCommand(node[index_of(&cl, map.nodes[o].port)], "GET %s", key);
            cr_assert_eq(wrong->type, REDIS_REPLY_ERROR);
            kito_redis_redirect rd = kito_redis_redirect_read(wrong->str, wrong->len);
            cr_assert_eq(rd.kind, KITO_REDIS_MOVED, "%s", wrong->str);
            cr_assert_eq(rd.slot, slot);
            cr_assert_eq(rd.port, m->port);
            freeReplyObject(wrong);
            break;
        }
    }
    for (int i = 0; i < NODES; i++)
        redisFree(node[i]);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(cluster, a_killed_master_s_replica_takes_over_with_every_acknowledged_write, .fini = teardown,
     .timeout = 120)
{
    cluster_start(&cl);
    read_map(&cl, cl.port[0], &map);

    /* writes to one lot's slot, each acknowledged only once a replica has it (WAIT 1) */
    const char *key = "lot:{4242}:journal";
    uint16_t slot = kito_redis_key_slot(key, strlen(key));
    const kito_redis_node *m = kito_redis_slot_master(&map, slot);
    int victim = index_of(&cl, m->port);
    redisContext *r = connect_node(&cl, m->port);
    cr_assert_not_null(r);
    int acked = 0;
    for (int i = 1; i <= 200; i++) {
        redisReply *x = redisCommand(r, "XADD %s %d-0 c %d", key, i, i);
        cr_assert_eq(x->type, REDIS_REPLY_STRING, "XADD: %s", x->str);
        freeReplyObject(x);
        redisReply *w = redisCommand(r, "WAIT 1 1000");
        cr_assert_eq(w->type, REDIS_REPLY_INTEGER);
        if (w->integer >= 1)
            acked = i;
        freeReplyObject(w);
        if (acked != i)
            break;
    }
    cr_assert_eq(acked, 200, "WAIT 1 must be answered by the replica");
    redisFree(r);

    double t0 = now_s();
    kill(cl.pid[victim], SIGKILL);
    cl.pid[victim] = 0;

    /* the old map's master is gone; ask a survivor until a MOVED (or the map) names the new one */
    int survivor = (victim + 1) % NODES;
    while (cl.pid[survivor] == 0)
        survivor = (survivor + 1) % NODES;
    redisContext *s = connect_node(&cl, cl.port[survivor]);
    cr_assert_not_null(s);
    int new_port = 0;
    while (!new_port && now_s() - t0 < 30) {
        redisReply *x = redisCommand(s, "XLEN %s", key);
        if (x && x->type == REDIS_REPLY_ERROR) {
            kito_redis_redirect rd = kito_redis_redirect_read(x->str, x->len);
            if (rd.kind == KITO_REDIS_MOVED && rd.port != m->port)
                new_port = rd.port;
        } else if (x && x->type == REDIS_REPLY_INTEGER) {
            new_port = cl.port[survivor]; /* the survivor is the promoted replica */
        }
        freeReplyObject(x);
        if (!new_port)
            usleep(100 * 1000);
    }
    redisFree(s);
    cr_assert_neq(new_port, 0, "no replica took over the slot in 30 s");
    cr_assert(kito_redis_slot_map_move(&map, slot, "127.0.0.1", new_port));
    cr_assert_eq(kito_redis_slot_master(&map, slot)->port, new_port);

    redisContext *n = connect_node(&cl, new_port);
    cr_assert_not_null(n);
    redisReply *len = redisCommand(n, "XLEN %s", key);
    cr_assert_eq(len->type, REDIS_REPLY_INTEGER, "%s", len->str);
    cr_assert_eq(len->integer, acked, "every write acknowledged with WAIT 1 survived the failover");
    freeReplyObject(len);
    redisReply *x = redisCommand(n, "XADD %s 201-0 c 201", key);
    cr_assert_eq(x->type, REDIS_REPLY_STRING, "the new master takes writes: %s", x->str);
    freeReplyObject(x);
    redisFree(n);
    fprintf(stderr, "cluster: slot %u failed over from :%d to :%d in %.2f s\n", slot, m->port,
            new_port, now_s() - t0);

    /* a re-read map agrees, from any survivor */
    static kito_redis_slot_map fresh;
    read_map(&cl, new_port, &fresh);
    cr_assert_eq(kito_redis_slot_master(&fresh, slot)->port, new_port);
}
