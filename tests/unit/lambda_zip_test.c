#define _GNU_SOURCE
/* Zip handling of Lambda deployment packages: valid archives, traversal, bombs, corruption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/util.h"
#include "lambda/internal.h"
#include "unit/leaks.h"

/* A tiny zip writer for the tests. */
struct t_entry {
    const char *name;
    const void *data;
    size_t len;
    bool deflate;
    uint32_t mode;         /* unix mode, 0 = none */
    int64_t declared_size; /* -1: the real size */
};

static void t_u16(struct mg_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    assert_int_equal(mg_buf_append(b, x, 2), MG_E_OK);
}

static void t_u32(struct mg_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    assert_int_equal(mg_buf_append(b, x, 4), MG_E_OK);
}

static void t_zip(struct mg_buf *out, const struct t_entry *e, size_t n)
{
    struct mg_buf cd;
    mg_buf_init(&cd, 1u << 26);
    mg_buf_init(out, 1u << 26);
    for (size_t i = 0; i < n; i++) {
        uLongf clen = compressBound((uLong)e[i].len) + 64;
        uint8_t *comp = malloc(clen);
        size_t csize = e[i].len;
        const uint8_t *cdata = e[i].data;
        if (e[i].deflate) {
            z_stream zs;
            memset(&zs, 0, sizeof(zs));
            assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                             Z_OK);
            zs.next_in = (Bytef *)e[i].data;
            zs.avail_in = (uInt)e[i].len;
            zs.next_out = comp;
            zs.avail_out = (uInt)clen;
            assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
            csize = zs.total_out;
            deflateEnd(&zs);
            cdata = comp;
        }
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].len);
        uint32_t usize = e[i].declared_size >= 0 ? (uint32_t)e[i].declared_size
                                                 : (uint32_t)e[i].len;
        uint32_t off = (uint32_t)out->len;
        uint16_t nl = (uint16_t)strlen(e[i].name);
        t_u32(out, 0x04034b50u);
        t_u16(out, 20);
        t_u16(out, 0);
        t_u16(out, e[i].deflate ? 8 : 0);
        t_u16(out, 0);
        t_u16(out, 0);
        t_u32(out, crc);
        t_u32(out, (uint32_t)csize);
        t_u32(out, usize);
        t_u16(out, nl);
        t_u16(out, 0);
        assert_int_equal(mg_buf_append(out, e[i].name, nl), MG_E_OK);
        assert_int_equal(mg_buf_append(out, cdata, csize), MG_E_OK);
        t_u32(&cd, 0x02014b50u);
        t_u16(&cd, (uint16_t)(3u << 8 | 20));
        t_u16(&cd, 20);
        t_u16(&cd, 0);
        t_u16(&cd, e[i].deflate ? 8 : 0);
        t_u16(&cd, 0);
        t_u16(&cd, 0);
        t_u32(&cd, crc);
        t_u32(&cd, (uint32_t)csize);
        t_u32(&cd, usize);
        t_u16(&cd, nl);
        t_u16(&cd, 0);
        t_u16(&cd, 0);
        t_u16(&cd, 0);
        t_u16(&cd, 0);
        t_u32(&cd, (e[i].mode ? e[i].mode : 0100644u) << 16);
        t_u32(&cd, off);
        assert_int_equal(mg_buf_append(&cd, e[i].name, nl), MG_E_OK);
        free(comp);
    }
    uint32_t cd_off = (uint32_t)out->len;
    assert_int_equal(mg_buf_append(out, cd.ptr, cd.len), MG_E_OK);
    t_u32(out, 0x06054b50u);
    t_u16(out, 0);
    t_u16(out, 0);
    t_u16(out, (uint16_t)n);
    t_u16(out, (uint16_t)n);
    t_u32(out, (uint32_t)cd.len);
    t_u32(out, cd_off);
    t_u16(out, 0);
    mg_buf_cleanup(&cd);
}

static int t_rm(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    remove(p);
    return 0;
}

static void t_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/mg_lambda_zip_%d_%ld", (int)getpid(), (long)random());
}

static void test_lambda_zip_extract_ok(void **state)
{
    (void)state;
    const char *py = "def handler(e, c):\n    return e\n";
    const char *sh = "#!/bin/sh\necho hi\n";
    struct t_entry e[] = {
        {"lambda_function.py", py, strlen(py), true, 0, -1},
        {"pkg/", "", 0, false, 040755u, -1},
        {"pkg/mod.py", "x = 1\n", 6, false, 0, -1},
        {"bootstrap", sh, strlen(sh), true, 0100755u, -1},
    };
    struct mg_buf z;
    t_zip(&z, e, 4);
    struct mg_lambda_zip_info info;
    char msg[128];
    assert_int_equal(mg_lambda_zip_check(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, &info, msg,
                                         sizeof(msg)),
                     MG_E_OK);
    assert_int_equal(info.n_entries, 4);
    char dir[256], path[512];
    t_tmpdir(dir, sizeof(dir));
    assert_int_equal(mg_lambda_zip_extract(mg_buf_slice(&z), dir, MG_LAMBDA_UNZIPPED_MAX, msg,
                                           sizeof(msg)),
                     MG_E_OK);
    snprintf(path, sizeof(path), "%s/lambda_function.py", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_string_equal(buf, py);
    struct stat st;
    snprintf(path, sizeof(path), "%s/bootstrap", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mode & 0100);
    assert_int_equal(st.st_mode & 077, 0);
    snprintf(path, sizeof(path), "%s/pkg/mod.py", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    nftw(dir, t_rm, 8, FTW_DEPTH | FTW_PHYS);
    mg_buf_cleanup(&z);
}

static void t_refused(const struct t_entry *e, size_t n, uint64_t max)
{
    struct mg_buf z;
    t_zip(&z, e, n);
    char dir[256], msg[128];
    t_tmpdir(dir, sizeof(dir));
    assert_int_not_equal(mg_lambda_zip_extract(mg_buf_slice(&z), dir, max, msg, sizeof(msg)),
                         MG_E_OK);
    nftw(dir, t_rm, 8, FTW_DEPTH | FTW_PHYS);
    mg_buf_cleanup(&z);
}

static void test_lambda_zip_traversal(void **state)
{
    (void)state;
    const char *names[] = {"../evil.py",  "a/../../evil.py", "/etc/evil",
                           "a\\..\\evil", "C:evil",          "a//b",
                           ".."};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct t_entry e[] = {{names[i], "x", 1, false, 0, -1}};
        struct mg_buf z;
        t_zip(&z, e, 1);
        char msg[128];
        assert_int_not_equal(mg_lambda_zip_check(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, NULL,
                                                 msg, sizeof(msg)),
                             MG_E_OK);
        mg_buf_cleanup(&z);
        t_refused(e, 1, MG_LAMBDA_UNZIPPED_MAX);
    }
    /* "a..b" and ".hidden" are fine */
    struct t_entry ok[] = {{"a..b", "x", 1, false, 0, -1}, {".hidden", "y", 1, false, 0, -1}};
    struct mg_buf z;
    t_zip(&z, ok, 2);
    assert_int_equal(mg_lambda_zip_check(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, NULL, NULL, 0),
                     MG_E_OK);
    mg_buf_cleanup(&z);
}

static void test_lambda_zip_bombs(void **state)
{
    (void)state;
    size_t big = 4u * 1024u * 1024u;
    uint8_t *zeros = calloc(1, big);
    /* declared small, inflates big: stops at the declared size */
    struct t_entry liar[] = {{"bomb.bin", zeros, big, true, 0, 1000}};
    t_refused(liar, 1, MG_LAMBDA_UNZIPPED_MAX);
    /* honest but over the total limit: refused by the check already */
    struct t_entry honest[] = {{"a.bin", zeros, big, true, 0, -1},
                               {"b.bin", zeros, big, true, 0, -1}};
    struct mg_buf z;
    t_zip(&z, honest, 2);
    assert_int_not_equal(mg_lambda_zip_check(mg_buf_slice(&z), big, NULL, NULL, 0), MG_E_OK);
    assert_int_equal(mg_lambda_zip_check(mg_buf_slice(&z), 2 * big, NULL, NULL, 0), MG_E_OK);
    mg_buf_cleanup(&z);
    t_refused(honest, 2, big + 10);
    free(zeros);
}

/* mg_lambda_zip_verify: the real sizes and CRCs at upload, with nothing written */
static void test_lambda_zip_verify(void **state)
{
    (void)state;
    size_t big = 4u * 1024u * 1024u;
    uint8_t *zeros = calloc(1, big);
    char msg[128];
    struct mg_buf z;
    /* a valid archive passes */
    struct t_entry ok[] = {{"app.py", "x = 1\n", 6, true, 0, -1},
                           {"dir/", "", 0, false, 040755, -1},
                           {"pad.bin", zeros, big, true, 0, -1}};
    t_zip(&z, ok, 3);
    assert_int_equal(mg_lambda_zip_verify(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, msg,
                                          sizeof(msg)),
                     MG_E_OK);
    /* the real total counts against the limit */
    assert_int_not_equal(mg_lambda_zip_verify(mg_buf_slice(&z), big, msg, sizeof(msg)), MG_E_OK);
    mg_buf_cleanup(&z);
    /* a liar passes the declared check and fails verification */
    struct t_entry liar[] = {{"bomb.bin", zeros, big, true, 0, 1000}};
    t_zip(&z, liar, 1);
    assert_int_equal(mg_lambda_zip_check(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, NULL, NULL, 0),
                     MG_E_OK);
    assert_int_not_equal(mg_lambda_zip_verify(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, msg,
                                              sizeof(msg)),
                         MG_E_OK);
    assert_non_null(strstr(msg, "declared"));
    mg_buf_cleanup(&z);
    /* a stored entry that declares more than it has, and a corrupt CRC */
    struct t_entry shortie[] = {{"s.bin", "abc", 3, false, 0, 10}};
    t_zip(&z, shortie, 1);
    assert_int_not_equal(mg_lambda_zip_verify(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, msg,
                                              sizeof(msg)),
                         MG_E_OK);
    mg_buf_cleanup(&z);
    const char *txt = "hello hello hello hello hello hello hello hello";
    struct t_entry e[] = {{"f.txt", txt, strlen(txt), false, 0, -1}};
    t_zip(&z, e, 1);
    z.ptr[30 + 5 + 3] ^= 0x55; /* a byte of the stored data: the CRC no longer matches */
    assert_int_not_equal(mg_lambda_zip_verify(mg_buf_slice(&z), MG_LAMBDA_UNZIPPED_MAX, msg,
                                              sizeof(msg)),
                         MG_E_OK);
    mg_buf_cleanup(&z);
    free(zeros);
}

static void test_lambda_zip_garbage(void **state)
{
    (void)state;
    char msg[128];
    assert_int_not_equal(mg_lambda_zip_check(MG_SLICE_LIT("not a zip at all, not at all......"),
                                             MG_LAMBDA_UNZIPPED_MAX, NULL, msg, sizeof(msg)),
                         MG_E_OK);
    assert_int_not_equal(mg_lambda_zip_check(MG_SLICE_LIT(""), MG_LAMBDA_UNZIPPED_MAX, NULL, msg,
                                             sizeof(msg)),
                         MG_E_OK);
    /* corrupt data: flip a byte inside the compressed stream -> CRC or inflate failure */
    const char *txt = "hello hello hello hello hello hello hello hello";
    struct t_entry e[] = {{"f.txt", txt, strlen(txt), true, 0, -1}};
    struct mg_buf z;
    t_zip(&z, e, 1);
    z.ptr[30 + 5 + 3] ^= 0x55;
    char dir[256];
    t_tmpdir(dir, sizeof(dir));
    assert_int_not_equal(mg_lambda_zip_extract(mg_buf_slice(&z), dir, MG_LAMBDA_UNZIPPED_MAX, msg,
                                               sizeof(msg)),
                         MG_E_OK);
    nftw(dir, t_rm, 8, FTW_DEPTH | FTW_PHYS);
    /* truncations of a valid archive never crash */
    for (size_t cut = 0; cut < z.len; cut++)
        if (mg_lambda_zip_check(mg_slice_make(z.ptr, cut), MG_LAMBDA_UNZIPPED_MAX, NULL, NULL, 0) ==
            MG_E_OK)
            fail_msg("a truncated archive passed the check at %zu", cut);
    mg_buf_cleanup(&z);
    /* duplicate entries are refused */
    struct t_entry dup[] = {{"x.py", "1", 1, false, 0, -1}, {"x.py", "2", 1, false, 0, -1}};
    t_refused(dup, 2, MG_LAMBDA_UNZIPPED_MAX);
}

/* The code store: a package is checked, counted against the account's code storage, written as
 * <hex>.zip and marked pending until mg_lambda_code_done, which queues a sweep; a deleted
 * function's tree is renamed aside and queued for removal. */
static void test_lambda_codestore_put(void **state)
{
    (void)state;
    static char data_dir[1024];
    static struct mg_state gstate;
    static struct mg_env env;
    memset(&env, 0, sizeof(env));
    t_tmpdir(data_dir, sizeof(data_dir));
    assert_int_equal(mkdir(data_dir, 0700), 0);
    struct mg_store *store = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(data_dir, &store, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&gstate, store, &ei), MG_E_OK);
    env.data_dir = data_dir;
    env.state = &gstate;
    env.store = store;
    struct mg_lambda L;
    memset(&L, 0, sizeof(L));
    L.env = &env;
    L.wake_fd = -1;
    pthread_mutex_init(&L.mu, NULL);

    static const char code[] = "def handler(event, context):\n    return event\n";
    const struct t_entry e[] = {{"app.py", code, sizeof(code) - 1, true, 0, -1}};
    struct mg_buf zip, b64;
    t_zip(&zip, e, 1);
    mg_buf_init(&b64, 1u << 27);
    assert_int_equal(mg_base64_encode(&b64, mg_buf_slice(&zip)), MG_E_OK);
    struct mg_snapshot *snap = mg_state_acquire(&gstate);
    const char *acct = "123456789012";
    struct mg_lambda_code c;
    char msg[128];

    /* not base64, not a zip */
    assert_int_equal(mg_lambda_code_put(&L, snap, acct, "fn", mg_slice_cstr("%%%"), &c, msg,
                                        sizeof(msg)),
                     MG_LAMBDA_CODE_INVALID_ZIP);
    assert_int_equal(mg_lambda_code_put(&L, snap, acct, "fn", mg_slice_cstr("AAAA"), &c, msg,
                                        sizeof(msg)),
                     MG_LAMBDA_CODE_INVALID_ZIP);
    /* over the account's code storage: the zip plus its unzipped size */
    L.code_storage = zip.len + sizeof(code) - 2;
    assert_false(mg_lambda_code_fits(&L, snap, acct, "fn", zip.len + sizeof(code) - 1));
    assert_int_equal(mg_lambda_code_put(&L, snap, acct, "fn", mg_buf_slice(&b64), &c, msg,
                                        sizeof(msg)),
                     MG_LAMBDA_CODE_STORAGE_EXCEEDED);
    assert_int_equal(L.n_pending, 0);
    L.code_storage = zip.len + sizeof(code) - 1;
    assert_true(mg_lambda_code_fits(&L, snap, acct, "fn", zip.len + sizeof(code) - 1));
    assert_int_equal(mg_lambda_code_put(&L, snap, acct, "fn", mg_buf_slice(&b64), &c, msg,
                                        sizeof(msg)),
                     MG_LAMBDA_CODE_OK);
    assert_int_equal(c.size, zip.len);
    assert_int_equal(c.unzipped_size, sizeof(code) - 1);
    assert_int_equal(strlen(c.hex), 64);
    assert_int_equal(strlen(c.sha256), 44);
    char hex[65];
    assert_true(mg_lambda_sha_hex(c.sha256, hex));
    assert_string_equal(hex, c.hex);
    char path[1400];
    snprintf(path, sizeof(path), "%s/lambda/%s/fn/%s.zip", data_dir, acct, c.hex);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((long long)st.st_size, (long long)zip.len);
    assert_int_equal(L.n_pending, 1);
    mg_lambda_code_done(&L, acct, "fn", c.hex);
    assert_int_equal(L.n_pending, 0);
    assert_int_equal(L.n_jobs, 1); /* a sweep */
    assert_string_equal(L.jobs[0].sha, "");
    /* a second sweep of the same function is not queued twice */
    mg_lambda_queue_sweep(&L, acct, "fn");
    assert_int_equal(L.n_jobs, 1);

    /* unpacking */
    char dir[1200];
    assert_int_equal(mg_lambda_code_unpack(&L, acct, "fn", c.sha256, dir, sizeof(dir)), MG_E_OK);
    snprintf(path, sizeof(path), "%s/app.py", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((long long)st.st_size, (long long)(sizeof(code) - 1));

    /* removal: renamed aside at once, removed by the manager */
    mg_lambda_code_remove(&L, acct, "fn");
    snprintf(path, sizeof(path), "%s/lambda/%s/fn", data_dir, acct);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(L.n_trash, 1);
    assert_int_equal(stat(L.trash[0], &st), 0);
    mg_lambda_code_rmtree(L.trash[0]);
    assert_int_not_equal(stat(L.trash[0], &st), 0);

    mg_free(L.trash[0]);
    mg_free(L.trash);
    mg_free(L.jobs);
    mg_free(L.pending);
    pthread_mutex_destroy(&L.mu);
    mg_snapshot_unref(snap);
    mg_buf_cleanup(&b64);
    mg_buf_cleanup(&zip);
    mg_state_cleanup(&gstate);
    mg_store_close(store);
    nftw(data_dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_zip_extract_ok), cmocka_unit_test(test_lambda_zip_traversal),
        cmocka_unit_test(test_lambda_zip_bombs),      cmocka_unit_test(test_lambda_zip_verify),
        cmocka_unit_test(test_lambda_zip_garbage),    cmocka_unit_test(test_lambda_codestore_put),
    };
    return MG_RUN_TESTS(tests);
}
