/* STS sessions (temporary credentials). A session token is the whole session, sealed with
 * AES-256-GCM under the server's token key:
 *
 *   base64( 0x01 | nonce (12) | ciphertext | tag (16) ),  AAD "mcpgate-sts-1"
 *
 * The plaintext is a compact JSON object: {"k": access key id, "s": secret, "a": account,
 * "r": role ARN, "i": role id, "n": session name, "t": issued, "e": expires, "c": chained,
 * "p": session policy text, "m": [policy ARNs], "g": {tag: value}}. Verifying a token needs no
 * store lookup, and tokens survive restarts because the key is kept in the store meta. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws/aws.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "sigv4/sigv4.h"

#define S_VERSION 0x01
#define S_NONCE 12
#define S_TAG 16
#define S_AAD "mcpgate-sts-1"
#define S_TOKEN_MAX (16u * 1024u)

static const char s_secret_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void mg_sts_session_cleanup(struct mg_sts_session *s)
{
    mg_free(s->policy);
    s->policy = NULL;
    for (size_t i = 0; i < s->n_policy_arns; i++)
        mg_free(s->policy_arns[i]);
    s->n_policy_arns = 0;
    json_decref(s->tags);
    s->tags = NULL;
    mg_memzero(s->secret, sizeof(s->secret));
}

/* ---- sealing ------------------------------------------------------------------------------ */

static enum mg_err s_gcm(bool enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *in,
                         size_t n, uint8_t *out, uint8_t *tag)
{
    return mg_aes256gcm(enc, key, nonce, MG_SLICE_LIT(S_AAD), in, n, out, tag);
}

static json_t *s_to_json(const struct mg_sts_session *s)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "k", s->access_key_id,
                          "s", s->secret, "a", s->account, "r", s->role_arn, "i", s->role_id, "n",
                          s->session_name, "t", (json_int_t)s->issued, "e", (json_int_t)s->expires,
                          "c", s->chained);
    if (o == NULL)
        return NULL;
    bool ok = true;
    if (s->policy)
        ok = mg_json_set(o, "p", json_string(s->policy));
    if (ok && s->n_policy_arns) {
        json_t *a = json_array();
        for (size_t i = 0; ok && i < s->n_policy_arns; i++)
            ok = mg_json_append(a, json_string(s->policy_arns[i]));
        if (ok)
            ok = mg_json_set(o, "m", a);
        else
            json_decref(a);
    }
    if (ok && s->tags && json_object_size(s->tags))
        ok = mg_json_set_ref(o, "g", s->tags);
    if (ok && s->source_identity[0])
        ok = mg_json_set(o, "si", json_string(s->source_identity));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void s_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        mg_memcpy(dst, src, n);
    dst[n] = 0;
}

enum mg_err mg_sts_session_issue(const uint8_t key[32], struct mg_sts_session *s, int64_t duration,
                                 struct mg_buf *token_out)
{
    char id[32] = {0};
    mg_iam_new_id("ASIA", id);
    s_copy(s->access_key_id, sizeof(s->access_key_id), id);
    mg_random_chars(s->secret, 40, s_secret_alpha);
    s->secret[40] = 0;
    s->issued = mg_now();
    s->expires = s->issued + duration;

    json_t *o = s_to_json(s);
    if (o == NULL)
        return MG_E_NOMEM;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return MG_E_NOMEM;
    size_t n = strlen(text);
    enum mg_err e = MG_E_NOMEM;
    uint8_t *raw = mg_malloc(1 + S_NONCE + n + S_TAG);
    if (raw == NULL)
        goto out;
    raw[0] = S_VERSION;
    mg_random_bytes(raw + 1, S_NONCE);
    e = s_gcm(true, key, raw + 1, (const uint8_t *)text, n, raw + 1 + S_NONCE,
              raw + 1 + S_NONCE + n);
    if (!e) {
        mg_buf_reset(token_out);
        e = mg_base64_encode(token_out, mg_slice_make(raw, 1 + S_NONCE + n + S_TAG));
    }
out:
    mg_memzero(text, n);
    mg_free(text);
    if (raw) {
        mg_memzero(raw, 1 + S_NONCE + n + S_TAG);
        mg_free(raw);
    }
    return e;
}

/* Concatenates parts (NULL-terminated list) into dst, truncating at cap. */
static void s_join(char *dst, size_t cap, const char *const *parts)
{
    size_t n = 0;
    for (size_t i = 0; parts[i]; i++) {
        size_t l = strlen(parts[i]);
        if (l > cap - 1 - n)
            l = cap - 1 - n;
        mg_memcpy(dst + n, parts[i], l);
        n += l;
    }
    dst[n] = 0;
}

static bool s_fits(const json_t *o, const char *k, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && strlen(v) < cap;
}

enum mg_err mg_sts_session_open(const uint8_t key[32], struct mg_slice token,
                                struct mg_sts_session *out)
{
    memset(out, 0, sizeof(*out));
    if (token.len == 0 || token.len > S_TOKEN_MAX)
        return MG_E_AUTH;
    struct mg_buf raw;
    mg_buf_init(&raw, S_TOKEN_MAX);
    enum mg_err e = MG_E_AUTH;
    uint8_t *plain = NULL;
    json_t *o = NULL;
    if (mg_base64_decode(&raw, token) != MG_E_OK || raw.len < 1 + S_NONCE + S_TAG ||
        raw.ptr[0] != S_VERSION)
        goto out;
    size_t n = raw.len - 1 - S_NONCE - S_TAG;
    plain = mg_malloc(n + 1);
    if (plain == NULL) {
        e = MG_E_NOMEM;
        goto out;
    }
    if (s_gcm(false, key, raw.ptr + 1, raw.ptr + 1 + S_NONCE, n, plain,
              raw.ptr + 1 + S_NONCE + n) != MG_E_OK)
        goto out;
    o = json_loadb((const char *)plain, n, JSON_REJECT_DUPLICATES, NULL);
    mg_memzero(plain, n);
    if (!json_is_object(o) || !s_fits(o, "k", sizeof(out->access_key_id)) ||
        !s_fits(o, "s", sizeof(out->secret)) || !s_fits(o, "a", sizeof(out->account)) ||
        !s_fits(o, "r", sizeof(out->role_arn)) || !s_fits(o, "i", sizeof(out->role_id)) ||
        !s_fits(o, "n", sizeof(out->session_name)) || !json_is_integer(json_object_get(o, "t")) ||
        !json_is_integer(json_object_get(o, "e")) ||
        (json_object_get(o, "si") && !s_fits(o, "si", sizeof(out->source_identity))))
        goto out;
    s_copy(out->access_key_id, sizeof(out->access_key_id),
           json_string_value(json_object_get(o, "k")));
    s_copy(out->secret, sizeof(out->secret), json_string_value(json_object_get(o, "s")));
    s_copy(out->account, sizeof(out->account), json_string_value(json_object_get(o, "a")));
    s_copy(out->role_arn, sizeof(out->role_arn), json_string_value(json_object_get(o, "r")));
    s_copy(out->role_id, sizeof(out->role_id), json_string_value(json_object_get(o, "i")));
    s_copy(out->session_name, sizeof(out->session_name),
           json_string_value(json_object_get(o, "n")));
    out->issued = json_integer_value(json_object_get(o, "t"));
    out->expires = json_integer_value(json_object_get(o, "e"));
    out->chained = json_is_true(json_object_get(o, "c"));
    s_copy(out->source_identity, sizeof(out->source_identity),
           json_string_value(json_object_get(o, "si")));
    e = MG_E_NOMEM;
    const char *pol = json_string_value(json_object_get(o, "p"));
    if (pol && (out->policy = mg_strdup(pol)) == NULL)
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "m"), i, v)
    {
        if (!json_is_string(v) || out->n_policy_arns >= 10) {
            e = MG_E_AUTH;
            goto out;
        }
        if ((out->policy_arns[out->n_policy_arns] = mg_strdup(json_string_value(v))) == NULL)
            goto out;
        out->n_policy_arns++;
    }
    json_t *g = json_object_get(o, "g");
    if (json_is_object(g) && (out->tags = json_deep_copy(g)) == NULL)
        goto out; /* out of memory: a session without its tags could escape a Deny on them */
    e = MG_E_OK;
out:
    if (o) {
        /* the secret lives in the JSON too */
        json_t *sv = json_object_get(o, "s");
        if (json_is_string(sv))
            json_string_set(sv, "");
        json_decref(o);
    }
    mg_free(plain);
    if (raw.ptr)
        mg_memzero(raw.ptr, raw.len);
    mg_buf_cleanup(&raw);
    if (e)
        mg_sts_session_cleanup(out);
    return e;
}

/* ---- compiled policy cache ---------------------------------------------------------------- */

#define S_CACHE_SIZE 128

struct s_cache_entry {
    uint64_t hash;
    enum mg_policy_kind kind;
    char *text;
    size_t len;
    struct mg_policy *policy;
};

static struct s_cache_entry s_cache[S_CACHE_SIZE];
static size_t s_cache_next;
static pthread_mutex_t s_cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct mg_policy *mg_iam_policy_cached(enum mg_policy_kind kind, struct mg_slice text,
                                       const char *label, struct mg_errinfo *ei)
{
    uint64_t h = mg_hash(text) ^ (uint64_t)kind;
    struct mg_policy *p = NULL;
    pthread_mutex_lock(&s_cache_lock);
    for (size_t i = 0; i < S_CACHE_SIZE; i++) {
        struct s_cache_entry *c = &s_cache[i];
        if (c->policy && c->hash == h && c->kind == kind && c->len == text.len &&
            mg_memcmp(c->text, text.ptr, text.len) == 0) {
            p = mg_policy_ref(c->policy);
            break;
        }
    }
    pthread_mutex_unlock(&s_cache_lock);
    if (p)
        return p;

    struct mg_policy_parse_opts o = {kind, MG_POLICY_LIMIT_RAW, label};
    if (mg_policy_parse(text, &o, &p, ei) != MG_E_OK)
        return NULL;
    char *copy = mg_slice_dup(text);
    if (copy == NULL)
        return p; /* usable, just not cached */
    pthread_mutex_lock(&s_cache_lock);
    struct s_cache_entry *c = &s_cache[s_cache_next];
    s_cache_next = (s_cache_next + 1) % S_CACHE_SIZE;
    struct mg_policy *old = c->policy;
    char *old_text = c->text;
    c->hash = h;
    c->kind = kind;
    c->text = copy;
    c->len = text.len;
    c->policy = mg_policy_ref(p);
    pthread_mutex_unlock(&s_cache_lock);
    mg_policy_unref(old);
    mg_free(old_text);
    return p;
}

void mg_iam_policy_cache_clear(void)
{
    pthread_mutex_lock(&s_cache_lock);
    for (size_t i = 0; i < S_CACHE_SIZE; i++) {
        mg_policy_unref(s_cache[i].policy);
        mg_free(s_cache[i].text);
        s_cache[i] = (struct s_cache_entry){0};
    }
    s_cache_next = 0;
    pthread_mutex_unlock(&s_cache_lock);
}

/* ---- resolving a session ------------------------------------------------------------------ */

/* The default version's document of a customer managed policy in the snapshot. */
static const char *s_policy_doc(const struct mg_snapshot *snap, const char *arn)
{
    const char *doc = mg_iam_aws_managed_policy(arn);
    if (doc)
        return doc;
    struct mg_arn a;
    if (!mg_arn_parse(mg_slice_cstr(arn), &a) || a.account.len != 12)
        return NULL;
    const char *slash = strrchr(arn, '/');
    if (slash == NULL)
        return NULL;
    char account[13];
    mg_memcpy(account, a.account.ptr, 12);
    account[12] = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "policy", account, slash + 1);
    if (d == NULL)
        return NULL;
    const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
    if (darn == NULL || strcmp(darn, arn) != 0)
        return NULL;
    const char *def = json_string_value(json_object_get(d->doc, "DefaultVersionId"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d->doc, "Versions"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "VersionId"));
        if (def && id && strcmp(def, id) == 0)
            return json_string_value(json_object_get(v, "Document"));
    }
    return NULL;
}

/* A session policy that denies everything (an explicit deny also beats resource-based allows). */
static struct mg_policy *s_deny_all(void)
{
    static const char deny[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
                               "\"SessionNoLongerValid\",\"Effect\":\"Deny\",\"Action\":\"*\","
                               "\"Resource\":\"*\"}]}";
    return mg_iam_policy_cached(MG_POLICY_KIND_SESSION, MG_SLICE_LIT(deny),
                                "session policy (role deleted or policy unavailable)", NULL);
}

/* Adds pol (NULL: it could not be compiled or allocated). False when the principal would be
 * left with more permission than its session allows: the caller must not use it. */
static bool s_add_session_policy(struct mg_principal *p, struct mg_policy *pol)
{
    if (pol == NULL)
        return false;
    size_t cap = sizeof(p->session_policies) / sizeof(p->session_policies[0]);
    if (p->n_session_policies >= cap) {
        /* No room: a session policy is never dropped (it may hold a Deny); the session is
         * denied everything instead. */
        mg_policy_unref(pol);
        struct mg_policy *deny = s_deny_all();
        if (deny == NULL)
            return false;
        mg_policy_unref(p->session_policies[cap - 1]);
        p->session_policies[cap - 1] = deny;
        return true;
    }
    p->session_policies[p->n_session_policies++] = pol;
    return true;
}

bool mg_sts_principal_from_session(const struct mg_snapshot *snap, const struct mg_sts_session *s,
                                   struct mg_principal *p)
{
    bool ok = true;
    memset(p, 0, sizeof(*p));
    const char *slash = strrchr(s->role_arn, '/');
    const char *role_name = slash ? slash + 1 : s->role_arn;
    p->type = MG_PRINCIPAL_ASSUMED_ROLE;
    s_copy(p->account, sizeof(p->account), s->account);
    const char *arn_parts[] = {"arn:aws:sts::", s->account, ":assumed-role/", role_name, "/",
                               s->session_name, NULL};
    s_join(p->arn, sizeof(p->arn), arn_parts);
    const char *id_parts[] = {s->role_id, ":", s->session_name, NULL};
    s_join(p->user_id, sizeof(p->user_id), id_parts);
    s_copy(p->name, sizeof(p->name), role_name);
    s_copy(p->session_name, sizeof(p->session_name), s->session_name);
    s_copy(p->role_arn, sizeof(p->role_arn), s->role_arn);
    s_copy(p->access_key_id, sizeof(p->access_key_id), s->access_key_id);
    p->token_issued = s->issued;
    p->token_expires = s->expires;
    p->role_chained = s->chained;
    s_copy(p->source_identity, sizeof(p->source_identity), s->source_identity);

    const struct mg_snapshot_doc *d = snap ? mg_snapshot_get(snap, "role", s->account, role_name)
                                           : NULL;
    const char *rid = d ? json_string_value(json_object_get(d->doc, "RoleId")) : NULL;
    if (d && rid && strcmp(rid, s->role_id) == 0) {
        p->user = d->doc;
    } else {
        /* The role was deleted (or deleted and created again): the session stays
         * authenticated, but no identity-based policy can allow it anything. */
        ok = s_add_session_policy(p, s_deny_all()) && ok;
    }
    char label[600];
    if (s->policy) {
        snprintf(label, sizeof(label), "session policy of %s", p->arn);
        struct mg_errinfo ei = {0};
        struct mg_policy *pol = mg_iam_policy_cached(MG_POLICY_KIND_SESSION,
                                                     mg_slice_cstr(s->policy), label, &ei);
        if (pol == NULL) {
            MG_LOG(MG_LOG_WARN, MG_SUB_STS, "session policy of %s does not compile: %s", p->arn,
                   ei.msg);
            ok = s_add_session_policy(p, s_deny_all()) && ok;
        } else {
            ok = s_add_session_policy(p, pol) && ok;
        }
    }
    for (size_t i = 0; i < s->n_policy_arns; i++) {
        const char *doc = snap ? s_policy_doc(snap, s->policy_arns[i]) : NULL;
        struct mg_policy *pol = doc ? mg_iam_policy_cached(MG_POLICY_KIND_SESSION,
                                                           mg_slice_cstr(doc), s->policy_arns[i],
                                                           NULL)
                                    : NULL;
        /* A session policy ARN that no longer resolves allows nothing. */
        if (pol == NULL)
            pol = s_deny_all();
        ok = s_add_session_policy(p, pol) && ok;
    }
    if (s->tags && json_object_size(s->tags)) {
        p->session_tags = json_deep_copy(s->tags);
        ok = p->session_tags != NULL && ok; /* a tag may be what a Deny matches */
    }
    return ok;
}

int mg_sts_session_resolve(const uint8_t key[32], const struct mg_snapshot *snap,
                           struct mg_slice access_key_id, struct mg_slice token,
                           struct mg_principal *p, char *secret, size_t secret_cap)
{
    struct mg_sts_session s;
    if (mg_sts_session_open(key, token, &s) != MG_E_OK)
        return MG_SIGV4_UNKNOWN_KEY;
    int rc = MG_SIGV4_UNKNOWN_KEY;
    if (!mg_slice_eq_cstr(access_key_id, s.access_key_id) || secret_cap <= strlen(s.secret))
        goto out;
    if (mg_now() >= s.expires) {
        rc = MG_SIGV4_EXPIRED_TOKEN;
        goto out;
    }
    if (!mg_sts_principal_from_session(snap, &s, p)) {
        mg_principal_cleanup(p); /* out of memory: never a principal with less than its limits */
        goto out;
    }
    s_copy(secret, secret_cap, s.secret);
    rc = MG_SIGV4_OK;
out:
    mg_sts_session_cleanup(&s);
    return rc;
}
