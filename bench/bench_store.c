/* bench/bench_store.c: rough costs of the SQLite store on this machine: single durable puts,
 * batched puts in one transaction, point reads, a list and a full scan.
 * Usage: bench_store [rows] (default 2000), in a temporary directory under $TMPDIR or /tmp.
 * With MCPGATE_BENCH_STORE=postgresql://... the same on that PostgreSQL database instead (its
 * rows are left there; the keys are the same on every run). Last, the change propagation: a
 * second handle (another node) waits in mg_store_wait_change for each of 200 commits of the
 * first; the delay is from the commit's return to the wake-up (p50, p99). */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/slice.h"
#include "base/util.h"
#include "state/store.h"

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void report(const char *what, size_t n, uint64_t ns)
{
    printf("%-34s %8zu ops %10.1f us/op %12.0f ops/s\n", what, n, (double)ns / 1e3 / (double)n,
           (double)n * 1e9 / (double)(ns ? ns : 1));
}

static bool count_row(void *user, const struct mg_store_row *row)
{
    (void)row;
    (*(size_t *)user)++;
    return true;
}

#define PROP_N 200

struct prop {
    struct mg_store *other;
    uint64_t base;
    uint64_t woke[PROP_N + 1]; /* by generation - base */
};

static void *prop_waiter(void *arg)
{
    struct prop *p = arg;
    uint64_t seen = p->base;
    while (seen < p->base + PROP_N) {
        uint64_t g = 0;
        if (mg_store_wait_change(p->other, seen, 5000, &g) != MG_E_OK || g <= seen)
            break;
        uint64_t now = mg_mono_ns();
        for (uint64_t k = seen + 1; k <= g && k <= p->base + PROP_N; k++)
            p->woke[k - p->base] = now;
        seen = g;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The delay from a commit on s to its sight on another handle of the same store. */
static int propagation(struct mg_store *s, const char *loc)
{
    static struct prop p;
    static uint64_t done[PROP_N + 1], lat[PROP_N];
    struct mg_errinfo ei = {0};
    if (mg_store_open(loc, &p.other, &ei) != MG_E_OK) {
        fprintf(stderr, "open: %s\n", ei.msg);
        return 1;
    }
    int rc = 0;
    if (mg_store_generation_refresh(s, &p.base) != MG_E_OK)
        rc = 1;
    pthread_t t;
    if (rc == 0 && pthread_create(&t, NULL, prop_waiter, &p) == 0) {
        for (size_t i = 1; i <= PROP_N; i++) {
            usleep(2000);
            if (mg_store_put(s, "prop", "", "row", MG_SLICE_LIT("{}")) != MG_E_OK)
                rc = 1;
            done[i] = mg_mono_ns();
        }
        pthread_join(t, NULL);
        for (size_t i = 1; i <= PROP_N; i++) {
            if (p.woke[i] == 0)
                rc = 1;
            lat[i - 1] = p.woke[i] > done[i] ? p.woke[i] - done[i] : 0;
        }
        qsort(lat, PROP_N, sizeof(lat[0]), cmp_u64);
        printf("%-34s %8d ops p50 %8.1f us  p99 %8.1f us\n", "change seen by another handle",
               PROP_N, (double)lat[PROP_N / 2] / 1e3, (double)lat[PROP_N * 99 / 100] / 1e3);
    } else {
        rc = 1;
    }
    mg_store_close(p.other);
    return rc;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
    if (rows == 0)
        rows = 1;
    size_t single = rows < 200 ? rows : 200; /* each one is an fsync */
    const char *tmp = getenv("TMPDIR");
    char root[256], dir[300];
    snprintf(root, sizeof(root), "%s/mg_bench_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/data", root);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    const char *loc = getenv("MCPGATE_BENCH_STORE");
    if (loc == NULL || loc[0] == '\0')
        loc = dir;
    if (mg_store_open(loc, &s, &ei) != MG_E_OK) {
        fprintf(stderr, "open: %s\n", ei.msg);
        return 1;
    }
    static const char doc[] = "{\"name\":\"example\",\"arn\":\"arn:aws:iam::111122223333:user/"
                              "example\",\"tags\":[{\"Key\":\"team\",\"Value\":\"gateway\"}]}";
    char key[32];
    int rc = 0;

    uint64_t t0 = mg_mono_ns();
    for (size_t i = 0; i < single; i++) {
        snprintf(key, sizeof(key), "single%06zu", i);
        if (mg_store_put(s, "user", "111122223333", key, MG_SLICE_LIT(doc)) != MG_E_OK)
            rc = 1;
    }
    report("put, one commit each", single, mg_mono_ns() - t0);

    t0 = mg_mono_ns();
    if (mg_store_begin(s) != MG_E_OK)
        rc = 1;
    for (size_t i = 0; i < rows; i++) {
        snprintf(key, sizeof(key), "batch%06zu", i);
        if (mg_store_put(s, "user", "111122223333", key, MG_SLICE_LIT(doc)) != MG_E_OK)
            rc = 1;
    }
    if (mg_store_commit(s) != MG_E_OK)
        rc = 1;
    report("put, one transaction", rows, mg_mono_ns() - t0);

    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    t0 = mg_mono_ns();
    for (size_t i = 0; i < rows; i++) {
        snprintf(key, sizeof(key), "batch%06zu", (i * 7919) % rows);
        if (mg_store_get(s, "user", "111122223333", key, &b) != MG_E_OK)
            rc = 1;
    }
    report("get", rows, mg_mono_ns() - t0);
    mg_buf_cleanup(&b);

    size_t n = 0;
    t0 = mg_mono_ns();
    if (mg_store_list(s, "user", "111122223333", count_row, &n) != MG_E_OK)
        rc = 1;
    report("list one account (rows)", n, mg_mono_ns() - t0);

    n = 0;
    uint64_t gen = 0;
    t0 = mg_mono_ns();
    if (mg_store_scan_gen(s, count_row, &n, &gen) != MG_E_OK)
        rc = 1;
    report("scan with generation (rows)", n, mg_mono_ns() - t0);

    t0 = mg_mono_ns();
    for (size_t i = 0; i < rows; i++)
        if (mg_store_generation_refresh(s, &gen) != MG_E_OK)
            rc = 1;
    report("generation refresh", rows, mg_mono_ns() - t0);

    if (propagation(s, loc) != 0)
        rc = 1;

    mg_store_close(s);
    rm_dir(dir);
    rmdir(root);
    if (rc != 0)
        fprintf(stderr, "some operations failed\n");
    return rc;
}
