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
 *     written and acknowledged with WAIT 1 before the kill is on it;
 *   - MariaDB: `ops/kito cluster up mysql` makes a primary and a semi-synchronous replica; every
 *     commit the primary acknowledged is on the replica, which after the primary's SIGKILL and
 *     `ops/kito cluster promote` takes writes;
 *   - while a slot migrates, the client follows ASK to the importing node and keeps its map;
 *   - Kito's cluster client (api/adapters/redis_cluster.h) writes 48 lots' journals through a
 *     master's SIGKILL and its return as a replica: every entry it acknowledged (XADD, then WAIT 1
 *     from a replica) is there once, in order, and the client crossed the failover (MOVED or
 *     retries counted). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <mysql.h>
#include <uv.h>

#include "api/adapters/redis_cluster.h"
#include "api/adapters/redis_slots.h"

#define NODES 6

typedef struct cluster {
    char dir[512];
    char password[65];
    char ports[128]; /* "p1 p2 ...", masters first, as ops/kito cluster takes them */
    bool pids_read;  /* pid[] holds what `up` started (0: killed by the test) */
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

static void cluster_up(cluster *c)
{
    char up[2048];
    snprintf(up, sizeof(up),
             "KITO_CLUSTER_PORTS='%s' KITO_CLUSTER_VAR='%s' KITO_CLUSTER_SECRETS='%s/secrets.env' "
             "'%s/ops/kito' cluster up redis >>'%s/up.log' 2>&1",
             c->ports, c->dir, c->dir, getenv("KITO_TEST_ROOT"), c->dir);
    cr_assert_eq(system(up), 0, "ops/kito cluster up failed: see %s/up.log", c->dir);
}

/* NAME's value in the cluster's secrets file (up to 64 bytes) into out. */
static void secret(const cluster *c, const char *name, char out[65])
{
    char path[700], line[256], fmt[80];
    snprintf(path, sizeof(path), "%s/secrets.env", c->dir);
    snprintf(fmt, sizeof(fmt), "%s=%%64s", name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) && sscanf(line, fmt, out) != 1)
        ;
    fclose(f);
    cr_assert(out[0], "no %s in %s", name, path);
}

/* The pid in the file fmt names (printf-style, below the cluster's folder); 0 when there is
 * none (yet). */
static int pid_file(const cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pid_file(const cluster *c, const char *fmt, ...)
{
    char name[128], path[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static void read_pid(cluster *c, int i)
{
    c->pid[i] = pid_file(c, "node-%d/redis.pid", c->port[i]);
    cr_assert_gt(c->pid[i], 0, "no pid in %s/node-%d/redis.pid", c->dir, c->port[i]);
}

static void cluster_start(cluster *c)
{
    const char *var = getenv("KITO_TEST_VAR"), *root = getenv("KITO_TEST_ROOT");
    cr_assert(var && root, "KITO_TEST_VAR, KITO_TEST_ROOT: run through ops/kito test");
    srandom((unsigned)(getpid() ^ time(NULL)));
    snprintf(c->dir, sizeof(c->dir), "%s/cluster-%d", var, (int)getpid());
    cr_assert(mkdir(c->dir, 0700) == 0 || errno == EEXIST);

    for (int i = 0; i < NODES; i++) {
        c->port[i] = pick_port(c, i);
        size_t n = strlen(c->ports);
        snprintf(c->ports + n, sizeof(c->ports) - n, "%s%d", i ? " " : "", c->port[i]);
    }
    /* the operator's command builds it, so the test proves that too */
    cluster_up(c);

    secret(c, "KITO_REDIS_ADMIN_PASSWORD", c->password);
    for (int i = 0; i < NODES; i++)
        read_pid(c, i);
    c->pids_read = true;
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
    for (int i = 0; i < NODES; i++) {         /* not our child (redis daemonizes): no waitpid */
        if (!c->pids_read && c->port[i] != 0) /* `up` failed before we read them */
            c->pid[i] = pid_file(c, "node-%d/redis.pid", c->port[i]);
        if (c->pid[i] > 0) {
            kill(c->pid[i], SIGKILL);
            c->pid[i] = 0;
        }
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

/* ---- the cluster client through a failover ----------------------------------------------------
 */

#define LOTS 48
#define SEQS 60

struct chain {
    char key[32];
    uint16_t slot;
    int seq;   /* the entry being written: 1..SEQS */
    int acked; /* the last entry XADD took and WAIT 1 saw on a replica */
};
static struct chain chains[LOTS];
static kito_redis_cluster *client;
static uv_loop_t loop;
static int chains_done, refusals;
static int victim = -1;
static uv_timer_t rejoin_timer, guard_timer;
static void kill_master(void);

static void send_xadd(struct chain *c);

static void on_wait(redisReply *reply, void *p)
{
    struct chain *c = p;
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer >= 1)
        c->acked = c->seq++;
    /* the kill comes when the first lot is a sixth of the way: mid-run whatever the machine's
     * speed (a timer came after the end on a quiet machine, and the test saw no failover) */
    if (c == &chains[0] && c->acked == SEQS / 6 && victim < 0)
        kill_master();
    /* else: no replica confirmed it (the slot's new master has none until the old one rejoins):
     * not acknowledged; the same entry is written again, and Redis says whether it has it */
    if (c->seq > SEQS) {
        if (++chains_done == LOTS)
            uv_stop(&loop);
        return;
    }
    send_xadd(c);
}

static void on_xadd(redisReply *reply, void *p)
{
    struct chain *c = p;
    /* a resent XADD that had been applied is refused by its explicit id: it is there */
    bool there =
        reply &&
        (reply->type == REDIS_REPLY_STRING ||
         (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "equal or smaller") != NULL));
    if (!there) {
        refusals++;
        send_xadd(c);
        return;
    }
    const char *argv[] = {"WAIT", "1", "500"};
    size_t len[] = {4, 1, 3};
    cr_assert_eq(kito_redis_cluster_command(client, c->slot, 3, argv, len, on_wait, c), KITO_OK);
}

static void send_xadd(struct chain *c)
{
    char id[24];
    snprintf(id, sizeof(id), "%d-0", c->seq);
    const char *argv[] = {"XADD", c->key, id, "c", id};
    size_t len[] = {4, strlen(c->key), strlen(id), 1, strlen(id)};
    cr_assert_eq(kito_redis_cluster_command(client, c->slot, 5, argv, len, on_xadd, c), KITO_OK);
}

static void on_rejoin(uv_timer_t *t);

static void kill_master(void)
{
    const kito_redis_node *m = kito_redis_slot_master(&map, chains[0].slot);
    victim = index_of(&cl, m->port);
    kill(cl.pid[victim], SIGKILL);
    cl.pid[victim] = 0;
    uv_timer_start(&rejoin_timer, on_rejoin, 4000, 0); /* past the failover: it rejoins */
}

static void on_rejoin(uv_timer_t *t)
{
    (void)t;
    cluster_up(&cl); /* restarts the killed node: it comes back as the new master's replica */
    read_pid(&cl, victim);
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    uv_stop(&loop);
}

Test(cluster, the_client_keeps_every_acknowledged_entry_through_a_failover, .fini = teardown,
     .timeout = 180)
{
    cluster_start(&cl);
    read_map(&cl, cl.port[0], &map);
    cr_assert_eq(uv_loop_init(&loop), 0);
    char seeds[64];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", cl.port[1]);
    struct kito_redis_cluster_params p = {
        .seeds = seeds, .password = cl.password, .timeout_ms = 3000};
    cr_assert_eq(kito_redis_cluster_create(&loop, &p, &client), KITO_OK);
    for (int i = 0; i < LOTS; i++) {
        snprintf(chains[i].key, sizeof(chains[i].key), "lot:{%d}:journal", 7000 + i);
        chains[i].slot = kito_redis_key_slot(chains[i].key, strlen(chains[i].key));
        chains[i].seq = 1;
        send_xadd(&chains[i]);
    }
    uv_timer_init(&loop, &rejoin_timer);
    uv_timer_init(&loop, &guard_timer);
    uv_timer_start(&guard_timer, on_guard, 120 * 1000, 0);
    double t0 = now_s();
    uv_run(&loop, UV_RUN_DEFAULT);

    struct kito_redis_cluster_stats st;
    kito_redis_cluster_stats(client, &st);
    fprintf(stderr,
            "cluster client: %d lots x %d entries in %.1f s across a failover: moved %llu, "
            "retried %llu, maps read %llu, timed out %llu, refused and rewritten %d\n",
            LOTS, SEQS, now_s() - t0, (unsigned long long)st.moved, (unsigned long long)st.retried,
            (unsigned long long)st.refreshed, (unsigned long long)st.timed_out, refusals);
    cr_assert_eq(chains_done, LOTS, "every lot's journal was written to its end");
    cr_assert_gt(st.moved + st.retried, 0, "the client crossed the failover");
    cr_assert_geq(victim, 0);

    kito_redis_cluster_close(client);
    uv_close((uv_handle_t *)&rejoin_timer, NULL);
    uv_close((uv_handle_t *)&guard_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);

    /* every entry once, in order, on the slot's master now */
    static kito_redis_slot_map now;
    read_map(&cl, cl.port[(victim + 1) % NODES], &now);
    for (int i = 0; i < LOTS; i++) {
        const kito_redis_node *m = kito_redis_slot_master(&now, chains[i].slot);
        redisContext *r = connect_node(&cl, m->port);
        cr_assert_not_null(r);
        redisReply *x = redisCommand(r, "XRANGE %s - +", chains[i].key);
        cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
        cr_assert_eq(x->elements, SEQS, "%s holds %zu entries", chains[i].key, x->elements);
        for (size_t e = 0; e < x->elements; e++) {
            char want[24];
            snprintf(want, sizeof(want), "%zu-0", e + 1);
            cr_assert_str_eq(x->element[e]->element[0]->str, want);
        }
        cr_assert_eq(chains[i].acked, SEQS);
        freeReplyObject(x);
        redisFree(r);
    }
}

static void on_answer(redisReply *reply, void *p)
{
    char *out = p;
    snprintf(out, 64, "%s", reply ? (reply->str ? reply->str : "(not a string)") : "(none)");
    uv_stop(&loop);
}

static char *node_id(int port)
{
    static char ids[2][64];
    static int which;
    redisContext *r = connect_node(&cl, port);
    cr_assert_not_null(r);
    redisReply *x = redisCommand(r, "CLUSTER MYID");
    cr_assert_eq(x->type, REDIS_REPLY_STRING);
    char *id = ids[which++ % 2];
    snprintf(id, 64, "%s", x->str);
    freeReplyObject(x);
    redisFree(r);
    return id;
}

static void setslot(int port, uint16_t slot, const char *how, const char *id)
{
    redisContext *r = connect_node(&cl, port);
    redisReply *x = redisCommand(r, "CLUSTER SETSLOT %u %s %s", slot, how, id);
    cr_assert_eq(x->type, REDIS_REPLY_STATUS, "SETSLOT %s: %s", how, x->str);
    freeReplyObject(x);
    redisFree(r);
}

Test(cluster, the_client_follows_ask_while_a_slot_migrates, .fini = teardown, .timeout = 120)
{
    cluster_start(&cl);
    read_map(&cl, cl.port[0], &map);
    const char *key = "lot:{9100}:journal";
    uint16_t slot = kito_redis_key_slot(key, strlen(key));
    int from = kito_redis_slot_master(&map, slot)->port, to = 0;
    for (int i = 0; i < map.n_nodes && !to; i++)
        if (map.nodes[i].master == -1 && map.nodes[i].port != from)
            to = map.nodes[i].port;
    /* the slot migrates from `from` to `to`: a key `from` does not hold is asked of `to` */
    setslot(to, slot, "IMPORTING", node_id(from));
    setslot(from, slot, "MIGRATING", node_id(to));

    cr_assert_eq(uv_loop_init(&loop), 0);
    char seeds[64], answer[64] = "";
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", cl.port[0]);
    struct kito_redis_cluster_params p = {.seeds = seeds, .password = cl.password};
    cr_assert_eq(kito_redis_cluster_create(&loop, &p, &client), KITO_OK);
    const char *argv[] = {"XADD", key, "1-0", "c", "1"};
    size_t len[] = {4, strlen(key), 3, 1, 1};
    cr_assert_eq(kito_redis_cluster_command(client, slot, 5, argv, len, on_answer, answer),
                 KITO_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_str_eq(answer, "1-0");
    struct kito_redis_cluster_stats st;
    kito_redis_cluster_stats(client, &st);
    cr_assert_eq(st.asked, 1);
    cr_assert_eq(st.moved, 0, "an ASK does not move the slot in the map");
    kito_redis_cluster_close(client);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);

    redisContext *r = connect_node(&cl, to);
    redisReply *x = redisCommand(r, "ASKING");
    freeReplyObject(x);
    x = redisCommand(r, "XLEN %s", key);
    cr_assert_eq(x->type, REDIS_REPLY_INTEGER);
    cr_assert_eq(x->integer, 1, "the entry is on the importing node");
    freeReplyObject(x);
    redisFree(r);
}

/* ---- MariaDB: a primary, its replica, a promotion ----------------------------------------------
 */

static int mysql_pid[2];

static bool mysql_pids_read;

static void stop_mysql(void)
{
    static const char *const nodes[] = {"mysql-primary", "mysql-replica"};
    for (int i = 0; i < 2; i++) {
        if (!mysql_pids_read) /* `up` failed before we read them */
            mysql_pid[i] = pid_file(&cl, "%s/mysqld.pid", nodes[i]);
        if (mysql_pid[i] > 0)
            kill(mysql_pid[i], SIGKILL);
    }
    teardown();
}

static MYSQL *as_kito(const cluster *c, int port)
{
    char password[65];
    secret(c, "KITO_MYSQL_PASSWORD", password);
    MYSQL *db = mysql_init(NULL);
    cr_assert_not_null(
        mysql_real_connect(db, "127.0.0.1", "kito", password, "kito", (unsigned)port, NULL, 0),
        ":%d: %s", port, mysql_error(db));
    return db;
}

static long long one_number(MYSQL *db, const char *sql)
{
    cr_assert_eq(mysql_query(db, sql), 0, "%s: %s", sql, mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = mysql_fetch_row(res);
    cr_assert_not_null(row, "%s: no row", sql);
    long long v = atoll(row[mysql_num_fields(res) - 1]);
    mysql_free_result(res);
    return v;
}

static void cluster_mysql(cluster *c, const char *verb, int ports[2])
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "KITO_CLUSTER_MYSQL_PORTS='%d %d' KITO_CLUSTER_VAR='%s' "
             "KITO_CLUSTER_SECRETS='%s/secrets.env' '%s/ops/kito' cluster %s >>'%s/up.log' 2>&1",
             ports[0], ports[1], c->dir, c->dir, getenv("KITO_TEST_ROOT"), verb, c->dir);
    cr_assert_eq(system(cmd), 0, "ops/kito cluster %s failed: see %s/up.log", verb, c->dir);
}

Test(cluster, a_mariadb_replica_holds_every_commit_and_takes_over, .fini = stop_mysql,
     .timeout = 240)
{
    const char *var = getenv("KITO_TEST_VAR");
    cr_assert(var && getenv("KITO_TEST_ROOT"), "run through ops/kito test");
    srandom((unsigned)(getpid() ^ time(NULL)));
    snprintf(cl.dir, sizeof(cl.dir), "%s/cluster-%d", var, (int)getpid());
    cr_assert(mkdir(cl.dir, 0700) == 0 || errno == EEXIST);
    int ports[2];
    ports[0] = pick_port(&cl, 0);
    do
        ports[1] = pick_port(&cl, 0);
    while (ports[1] == ports[0]);
    cluster_mysql(&cl, "up mysql", ports);
    mysql_pid[0] = pid_file(&cl, "mysql-primary/mysqld.pid");
    mysql_pid[1] = pid_file(&cl, "mysql-replica/mysqld.pid");
    cr_assert(mysql_pid[0] > 0 && mysql_pid[1] > 0,
              "no mysqld.pid after ops/kito cluster up mysql");
    mysql_pids_read = true;

    MYSQL *primary = as_kito(&cl, ports[0]);
    cr_assert_eq(mysql_query(primary, "CREATE TABLE probe (id INT PRIMARY KEY) ENGINE=InnoDB"), 0,
                 "%s", mysql_error(primary));
    long long yes0 = one_number(primary, "SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'");
    for (int i = 1; i <= 300; i++) { /* 300 commits, each acknowledged by the primary */
        char sql[64];
        snprintf(sql, sizeof(sql), "INSERT INTO probe VALUES (%d)", i);
        cr_assert_eq(mysql_query(primary, sql), 0, "%s", mysql_error(primary));
    }
    long long yes = one_number(primary, "SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'") - yes0;
    cr_assert_geq(yes, 300, "every commit waited for the replica (semi-synchronous): %lld", yes);
    mysql_close(primary);

    MYSQL *replica = as_kito(&cl, ports[1]);
    cr_assert_eq(one_number(replica, "SELECT @@read_only"), 1);
    cr_assert_neq(mysql_query(replica, "INSERT INTO probe VALUES (1000)"), 0,
                  "a replica refuses the application's writes");
    mysql_close(replica);

    kill(mysql_pid[0], SIGKILL); /* the primary is lost */
    mysql_pid[0] = 0;
    cluster_mysql(&cl, "promote", ports);

    MYSQL *promoted = as_kito(&cl, ports[1]);
    cr_assert_eq(one_number(promoted, "SELECT COUNT(*) FROM probe"), 300,
                 "every commit the primary acknowledged is on the promoted replica");
    cr_assert_eq(one_number(promoted, "SELECT @@read_only"), 0);
    cr_assert_eq(mysql_query(promoted, "INSERT INTO probe VALUES (301)"), 0, "%s",
                 mysql_error(promoted));
    mysql_close(promoted);
}
