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

/* A test Lambda module on a real SQLite store in a temporary data folder. */
struct t_node {
    char data_dir[1024];
    struct mg_state state;
    struct mg_env env;
    struct mg_store *store;
    struct mg_lambda L;
};

static void t_node_open(struct t_node *n)
{
    memset(n, 0, sizeof(*n));
    mg_lambda_register_docs(); /* as the server does before its first snapshot */
    t_tmpdir(n->data_dir, sizeof(n->data_dir));
    assert_int_equal(mkdir(n->data_dir, 0700), 0);
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(n->data_dir, &n->store, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&n->state, n->store, &ei), MG_E_OK);
    n->env.data_dir = n->data_dir;
    n->env.state = &n->state;
    n->env.store = n->store;
    n->L.env = &n->env;
    n->L.wake_fd = -1;
    pthread_mutex_init(&n->L.mu, NULL);
}

static void t_node_close(struct t_node *n)
{
    for (size_t i = 0; i < n->L.n_trash; i++)
        mg_free(n->L.trash[i]);
    mg_free(n->L.trash);
    mg_free(n->L.jobs);
    pthread_mutex_destroy(&n->L.mu);
    mg_state_cleanup(&n->state);
    mg_store_close(n->store);
    nftw(n->data_dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes a function document naming the code (sha b64) and, when code is not NULL, the code. */
static void t_put_function_as(struct t_node *n, const char *acct, const char *name,
                              const struct mg_lambda_code *code, const char *sha_b64,
                              bool store_code)
{
    char doc[512];
    snprintf(doc, sizeof(doc), "{\"FunctionName\":\"%s\",\"CodeSha256\":\"%s\",\"CodeSize\":%llu}",
             name, sha_b64, code ? (unsigned long long)code->size : 0ull);
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&n->state), MG_E_OK);
    if (code && store_code)
        assert_int_equal(mg_lambda_blob_write(n->store, acct, code->hex, mg_buf_slice(&code->zip)),
                         MG_E_OK);
    assert_int_equal(mg_store_put(n->store, "function", acct, name, mg_slice_cstr(doc)), MG_E_OK);
    assert_int_equal(mg_state_write_commit(&n->state, &ei), MG_E_OK);
}

static void t_put_function(struct t_node *n, const char *acct, const char *name,
                           const struct mg_lambda_code *code, const char *sha_b64)
{
    t_put_function_as(n, acct, name, code, sha_b64, true);
}

static void t_delete_function(struct t_node *n, const char *acct, const char *name, const char *hex)
{
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&n->state), MG_E_OK);
    assert_int_equal(mg_store_delete(n->store, "function", acct, name), MG_E_OK);
    assert_int_equal(mg_lambda_blob_release(n->store, acct, hex), MG_E_OK);
    assert_int_equal(mg_state_write_commit(&n->state, &ei), MG_E_OK);
}

static const char t_code[] = "def handler(event, context):\n    return event\n";

/* A checked package of t_code plus `pad` bytes (stored: its zip is as large). */
static void t_package(struct t_node *n, size_t pad, struct mg_lambda_code *c)
{
    char *padding = mg_calloc(1, pad + 1);
    assert_non_null(padding);
    for (size_t i = 0; i < pad; i++)
        padding[i] = (char)('a' + (i * 7919u) % 26u);
    const struct t_entry e[] = {{"app.py", t_code, sizeof(t_code) - 1, true, 0, -1},
                                {"pad.txt", padding, pad, false, 0, -1}};
    struct mg_buf zip, b64;
    t_zip(&zip, e, pad ? 2 : 1);
    mg_buf_init(&b64, 1u << 27);
    assert_int_equal(mg_base64_encode(&b64, mg_buf_slice(&zip)), MG_E_OK);
    struct mg_snapshot *snap = mg_state_acquire(&n->state);
    char msg[128];
    assert_int_equal(mg_lambda_code_check(&n->L, snap, "123456789012", "fn", mg_buf_slice(&b64), c,
                                          msg, sizeof(msg)),
                     MG_LAMBDA_CODE_OK);
    assert_int_equal(c->size, zip.len);
    mg_snapshot_unref(snap);
    mg_buf_cleanup(&b64);
    mg_buf_cleanup(&zip);
    mg_free(padding);
}

/* Checking an upload: a package is decoded, checked and counted against the account's code
 * storage; nothing is written. */
static void test_lambda_code_check(void **state)
{
    (void)state;
    struct t_node n;
    t_node_open(&n);
    const struct t_entry e[] = {{"app.py", t_code, sizeof(t_code) - 1, true, 0, -1}};
    struct mg_buf zip, b64;
    t_zip(&zip, e, 1);
    mg_buf_init(&b64, 1u << 27);
    assert_int_equal(mg_base64_encode(&b64, mg_buf_slice(&zip)), MG_E_OK);
    struct mg_snapshot *snap = mg_state_acquire(&n.state);
    const char *acct = "123456789012";
    struct mg_lambda_code c;
    char msg[128];

    /* not base64, not a zip */
    assert_int_equal(mg_lambda_code_check(&n.L, snap, acct, "fn", mg_slice_cstr("%%%"), &c, msg,
                                          sizeof(msg)),
                     MG_LAMBDA_CODE_INVALID_ZIP);
    mg_lambda_code_cleanup(&c);
    assert_int_equal(mg_lambda_code_check(&n.L, snap, acct, "fn", mg_slice_cstr("AAAA"), &c, msg,
                                          sizeof(msg)),
                     MG_LAMBDA_CODE_INVALID_ZIP);
    mg_lambda_code_cleanup(&c);
    /* over the account's code storage: the zip plus its unzipped size */
    n.L.code_storage = zip.len + sizeof(t_code) - 2;
    assert_false(mg_lambda_code_fits(&n.L, snap, acct, "fn", zip.len + sizeof(t_code) - 1));
    assert_int_equal(mg_lambda_code_check(&n.L, snap, acct, "fn", mg_buf_slice(&b64), &c, msg,
                                          sizeof(msg)),
                     MG_LAMBDA_CODE_STORAGE_EXCEEDED);
    mg_lambda_code_cleanup(&c);
    n.L.code_storage = zip.len + sizeof(t_code) - 1;
    assert_int_equal(mg_lambda_code_check(&n.L, snap, acct, "fn", mg_buf_slice(&b64), &c, msg,
                                          sizeof(msg)),
                     MG_LAMBDA_CODE_OK);
    assert_int_equal(c.size, zip.len);
    assert_int_equal(c.zip.len, zip.len);
    assert_int_equal(c.unzipped_size, sizeof(t_code) - 1);
    assert_int_equal(strlen(c.hex), 64);
    assert_int_equal(strlen(c.sha256), 44);
    char hex[65];
    assert_true(mg_lambda_sha_hex(c.sha256, hex));
    assert_string_equal(hex, c.hex);
    /* nothing in the data folder */
    char path[1400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/lambda", n.data_dir);
    assert_int_not_equal(stat(path, &st), 0);
    mg_lambda_code_cleanup(&c);
    mg_snapshot_unref(snap);
    mg_buf_cleanup(&b64);
    mg_buf_cleanup(&zip);
    t_node_close(&n);
}

/* The cache's paths: only a 12-digit account and a 64-digit lower-case hex name one. */
static void test_lambda_code_cache_path(void **state)
{
    (void)state;
    char out[256];
    const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_true(mg_lambda_cache_path("/d", "123456789012", hex, out, sizeof(out)));
    assert_string_equal(out, "/d/lambda/cache/123456789012/0123456789abcdef0123456789abcdef"
                             "0123456789abcdef0123456789abcdef");
    assert_true(mg_lambda_cache_path("/d", "123456789012", NULL, out, sizeof(out)));
    assert_string_equal(out, "/d/lambda/cache/123456789012");
    static const char *const bad_accounts[] = {"..",           "12345678901",  "1234567890123",
                                               "12345678901/", "../456789012", ""};
    for (size_t i = 0; i < sizeof(bad_accounts) / sizeof(bad_accounts[0]); i++) {
        assert_false(mg_lambda_cache_path("/d", bad_accounts[i], hex, out, sizeof(out)));
        assert_string_equal(out, "");
    }
    static const char *const bad_hex[] = {
        "..", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "../3456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""};
    for (size_t i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); i++)
        assert_false(mg_lambda_cache_path("/d", "123456789012", bad_hex[i], out, sizeof(out)));
    assert_false(mg_lambda_cache_path("/d", "123456789012", hex, out, 20)); /* does not fit */
    assert_string_equal(out, "");
}

/* The package in the store: written with the function in one transaction, in chunks, read back
 * and checked; a damaged or missing part is an error, never a crash; another account does not
 * reach it; it goes with the last function that names it. */
static void test_lambda_code_blob(void **state)
{
    (void)state;
    struct t_node n;
    t_node_open(&n);
    const char *acct = "123456789012", *other = "210987654321";
    struct mg_lambda_code c;
    /* past one chunk: two parts */
    t_package(&n, MG_LAMBDA_CODE_CHUNK + 1000, &c);
    assert_true(c.size > MG_LAMBDA_CODE_CHUNK);
    /* chunks only inside a transaction */
    assert_int_equal(mg_store_chunk_put(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 0,
                                        mg_slice_cstr("x")),
                     MG_E_INVALID);
    /* a digest that does not match the data is refused */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_write(n.store, acct,
                                          "0123456789abcdef0123456789abcdef0123456789abcdef"
                                          "0123456789abcdef",
                                          mg_buf_slice(&c.zip)),
                     MG_E_INVALID);
    assert_int_equal(mg_lambda_blob_write(n.store, "../x", c.hex, mg_buf_slice(&c.zip)),
                     MG_E_INVALID);
    mg_store_rollback(n.store);
    t_put_function(&n, acct, "fn", &c, c.sha256);
    struct mg_buf out;
    mg_buf_init(&out, MG_LAMBDA_ZIP_MAX);
    char msg[256];
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    assert_int_equal(out.len, c.zip.len);
    assert_memory_equal(out.ptr, c.zip.ptr, out.len);
    struct mg_buf part;
    mg_buf_init(&part, MG_STORE_DOC_MAX);
    assert_int_equal(mg_store_chunk_get(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 0, &part),
                     MG_E_OK);
    assert_int_equal(part.len, MG_LAMBDA_CODE_CHUNK);
    assert_int_equal(mg_store_chunk_get(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 1, &part),
                     MG_E_OK);
    assert_int_equal(part.len, c.size - MG_LAMBDA_CODE_CHUNK);
    assert_int_equal(mg_store_chunk_get(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 2, &part),
                     MG_E_NOT_FOUND);
    /* another account: nothing, even knowing the digest */
    assert_int_equal(mg_lambda_blob_read(n.store, other, c.hex, &out, msg, sizeof(msg)),
                     MG_E_NOT_FOUND);
    assert_int_equal(out.len, 0);
    /* a path-like account or digest never reaches the store */
    assert_int_equal(mg_lambda_blob_read(n.store, "../../etc", c.hex, &out, msg, sizeof(msg)),
                     MG_E_INVALID);

    /* unpacking on a node that never saw the upload: from the store into the cache */
    char dir[1200], path[1400];
    struct stat st;
    assert_int_equal(mg_lambda_code_unpack(&n.L, acct, c.sha256, dir, sizeof(dir), msg,
                                           sizeof(msg)),
                     MG_E_OK);
    snprintf(path, sizeof(path), "%s/lambda/cache/%s/%s", n.data_dir, acct, c.hex);
    assert_string_equal(dir, path);
    snprintf(path, sizeof(path), "%s/app.py", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((long long)st.st_size, (long long)(sizeof(t_code) - 1));
    snprintf(path, sizeof(path), "%s/lambda/cache/%s", n.data_dir, acct);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* the cache deleted: made again from the store */
    mg_lambda_code_rmtree(dir);
    assert_int_equal(mg_lambda_code_unpack(&n.L, acct, c.sha256, dir, sizeof(dir), msg,
                                           sizeof(msg)),
                     MG_E_OK);
    assert_int_equal(stat(dir, &st), 0);
    mg_lambda_code_rmtree(dir);

    /* a damaged part: refused with a reason, nothing unpacked */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_store_chunk_put(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 1,
                                        mg_slice_make(c.zip.ptr, c.size - MG_LAMBDA_CODE_CHUNK)),
                     MG_E_OK);
    assert_int_equal(mg_store_commit(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "does not match its SHA-256"));
    assert_int_equal(out.len, 0);
    assert_int_equal(mg_lambda_code_unpack(&n.L, acct, c.sha256, dir, sizeof(dir), msg,
                                           sizeof(msg)),
                     MG_E_INVALID);
    assert_int_not_equal(stat(dir, &st), 0);
    /* a part of the wrong size */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_store_chunk_put(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 1,
                                        mg_slice_cstr("short")),
                     MG_E_OK);
    assert_int_equal(mg_store_commit(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "part 2 of 2 of the code package has the wrong size"));
    /* every part missing */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_store_chunk_delete(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex), MG_E_OK);
    assert_int_equal(mg_store_chunk_delete(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex),
                     MG_E_NOT_FOUND);
    assert_int_equal(mg_store_commit(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "part 1 of 2 of the code package is missing"));
    /* a damaged record */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_store_put(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex,
                                  mg_slice_cstr("{\"Size\":999999999999,\"ChunkSize\":1,"
                                                "\"Parts\":999999999999}")),
                     MG_E_OK);
    assert_int_equal(mg_store_commit(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "record is damaged"));

    /* written again (as an upload does): whole again */
    t_put_function(&n, acct, "fn", &c, c.sha256);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    /* a second function with the same code shares the rows; the same code in another account
     * has rows of its own */
    t_put_function(&n, acct, "twin", &c, c.sha256);
    t_put_function(&n, other, "fn", &c, c.sha256);
    t_delete_function(&n, acct, "fn", c.hex);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    t_delete_function(&n, acct, "twin", c.hex);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_NOT_FOUND);
    assert_int_equal(mg_store_chunk_get(n.store, MG_LAMBDA_CODE_KIND, acct, c.hex, 0, &part),
                     MG_E_NOT_FOUND);
    assert_int_equal(mg_lambda_blob_read(n.store, other, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    /* releasing what is gone is not an error */
    assert_int_equal(mg_store_begin(n.store), MG_E_OK);
    assert_int_equal(mg_lambda_blob_release(n.store, acct, c.hex), MG_E_OK);
    assert_int_equal(mg_store_commit(n.store), MG_E_OK);

    mg_buf_cleanup(&part);
    mg_buf_cleanup(&out);
    mg_lambda_code_cleanup(&c);
    t_node_close(&n);
}

/* The sweep keeps the versions the account's functions name and its processes run, and removes
 * the rest (and what an interrupted unpacking left). */
static void test_lambda_code_sweep(void **state)
{
    (void)state;
    struct t_node n;
    t_node_open(&n);
    const char *acct = "123456789012";
    struct mg_lambda_code c;
    t_package(&n, 10, &c);
    t_put_function(&n, acct, "fn", &c, c.sha256);
    char dir[1200], msg[256], path[1400];
    struct stat st;
    assert_int_equal(mg_lambda_code_unpack(&n.L, acct, c.sha256, dir, sizeof(dir), msg,
                                           sizeof(msg)),
                     MG_E_OK);
    const char *gone = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *busy = "2222222222222222222222222222222222222222222222222222222222222222";
    static const char *const extra[] = {"1111111111111111111111111111111111111111111111111111111111"
                                        "111111",
                                        "2222222222222222222222222222222222222222222222222222222222"
                                        "222222",
                                        ".tmp-abcdefgh"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/lambda/cache/%s/%s", n.data_dir, acct, extra[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    char in_use[1][65];
    snprintf(in_use[0], 65, "%s", busy);
    pthread_mutex_lock(&n.L.mu);
    mg_lambda_code_sweep(&n.L, acct, (const char(*)[65])in_use, 1);
    pthread_mutex_unlock(&n.L.mu);
    assert_int_equal(stat(dir, &st), 0);
    snprintf(path, sizeof(path), "%s/lambda/cache/%s/%s", n.data_dir, acct, busy);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/lambda/cache/%s/%s", n.data_dir, acct, gone);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/lambda/cache/%s/.tmp-abcdefgh", n.data_dir, acct);
    assert_int_not_equal(stat(path, &st), 0);
    /* the function gone, nothing running: the account's cache empties */
    t_delete_function(&n, acct, "fn", c.hex);
    pthread_mutex_lock(&n.L.mu);
    mg_lambda_code_sweep(&n.L, acct, NULL, 0);
    /* jobs: one sweep per account, not queued twice */
    mg_lambda_code_sweep_all(&n.L);
    mg_lambda_code_sweep_all(&n.L);
    pthread_mutex_unlock(&n.L.mu);
    assert_int_not_equal(stat(dir, &st), 0);
    assert_int_equal(n.L.n_jobs, 1);
    assert_string_equal(n.L.jobs[0].account, acct);
    assert_string_equal(n.L.jobs[0].sha, "");
    mg_lambda_code_cleanup(&c);
    t_node_close(&n);
}

/* A data folder of an older mcpgate (DATA/lambda/ACCOUNT/NAME/<hex>.zip) is copied into the
 * store at start, once; a damaged old package is left out with a warning. */
static void test_lambda_code_migrate(void **state)
{
    (void)state;
    struct t_node n;
    t_node_open(&n);
    const char *acct = "123456789012";
    struct mg_lambda_code c, d;
    t_package(&n, 10, &c);
    t_package(&n, 20, &d);
    t_put_function_as(&n, acct, "old", &c, c.sha256, false);
    t_put_function_as(&n, acct, "broken", &d, d.sha256, false);
    char path[1400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/lambda", n.data_dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/lambda/%s", n.data_dir, acct);
    assert_int_equal(mkdir(path, 0700), 0);
    static const char *const names[] = {"old", "broken"};
    for (size_t i = 0; i < 2; i++) {
        const struct mg_lambda_code *k = i ? &d : &c;
        snprintf(path, sizeof(path), "%s/lambda/%s/%s", n.data_dir, acct, names[i]);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/lambda/%s/%s/%s.zip", n.data_dir, acct, names[i], k->hex);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        /* the broken one's file is cut short */
        assert_int_equal(fwrite(k->zip.ptr, 1, k->zip.len - i, f), k->zip.len - i);
        fclose(f);
    }
    struct mg_buf out;
    mg_buf_init(&out, MG_LAMBDA_ZIP_MAX);
    char msg[256];
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)),
                     MG_E_NOT_FOUND);
    mg_lambda_code_migrate(&n.L);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    assert_int_equal(out.len, c.zip.len);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, d.hex, &out, msg, sizeof(msg)),
                     MG_E_NOT_FOUND);
    /* the old folder is gone; a second run changes nothing */
    snprintf(path, sizeof(path), "%s/lambda/%s", n.data_dir, acct);
    assert_int_not_equal(stat(path, &st), 0);
    uint64_t gen = mg_store_generation(n.store);
    mg_lambda_code_migrate(&n.L);
    assert_int_equal(mg_store_generation(n.store), gen);
    assert_int_equal(mg_lambda_blob_read(n.store, acct, c.hex, &out, msg, sizeof(msg)), MG_E_OK);
    mg_buf_cleanup(&out);
    mg_lambda_code_cleanup(&c);
    mg_lambda_code_cleanup(&d);
    t_node_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_zip_extract_ok),  cmocka_unit_test(test_lambda_zip_traversal),
        cmocka_unit_test(test_lambda_zip_bombs),       cmocka_unit_test(test_lambda_zip_verify),
        cmocka_unit_test(test_lambda_zip_garbage),     cmocka_unit_test(test_lambda_code_check),
        cmocka_unit_test(test_lambda_code_cache_path), cmocka_unit_test(test_lambda_code_blob),
        cmocka_unit_test(test_lambda_code_sweep),      cmocka_unit_test(test_lambda_code_migrate),
    };
    return MG_RUN_TESTS(tests);
}
