/* src/oidc/oidc.c: the key cache of src/oidc/oidc.h. One mutex guards a chained hash table of
 * entries (one per discovery URL); an entry holds its published keys (immutable, refcounted),
 * whether a fetch runs for it, the callbacks waiting for that fetch, and the times that the
 * rate limits read. A fetch is two requests on the HTTP client's thread: the discovery document,
 * then the JWKS at its jwks_uri; its end publishes the new keys (or records the failure) and
 * calls every waiter once.
 *
 * Teardown: mg_oidc_free marks the cache closing and answers every waiter at once ("the key cache
 * is shutting down"); when fetches are still in flight (a live client), the cache itself is freed
 * by the last of them to end, so no callback ever touches freed memory. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/map.h"
#include "base/slice.h"
#include "base/util.h"
#include "http/client.h"
#include "oidc/internal.h"
#include "oidc/oidc.h"

#define S_BUCKETS 8192 /* a power of two, twice MG_OIDC_MAX_ENTRIES */
#define S_SHUTTING_DOWN "the key cache is shutting down"

struct s_keys {
    struct mg_oidc_keys pub; /* first: a struct mg_oidc_keys * is a struct s_keys * */
    atomic_long refs;
    /* the strings of pub follow */
};

struct s_waiter {
    mg_oidc_done_fn done;
    void *arg;
    struct s_waiter *next;
};

struct s_entry {
    struct s_entry *next; /* hash chain */
    uint64_t hash;
    char *url; /* immutable while the entry lives; an entry with a fetch running is never freed */
    struct s_keys *keys; /* the newest good keys, or NULL */
    uint64_t used;       /* o->tick at the last use (LRU) */
    bool fetching;
    bool has_kid_at, has_fail;
    int64_t kid_at;  /* start of the last unknown-kid refetch */
    int64_t fail_at; /* end of the last fetch, when it failed */
    char fail_msg[256];
    struct s_waiter *waiters, **wtail;
};

struct mg_oidc {
    struct mg_http_client *http;
    pthread_mutex_t mu;
    struct s_entry **buckets;
    size_t count, max_entries;
    uint64_t tick;
    size_t in_flight; /* fetches started and not ended */
    bool closing;
};

/* One running fetch. */
struct s_fetch {
    struct mg_oidc *o;
    struct s_entry *e;
    struct mg_oidc_discovery disc;
};

/* --- keys --------------------------------------------------------------------------------- */

static size_t s_len(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *s_put(char **at, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = *at;
    mg_memcpy(p, s, n);
    *at += n;
    return p;
}

/* Takes jwks on success. */
static struct s_keys *s_keys_new(const char *url, const struct mg_oidc_discovery *d,
                                 struct mg_jwks *jwks, int64_t at)
{
    size_t n = sizeof(struct s_keys) + s_len(url) + s_len(d->issuer) + s_len(d->jwks_uri) +
               s_len(d->token_endpoint) + s_len(d->authorization_endpoint);
    struct s_keys *k = mg_malloc(n);
    if (k == NULL)
        return NULL;
    char *at_s = (char *)(k + 1);
    k->pub.discovery_url = s_put(&at_s, url);
    k->pub.issuer = s_put(&at_s, d->issuer);
    k->pub.jwks_uri = s_put(&at_s, d->jwks_uri);
    k->pub.token_endpoint = s_put(&at_s, d->token_endpoint);
    k->pub.authorization_endpoint = s_put(&at_s, d->authorization_endpoint);
    k->pub.jwks = jwks;
    k->pub.fetched_at = at;
    atomic_init(&k->refs, 1);
    return k;
}

static void s_keys_unref(struct s_keys *k)
{
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    mg_jwks_unref(k->pub.jwks);
    mg_free(k);
}

void mg_oidc_keys_unref(struct mg_oidc_keys *k)
{
    s_keys_unref((struct s_keys *)k);
}

struct mg_oidc_keys *mg_oidc_keys_ref(const struct mg_oidc_keys *k)
{
    if (k == NULL)
        return NULL;
    struct s_keys *sk = (struct s_keys *)(uintptr_t)k;
    atomic_fetch_add(&sk->refs, 1);
    return &sk->pub;
}

/* The keys still usable at now (not older than MG_OIDC_MAX_STALE_S), or NULL. */
static struct s_keys *s_usable(const struct s_entry *e, int64_t now)
{
    if (e->keys == NULL || now - e->keys->pub.fetched_at >= MG_OIDC_MAX_STALE_S)
        return NULL;
    return e->keys;
}

/* --- the table (o->mu held) ------------------------------------------------------------------ */

static struct s_entry *s_lookup(struct mg_oidc *o, const char *url, uint64_t h)
{
    for (struct s_entry *e = o->buckets[h & (S_BUCKETS - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->url, url) == 0)
            return e;
    return NULL;
}

static void s_entry_free(struct s_entry *e)
{
    s_keys_unref(e->keys);
    mg_free(e->url);
    mg_free(e);
}

/* Drops the least recently used entry that no fetch runs for; false when there is none. */
static bool s_evict(struct mg_oidc *o)
{
    struct s_entry **victim = NULL;
    uint64_t oldest = UINT64_MAX;
    for (size_t b = 0; b < S_BUCKETS; b++)
        for (struct s_entry **pe = &o->buckets[b]; *pe; pe = &(*pe)->next) {
            struct s_entry *e = *pe;
            if (!e->fetching && e->waiters == NULL && e->used < oldest) {
                oldest = e->used;
                victim = pe;
            }
        }
    if (victim == NULL)
        return false;
    struct s_entry *e = *victim;
    *victim = e->next;
    o->count--;
    s_entry_free(e);
    return true;
}

static struct s_entry *s_insert(struct mg_oidc *o, const char *url, size_t n, uint64_t h,
                                const char **why)
{
    while (o->count >= o->max_entries)
        if (!s_evict(o)) {
            *why = "too many discovery URLs are being fetched";
            return NULL;
        }
    *why = "out of memory";
    struct s_entry *e = mg_calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->url = mg_malloc(n + 1);
    if (e->url == NULL) {
        mg_free(e);
        return NULL;
    }
    mg_memcpy(e->url, url, n + 1);
    e->hash = h;
    e->wtail = &e->waiters;
    size_t b = h & (S_BUCKETS - 1);
    e->next = o->buckets[b];
    o->buckets[b] = e;
    o->count++;
    return e;
}

/* --- life ------------------------------------------------------------------------------------- */

enum mg_err mg_oidc_new(struct mg_http_client *http, struct mg_oidc **out)
{
    *out = NULL;
    struct mg_oidc *o = mg_calloc(1, sizeof(*o));
    if (o == NULL)
        return MG_E_NOMEM;
    o->buckets = mg_calloc(S_BUCKETS, sizeof(struct s_entry *));
    if (o->buckets == NULL || pthread_mutex_init(&o->mu, NULL) != 0) {
        mg_free(o->buckets);
        mg_free(o);
        return MG_E_NOMEM;
    }
    o->http = http;
    o->max_entries = MG_OIDC_MAX_ENTRIES;
    *out = o;
    return MG_E_OK;
}

static void s_destroy(struct mg_oidc *o)
{
    for (size_t b = 0; b < S_BUCKETS; b++)
        while (o->buckets[b]) {
            struct s_entry *e = o->buckets[b];
            o->buckets[b] = e->next;
            s_entry_free(e);
        }
    mg_free(o->buckets);
    pthread_mutex_destroy(&o->mu);
    mg_free(o);
}

static void s_call_all(struct s_waiter *w, const struct mg_oidc_keys *k, const char *error)
{
    while (w) {
        struct s_waiter *next = w->next;
        w->done(w->arg, k, error);
        mg_free(w);
        w = next;
    }
}

void mg_oidc_free(struct mg_oidc *o)
{
    if (o == NULL)
        return;
    struct s_waiter *all = NULL, **tail = &all;
    pthread_mutex_lock(&o->mu);
    o->closing = true;
    for (size_t b = 0; b < S_BUCKETS; b++)
        for (struct s_entry *e = o->buckets[b]; e; e = e->next)
            if (e->waiters) {
                *tail = e->waiters;
                tail = e->wtail;
                e->waiters = NULL;
                e->wtail = &e->waiters;
            }
    bool now = o->in_flight == 0;
    pthread_mutex_unlock(&o->mu);
    s_call_all(all, NULL, S_SHUTTING_DOWN);
    if (now)
        s_destroy(o);
}

void mg_oidc_set_max_entries_for_tests(struct mg_oidc *o, size_t n)
{
    pthread_mutex_lock(&o->mu);
    o->max_entries = n > 0 && n < MG_OIDC_MAX_ENTRIES ? n : MG_OIDC_MAX_ENTRIES;
    pthread_mutex_unlock(&o->mu);
}

size_t mg_oidc_count(struct mg_oidc *o)
{
    pthread_mutex_lock(&o->mu);
    size_t n = o->count;
    pthread_mutex_unlock(&o->mu);
    return n;
}

/* --- reading the two answers ------------------------------------------------------------------ */

/* The transport and status of one of the two answers (jwks: the second one). */
static enum mg_err s_transport(const struct mg_http_out_resp *r, bool jwks, struct mg_errinfo *ei)
{
    if (r->err == MG_E_TOO_LARGE)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "the %s is larger than %d bytes",
                              jwks ? "JWKS" : "discovery document",
                              jwks ? MG_JWKS_MAX_BYTES : MG_OIDC_MAX_DOC);
    if (r->err == MG_E_NOMEM)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    if (r->err != MG_E_OK)
        return mg_errinfo_set(ei, MG_E_UPSTREAM, "%s%s",
                              jwks ? "the JWKS could not be fetched: " : "",
                              r->msg[0] ? r->msg : "the request failed");
    if (r->status < 200 || r->status > 299)
        return mg_errinfo_set(ei, MG_E_UPSTREAM, "the %s answered HTTP %ld",
                              jwks ? "jwks_uri" : "discovery URL", r->status);
    return MG_E_OK;
}

static enum mg_err s_read_discovery(const struct mg_http_out_resp *r, struct mg_oidc_discovery *d,
                                    struct mg_errinfo *ei)
{
    MG_TRY(s_transport(r, false, ei));
    return mg_oidc_discovery_parse(mg_buf_slice(&r->body), d, ei);
}

static enum mg_err s_read_jwks(const struct mg_http_out_resp *r, struct mg_jwks **out,
                               struct mg_errinfo *ei)
{
    *out = NULL;
    MG_TRY(s_transport(r, true, ei));
    struct mg_errinfo sub = {0};
    enum mg_err e = mg_jwks_parse(mg_buf_slice(&r->body), out, &sub);
    if (e == MG_E_NOMEM)
        return mg_errinfo_set(ei, e, "out of memory");
    if (e == MG_E_TOO_LARGE)
        return mg_errinfo_set(ei, e, "the JWKS is too large: %s", sub.msg);
    if (e != MG_E_OK)
        return mg_errinfo_set(ei, e, "the JWKS is not valid: %s", sub.msg);
    return MG_E_OK;
}

static struct mg_http_out_req s_req(const char *url, size_t max)
{
    static const char *const headers[] = {"Accept: application/json"};
    return (struct mg_http_out_req){.method = "GET",
                                    .url = url,
                                    .headers = headers,
                                    .n_headers = 1,
                                    .connect_timeout_ms = MG_OIDC_FETCH_TIMEOUT_MS,
                                    .timeout_ms = MG_OIDC_FETCH_TIMEOUT_MS,
                                    .max_response = max};
}

static const char *s_fetch_err(enum mg_err e)
{
    switch (e) {
    case MG_E_NOMEM: return "out of memory";
    case MG_E_UPSTREAM: return "too many outbound requests in flight";
    case MG_E_INTERNAL: return "outbound HTTP is shutting down";
    default: return "outbound HTTP failed";
    }
}

/* --- fetching ----------------------------------------------------------------------------------- */

/* Ends the fetch of e: publishes nk (owned, or NULL on failure with error), calls the waiters. */
static void s_finish(struct mg_oidc *o, struct s_entry *e, struct s_keys *nk, const char *error)
{
    int64_t now = mg_now();
    struct s_keys *old = NULL, *give = NULL;
    char url[MG_OIDC_MAX_URL + 1];
    int64_t held_at = 0;
    bool held = false;
    pthread_mutex_lock(&o->mu);
    bool closing = o->closing;
    if (!closing && nk) {
        old = e->keys;
        e->keys = nk;
        nk = NULL;
        e->has_fail = false;
        e->fail_msg[0] = '\0';
    } else if (!closing) {
        e->has_fail = true;
        e->fail_at = now;
        (void)snprintf(e->fail_msg, sizeof(e->fail_msg), "%s", error ? error : "failed");
    }
    e->fetching = false;
    struct s_waiter *w = e->waiters;
    e->waiters = NULL;
    e->wtail = &e->waiters;
    give = s_usable(e, now);
    if (give) {
        atomic_fetch_add(&give->refs, 1);
        held = true;
        held_at = give->pub.fetched_at;
    }
    (void)snprintf(url, sizeof(url), "%s", e->url);
    o->in_flight--;
    bool destroy = closing && o->in_flight == 0;
    pthread_mutex_unlock(&o->mu);

    if (closing)
        error = S_SHUTTING_DOWN;
    else if (error && mg_http_client_stopped(o->http))
        MG_LOG(MG_LOG_DEBUG, MG_SUB_OIDC, "signing keys of %s not fetched: %s", url, error);
    else if (error && held)
        MG_LOG(MG_LOG_WARN, MG_SUB_OIDC,
               "signing keys of %s could not be refreshed: %s; serving the keys fetched %lld s "
               "ago (dropped %lld s after their fetch)",
               url, error, (long long)(now - held_at), (long long)MG_OIDC_MAX_STALE_S);
    else if (error)
        MG_LOG(MG_LOG_WARN, MG_SUB_OIDC, "signing keys of %s could not be fetched: %s", url, error);
    else
        MG_LOG(MG_LOG_DEBUG, MG_SUB_OIDC, "signing keys of %s fetched: %zu usable key(s)", url,
               give ? mg_jwks_count(give->pub.jwks) : (size_t)0);
    s_call_all(w, give && !closing ? &give->pub : NULL, give && !error ? NULL : error);
    s_keys_unref(give);
    s_keys_unref(old);
    s_keys_unref(nk);
    if (destroy)
        s_destroy(o);
}

static void s_fetch_end(struct s_fetch *f, struct s_keys *nk, const char *error)
{
    struct mg_oidc *o = f->o;
    struct s_entry *e = f->e;
    mg_oidc_discovery_cleanup(&f->disc);
    mg_free(f);
    s_finish(o, e, nk, error);
}

static bool s_closing(struct mg_oidc *o)
{
    pthread_mutex_lock(&o->mu);
    bool c = o->closing;
    pthread_mutex_unlock(&o->mu);
    return c;
}

static void s_on_jwks(void *arg, struct mg_http_out_resp *resp)
{
    struct s_fetch *f = arg;
    struct mg_errinfo ei = {0};
    struct mg_jwks *jwks = NULL;
    enum mg_err e = s_read_jwks(resp, &jwks, &ei);
    mg_http_out_resp_cleanup(resp);
    if (e != MG_E_OK) {
        s_fetch_end(f, NULL, ei.msg);
        return;
    }
    struct s_keys *k = s_keys_new(f->e->url, &f->disc, jwks, mg_now());
    if (k == NULL) {
        mg_jwks_unref(jwks);
        s_fetch_end(f, NULL, "out of memory");
        return;
    }
    s_fetch_end(f, k, NULL);
}

static void s_on_discovery(void *arg, struct mg_http_out_resp *resp)
{
    struct s_fetch *f = arg;
    struct mg_errinfo ei = {0};
    enum mg_err e = s_read_discovery(resp, &f->disc, &ei);
    mg_http_out_resp_cleanup(resp);
    if (e != MG_E_OK) {
        s_fetch_end(f, NULL, ei.msg);
        return;
    }
    if (s_closing(f->o)) {
        s_fetch_end(f, NULL, S_SHUTTING_DOWN);
        return;
    }
    struct mg_http_out_req req = s_req(f->disc.jwks_uri, MG_JWKS_MAX_BYTES);
    e = mg_http_fetch(f->o->http, &req, s_on_jwks, f);
    if (e != MG_E_OK)
        s_fetch_end(f, NULL, s_fetch_err(e));
}

/* Starts the fetch of e; e->fetching was set and o->in_flight counted under the lock. */
static void s_launch(struct mg_oidc *o, struct s_entry *e)
{
    struct s_fetch *f = mg_calloc(1, sizeof(*f));
    if (f == NULL) {
        s_finish(o, e, NULL, "out of memory");
        return;
    }
    f->o = o;
    f->e = e;
    if (o->http == NULL) {
        s_fetch_end(f, NULL, "outbound HTTP is not available");
        return;
    }
    struct mg_http_out_req req = s_req(e->url, MG_OIDC_MAX_DOC);
    enum mg_err err = mg_http_fetch(o->http, &req, s_on_discovery, f);
    if (err != MG_E_OK)
        s_fetch_end(f, NULL, s_fetch_err(err));
}

/* --- the interface ------------------------------------------------------------------------------ */

struct mg_oidc_keys *mg_oidc_get(struct mg_oidc *o, const char *discovery_url, int64_t now)
{
    if (o == NULL || discovery_url == NULL)
        return NULL;
    uint64_t h = mg_hash(mg_slice_cstr(discovery_url));
    pthread_mutex_lock(&o->mu);
    struct s_entry *e = s_lookup(o, discovery_url, h);
    if (e == NULL || e->keys == NULL || o->closing) {
        pthread_mutex_unlock(&o->mu);
        return NULL;
    }
    e->used = ++o->tick;
    struct s_keys *k = s_usable(e, now);
    bool start = !e->fetching && now - e->keys->pub.fetched_at >= MG_OIDC_REFRESH_S &&
                 (!e->has_fail || now - e->fail_at >= MG_OIDC_RETRY_S);
    if (start) {
        e->fetching = true;
        o->in_flight++;
    }
    if (k)
        atomic_fetch_add(&k->refs, 1);
    pthread_mutex_unlock(&o->mu);
    if (start)
        s_launch(o, e);
    return k ? &k->pub : NULL;
}

void mg_oidc_fetch(struct mg_oidc *o, const char *discovery_url, enum mg_oidc_why why,
                   mg_oidc_done_fn done, void *arg)
{
    if (done == NULL)
        return;
    char msg[256];
    if (o == NULL) {
        done(arg, NULL, "the key cache is not available");
        return;
    }
    if (!mg_oidc_url_ok(discovery_url, msg, sizeof(msg))) {
        done(arg, NULL, msg);
        return;
    }
    struct s_waiter *w = mg_calloc(1, sizeof(*w));
    if (w == NULL) {
        done(arg, NULL, "out of memory");
        return;
    }
    w->done = done;
    w->arg = arg;
    int64_t now = mg_now();
    size_t n = strlen(discovery_url);
    uint64_t h = mg_hash(mg_slice_make(discovery_url, n));
    const char *error = NULL;
    struct s_keys *held = NULL;
    pthread_mutex_lock(&o->mu);
    struct s_entry *e = o->closing ? NULL : s_lookup(o, discovery_url, h);
    if (o->closing)
        error = S_SHUTTING_DOWN;
    else if (e == NULL)
        e = s_insert(o, discovery_url, n, h, &error);
    if (e == NULL)
        goto answer;
    e->used = ++o->tick;
    held = s_usable(e, now);
    if (e->fetching && !(why == MG_OIDC_FIRST && held)) { /* join the running fetch */
        *e->wtail = w;
        e->wtail = &w->next;
        pthread_mutex_unlock(&o->mu);
        return;
    }
    bool start = false;
    switch (why) {
    case MG_OIDC_FIRST: start = held == NULL; break;
    case MG_OIDC_UNKNOWN_KID:
        start = held == NULL || !e->has_kid_at || now - e->kid_at >= MG_OIDC_KID_REFETCH_S ||
                now < e->kid_at;
        break;
    }
    if (start && held == NULL && e->has_fail && now - e->fail_at < MG_OIDC_RETRY_S &&
        now >= e->fail_at) {
        /* a fetch failed moments ago: answer with its reason rather than ask again */
        start = false;
        (void)snprintf(msg, sizeof(msg), "%s", e->fail_msg);
        error = msg;
    }
    if (!start) {
        if (held)
            atomic_fetch_add(&held->refs, 1);
        goto answer;
    }
    if (why == MG_OIDC_UNKNOWN_KID) {
        e->has_kid_at = true;
        e->kid_at = now;
    }
    e->fetching = true;
    o->in_flight++;
    *e->wtail = w;
    e->wtail = &w->next;
    pthread_mutex_unlock(&o->mu);
    s_launch(o, e);
    return;

answer:
    pthread_mutex_unlock(&o->mu);
    mg_free(w);
    done(arg, held ? &held->pub : NULL, held ? NULL : error);
    s_keys_unref(held);
}

/* Publishes keys a probe fetched (takes k). */
static void s_publish(struct mg_oidc *o, const char *url, struct s_keys *k)
{
    size_t n = strlen(url);
    uint64_t h = mg_hash(mg_slice_make(url, n));
    const char *why = NULL;
    struct s_keys *old = NULL;
    pthread_mutex_lock(&o->mu);
    struct s_entry *e = o->closing ? NULL : s_lookup(o, url, h);
    if (e == NULL && !o->closing)
        e = s_insert(o, url, n, h, &why);
    if (e) {
        old = e->keys;
        e->keys = k;
        k = NULL;
        e->has_fail = false;
        e->fail_msg[0] = '\0';
        e->used = ++o->tick;
    }
    pthread_mutex_unlock(&o->mu);
    s_keys_unref(old);
    s_keys_unref(k); /* not kept (closing, or no room): the probe still succeeded */
}

enum mg_err mg_oidc_probe(struct mg_oidc *o, const char *discovery_url, struct mg_errinfo *ei)
{
    struct mg_errinfo why = {0};
    struct mg_oidc_discovery d = {0};
    struct mg_jwks *jwks = NULL;
    struct mg_http_out_resp r;
    enum mg_err err = MG_E_OK;
    if (!mg_oidc_url_ok(discovery_url, why.msg, sizeof(why.msg))) {
        err = MG_E_INVALID;
        goto out;
    }
    if (o == NULL || o->http == NULL) {
        err = mg_errinfo_set(&why, MG_E_UPSTREAM, "outbound HTTP is not available");
        goto out;
    }
    struct mg_http_out_req req = s_req(discovery_url, MG_OIDC_MAX_DOC);
    mg_http_fetch_sync(o->http, &req, &r);
    err = s_read_discovery(&r, &d, &why);
    mg_http_out_resp_cleanup(&r);
    if (err != MG_E_OK)
        goto out;
    req = s_req(d.jwks_uri, MG_JWKS_MAX_BYTES);
    mg_http_fetch_sync(o->http, &req, &r);
    err = s_read_jwks(&r, &jwks, &why);
    mg_http_out_resp_cleanup(&r);
    if (err != MG_E_OK)
        goto out;
    struct s_keys *k = s_keys_new(discovery_url, &d, jwks, mg_now());
    if (k == NULL) {
        mg_jwks_unref(jwks);
        err = mg_errinfo_set(&why, MG_E_NOMEM, "out of memory");
        goto out;
    }
    s_publish(o, discovery_url, k);
out:
    mg_oidc_discovery_cleanup(&d);
    if (err == MG_E_OK)
        return MG_E_OK;
    if (err != MG_E_NOMEM)
        err = err == MG_E_UPSTREAM ? MG_E_UPSTREAM : MG_E_INVALID;
    return mg_errinfo_set(ei, err, "Unable to fetch the OpenID configuration from %s: %s",
                          discovery_url ? discovery_url : "(none)", why.msg);
}
