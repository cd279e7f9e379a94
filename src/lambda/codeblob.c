/* The code packages in the store: every node runs any function from there.
 *
 * A package (the zip as uploaded) is stored once per account and SHA-256 (Lambda's CodeSha256):
 *   lambda_code / ACCOUNT / HEX        a document: {"Sha256","Size","ChunkSize","Parts"}
 *   chunks lambda_code / ACCOUNT / HEX  parts 0..Parts-1 of the zip, ChunkSize bytes each but the
 *                                      last
 * both written in the transaction that writes the function's document, so a function never points
 * to code that is not there. Functions of one account with the same code share the rows; they go
 * when the last function document of the account that names them does (mg_lambda_blob_release).
 * Another account's function with the same package has rows of its own: the SHA-256 is never a
 * way to reach another account's code. */
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/internal.h"

_Static_assert(MG_LAMBDA_CODE_CHUNK <= MG_STORE_DOC_MAX, "a code chunk is one store value");

/* A reason for the log and the caller's error (truncated when long). */
static void MG_PRINTF(3, 4) s_msg(char *msg, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
}

static bool s_is_account(const char *a)
{
    size_t n = 0;
    for (; a[n]; n++)
        if (a[n] < '0' || a[n] > '9')
            return false;
    return n == 12;
}

static bool s_is_hex64(const char *h)
{
    size_t n = 0;
    for (; h[n]; n++)
        if (!((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
            return false;
    return n == 64;
}

bool mg_lambda_cache_path(const char *data_dir, const char *account, const char *hex, char *out,
                          size_t cap)
{
    if (cap)
        out[0] = 0;
    if (data_dir == NULL || account == NULL || !s_is_account(account) ||
        (hex != NULL && !s_is_hex64(hex)))
        return false;
    bool ok = hex ? mg_fmt(out, cap, "%s/lambda/cache/%s/%s", data_dir, account, hex)
                  : mg_fmt(out, cap, "%s/lambda/cache/%s", data_dir, account);
    if (!ok && cap)
        out[0] = 0;
    return ok;
}

enum mg_err mg_lambda_blob_write(struct mg_store *st, const char *account, const char *hex,
                                 struct mg_slice zip)
{
    if (!s_is_account(account) || !s_is_hex64(hex) || zip.len == 0 || zip.len > MG_LAMBDA_ZIP_MAX)
        return MG_E_INVALID;
    uint8_t digest[32];
    SHA256(zip.ptr, zip.len, digest);
    char got[65];
    mg_hex_encode(digest, 32, got);
    got[64] = 0;
    if (strcmp(got, hex) != 0)
        return MG_E_INVALID;
    struct mg_buf b64;
    mg_buf_init(&b64, 64);
    size_t parts = (zip.len + MG_LAMBDA_CODE_CHUNK - 1) / MG_LAMBDA_CODE_CHUNK;
    enum mg_err e = mg_base64_encode(&b64, mg_slice_make(digest, 32));
    const char *sha = e ? NULL : mg_buf_cstr(&b64);
    json_t *m = sha ? json_pack("{s:s,s:I,s:I,s:I}", "Sha256", sha, "Size", (json_int_t)zip.len,
                                "ChunkSize", (json_int_t)MG_LAMBDA_CODE_CHUNK, "Parts",
                                (json_int_t)parts)
                    : NULL;
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    mg_buf_cleanup(&b64);
    if (text == NULL)
        return MG_E_NOMEM;
    /* the document first: on PostgreSQL its row lock orders this write against a release of the
     * same code by another node (which writes it too before it counts the references) */
    e = mg_store_put(st, MG_LAMBDA_CODE_KIND, account, hex, mg_slice_cstr(text));
    mg_free(text);
    for (size_t i = 0; e == MG_E_OK && i < parts; i++) {
        size_t off = i * MG_LAMBDA_CODE_CHUNK;
        size_t n = zip.len - off < MG_LAMBDA_CODE_CHUNK ? zip.len - off : MG_LAMBDA_CODE_CHUNK;
        e = mg_store_chunk_put(st, MG_LAMBDA_CODE_KIND, account, hex, (uint32_t)i,
                               mg_slice_make(zip.ptr + off, n));
    }
    return e;
}

struct s_refs {
    const char *hex;
    bool found;
    bool failed;
};

static bool s_ref_row(void *user, const struct mg_store_row *row)
{
    struct s_refs *r = user;
    json_t *doc = json_loadb(row->doc, row->doc_len, 0, NULL);
    char hex[65];
    if (doc == NULL) {
        r->failed = true; /* unreadable: counted as a reference, the code stays */
        return false;
    }
    if (mg_lambda_sha_hex(json_string_value(json_object_get(doc, "CodeSha256")), hex) &&
        strcmp(hex, r->hex) == 0)
        r->found = true;
    json_decref(doc);
    return !r->found;
}

enum mg_err mg_lambda_blob_release(struct mg_store *st, const char *account, const char *hex)
{
    if (!s_is_account(account) || !s_is_hex64(hex))
        return MG_E_INVALID;
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    enum mg_err e = mg_store_get(st, MG_LAMBDA_CODE_KIND, account, hex, &b);
    /* written again as it is: on PostgreSQL this takes the row's lock, so a node storing the same
     * code now either committed its function before the count below, or writes every part again
     * after this transaction */
    if (e == MG_E_OK)
        e = mg_store_put(st, MG_LAMBDA_CODE_KIND, account, hex, mg_buf_slice(&b));
    mg_buf_cleanup(&b);
    if (e == MG_E_NOT_FOUND)
        return MG_E_OK; /* nothing stored (a store that predates this, or already gone) */
    if (e)
        return e;
    struct s_refs r = {hex, false, false};
    MG_TRY(mg_store_list(st, "function", account, s_ref_row, &r));
    if (r.found || r.failed)
        return MG_E_OK;
    e = mg_store_delete(st, MG_LAMBDA_CODE_KIND, account, hex);
    if (e == MG_E_OK || e == MG_E_NOT_FOUND)
        e = mg_store_chunk_delete(st, MG_LAMBDA_CODE_KIND, account, hex);
    return e == MG_E_NOT_FOUND ? MG_E_OK : e;
}

enum mg_err mg_lambda_blob_read(struct mg_store *st, const char *account, const char *hex,
                                struct mg_buf *out, char *msg, size_t cap)
{
    mg_buf_reset(out);
    if (cap)
        msg[0] = 0;
    if (!s_is_account(account) || !s_is_hex64(hex)) {
        s_msg(msg, cap, "not a code version");
        return MG_E_INVALID;
    }
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    enum mg_err e = mg_store_get(st, MG_LAMBDA_CODE_KIND, account, hex, &b);
    json_t *m = e ? NULL : json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    if (e == MG_E_NOT_FOUND) {
        s_msg(msg, cap, "the code package is not in the store");
        return MG_E_NOT_FOUND;
    }
    if (e) {
        s_msg(msg, cap, "the store cannot be read: %s", mg_err_str(e));
        return e;
    }
    json_int_t size = json_integer_value(json_object_get(m, "Size"));
    json_int_t chunk = json_integer_value(json_object_get(m, "ChunkSize"));
    json_int_t parts = json_integer_value(json_object_get(m, "Parts"));
    json_decref(m);
    if (size <= 0 || (uint64_t)size > MG_LAMBDA_ZIP_MAX || chunk <= 0 ||
        (uint64_t)chunk > MG_STORE_DOC_MAX || parts != (size + chunk - 1) / chunk) {
        s_msg(msg, cap, "the code package's record is damaged");
        return MG_E_INVALID;
    }
    struct mg_buf part;
    mg_buf_init(&part, (size_t)chunk);
    for (json_int_t i = 0; e == MG_E_OK && i < parts; i++) {
        e = mg_store_chunk_get(st, MG_LAMBDA_CODE_KIND, account, hex, (uint32_t)i, &part);
        size_t want = i + 1 < parts ? (size_t)chunk : (size_t)(size - i * chunk);
        if (e == MG_E_NOT_FOUND) {
            s_msg(msg, cap, "part %lld of %lld of the code package is missing", (long long)i + 1,
                  (long long)parts);
            e = MG_E_INVALID;
        } else if (e == MG_E_TOO_LARGE || (e == MG_E_OK && part.len != want)) {
            s_msg(msg, cap, "part %lld of %lld of the code package has the wrong size",
                  (long long)i + 1, (long long)parts);
            e = MG_E_INVALID;
        } else if (e) {
            s_msg(msg, cap, "the store cannot be read: %s", mg_err_str(e));
        } else {
            e = mg_buf_append(out, part.ptr, part.len);
        }
    }
    mg_buf_cleanup(&part);
    if (e == MG_E_OK) {
        uint8_t digest[32];
        char got[65];
        SHA256(out->ptr, out->len, digest);
        mg_hex_encode(digest, 32, got);
        got[64] = 0;
        if (strcmp(got, hex) != 0) {
            s_msg(msg, cap, "the code package does not match its SHA-256");
            e = MG_E_INVALID;
        }
    }
    if (e)
        mg_buf_reset(out);
    return e;
}
