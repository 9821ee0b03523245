/*
 * A small stand-in for libFuzzer's main(): runs a target written for libFuzzer
 * (LLVMFuzzerTestOneInput) without clang's -fsanitize=fuzzer, so every fuzz target builds with gcc
 * and runs under AddressSanitizer and UndefinedBehaviorSanitizer in the test command.
 *
 *   fuzz_query [options] [corpus_dir_or_file ...]
 *     -max_total_time=N   stop after N seconds (default 10)
 *     -runs=N             stop after N runs in all (default: no limit)
 *     -seed=N             seed of the mutation generator (default: from the clock; printed)
 *     -max_len=N          largest generated input in bytes (default 4096, at most 1 MiB)
 *     -artifact_prefix=P  where a crashing input is saved: P + "crash-<target>" (default "./")
 *   Other -options are ignored with a note, as libFuzzer flags it does not know.
 *
 * It first replays every regular file in the given directories (and every file given directly),
 * then, unless only files were given (reproduce mode), runs inputs made by mutating the corpus
 * (bit flips, byte changes, inserts, deletes, copies, splices with another entry, tokens that
 * parsers care about) and sometimes fresh random bytes, until a limit. There is no coverage
 * feedback: it finds what random and mutated inputs find, which for small parsers under ASan is
 * most shallow bugs. Every input is passed in a heap buffer of exactly its size, so ASan sees any
 * read past the end.
 *
 * At the end it prints `FUZZ <target> runs=N seconds=S` and exits 0. A crash under a sanitizer
 * or an abort()/assert in the target saves the input first and then ends the process as usual
 * (non-zero).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define CORPUS_MAX 4096     /* files kept for mutation */
#define POOL_MAX 256        /* recent mutants kept as extra parents */
#define FILE_MAX (1u << 20) /* largest file replayed */

typedef struct input {
    uint8_t *data;
    size_t size;
} input;

static input corpus[CORPUS_MAX];
static size_t corpus_count;
static input pool[POOL_MAX];
static size_t pool_count;
static uint64_t rng_state;

/* The input being run, for the crash handlers. */
static const uint8_t *current_data;
static size_t current_size;
static char crash_path[4096];

/* xorshift64*: fast, seeded, reproducible. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Async-signal-safe: open, write, close. */
static void save_crash(void)
{
    static const char note[] = "\nFUZZ crash: input saved to ";
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    size_t off = 0;
    while (current_data != NULL && off < current_size) {
        ssize_t n = write(fd, current_data + off, current_size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    ssize_t ignored = write(2, note, sizeof(note) - 1);
    ignored = write(2, crash_path, strlen(crash_path));
    ignored = write(2, "\n", 1);
    (void)ignored;
}

static void on_abort(int sig)
{
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading one byte past the end is an ASan report. */
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        fprintf(stderr, "FUZZ out of memory\n");
        exit(2);
    }
    if (size > 0)
        memcpy(copy, data, size);
    current_data = copy;
    current_size = size;
    LLVMFuzzerTestOneInput(copy, size);
    current_data = NULL;
    free(copy);
}

static int read_file(const char *path, input *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    uint8_t *buf = malloc(FILE_MAX);
    size_t n = buf != NULL ? fread(buf, 1, FILE_MAX, f) : 0;
    fclose(f);
    if (buf == NULL)
        return -1;
    out->data = buf;
    out->size = n;
    return 0;
}

/* Replays one file and keeps it (up to max_len bytes) as a parent for mutation. */
static size_t replay_file(const char *path, size_t max_len)
{
    input in;
    if (read_file(path, &in) != 0) {
        fprintf(stderr, "FUZZ cannot read %s\n", path);
        return 0;
    }
    run_one(in.data, in.size);
    if (corpus_count < CORPUS_MAX) {
        size_t keep = in.size < max_len ? in.size : max_len;
        uint8_t *copy = malloc(keep > 0 ? keep : 1);
        if (copy != NULL) {
            memcpy(copy, in.data, keep);
            corpus[corpus_count++] = (input){copy, keep};
        }
    }
    free(in.data);
    return 1;
}

static size_t replay_dir(const char *dir, size_t max_len)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort); /* sorted: runs are reproducible */
    size_t runs = 0;
    if (n < 0) {
        fprintf(stderr, "FUZZ cannot open %s\n", dir);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            runs += replay_file(path, max_len);
        free(names[i]);
    }
    free(names);
    return runs;
}

/* Bytes that parsers treat specially: JSON, query strings, UTF-8 edge cases, numbers. */
static const char *const tokens[] = {
    "%",
    "%2",
    "%zz",
    "%00",
    "%C3%A9",
    "%FF",
    "&",
    "=",
    "+",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u",
    "\\u0000",
    "\\ud800",
    "\\ud83d\\ude00",
    "0",
    "-1",
    "1.5",
    "1e309",
    "-0",
    "9007199254740992",
    "9223372036854775808",
    "null",
    "true",
    "false",
    "\xff",
    "\xc3",
    "\xe2\x80\xa8",
    "\xf0\x9f\x92\x8e",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "Z",
    "T",
    ".",
    "+255",
    "cursor=",
    "lot_",
    "0000000000001",
};

/* Applies one random edit to buf[0..*size) (capacity cap). */
static void mutate_once(uint8_t *buf, size_t *size, size_t cap)
{
    size_t n = *size;
    switch (rnd_below(8)) {
    case 0: /* flip a bit */
        if (n > 0)
            buf[rnd_below(n)] ^= (uint8_t)(1u << rnd_below(8));
        break;
    case 1: /* set a byte, often to something printable */
        if (n > 0)
            buf[rnd_below(n)] = rnd_below(4) == 0 ? (uint8_t)rnd() : (uint8_t)(32 + rnd_below(95));
        break;
    case 2: { /* insert a few random bytes */
        size_t k = 1 + rnd_below(4), at = rnd_below(n + 1);
        if (n + k > cap)
            break;
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = (uint8_t)rnd();
        *size = n + k;
        break;
    }
    case 3: { /* delete a range */
        if (n == 0)
            break;
        size_t at = rnd_below(n), k = 1 + rnd_below(n - at < 16 ? n - at : 16);
        memmove(buf + at, buf + at + k, n - at - k);
        *size = n - k;
        break;
    }
    case 4: { /* insert a token */
        const char *t = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
        size_t k = strlen(t), at = rnd_below(n + 1);
        if (n + k > cap)
            break;
        memmove(buf + at + k, buf + at, n - at);
        memcpy(buf + at, t, k);
        *size = n + k;
        break;
    }
    case 5: { /* copy a chunk of the input over another place */
        if (n < 2)
            break;
        size_t from = rnd_below(n), to = rnd_below(n), k = 1 + rnd_below(n - from);
        if (k > n - to)
            k = n - to;
        memmove(buf + to, buf + from, k);
        break;
    }
    case 6: { /* splice: our head, another corpus entry's tail */
        if (corpus_count == 0)
            break;
        const input *o = &corpus[rnd_below(corpus_count)];
        size_t head = rnd_below(n + 1), from = rnd_below(o->size + 1), k = o->size - from;
        if (head + k > cap)
            k = cap - head;
        memcpy(buf + head, o->data + from, k);
        *size = head + k;
        break;
    }
    case 7: /* nudge a byte: digits stay digits more often than not */
        if (n > 0) {
            size_t at = rnd_below(n);
            buf[at] = (uint8_t)(buf[at] + (rnd_below(2) ? 1 : -1));
        }
        break;
    }
}

static void usage_note(const char *arg)
{
    fprintf(stderr, "FUZZ ignoring unknown option %s\n", arg);
}

int main(int argc, char **argv)
{
    double max_time = 10;
    unsigned long long max_runs = 0, seed = 0;
    size_t max_len = 4096;
    const char *prefix = "./";
    int seed_given = 0, dirs = 0, files = 0;
    const char *target = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];

    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "-max_total_time=", 16) == 0)
            max_time = atof(a + 16);
        else if (strncmp(a, "-runs=", 6) == 0)
            max_runs = strtoull(a + 6, NULL, 10);
        else if (strncmp(a, "-seed=", 6) == 0) {
            seed = strtoull(a + 6, NULL, 10);
            seed_given = 1;
        } else if (strncmp(a, "-max_len=", 9) == 0)
            max_len = (size_t)strtoull(a + 9, NULL, 10);
        else if (strncmp(a, "-artifact_prefix=", 17) == 0)
            prefix = a + 17;
        else if (a[0] == '-')
            usage_note(a);
    }
    if (max_len == 0 || max_len > FILE_MAX)
        max_len = FILE_MAX;
    if (!seed_given)
        seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
    rng_state = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
    snprintf(crash_path, sizeof(crash_path), "%scrash-%s", prefix, target);
    signal(SIGABRT, on_abort);
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(save_crash);
    fprintf(stderr, "FUZZ %s seed=%llu max_total_time=%g max_len=%zu\n", target, seed, max_time,
            max_len);

    double start = now_s();
    unsigned long long runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-')
            continue;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "FUZZ no such file or directory: %s\n", argv[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            dirs++;
            runs += replay_dir(argv[i], max_len);
        } else {
            files++;
            runs += replay_file(argv[i], max_len);
        }
    }
    fprintf(stderr, "FUZZ %s replayed %llu inputs\n", target, runs);

    if (dirs > 0 || files == 0) {
        uint8_t *buf = malloc(max_len);
        if (buf == NULL)
            return 2;
        while ((max_runs == 0 || runs < max_runs) && now_s() - start < max_time) {
            size_t size;
            int from_pool = pool_count > 0 && rnd_below(4) == 0;
            if ((corpus_count > 0 || from_pool) && rnd_below(16) != 0) {
                const input *parent =
                    from_pool ? &pool[rnd_below(pool_count)] : &corpus[rnd_below(corpus_count)];
                size = parent->size < max_len ? parent->size : max_len;
                memcpy(buf, parent->data, size);
                for (size_t m = 1 + rnd_below(8); m > 0; m--)
                    mutate_once(buf, &size, max_len);
            } else {
                size = rnd_below((max_len < 256 ? max_len : 256) + 1);
                for (size_t k = 0; k < size; k++)
                    buf[k] = (uint8_t)rnd();
            }
            run_one(buf, size);
            runs++;
            /* keep some mutants as parents, so edits can stack up over time */
            if (rnd_below(8) == 0) {
                size_t slot = pool_count < POOL_MAX ? pool_count++ : rnd_below(POOL_MAX);
                uint8_t *copy = malloc(size > 0 ? size : 1);
                if (copy != NULL) {
                    memcpy(copy, buf, size);
                    free(pool[slot].data);
                    pool[slot] = (input){copy, size};
                }
            }
        }
        free(buf);
    }
    for (size_t i = 0; i < corpus_count; i++)
        free(corpus[i].data);
    for (size_t i = 0; i < pool_count; i++)
        free(pool[i].data);
    printf("FUZZ %s runs=%llu seconds=%.1f\n", target, runs, now_s() - start);
    return 0;
}
