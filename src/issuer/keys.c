/* The issuer's ES256 (P-256) signing keys, kept in the store's meta value "issuer_keys" (shared
 * by every node of the store): {"keys":[{"kid":..,"created":..,"privateKey":"-----BEGIN PRIVATE
 * KEY-----..."}]}, the current key first. Made once (inserted when absent, then read back: of two
 * nodes starting together one key wins); rotated by compare and swap, so two rotations at once
 * both land. DATA/issuer/keys.json, where versions before kept them, is moved into the store the
 * first time a store without keys is opened with it, and renamed keys.json.imported. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "issuer/issuer_internal.h"
#include "state/store.h"

struct s_key {
    EVP_PKEY *pkey;
    char kid[MG_ISSUER_KID_LEN + 1];
    int64_t created;
    char *pem; /* the private key, PKCS#8 PEM (zeroed when freed) */
};

struct mg_issuer_keys {
    atomic_long refs;
    struct s_key keys[MG_ISSUER_MAX_KEYS];
    size_t n;
    char *jwks; /* the public JWKS text */
    size_t jwks_len;
    uint8_t digest[32]; /* SHA-256 of the stored text it was read from (zero: not from a store) */
};

bool mg_issuer_keys_path(const char *data_dir, char *out, size_t cap)
{
    return mg_fmt(out, cap, "%s/issuer/keys.json", data_dir);
}

static void s_key_cleanup(struct s_key *k)
{
    EVP_PKEY_free(k->pkey);
    if (k->pem) {
        mg_memzero(k->pem, strlen(k->pem));
        mg_free(k->pem);
    }
    mg_memzero(k, sizeof(*k));
}

static void s_keys_free(struct mg_issuer_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        s_key_cleanup(&k->keys[i]);
    mg_free(k->jwks);
    mg_free(k);
}

struct mg_issuer_keys *mg_issuer_keys_ref(struct mg_issuer_keys *k)
{
    if (k)
        atomic_fetch_add(&k->refs, 1);
    return k;
}

void mg_issuer_keys_unref(struct mg_issuer_keys *k)
{
    if (k && atomic_fetch_sub(&k->refs, 1) == 1)
        s_keys_free(k);
}

size_t mg_issuer_keys_count(const struct mg_issuer_keys *k)
{
    return k ? k->n : 0;
}

const char *mg_issuer_keys_kid(const struct mg_issuer_keys *k, size_t i)
{
    return k && i < k->n ? k->keys[i].kid : NULL;
}

struct mg_slice mg_issuer_keys_jwks(const struct mg_issuer_keys *k)
{
    return mg_slice_make(k->jwks, k->jwks_len);
}

EVP_PKEY *mg_issuer_keys_current(const struct mg_issuer_keys *k, const char **kid)
{
    if (k == NULL || k->n == 0)
        return NULL;
    *kid = k->keys[0].kid;
    return k->keys[0].pkey;
}

static enum mg_err s_b64url(const uint8_t *p, size_t n, char *out, size_t cap)
{
    struct mg_buf b;
    mg_buf_init(&b, cap);
    enum mg_err e = mg_base64url_encode(&b, mg_slice_make(p, n));
    if (!e && b.len + 1 > cap)
        e = MG_E_TOO_LARGE;
    if (!e) {
        mg_memcpy(out, b.ptr, b.len);
        out[b.len] = 0;
    }
    mg_buf_cleanup(&b);
    return e;
}

/* x and y (base64url) of a P-256 key; false when it is not one. */
static bool s_public_xy(EVP_PKEY *pkey, char x[48], char y[48])
{
    char group[32];
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1 ||
        strcmp(group, "prime256v1") != 0)
        return false;
    uint8_t pt[65];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) != 1 ||
        len != 65 || pt[0] != 4)
        return false;
    return s_b64url(pt + 1, 32, x, 48) == MG_E_OK && s_b64url(pt + 33, 32, y, 48) == MG_E_OK;
}

/* RFC 7638 thumbprint: base64url(SHA-256({"crv":"P-256","kty":"EC","x":..,"y":..})). */
static bool s_thumbprint(const char *x, const char *y, char kid[MG_ISSUER_KID_LEN + 1])
{
    char doc[256];
    if (!mg_fmt(doc, sizeof(doc), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
                y))
        return false;
    uint8_t d[32];
    unsigned int dl = 0;
    if (EVP_Digest(doc, strlen(doc), d, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
        return false;
    return s_b64url(d, 32, kid, MG_ISSUER_KID_LEN + 1) == MG_E_OK;
}

static enum mg_err s_key_from_pem(const char *pem, int64_t created, struct s_key *out,
                                  struct mg_errinfo *ei)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char x[48], y[48];
    if (pkey == NULL || !s_public_xy(pkey, x, y)) {
        EVP_PKEY_free(pkey);
        return mg_errinfo_set(ei, MG_E_INVALID, "not a P-256 private key in PEM");
    }
    out->pkey = pkey;
    out->created = created;
    out->pem = mg_strdup(pem);
    if (out->pem == NULL || !s_thumbprint(x, y, out->kid)) {
        s_key_cleanup(out);
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    return MG_E_OK;
}

static enum mg_err s_key_generate(int64_t now, struct s_key *out, struct mg_errinfo *ei)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (pkey == NULL)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "cannot generate a P-256 key");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    enum mg_err e = MG_E_OK;
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        e = mg_errinfo_set(ei, MG_E_INTERNAL, "cannot encode the new key");
    } else {
        char *pem = mg_malloc((size_t)n + 1);
        if (pem == NULL) {
            e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        } else {
            mg_memcpy(pem, data, (size_t)n);
            pem[n] = 0;
            e = s_key_from_pem(pem, now, out, ei);
            mg_memzero(pem, (size_t)n);
            mg_free(pem);
        }
    }
    if (data && n > 0)
        mg_memzero(data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return e;
}

/* Builds the public JWKS text of k. */
static enum mg_err s_build_jwks(struct mg_issuer_keys *k)
{
    json_t *doc = json_object(), *arr = json_array();
    bool ok = doc && arr && mg_json_set_ref(doc, "keys", arr);
    for (size_t i = 0; ok && i < k->n; i++) {
        char x[48], y[48];
        json_t *jwk = json_object();
        ok = jwk && s_public_xy(k->keys[i].pkey, x, y);
        ok = ok && mg_json_set(jwk, "kty", json_string("EC"));
        ok = ok && mg_json_set(jwk, "crv", json_string("P-256"));
        ok = ok && mg_json_set(jwk, "x", json_string(x));
        ok = ok && mg_json_set(jwk, "y", json_string(y));
        ok = ok && mg_json_set(jwk, "kid", json_string(k->keys[i].kid));
        ok = ok && mg_json_set(jwk, "use", json_string("sig"));
        ok = ok && mg_json_set(jwk, "alg", json_string("ES256"));
        if (ok)
            ok = mg_json_append(arr, jwk);
        else
            json_decref(jwk);
    }
    json_decref(arr);
    char *text = ok ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (text == NULL)
        return MG_E_NOMEM;
    k->jwks = text;
    k->jwks_len = strlen(text);
    return MG_E_OK;
}

static struct mg_issuer_keys *s_keys_new(void)
{
    struct mg_issuer_keys *k = mg_calloc(1, sizeof(*k));
    if (k)
        atomic_init(&k->refs, 1);
    return k;
}

/* Parses the text of keys.json. */
static enum mg_err s_parse(struct mg_slice text, struct mg_issuer_keys **out, struct mg_errinfo *ei)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_PARSE, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    enum mg_err e = MG_E_OK;
    struct mg_issuer_keys *k = s_keys_new();
    const json_t *arr = json_object_get(root, "keys");
    if (k == NULL) {
        e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        goto out;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > MG_ISSUER_MAX_KEYS) {
        e = mg_errinfo_set(ei, MG_E_INVALID, "keys: must be an array of 1 to %d keys",
                           MG_ISSUER_MAX_KEYS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        const char *pem = json_string_value(json_object_get(o, "privateKey"));
        const char *kid = json_string_value(json_object_get(o, "kid"));
        const json_t *created = json_object_get(o, "created");
        if (pem == NULL || kid == NULL || !json_is_integer(created)) {
            e = mg_errinfo_set(ei, MG_E_INVALID,
                               "keys[%zu]: wants \"kid\", \"created\" and \"privateKey\"", i);
            goto out;
        }
        struct mg_errinfo local = {0};
        e = s_key_from_pem(pem, json_integer_value(created), &k->keys[i], &local);
        if (e) {
            mg_errinfo_set(ei, e, "keys[%zu].privateKey: %s", i, local.msg);
            goto out;
        }
        k->n = i + 1;
        if (strcmp(kid, k->keys[i].kid) != 0) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "keys[%zu].kid: does not match the key", i);
            goto out;
        }
    }
    e = s_build_jwks(k);
    if (e)
        mg_errinfo_set(ei, e, "out of memory");
out:
    json_decref(root);
    if (e)
        s_keys_free(k);
    else
        *out = k;
    return e;
}

/* The text of keys.json for k. The caller zeroes and frees it (it holds private keys). */
static char *s_serialize(const struct mg_issuer_keys *k)
{
    json_t *doc = json_object(), *arr = json_array();
    bool ok = doc && arr && mg_json_set_ref(doc, "keys", arr);
    for (size_t i = 0; ok && i < k->n; i++) {
        json_t *o = json_object();
        ok = o != NULL;
        ok = ok && mg_json_set(o, "kid", json_string(k->keys[i].kid));
        ok = ok && mg_json_set(o, "created", json_integer(k->keys[i].created));
        ok = ok && mg_json_set(o, "privateKey", json_string(k->keys[i].pem));
        if (ok)
            ok = mg_json_append(arr, o);
        else
            json_decref(o);
    }
    json_decref(arr);
    char *text = ok ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return text;
}

/* Reads path (at most MG_ISSUER_MAX_KEYS_FILE bytes); MG_E_NOT_FOUND when it does not exist. */
static enum mg_err s_read(const char *path, struct mg_buf *b, struct mg_errinfo *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MG_E_NOT_FOUND;
        return mg_errinfo_set(ei, MG_E_IO, "cannot read %s: %s", path, strerror(errno));
    }
    enum mg_err e = MG_E_OK;
    uint8_t chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = mg_errinfo_set(ei, MG_E_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        e = mg_buf_append(b, chunk, (size_t)n);
        if (e) {
            e = mg_errinfo_set(ei, e, "%s: %s", path,
                               e == MG_E_TOO_LARGE ? "too large" : "out of memory");
            break;
        }
    }
    mg_memzero(chunk, sizeof(chunk));
    close(fd);
    return e;
}

static enum mg_err s_load_file(const char *path, struct mg_issuer_keys **out, struct mg_errinfo *ei)
{
    struct mg_buf b;
    mg_buf_init(&b, MG_ISSUER_MAX_KEYS_FILE);
    enum mg_err e = s_read(path, &b, ei);
    if (!e) {
        struct mg_errinfo local = {0};
        e = s_parse(mg_buf_slice(&b), out, &local);
        if (e)
            mg_errinfo_set(ei, e, "%s: %s", path, local.msg);
    }
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
    return e;
}

#define S_META "issuer_keys"
#define S_ROTATE_TRIES 8

static bool s_sha256(struct mg_slice v, uint8_t d[32])
{
    unsigned int dl = 0;
    return EVP_Digest(v.ptr != NULL ? v.ptr : (const uint8_t *)"", v.len, d, &dl, EVP_sha256(),
                      NULL) == 1 &&
           dl == 32;
}

/* The keys of the store's value (MG_E_NOT_FOUND when there is none); *text (may be NULL) gets
 * the value's bytes, which the caller zeroes and cleans up. */
static enum mg_err s_load_store(struct mg_store *st, struct mg_buf *text,
                                struct mg_issuer_keys **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_buf b;
    mg_buf_init(&b, MG_ISSUER_MAX_KEYS_FILE);
    enum mg_err e = mg_store_meta_get(st, S_META, &b);
    if (e == MG_E_NOT_FOUND) {
        /* nothing: not an error to report yet */
    } else if (e) {
        struct mg_errinfo se = {0};
        mg_store_last_error(&se);
        e = mg_errinfo_set(ei, e, "cannot read the issuer keys from the store: %s", se.msg);
    } else {
        struct mg_errinfo local = {0};
        e = s_parse(mg_buf_slice(&b), out, &local);
        if (e)
            mg_errinfo_set(ei, e, "the issuer keys in the store (meta %s): %s", S_META, local.msg);
        else if (!s_sha256(mg_buf_slice(&b), (*out)->digest))
            mg_memzero((*out)->digest, sizeof((*out)->digest)); /* the next reload reparses */
    }
    if (!e && text) {
        mg_buf_reset(text);
        e = mg_buf_append(text, b.ptr, b.len);
        if (e) {
            mg_errinfo_set(ei, e, "out of memory");
            mg_issuer_keys_unref(*out);
            *out = NULL;
        }
    }
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
    return e;
}

static enum mg_err s_store_error(enum mg_err e, const char *what, struct mg_errinfo *ei)
{
    struct mg_errinfo se = {0};
    mg_store_last_error(&se);
    return mg_errinfo_set(ei, e, "cannot %s the issuer keys in the store: %s", what, se.msg);
}

/* Writes k as the store's value: inserted when expected is NULL (MG_E_CONFLICT when a value
 * appeared meanwhile), else swapped from expected (MG_E_CONFLICT when it changed meanwhile). */
static enum mg_err s_store_write(struct mg_store *st, const struct mg_issuer_keys *k,
                                 const struct mg_buf *expected, struct mg_errinfo *ei)
{
    char *text = s_serialize(k);
    if (text == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    size_t len = strlen(text);
    enum mg_err e = expected ? mg_store_meta_swap(st, S_META, mg_buf_slice(expected),
                                                  mg_slice_make(text, len))
                             : mg_store_meta_insert(st, S_META, mg_slice_make(text, len));
    mg_memzero(text, len);
    mg_free(text);
    if (e && e != MG_E_CONFLICT)
        return s_store_error(e, "write", ei);
    return e;
}

/* The keys of DATA/issuer/keys.json, where versions before the store kept them: MG_E_NOT_FOUND
 * when there is no such file. */
static enum mg_err s_load_legacy(const char *data_dir, struct mg_issuer_keys **out,
                                 struct mg_errinfo *ei)
{
    *out = NULL;
    char path[4096];
    if (data_dir == NULL || data_dir[0] == 0)
        return MG_E_NOT_FOUND;
    if (!mg_issuer_keys_path(data_dir, path, sizeof(path)))
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "data directory path too long");
    return s_load_file(path, out, ei);
}

/* After its keys went into the store: keys.json is renamed, so that nobody takes it for the
 * live keys (a rotation changes only the store). */
static void s_retire_legacy(const char *data_dir)
{
    char path[4096], done[4200];
    if (!mg_issuer_keys_path(data_dir, path, sizeof(path)) ||
        !mg_fmt(done, sizeof(done), "%s.imported", path))
        return;
    if (rename(path, done) == 0)
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN,
               "issuer: moved the signing keys of %s into the store; the file is now %s and no "
               "longer read",
               path, done);
    else
        MG_LOG(MG_LOG_WARN, MG_SUB_MAIN,
               "issuer: the signing keys of %s are in the store now, but the file could not be "
               "renamed: %s; it is no longer read",
               path, strerror(errno));
}

enum mg_err mg_issuer_keys_open(struct mg_store *st, const char *data_dir, bool create,
                                struct mg_issuer_keys **out, struct mg_errinfo *ei)
{
    *out = NULL;
    enum mg_err e = s_load_store(st, NULL, out, ei);
    if (e != MG_E_NOT_FOUND)
        return e;
    /* none in the store: the keys of an older data directory, else (with create) a new key */
    struct mg_issuer_keys *k = NULL;
    e = s_load_legacy(data_dir, &k, ei);
    bool legacy = e == MG_E_OK;
    if (e == MG_E_NOT_FOUND) {
        if (!create)
            return mg_errinfo_set(ei, MG_E_NOT_FOUND,
                                  "the store holds no issuer keys (start the server with "
                                  "--oauth-issuer, or run 'mcpgate issuer rotate-keys')");
        k = s_keys_new();
        e = k ? s_key_generate(mg_now(), &k->keys[0], ei)
              : mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        if (!e) {
            k->n = 1;
            e = s_build_jwks(k);
            if (e)
                mg_errinfo_set(ei, e, "out of memory");
        }
    }
    if (!e)
        e = s_store_write(st, k, NULL, ei);
    bool won = e == MG_E_OK;
    if (won && legacy)
        s_retire_legacy(data_dir);
    else if (won)
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "issuer: created signing key %s in the store",
               k->keys[0].kid);
    s_keys_free(k);
    if (e && e != MG_E_CONFLICT)
        return e;
    /* this node's keys, or those another node stored first: what the store holds is used */
    e = s_load_store(st, NULL, out, ei);
    if (e == MG_E_NOT_FOUND)
        e = mg_errinfo_set(ei, MG_E_STORE, "the issuer keys vanished from the store");
    return e;
}

enum mg_err mg_issuer_keys_rotate(struct mg_store *st, const char *data_dir, char *kid_out,
                                  size_t cap, struct mg_errinfo *ei)
{
    struct mg_buf cur;
    mg_buf_init(&cur, MG_ISSUER_MAX_KEYS_FILE);
    enum mg_err e = MG_E_CONFLICT;
    for (int attempt = 0; e == MG_E_CONFLICT && attempt < S_ROTATE_TRIES; attempt++) {
        struct mg_issuer_keys *old = NULL, *k = s_keys_new();
        bool legacy = false, stored = false;
        e = k ? s_load_store(st, &cur, &old, ei) : mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        stored = e == MG_E_OK;
        if (e == MG_E_NOT_FOUND) {
            e = s_load_legacy(data_dir, &old, ei);
            legacy = e == MG_E_OK;
            if (e == MG_E_NOT_FOUND)
                e = MG_E_OK; /* the first key */
        }
        if (!e)
            e = s_key_generate(mg_now(), &k->keys[0], ei);
        if (!e) {
            k->n = 1;
            /* the previous keys move down, the oldest beyond the limit goes */
            for (size_t i = 0; old && i < old->n && k->n < MG_ISSUER_MAX_KEYS; i++) {
                k->keys[k->n] = old->keys[i];
                mg_memzero(&old->keys[i], sizeof(old->keys[i]));
                k->n++;
            }
            e = s_build_jwks(k);
            if (e)
                mg_errinfo_set(ei, e, "out of memory");
        }
        if (!e)
            e = s_store_write(st, k, stored ? &cur : NULL, ei);
        if (!e && legacy)
            s_retire_legacy(data_dir);
        if (!e && kid_out && !mg_fmt(kid_out, cap, "%s", k->keys[0].kid))
            e = mg_errinfo_set(ei, MG_E_TOO_LARGE, "kid buffer too small");
        mg_issuer_keys_unref(old);
        s_keys_free(k);
    }
    if (e == MG_E_CONFLICT)
        e = mg_errinfo_set(ei, MG_E_CONFLICT,
                           "the issuer keys kept changing during the rotation; try again");
    if (cur.ptr)
        mg_memzero(cur.ptr, cur.len);
    mg_buf_cleanup(&cur);
    return e;
}

enum mg_err mg_issuer_keys_reload(struct mg_store *st, const struct mg_issuer_keys *cur,
                                  struct mg_issuer_keys **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_buf b;
    mg_buf_init(&b, MG_ISSUER_MAX_KEYS_FILE);
    enum mg_err e = mg_store_meta_get(st, S_META, &b);
    uint8_t d[32];
    if (e) {
        e = s_store_error(e, "read", ei);
    } else if (!s_sha256(mg_buf_slice(&b), d)) {
        e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    } else if (cur == NULL || mg_memcmp(d, cur->digest, sizeof(d)) != 0) {
        struct mg_errinfo local = {0};
        e = s_parse(mg_buf_slice(&b), out, &local);
        if (e)
            mg_errinfo_set(ei, e, "the issuer keys in the store (meta %s): %s", S_META, local.msg);
        else if (*out != NULL)
            mg_memcpy((*out)->digest, d, sizeof(d));
    }
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
    return e;
}
