/* Ended MCP sessions (DELETE), kept in memory within fixed bounds; nothing is stored.
 *
 * A session id is a sealed token that any node checks without a lookup (session.c), so ending a
 * session before its expiry needs a list of the ended ones. That list used to be stored, one
 * document per DELETE: anonymous clients of a NONE gateway could grow the database without
 * limit. Here it is three layers, each fail-closed (an ended session is never served again):
 *
 *   exact     the sids of ended sessions, each until its own expiry (an open-addressing table
 *             of at most `max_entries`);
 *   gateway   a floor per gateway: every session of that gateway issued at or before it is
 *             ended. When the table is full, the gateway holding the most entries gets its floor
 *             raised to now and loses its entries: a flood ends the flooder's own sessions first;
 *   global    a floor for every gateway: the time this node started (sessions issued before are
 *             refused: they may have been ended while nobody kept the list), raised to now when
 *             the gateway table (`max_gateways`) is full of live floors. On a shared
 *             (PostgreSQL) store it starts at 0: the ended sessions are also kept there, one
 *             bounded row per gateway (ended.c), and a restarted node reads them.
 *
 * A session refused by a floor answers 404 like an ended one, and MCP clients initialize again.
 * One lock per list guards it all; lookups are O(1) and a DELETE is O(1) but for a sweep of expired
 * entries at most once a second when the table is full. */
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"

/* The longest session AgentCore allows (sessionTimeoutInSeconds <= 28800): a floor can be forgotten
 * once every session it covers has expired. */
#define S_MAX_SESSION_S 28800

struct s_entry {
    uint8_t sid[16];
    int64_t expires; /* epoch seconds; 0: empty slot */
    uint64_t gw;     /* gateway hash */
};

struct s_gateway {
    uint64_t hash; /* 0: empty */
    char id[128];
    size_t count;        /* exact entries of this gateway */
    int64_t floor_ms;    /* sessions issued at or before are ended (0: none) */
    int64_t floor_until; /* epoch seconds after which the floor covers nothing alive */
};

/* One list (the MCP module holds one from its start to its stop). */
struct mg_mcp_revocations {
    /* Lookups (every MCP request with a session) share it; changes take it alone. */
    pthread_rwlock_t lock;
    struct s_entry *tab; /* 2 * max_entries slots (a power of two) */
    size_t tab_cap, max_entries, count;
    struct s_gateway *gws; /* max_gateways records, unordered */
    size_t max_gateways, n_gws;
    int64_t global_floor_ms;
    int64_t last_sweep;
};

static uint64_t s_gw_hash(const char *id)
{
    uint64_t h = mg_hash(mg_slice_cstr(id));
    return h ? h : 1;
}

static size_t s_home(struct mg_mcp_revocations *r, const uint8_t sid[16])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 8) | sid[i]; /* sids are random: their bytes are the hash */
    return (size_t)(h & (r->tab_cap - 1));
}

static bool s_sid_bytes(const char *hex, uint8_t out[16])
{
    if (strlen(hex) != 32)
        return false;
    for (int i = 0; i < 16; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

/* The record of a gateway by hash (the records are sorted by hash), and with id when given. */
static struct s_gateway *s_gw_find(struct mg_mcp_revocations *r, uint64_t hash, const char *id)
{
    size_t lo = 0, hi = r->n_gws;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->gws[mid].hash < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->n_gws && r->gws[lo].hash == hash && (id == NULL || strcmp(r->gws[lo].id, id) == 0))
        return &r->gws[lo];
    return NULL;
}

/* A new record for (hash, id), kept in hash order; the caller checked there is room. */
static struct s_gateway *s_gw_add(struct mg_mcp_revocations *r, uint64_t hash, const char *id)
{
    size_t at = 0;
    while (at < r->n_gws && r->gws[at].hash < hash)
        at++;
    mg_memmove(r->gws + at + 1, r->gws + at, (r->n_gws - at) * sizeof(*r->gws));
    r->n_gws++;
    struct s_gateway *g = &r->gws[at];
    memset(g, 0, sizeof(*g));
    g->hash = hash;
    size_t n = id != NULL ? strlen(id) : 0; /* both 128 bytes: n < sizeof(g->id) */
    mg_memcpy(g->id, id, n);
    g->id[n] = '\0';
    return g;
}

/* Removes the entry at slot i (backward-shift deletion keeps every probe chain whole). Gateway
 * counts are the caller's. */
static void s_remove_at(struct mg_mcp_revocations *r, size_t i)
{
    r->count--;
    size_t mask = r->tab_cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (r->tab[j].expires == 0)
            break;
        size_t k = s_home(r, r->tab[j].sid);
        /* move j back to i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            r->tab[i] = r->tab[j];
            i = j;
        }
    }
    memset(&r->tab[i], 0, sizeof(r->tab[i]));
}

/* Removes the entries that match: expired ones (gw 0), or every entry of gateway gw. */
static void s_sweep(struct mg_mcp_revocations *r, int64_t now, uint64_t gw)
{
    for (size_t i = 0; i < r->tab_cap;) {
        const struct s_entry *e = &r->tab[i];
        if (e->expires != 0 && (gw ? e->gw == gw : e->expires < now)) {
            struct s_gateway *g = gw ? NULL : s_gw_find(r, e->gw, NULL);
            if (g && g->count)
                g->count--;
            s_remove_at(r, i); /* slot i may now hold a later entry: look again */
        } else {
            i++;
        }
    }
}

/* Forgets gateway records that cover nothing any more. */
static void s_gw_compact(struct mg_mcp_revocations *r, int64_t now)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n_gws; i++) {
        const struct s_gateway *g = &r->gws[i];
        if (g->count == 0 && (g->floor_ms == 0 || g->floor_until < now))
            continue;
        if (w != i)
            r->gws[w] = *g;
        w++;
    }
    memset(r->gws + w, 0, (r->n_gws - w) * sizeof(*r->gws));
    r->n_gws = w;
}

/* Everything issued until now_ms is ended, on every gateway: the lists can go. */
static void s_raise_global(struct mg_mcp_revocations *r, int64_t now_ms)
{
    if (now_ms > r->global_floor_ms)
        r->global_floor_ms = now_ms;
    memset(r->tab, 0, r->tab_cap * sizeof(*r->tab));
    memset(r->gws, 0, r->max_gateways * sizeof(*r->gws));
    r->count = r->n_gws = 0;
}

static void s_raise_gateway(struct mg_mcp_revocations *r, struct s_gateway *g, int64_t now_ms)
{
    if (now_ms > g->floor_ms)
        g->floor_ms = now_ms;
    g->floor_until = now_ms / 1000 + S_MAX_SESSION_S + 1;
    if (g->count)
        s_sweep(r, 0, g->hash);
    g->count = 0;
}

enum mg_err mg_mcp_revoke_new(size_t max_entries, size_t max_gateways, int64_t start_ms,
                              struct mg_mcp_revocations **out)
{
    *out = NULL;
    if (max_entries == 0 || max_gateways == 0 ||
        max_entries > (SIZE_MAX / 4) / sizeof(struct s_entry))
        return MG_E_INVALID;
    size_t cap = 1;
    while (cap < 2 * max_entries)
        cap <<= 1;
    struct mg_mcp_revocations *r = mg_calloc(1, sizeof(*r));
    struct s_entry *tab = mg_calloc(cap, sizeof(*tab));
    struct s_gateway *gws = mg_calloc(max_gateways, sizeof(*gws));
    if (r == NULL || tab == NULL || gws == NULL) {
        mg_free(r);
        mg_free(tab);
        mg_free(gws);
        return MG_E_NOMEM;
    }
    pthread_rwlock_init(&r->lock, NULL);
    r->tab = tab;
    r->tab_cap = cap;
    r->max_entries = max_entries;
    r->count = 0;
    r->gws = gws;
    r->max_gateways = max_gateways;
    r->n_gws = 0;
    r->global_floor_ms = start_ms;
    r->last_sweep = 0;
    *out = r;
    return MG_E_OK;
}

void mg_mcp_revoke_free(struct mg_mcp_revocations *r)
{
    if (r == NULL)
        return;
    mg_free(r->tab);
    mg_free(r->gws);
    pthread_rwlock_destroy(&r->lock);
    mg_free(r);
}

bool mg_mcp_session_revoked(struct mg_mcp_revocations *r, const struct mg_mcp_session *s)
{
    uint8_t sid[16];
    if (r == NULL || !s_sid_bytes(s->sid, sid))
        return true; /* no list: nothing can be known, so refuse */
    bool out = false;
    pthread_rwlock_rdlock(&r->lock);
    if (r->tab == NULL || s->issued_ms <= r->global_floor_ms) {
        out = true; /* not initialized: nothing can be known, so refuse */
        goto done;
    }
    struct s_gateway *g = r->n_gws ? s_gw_find(r, s_gw_hash(s->gateway_id), s->gateway_id) : NULL;
    if (g && s->issued_ms <= g->floor_ms) {
        out = true;
        goto done;
    }
    if (g == NULL || g->count == 0)
        goto done;
    for (size_t i = s_home(r, sid);; i = (i + 1) & (r->tab_cap - 1)) {
        if (r->tab[i].expires == 0)
            break;
        if (mg_memcmp(r->tab[i].sid, sid, 16) == 0) {
            out = true;
            break;
        }
    }
done:
    pthread_rwlock_unlock(&r->lock);
    return out;
}

enum mg_err mg_mcp_session_revoke(struct mg_mcp_revocations *r, const struct mg_mcp_session *s,
                                  int64_t now_ms)
{
    uint8_t sid[16];
    if (!s_sid_bytes(s->sid, sid))
        return MG_E_INVALID;
    if (r == NULL)
        return MG_E_INTERNAL;
    int64_t now = now_ms / 1000;
    enum mg_err e = MG_E_OK;
    pthread_rwlock_wrlock(&r->lock);
    if (r->tab == NULL) {
        e = MG_E_INTERNAL;
        goto done;
    }
    uint64_t h = s_gw_hash(s->gateway_id);
    struct s_gateway *g = s_gw_find(r, h, s->gateway_id);
    if (g == NULL && s_gw_find(r, h, NULL) != NULL) {
        /* another gateway id with the same hash: end everything rather than mix them up */
        s_raise_global(r, now_ms);
        goto done;
    }
    if (g == NULL) {
        if (r->n_gws == r->max_gateways)
            s_gw_compact(r, now);
        if (r->n_gws == r->max_gateways) {
            MG_LOG(MG_LOG_WARN, MG_SUB_MCP,
                   "ended-session list: %zu gateways hold entries; every "
                   "session issued until now is ended",
                   r->n_gws);
            s_raise_global(r, now_ms);
            goto done;
        }
        g = s_gw_add(r, h, s->gateway_id);
    }
    if (s->issued_ms <= g->floor_ms || s->issued_ms <= r->global_floor_ms)
        goto done; /* already ended by a floor */
    if (r->count >= r->max_entries && r->last_sweep != now) {
        r->last_sweep = now;
        s_sweep(r, now, 0);
    }
    if (r->count >= r->max_entries) {
        struct s_gateway *big = g;
        for (size_t i = 0; i < r->n_gws; i++)
            if (r->gws[i].count > big->count)
                big = &r->gws[i];
        MG_LOG(MG_LOG_WARN, MG_SUB_MCP,
               "ended-session list full (%zu): every session of "
               "gateway %s issued until now is ended",
               r->count, big->id);
        s_raise_gateway(r, big, now_ms);
        if (big == g)
            goto done;
    }
    size_t i = s_home(r, sid);
    while (r->tab[i].expires != 0) {
        if (mg_memcmp(r->tab[i].sid, sid, 16) == 0)
            goto done; /* ended already */
        i = (i + 1) & (r->tab_cap - 1);
    }
    mg_memcpy(r->tab[i].sid, sid, 16);
    r->tab[i].expires = s->expires > 0 ? s->expires : 1;
    r->tab[i].gw = h;
    g->count++;
    r->count++;
done:
    pthread_rwlock_unlock(&r->lock);
    return e;
}

void mg_mcp_revoke_stats(struct mg_mcp_revocations *r, struct mg_mcp_revoke_stats *out)
{
    pthread_rwlock_wrlock(&r->lock);
    out->entries = r->count;
    out->gateways = r->n_gws;
    out->max_entries = r->max_entries;
    out->bytes = r->tab_cap * sizeof(struct s_entry) + r->max_gateways * sizeof(struct s_gateway);
    out->global_floor_ms = r->global_floor_ms;
    pthread_rwlock_unlock(&r->lock);
}
