/* bench/bench_store.c: rough costs of the SQLite store on this machine: single durable puts,
 * batched puts in one transaction, point reads, a list and a full scan.
 * Usage: bench_store [rows] (default 2000), in a temporary directory under $TMPDIR or /tmp.
 * With MCPGATE_BENCH_STORE=postgresql://... the same on that PostgreSQL database instead (its
 * rows are left there; the keys are the same on every run). */
#include <dirent.h>
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

    mg_store_close(s);
    rm_dir(dir);
    rmdir(root);
    if (rc != 0)
        fprintf(stderr, "some operations failed\n");
    return rc;
}
