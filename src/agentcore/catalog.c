/* The AgentCore snapshot extension: gateways, targets, tool catalogs and compiled resource
 * policies, derived from the documents of every snapshot, for the data plane and the control
 * plane's authorization. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/log.h"
#include "state/pmap.h"

/* One gateway with its targets and tool catalog: shared by every extension built while none of
 * its documents (gateway, targets, resource policy) changed. It holds references to those
 * documents, so it may outlive the snapshot it was built from. */
struct s_node {
    struct mg_gateway g; /* first: a gateway's node is (struct s_node *)gateway */
    atomic_long refs;
    char *id, *account;       /* owned copies behind g.id and g.account */
    char **target_keys;       /* owned copies behind each target's id */
    json_t *tags;             /* a reference behind g.tags */
    struct mg_policy *policy; /* a reference behind g.resource_policy */
};

struct s_ext {
    const struct mg_gateway **gws; /* sorted by (account, id); nodes borrowed from by_id */
    size_t n_gws;
    struct mg_pmap by_id;    /* gateway id -> struct s_node (owned) */
    struct mg_pmap policies; /* resource ARN -> struct mg_policy (owned) */
};

static int s_slot = -1;
static size_t s_page_size = MG_TOOL_PAGE_SIZE_DEFAULT;

void mg_agentcore_set_page_size(size_t n)
{
    s_page_size = n ? n : MG_TOOL_PAGE_SIZE_DEFAULT;
}

static const char *const s_status_names[] = {
    [MG_AGENTCORE_CREATING] = "CREATING",
    [MG_AGENTCORE_UPDATING] = "UPDATING",
    [MG_AGENTCORE_UPDATE_UNSUCCESSFUL] = "UPDATE_UNSUCCESSFUL",
    [MG_AGENTCORE_DELETING] = "DELETING",
    [MG_AGENTCORE_READY] = "READY",
    [MG_AGENTCORE_FAILED] = "FAILED",
    [MG_AGENTCORE_SYNCHRONIZING] = "SYNCHRONIZING",
    [MG_AGENTCORE_SYNCHRONIZE_UNSUCCESSFUL] = "SYNCHRONIZE_UNSUCCESSFUL",
};

const char *mg_agentcore_status_str(enum mg_agentcore_status s)
{
    if ((size_t)s < sizeof(s_status_names) / sizeof(s_status_names[0]))
        return s_status_names[s];
    return "FAILED";
}

static enum mg_agentcore_status s_status(const char *s)
{
    for (size_t i = 0; s && i < sizeof(s_status_names) / sizeof(s_status_names[0]); i++)
        if (strcmp(s_status_names[i], s) == 0)
            return (enum mg_agentcore_status)i;
    return MG_AGENTCORE_FAILED;
}

static const char *const s_auth_names[] = {
    [MG_GATEWAY_AUTH_AWS_IAM] = "AWS_IAM",
    [MG_GATEWAY_AUTH_CUSTOM_JWT] = "CUSTOM_JWT",
    [MG_GATEWAY_AUTH_NONE] = "NONE",
    [MG_GATEWAY_AUTH_AUTHENTICATE_ONLY] = "AUTHENTICATE_ONLY",
};

const char *mg_gateway_authorizer_str(enum mg_gateway_authorizer a)
{
    if ((size_t)a < sizeof(s_auth_names) / sizeof(s_auth_names[0]))
        return s_auth_names[a];
    return "AWS_IAM";
}

static enum mg_gateway_authorizer s_auth(const char *s)
{
    for (size_t i = 0; s && i < sizeof(s_auth_names) / sizeof(s_auth_names[0]); i++)
        if (strcmp(s_auth_names[i], s) == 0)
            return (enum mg_gateway_authorizer)i;
    return MG_GATEWAY_AUTH_AWS_IAM;
}

static enum mg_credential_type s_cred(const json_t *doc)
{
    static const char *const names[] = {"",        "GATEWAY_IAM_ROLE",       "OAUTH",
                                        "API_KEY", "CALLER_IAM_CREDENTIALS", "JWT_PASSTHROUGH"};
    const json_t *c = json_array_get(json_object_get(doc, "credentialProviderConfigurations"), 0);
    const char *t = json_string_value(json_object_get(c, "credentialProviderType"));
    for (size_t i = 1; t && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i], t) == 0)
            return (enum mg_credential_type)i;
    return MG_CRED_NONE;
}

static const char *s_cstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void s_free_catalog(struct mg_tool_catalog *cat)
{
    mg_free((struct mg_tool *)cat->tools);
    mg_free((char **)cat->page_json);
    mg_free((size_t *)cat->page_json_len);
    mg_free((char *)cat->text);
    memset(cat, 0, sizeof(*cat));
}

/* ---- CUSTOM_JWT: the authorizer compiled once per snapshot --------------------------------- */

#define S_WELL_KNOWN_OIDC "/.well-known/openid-configuration"
#define S_WELL_KNOWN_PRM "/.well-known/oauth-protected-resource"

static void s_free_jwt(struct mg_gateway_jwt *j)
{
    if (j == NULL)
        return;
    mg_free((void *)j->issuer_hint);
    mg_free((void *)j->rules.audiences);
    mg_free((void *)j->rules.clients);
    mg_free((void *)j->rules.scopes);
    const struct mg_jwt_custom_claim *cc = j->rules.claims;
    for (size_t i = 0; cc && i < j->rules.n_claims; i++)
        mg_free((void *)cc[i].values);
    mg_free((void *)cc);
    mg_free((void *)j->scope_challenge);
    mg_free((void *)j->prm_url);
    mg_free(j);
}

/* The strings of a JSON array (borrowed), or NULL with *n = 0; false when out of memory. */
static bool s_strings(const json_t *arr, const char *const **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cnt = json_array_size(arr);
    if (cnt == 0)
        return true;
    const char **v = mg_calloc(cnt, sizeof(*v));
    if (v == NULL)
        return false;
    size_t i, k = 0;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e)) v[k++] = json_string_value(e);
    *out = v;
    *n = k;
    return true;
}

/* The protected-resource metadata URL of a gateway URL: RFC 9728's well-known path inserted
 * between origin and path, except for a host-routed "/mcp" URL, which has it at the host's root
 * as AgentCore does. */
static char *s_prm_url(const char *gateway_url)
{
    const char *scheme = strstr(gateway_url, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    size_t ol = path ? (size_t)(path - gateway_url) : strlen(gateway_url);
    const char *tail = path && strcmp(path, "/mcp") != 0 ? path : "";
    struct mg_buf b;
    mg_buf_init(&b, 8192);
    if (mg_buf_append(&b, gateway_url, ol) || mg_buf_append_cstr(&b, S_WELL_KNOWN_PRM) ||
        mg_buf_append_cstr(&b, tail) || mg_buf_append_byte(&b, 0)) {
        mg_buf_cleanup(&b);
        return NULL;
    }
    size_t len;
    return (char *)mg_buf_take(&b, &len);
}

static struct mg_gateway_jwt *s_compile_jwt(const json_t *cfg, const char *gateway_url)
{
    const char *url = s_cstr(cfg, "discoveryUrl");
    if (url == NULL)
        return NULL;
    struct mg_gateway_jwt *j = mg_calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->discovery_url = url;
    size_t ul = strlen(url), wl = strlen(S_WELL_KNOWN_OIDC);
    if (ul >= wl && strcmp(url + ul - wl, S_WELL_KNOWN_OIDC) == 0)
        ul -= wl;
    j->issuer_hint = mg_slice_dup(mg_slice_make(url, ul));
    j->rules.skew = -1;
    bool ok = j->issuer_hint != NULL &&
              s_strings(json_object_get(cfg, "allowedAudience"), &j->rules.audiences,
                        &j->rules.n_audiences) &&
              s_strings(json_object_get(cfg, "allowedClients"), &j->rules.clients,
                        &j->rules.n_clients) &&
              s_strings(json_object_get(cfg, "allowedScopes"), &j->rules.scopes,
                        &j->rules.n_scopes);
    const json_t *claims = json_object_get(cfg, "customClaims");
    size_t nc = json_array_size(claims);
    struct mg_jwt_custom_claim *cc = NULL;
    if (ok && nc) {
        cc = mg_calloc(nc, sizeof(*cc));
        ok = cc != NULL;
    }
    j->rules.claims = cc;
    for (size_t i = 0; ok && cc && i < nc; i++) {
        const json_t *c = json_array_get(claims, i);
        const char *name = s_cstr(c, "inboundTokenClaimName");
        const char *vt = s_cstr(c, "inboundTokenClaimValueType");
        const json_t *m = json_object_get(c, "authorizingClaimMatchValue");
        const char *op = s_cstr(m, "claimMatchOperator");
        const json_t *mv = json_object_get(m, "claimMatchValue");
        struct mg_jwt_custom_claim *k = &cc[i];
        j->rules.n_claims = i + 1;
        k->name = name ? name : "";
        k->type = vt && strcmp(vt, "STRING_ARRAY") == 0 ? MG_CLAIM_STRING_ARRAY : MG_CLAIM_STRING;
        k->op = op && strcmp(op, "CONTAINS_ANY") == 0 ? MG_CLAIM_CONTAINS_ANY
                : op && strcmp(op, "CONTAINS") == 0   ? MG_CLAIM_CONTAINS
                                                      : MG_CLAIM_EQUALS;
        k->value = s_cstr(mv, "matchValueString");
        ok = s_strings(json_object_get(mv, "matchValueStringList"), &k->values, &k->n_values);
    }
    if (ok && j->rules.n_scopes) {
        const json_t *map = json_object_get(cfg, "advertisedScopeMapping");
        struct mg_buf b;
        mg_buf_init(&b, 1024u * 1024u);
        enum mg_err e = MG_E_OK;
        for (size_t s = 0; s < j->rules.n_scopes && !e; s++) {
            const char *adv = s_cstr(map, j->rules.scopes[s]);
            if (s)
                e = mg_buf_append_byte(&b, ' ');
            if (!e)
                e = mg_buf_append_cstr(&b, adv ? adv : j->rules.scopes[s]);
        }
        if (!e)
            e = mg_buf_append_byte(&b, 0);
        size_t len;
        j->scope_challenge = e ? NULL : (const char *)mg_buf_take(&b, &len);
        mg_buf_cleanup(&b);
        ok = j->scope_challenge != NULL;
    }
    j->prm_url = ok ? s_prm_url(gateway_url) : NULL;
    if (j->prm_url == NULL) {
        s_free_jwt(j);
        return NULL;
    }
    return j;
}

static const char s_no_url[] = ""; /* a gateway URL that could not be made (out of memory) */

static void s_node_unref(void *p)
{
    struct s_node *n = p;
    if (n == NULL || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    struct mg_gateway *g = &n->g;
    s_free_catalog(&g->catalog);
    if (g->url != s_no_url)
        mg_free((char *)g->url);
    mg_free((void *)g->supported_versions);
    mg_ac_gateway_json_free(atomic_load(&g->json));
    s_free_jwt((struct mg_gateway_jwt *)g->jwt);
    for (size_t i = 0; i < g->n_targets; i++) {
        json_decref((json_t *)g->targets[i].doc);
        mg_free(n->target_keys ? n->target_keys[i] : NULL);
    }
    mg_free(n->target_keys);
    mg_free((void *)g->targets);
    json_decref((json_t *)g->doc);
    json_decref(n->tags);
    mg_policy_unref(n->policy);
    mg_free(n->id);
    mg_free(n->account);
    mg_free(n);
}

static void s_node_ref(void *p)
{
    atomic_fetch_add(&((struct s_node *)p)->refs, 1);
}

static void s_policy_unref(void *p)
{
    mg_policy_unref(p);
}

static void s_policy_ref(void *p)
{
    mg_policy_ref(p);
}

static const struct mg_pmap_ops s_node_ops = {s_node_ref, s_node_unref};
static const struct mg_pmap_ops s_policy_ops = {s_policy_ref, s_policy_unref};

static void s_destroy(void *p)
{
    struct s_ext *x = p;
    if (x == NULL)
        return;
    mg_free(x->gws);
    mg_pmap_cleanup(&x->by_id);
    mg_pmap_cleanup(&x->policies);
    mg_free(x);
}

static uint64_t s_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

json_t *mg_ac_tool_defs(const json_t *doc)
{
    const json_t *v = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(doc, "targetConfiguration"),
                                                        "mcp"),
                                        "lambda"),
                        "toolSchema"),
        "inlinePayload");
    if (v == NULL)
        v = json_object_get(doc, "_tools");
    if (json_is_string(v)) {
        json_t *arr = json_loadb(json_string_value(v), json_string_length(v), 0, NULL);
        if (json_is_array(arr))
            return arr;
        json_decref(arr);
        return NULL;
    }
    return json_is_array(v) ? json_incref((json_t *)v) : NULL;
}

/* A target document as a snapshot keeps it (mg_snapshot_register_compact): "_tools" as its
 * compact JSON text rather than a tree, which costs about ten times the text. Left as it is when
 * out of memory. */
void mg_ac_compact_target(json_t *doc)
{
    json_t *tools = json_object_get(doc, "_tools");
    if (!json_is_array(tools))
        return;
    char *text = json_dumps(tools, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *str = text ? json_stringn_nocheck(text, strlen(text)) : NULL;
    mg_free(text);
    if (str)
        (void)json_object_set_new(doc, "_tools", str);
}

/* ---- a target's schema document, compressed in snapshots ------------------------------------
 * An OpenAPI or Smithy target keeps its document (targetConfiguration.mcp.openApiSchema or
 * .smithyModel .inlinePayload) only to answer GetGatewayTarget: its tools are "_tools". A
 * snapshot keeps the document deflated in the private member S_PAYLOAD_Z (its length in 8
 * bytes, little-endian, then the zlib stream: not text, so a document holding it is never
 * written out as it is): mg_ac_target_expanded puts it back. */
#define S_PAYLOAD_Z "_inlinePayloadZ"
#define S_PAYLOAD_MIN 256 /* shorter documents stay text */

static json_t *s_schema_member(const json_t *doc)
{
    const json_t *mcp = json_object_get(json_object_get(doc, "targetConfiguration"), "mcp");
    json_t *o = json_object_get(mcp, "openApiSchema");
    return o ? o : json_object_get(mcp, "smithyModel");
}

void mg_ac_compact_target_snapshot(json_t *doc)
{
    mg_ac_compact_target(doc);
    json_t *schema = s_schema_member(doc);
    const json_t *p = json_object_get(schema, "inlinePayload");
    size_t n = json_string_length(p);
    if (!json_is_string(p) || n < S_PAYLOAD_MIN || n > MG_STORE_DOC_MAX)
        return;
    /* no more room than the text: a document that does not shrink stays text */
    unsigned char *z = mg_malloc(8 + n);
    if (z == NULL)
        return;
    for (int i = 0; i < 8; i++)
        z[i] = (unsigned char)((uint64_t)n >> (8 * i));
    /* a 4 KB window and a small hash: the documents are a few KB, and zlib's default state
     * (a 32 KB window, 64 KB of hash heads cleared per stream) would cost four times the time */
    z_stream zs = {0};
    json_t *str = NULL;
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 12, 5, Z_DEFAULT_STRATEGY) == Z_OK) {
        zs.next_in = (Bytef *)(uintptr_t)json_string_value(p);
        zs.avail_in = (uInt)n;
        zs.next_out = z + 8;
        zs.avail_out = (uInt)n;
        if (deflate(&zs, Z_FINISH) == Z_STREAM_END && 8 + (size_t)zs.total_out < n)
            str = json_stringn_nocheck((const char *)z, 8 + (size_t)zs.total_out);
        (void)deflateEnd(&zs);
    }
    mg_free(z);
    if (str && json_object_set_new(doc, S_PAYLOAD_Z, str) == 0)
        (void)json_object_del(schema, "inlinePayload");
}

json_t *mg_ac_target_expanded(const json_t *doc)
{
    const json_t *z = json_object_get(doc, S_PAYLOAD_Z);
    if (z == NULL)
        return json_incref((json_t *)doc);
    const unsigned char *zp = (const unsigned char *)json_string_value(z);
    size_t zl = json_string_length(z);
    uint64_t n = 0;
    for (int i = 0; zp && zl > 8 && i < 8; i++)
        n |= (uint64_t)zp[i] << (8 * i);
    if (n == 0 || n > MG_STORE_DOC_MAX)
        return NULL;
    char *text = mg_malloc((size_t)n);
    uLongf got = (uLongf)n;
    json_t *payload = NULL;
    if (text && uncompress((Bytef *)text, &got, zp + 8, (uLong)(zl - 8)) == Z_OK && got == n)
        payload = json_stringn_nocheck(text, (size_t)n);
    mg_free(text);
    /* a shallow copy, with its own targetConfiguration to put the document back into */
    json_t *copy = payload ? json_copy((json_t *)doc) : NULL;
    json_t *tc = copy ? json_deep_copy(json_object_get(doc, "targetConfiguration")) : NULL;
    bool ok = tc && json_object_set_new(copy, "targetConfiguration", tc) == 0;
    json_t *schema = ok ? s_schema_member(copy) : NULL;
    if (schema == NULL)
        json_decref(payload); /* set_new takes it, even when it fails */
    ok = schema && json_object_set_new(schema, "inlinePayload", payload) == 0 &&
         json_object_del(copy, S_PAYLOAD_Z) == 0;
    if (!ok) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

/* The tool definitions of a target (a new reference, or NULL): a Lambda target's inline tool
 * schema, the "_tools" the control plane derived for the other kinds (targets/targets.h). */
static json_t *s_tool_defs(const struct mg_gateway_target *t)
{
    if (t->kind == MG_TARGET_OTHER)
        return NULL;
    return mg_ac_tool_defs(t->doc);
}

/* One tool while its gateway's catalog is built: its texts, owned until they are copied into the
 * catalog's block; name and description borrowed from the definitions, which live until then. */
struct s_draft {
    const struct mg_gateway_target *t;
    const char *name, *desc;
    char *full, *json, *call;
    size_t full_len, json_len, call_len, in_off, in_len, out_off, out_len;
    char *own;                /* name and description when they were read from text (owned) */
    struct mg_slice call_ref; /* the call description inside the target's "_tools" text */
};

static void s_draft_free(struct s_draft *d)
{
    mg_free(d->own);
    mg_free(d->full);
    mg_free(d->json);
    mg_free(d->call);
}

static int s_draft_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s_draft *)a)->full, ((const struct s_draft *)b)->full);
}

/* Appends the compact JSON of v to b; *len its length. */
static enum mg_err s_dump_into(struct mg_buf *b, const json_t *v, size_t *len)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (text == NULL)
        return MG_E_NOMEM;
    *len = strlen(text);
    enum mg_err e = mg_buf_append(b, text, *len);
    mg_free(text);
    return e;
}

/* The Tool object of tools/list for d: {"name":FULL,"description":...,"inputSchema":{...}
 * [,"outputSchema":{...}]}, as json_dumps would write it, with where the schemas are in it. */
static enum mg_err s_draft_json(struct s_draft *d, const json_t *in, const json_t *out)
{
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX * 2);
    json_t *full = json_stringn(d->full, d->full_len);
    json_t *desc = json_string(d->desc);
    size_t len;
    enum mg_err e = full && desc ? MG_E_OK : MG_E_NOMEM;
    if (!e)
        e = mg_buf_append_cstr(&b, "{\"name\":");
    if (!e)
        e = s_dump_into(&b, full, &len);
    if (!e)
        e = mg_buf_append_cstr(&b, ",\"description\":");
    if (!e)
        e = s_dump_into(&b, desc, &len);
    if (!e)
        e = mg_buf_append_cstr(&b, ",\"inputSchema\":");
    d->in_off = b.len;
    if (!e)
        e = s_dump_into(&b, in, &d->in_len);
    if (!e && out) {
        e = mg_buf_append_cstr(&b, ",\"outputSchema\":");
        d->out_off = b.len;
        if (!e)
            e = s_dump_into(&b, out, &d->out_len);
    }
    if (!e)
        e = mg_buf_append_byte(&b, '}');
    json_decref(full);
    json_decref(desc);
    if (e) {
        mg_buf_cleanup(&b);
        return e;
    }
    d->json = (char *)mg_buf_take(&b, &d->json_len);
    return MG_E_OK;
}

/* Copies s (NUL-terminated, len bytes) into the block at *at; returns where it went. */
static const char *s_put(char *block, size_t *at, const char *s, size_t len)
{
    char *p = block + *at;
    mg_memcpy(p, s, len);
    p[len] = 0;
    *at += len + 1;
    return p;
}

/* Lays the sorted, distinct drafts out as the catalog: the pages, then each tool's strings, in
 * one block. */
static enum mg_err s_catalog_layout(struct mg_tool_catalog *cat, struct s_draft *dr, size_t w)
{
    size_t ps = cat->page_size, np = (w + ps - 1) / ps, total = 0;
    for (size_t i = 0; i < w; i++) {
        total += dr[i].json_len + 1 + dr[i].full_len + 1 + strlen(dr[i].name) + 1 +
                 strlen(dr[i].desc) + 1 + (dr[i].call ? dr[i].call_len + 1 : 0);
        if (total > (size_t)1 << 40)
            return MG_E_TOO_LARGE;
    }
    total += np * 2 + 1;
    struct mg_tool *tools = mg_calloc(w, sizeof(*tools));
    char **pages = mg_calloc(np, sizeof(char *));
    size_t *lens = mg_calloc(np, sizeof(size_t));
    char *block = mg_malloc(total);
    if (tools == NULL || pages == NULL || lens == NULL || block == NULL) {
        mg_free(tools);
        mg_free(pages);
        mg_free(lens);
        mg_free(block);
        return MG_E_NOMEM;
    }
    size_t at = 0;
    uint64_t h = s_fnv(1469598103934665603ull, &ps, sizeof(ps));
    for (size_t p = 0; p < np; p++) {
        pages[p] = block + at;
        block[at++] = '[';
        for (size_t i = p * ps; i < w && i < (p + 1) * ps; i++) {
            if (i > p * ps)
                block[at++] = ',';
            tools[i].json = block + at;
            tools[i].json_len = dr[i].json_len;
            mg_memcpy(block + at, dr[i].json, dr[i].json_len);
            at += dr[i].json_len;
            h = s_fnv(h, dr[i].json, dr[i].json_len);
            h = s_fnv(h, "", 1);
        }
        block[at++] = ']';
        block[at++] = 0;
        lens[p] = (size_t)(block + at - 1 - pages[p]);
    }
    for (size_t i = 0; i < w; i++) {
        struct mg_tool *t = &tools[i];
        t->target = dr[i].t;
        t->full_name = s_put(block, &at, dr[i].full, dr[i].full_len);
        t->full_name_len = dr[i].full_len;
        t->name = s_put(block, &at, dr[i].name, strlen(dr[i].name));
        t->description = s_put(block, &at, dr[i].desc, strlen(dr[i].desc));
        t->input_schema_json = mg_slice_make(t->json + dr[i].in_off, dr[i].in_len);
        if (dr[i].out_len)
            t->output_schema_json = mg_slice_make(t->json + dr[i].out_off, dr[i].out_len);
        if (dr[i].call)
            t->call_json = mg_slice_make(s_put(block, &at, dr[i].call, dr[i].call_len),
                                         dr[i].call_len);
        else
            t->call_json = dr[i].call_ref;
    }
    cat->tools = tools;
    cat->n_tools = w;
    cat->page_json = (const char *const *)pages;
    cat->page_json_len = lens;
    cat->n_pages = np;
    cat->text = block;
    cat->version = h;
    return MG_E_OK;
}

/* ---- tools read from "_tools" text ----------------------------------------------------------
 * A snapshot keeps a target's "_tools" as the text json_dumps wrote (compact, members in order):
 * a tool's schemas and call description are copied from it as they are, and its name and
 * description decoded, without building a JSON tree. */

static const char *s_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': past the closing quote, or NULL. */
static const char *s_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Past the JSON value at p, or NULL when the text ends first. */
static const char *s_skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return s_skip_string(p, end);
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
            p++;
        return p;
    }
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = s_skip_string(p, end);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

struct s_span {
    const char *p;
    size_t n;
};

/* The members of the tool object at p that the catalog reads; *next past the object. */
struct s_tool_text {
    struct s_span name, desc, in, out, call;
};

static bool s_scan_tool(const char *p, const char *end, struct s_tool_text *t, const char **next)
{
    memset(t, 0, sizeof(*t));
    if (p >= end || *p != '{')
        return false;
    p = s_skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        *next = p + 1;
        return true;
    }
    while (p < end) {
        const char *k = p;
        if (*p != '"' || (p = s_skip_string(p, end)) == NULL)
            return false;
        size_t kl = (size_t)(p - k);
        p = s_skip_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        const char *v = s_skip_ws(p + 1, end);
        if ((p = s_skip_value(v, end)) == NULL)
            return false;
        struct s_span sp = {v, (size_t)(p - v)};
#define S_KEY(lit) (kl == sizeof(lit) - 1 && mg_memcmp(k, lit, kl) == 0)
        if (S_KEY("\"name\""))
            t->name = sp;
        else if (S_KEY("\"description\""))
            t->desc = sp;
        else if (S_KEY("\"inputSchema\""))
            t->in = sp;
        else if (S_KEY("\"outputSchema\""))
            t->out = sp;
        else if (S_KEY("\"_call\""))
            t->call = sp;
#undef S_KEY
        p = s_skip_ws(p, end);
        if (p < end && *p == ',') {
            p = s_skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            *next = p + 1;
            return true;
        }
        return false;
    }
    return false;
}

/* The string a JSON string literal holds (owned), or NULL (not a string, out of memory). */
static char *s_decode_string(struct s_span s)
{
    if (s.n < 2 || s.p[0] != '"')
        return NULL;
    if (memchr(s.p, '\\', s.n) == NULL)
        return mg_slice_dup(mg_slice_make(s.p + 1, s.n - 2));
    json_t *v = json_loadb(s.p, s.n, JSON_DECODE_ANY, NULL);
    char *out = json_is_string(v)
                    ? mg_slice_dup(mg_slice_make(json_string_value(v), json_string_length(v)))
                    : NULL;
    json_decref(v);
    return out;
}

/* Whether the bytes need escaping in a JSON string (the full name is written as it is when not). */
static bool s_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

/* Fills d (t set) from the tool text; false to leave the tool out (MG_E_OK in *e) or on error. */
static bool s_draft_from_text(struct s_draft *d, const struct s_tool_text *x, enum mg_err *e)
{
    *e = MG_E_OK;
    if (x->in.n == 0 || x->in.p[0] != '{')
        return false;
    /* a description that is not a string is "", as in the tree */
    bool has_desc = x->desc.n && x->desc.p[0] == '"';
    char *name = s_decode_string(x->name);
    char *desc = has_desc ? s_decode_string(x->desc) : NULL;
    if (name == NULL || (has_desc && desc == NULL)) {
        mg_free(name);
        mg_free(desc);
        *e = x->name.n && x->name.p[0] == '"' ? MG_E_NOMEM : MG_E_OK;
        return false;
    }
    /* one block: name \0 description \0 */
    size_t nl = strlen(name), dl = desc ? strlen(desc) : 0;
    d->own = mg_malloc(nl + dl + 2);
    if (d->own) {
        mg_memcpy(d->own, name, nl + 1);
        mg_memcpy(d->own + nl + 1, desc ? desc : "", dl + 1);
    }
    mg_free(name);
    mg_free(desc);
    if (d->own == NULL) {
        *e = MG_E_NOMEM;
        return false;
    }
    d->name = d->own;
    d->desc = d->own + nl + 1;
    /* A target stored before tool names were checked may hold one outside MCP's alphabet: it
     * is not served (synchronizing the target fails it). */
    if (!mg_ac_match_tool_name(d->name))
        return false;
    d->full_len = strlen(d->t->name) + 3 + nl;
    d->full = mg_malloc(d->full_len + 1);
    if (d->full == NULL) {
        *e = MG_E_NOMEM;
        return false;
    }
    snprintf(d->full, d->full_len + 1, "%s___%s", d->t->name, d->name);
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX * 2);
    size_t len;
    enum mg_err r = mg_buf_append_cstr(&b, "{\"name\":");
    if (!r && s_plain(d->full, d->full_len)) {
        r = mg_buf_append_byte(&b, '"');
        if (!r)
            r = mg_buf_append(&b, d->full, d->full_len);
        if (!r)
            r = mg_buf_append_byte(&b, '"');
    } else if (!r) {
        json_t *full = json_stringn(d->full, d->full_len);
        r = full ? s_dump_into(&b, full, &len) : MG_E_NOMEM;
        json_decref(full);
    }
    if (!r)
        r = mg_buf_append_cstr(&b, ",\"description\":");
    if (!r)
        r = has_desc ? mg_buf_append(&b, x->desc.p, x->desc.n) : mg_buf_append_cstr(&b, "\"\"");
    if (!r)
        r = mg_buf_append_cstr(&b, ",\"inputSchema\":");
    d->in_off = b.len;
    d->in_len = x->in.n;
    if (!r)
        r = mg_buf_append(&b, x->in.p, x->in.n);
    if (!r && x->out.n && x->out.p[0] == '{') {
        r = mg_buf_append_cstr(&b, ",\"outputSchema\":");
        d->out_off = b.len;
        d->out_len = x->out.n;
        if (!r)
            r = mg_buf_append(&b, x->out.p, x->out.n);
    }
    if (!r)
        r = mg_buf_append_byte(&b, '}');
    if (r) {
        mg_buf_cleanup(&b);
        *e = r;
        return false;
    }
    d->json = (char *)mg_buf_take(&b, &d->json_len);
    /* the target's document (which the gateway's node holds) keeps the text */
    if (x->call.n && x->call.p[0] == '{')
        d->call_ref = mg_slice_make(x->call.p, x->call.n);
    return true;
}

/* Room for one more draft in *dr (of *cap); NULL when out of memory. */
static struct s_draft *s_draft_next(struct s_draft **dr, size_t *cap, size_t k)
{
    if (k == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct s_draft *p = mg_realloc(*dr, nc * sizeof(**dr));
        if (p == NULL)
            return NULL;
        *dr = p;
        *cap = nc;
    }
    memset(&(*dr)[k], 0, sizeof(**dr));
    return &(*dr)[k];
}

/* The drafts of a target whose "_tools" is text. */
static enum mg_err s_drafts_from_text(const struct mg_gateway_target *t, const json_t *text,
                                      struct s_draft **dr, size_t *cap, size_t *k)
{
    const char *p = json_string_value(text), *end = p + json_string_length(text);
    p = s_skip_ws(p, end);
    if (p >= end || *p != '[')
        return MG_E_OK;
    p = s_skip_ws(p + 1, end);
    while (p < end && *p != ']') {
        struct s_tool_text x;
        const char *next;
        if (!s_scan_tool(p, end, &x, &next))
            return MG_E_OK; /* not the text json_dumps writes: the rest is not served */
        struct s_draft *d = s_draft_next(dr, cap, *k);
        if (d == NULL)
            return MG_E_NOMEM;
        d->t = t;
        enum mg_err e;
        bool keep = s_draft_from_text(d, &x, &e);
        if (keep)
            (*k)++;
        else
            s_draft_free(d);
        if (e)
            return e;
        p = s_skip_ws(next, end);
        if (p < end && *p == ',')
            p = s_skip_ws(p + 1, end);
    }
    return MG_E_OK;
}

/* The drafts of a target's tool definitions as a JSON tree (Lambda's inline tool schema). */
static enum mg_err s_drafts_from_tree(const struct mg_gateway_target *t, const json_t *defs,
                                      struct s_draft **dr, size_t *cap, size_t *k)
{
    size_t j;
    json_t *def;
    json_array_foreach(defs, j, def)
    {
        const char *name = s_cstr(def, "name");
        const json_t *in = json_object_get(def, "inputSchema");
        /* A target stored before tool names were checked may hold one outside MCP's alphabet:
         * it is not served (synchronizing the target fails it). */
        if (name == NULL || !mg_ac_match_tool_name(name) || !json_is_object(in))
            continue;
        struct s_draft *d = s_draft_next(dr, cap, *k);
        if (d == NULL)
            return MG_E_NOMEM;
        (*k)++;
        d->t = t;
        d->name = name;
        d->desc = s_cstr(def, "description") ? s_cstr(def, "description") : "";
        d->full_len = strlen(t->name) + 3 + strlen(name);
        d->full = mg_malloc(d->full_len + 1);
        if (d->full == NULL)
            return MG_E_NOMEM;
        snprintf(d->full, d->full_len + 1, "%s___%s", t->name, name);
        const json_t *out = json_object_get(def, "outputSchema");
        MG_TRY(s_draft_json(d, in, json_is_object(out) ? out : NULL));
        const json_t *call = json_object_get(def, "_call");
        if (json_is_object(call)) {
            d->call = json_dumps(call, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (d->call == NULL)
                return MG_E_NOMEM;
            d->call_len = strlen(d->call);
        }
    }
    return MG_E_OK;
}

static enum mg_err s_build_catalog(struct mg_gateway *g)
{
    struct mg_tool_catalog *cat = &g->catalog;
    cat->page_size = s_page_size;
    cat->version = s_fnv(1469598103934665603ull, "", 0);
    struct s_draft *dr = NULL;
    size_t cap = 0, k = 0;
    enum mg_err e = MG_E_OK;
    /* the trees of the Lambda targets' definitions live until the catalog is laid out */
    json_t **defs = g->n_targets ? mg_calloc(g->n_targets, sizeof(json_t *)) : NULL;
    if (g->n_targets && defs == NULL)
        return MG_E_NOMEM;
    for (size_t i = 0; i < g->n_targets && !e; i++) {
        const struct mg_gateway_target *t = &g->targets[i];
        if (t->status != MG_AGENTCORE_READY || t->kind == MG_TARGET_OTHER)
            continue;
        const json_t *text = json_object_get(t->doc, "_tools");
        if (t->kind != MG_TARGET_LAMBDA && json_is_string(text)) {
            e = s_drafts_from_text(t, text, &dr, &cap, &k);
            continue;
        }
        defs[i] = s_tool_defs(t);
        e = s_drafts_from_tree(t, defs[i], &dr, &cap, &k);
    }
    size_t w = 0;
    if (!e && k) {
        qsort(dr, k, sizeof(*dr), s_draft_cmp);
        /* drop duplicate full names (cannot happen with validated targets; be safe) */
        for (size_t i = 0; i < k; i++) {
            if (w > 0 && strcmp(dr[w - 1].full, dr[i].full) == 0) {
                s_draft_free(&dr[i]);
                continue;
            }
            dr[w++] = dr[i];
        }
        e = s_catalog_layout(cat, dr, w);
    } else {
        w = k;
    }
    for (size_t i = 0; i < w; i++)
        s_draft_free(&dr[i]);
    mg_free(dr);
    for (size_t i = 0; i < g->n_targets; i++)
        json_decref(defs[i]);
    mg_free(defs);
    return e;
}

json_t *mg_tool_input_schema(const struct mg_tool *t)
{
    return json_loadb((const char *)t->input_schema_json.ptr, t->input_schema_json.len, 0, NULL);
}

json_t *mg_tool_call(const struct mg_tool *t)
{
    if (t->call_json.len == 0)
        return NULL;
    return json_loadb((const char *)t->call_json.ptr, t->call_json.len, 0, NULL);
}

static void s_fill_gateway(struct mg_gateway *g, const struct mg_snapshot_doc *d)
{
    const json_t *doc = d->doc;
    g->arn = s_cstr(doc, "gatewayArn") ? s_cstr(doc, "gatewayArn") : "";
    g->region = s_cstr(doc, "_region") ? s_cstr(doc, "_region") : "us-east-1";
    g->name = s_cstr(doc, "name") ? s_cstr(doc, "name") : "";
    g->description = s_cstr(doc, "description");
    g->status = s_status(s_cstr(doc, "status"));
    g->authorizer = s_auth(s_cstr(doc, "authorizerType"));
    g->jwt_authorizer = json_object_get(json_object_get(doc, "authorizerConfiguration"),
                                        "customJWTAuthorizer");
    g->protocol_type = s_cstr(doc, "protocolType");
    const json_t *mcp = json_object_get(json_object_get(doc, "protocolConfiguration"), "mcp");
    const json_t *vers = json_object_get(mcp, "supportedVersions");
    size_t nv = json_array_size(vers);
    if (nv) {
        const char **arr = mg_calloc(nv, sizeof(char *));
        if (arr) {
            size_t k = 0, i;
            json_t *v;
            json_array_foreach(vers, i, v) if (json_is_string(v)) arr[k++] = json_string_value(v);
            g->supported_versions = arr;
            g->n_supported_versions = k;
        }
    }
    g->search_semantic = s_cstr(mcp, "searchType") &&
                         strcmp(s_cstr(mcp, "searchType"), "SEMANTIC") == 0;
    g->instructions = s_cstr(mcp, "instructions");
    g->exception_debug = s_cstr(doc, "exceptionLevel") != NULL;
    const json_t *sc = json_object_get(mcp, "sessionConfiguration");
    g->has_session_config = json_is_object(sc);
    const json_t *to = json_object_get(sc, "sessionTimeoutInSeconds");
    g->session_timeout_s = json_is_integer(to) ? (int)json_integer_value(to) : 3600;
    g->response_streaming = json_is_true(
        json_object_get(json_object_get(mcp, "streamingConfiguration"), "enableResponseStreaming"));
    g->role_arn = s_cstr(doc, "roleArn") ? s_cstr(doc, "roleArn") : "";
    g->kms_key_arn = s_cstr(doc, "kmsKeyArn");
    g->interceptors = json_object_get(doc, "interceptorConfigurations");
    char url[1024];
    mg_ac_gateway_url(g->id, url, sizeof(url));
    g->url = mg_strdup(url);
    if (g->url == NULL)
        g->url = s_no_url;
    /* NULL on a CUSTOM_JWT gateway (out of memory) refuses every token */
    if (g->authorizer == MG_GATEWAY_AUTH_CUSTOM_JWT && g->jwt_authorizer)
        g->jwt = s_compile_jwt(g->jwt_authorizer, g->url);
}

static enum mg_target_kind s_kind(const json_t *doc)
{
    const json_t *mcp = json_object_get(json_object_get(doc, "targetConfiguration"), "mcp");
    if (json_object_get(mcp, "lambda"))
        return MG_TARGET_LAMBDA;
    if (json_object_get(mcp, "openApiSchema"))
        return MG_TARGET_OPENAPI;
    if (json_object_get(mcp, "smithyModel"))
        return MG_TARGET_SMITHY;
    if (json_object_get(mcp, "mcpServer"))
        return MG_TARGET_MCP_SERVER;
    return MG_TARGET_OTHER;
}

/* The compiled resource policy of a stored document, or NULL (none, or it does not compile). */
static struct mg_policy *s_compile_policy(const struct mg_snapshot_doc *d)
{
    const char *text = s_cstr(d->doc, "policy");
    if (text == NULL)
        return NULL;
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RAW, d->key};
    struct mg_policy *p = NULL;
    struct mg_errinfo pe = {0};
    if (mg_policy_parse(mg_slice_cstr(text), &o, &p, &pe) != MG_E_OK) {
        MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "resource policy of %s does not compile: %s", d->key,
               pe.msg);
        return NULL;
    }
    return p;
}

static void s_fill_target(struct mg_gateway *g, struct mg_gateway_target *t, const char *key,
                          const json_t *doc)
{
    t->gateway = g;
    t->id = strchr(key, '/') + 1;
    t->name = s_cstr(doc, "name") ? s_cstr(doc, "name") : t->id;
    t->description = s_cstr(doc, "description");
    t->status = s_status(s_cstr(doc, "status"));
    t->kind = s_kind(doc);
    t->lambda_arn =
        s_cstr(json_object_get(json_object_get(json_object_get(doc, "targetConfiguration"), "mcp"),
                               "lambda"),
               "lambdaArn");
    t->credential_type = s_cred(doc);
    t->doc = json_incref((json_t *)doc);
}

/* The node of the gateway document d with its targets; *out NULL for a gateway being deleted. */
static enum mg_err s_node_new(const struct s_ext *x, const struct mg_snapshot *snap,
                              const struct mg_snapshot_doc *d, struct s_node **out)
{
    *out = NULL;
    if (s_status(s_cstr(d->doc, "status")) == MG_AGENTCORE_DELETING)
        return MG_E_OK;
    struct s_node *n = mg_calloc(1, sizeof(*n));
    if (n == NULL)
        return MG_E_NOMEM;
    atomic_init(&n->refs, 1);
    struct mg_gateway *g = &n->g;
    n->id = mg_strdup(d->key);
    n->account = mg_strdup(d->account);
    g->id = n->id ? n->id : "";
    g->account = n->account ? n->account : "";
    g->doc = json_incref(d->doc);
    s_fill_gateway(g, d);
    const json_t *tags = json_object_get(d->doc, "_tags");
    n->tags = json_is_object(tags) ? json_incref((json_t *)tags) : json_object();
    g->tags = n->tags;
    n->policy = mg_pmap_get(&x->policies, mg_slice_cstr(g->arn));
    if (n->policy)
        mg_policy_ref(n->policy);
    g->resource_policy = n->policy;
    enum mg_err e = n->id && n->account && n->tags ? MG_E_OK : MG_E_NOMEM;
    size_t nt = 0;
    const struct mg_snapshot_doc *td = e ? NULL : mg_ac_targets_of(snap, d->account, d->key, &nt);
    size_t live = 0;
    for (size_t i = 0; i < nt; i++)
        if (s_status(s_cstr(td[i].doc, "status")) != MG_AGENTCORE_DELETING)
            live++;
    if (!e && live) {
        struct mg_gateway_target *ts = mg_calloc(live, sizeof(*ts));
        n->target_keys = mg_calloc(live, sizeof(char *));
        g->targets = ts;
        if (ts == NULL || n->target_keys == NULL)
            e = MG_E_NOMEM;
        for (size_t i = 0; i < nt && !e; i++) {
            if (s_status(s_cstr(td[i].doc, "status")) == MG_AGENTCORE_DELETING)
                continue;
            char *key = mg_strdup(td[i].key);
            if (key == NULL) {
                e = MG_E_NOMEM;
                break;
            }
            n->target_keys[g->n_targets] = key;
            s_fill_target(g, &ts[g->n_targets++], key, td[i].doc);
        }
    }
    if (!e)
        e = s_build_catalog(g);
    if (e) {
        s_node_unref(n);
        return e;
    }
    *out = n;
    return MG_E_OK;
}

static struct s_ext *s_ext_new(void)
{
    struct s_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    mg_pmap_init(&x->by_id, &s_node_ops);
    mg_pmap_init(&x->policies, &s_policy_ops);
    return x;
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_ext *x = s_ext_new();
    if (x == NULL)
        return MG_E_NOMEM;
    enum mg_err e = MG_E_OK;
    size_t pos = 0, n;
    const struct mg_snapshot_doc *d;
    /* resource policies first: gateways point at theirs */
    while (!e && (d = mg_snapshot_next_run(snap, MG_AC_KIND_POLICY, &pos, &n)))
        for (size_t i = 0; i < n && !e; i++) {
            struct mg_policy *p = s_compile_policy(&d[i]);
            if (p)
                e = mg_pmap_set(&x->policies, mg_slice_cstr(d[i].key), p);
            if (e)
                mg_policy_unref(p);
        }
    size_t total = 0;
    pos = 0;
    while (mg_snapshot_next_run(snap, MG_AC_KIND_GATEWAY, &pos, &n))
        total += n;
    x->gws = mg_calloc(total + 1, sizeof(const struct mg_gateway *));
    if (x->gws == NULL && !e)
        e = MG_E_NOMEM;
    pos = 0;
    while (!e && (d = mg_snapshot_next_run(snap, MG_AC_KIND_GATEWAY, &pos, &n)))
        for (size_t i = 0; i < n && !e; i++) {
            struct s_node *node;
            e = s_node_new(x, snap, &d[i], &node);
            if (e || node == NULL)
                continue;
            if (mg_pmap_get(&x->by_id, mg_slice_cstr(node->id))) {
                /* ids carry a random suffix and are unique across accounts: a store that says
                 * otherwise was edited by hand (the first account's keeps the id) */
                MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "gateway id %s appears in two accounts", node->id);
                s_node_unref(node);
                continue;
            }
            e = mg_pmap_set(&x->by_id, mg_slice_cstr(node->id), node);
            if (e)
                s_node_unref(node);
            else
                x->gws[x->n_gws++] = &node->g;
        }
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

/* ---- the incremental path: only the gateways whose documents changed are built again ---- */

#define S_APPLY_MAX 64 /* more gateways touched at once: the full build is as good */

struct s_touched {
    const char *account, *id; /* borrowed from the changes */
    size_t id_len;
};

static int s_cmp_gw(const char *acct_a, const char *id_a, const char *acct_b, const char *id_b)
{
    int c = strcmp(acct_a, acct_b);
    return c ? c : strcmp(id_a, id_b);
}

static int s_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static bool s_is_touched(const struct s_touched *t, size_t nt, const struct mg_gateway *g)
{
    for (size_t i = 0; i < nt; i++)
        if (strcmp(t[i].account, g->account) == 0 && strlen(g->id) == t[i].id_len &&
            strncmp(t[i].id, g->id, t[i].id_len) == 0)
            return true;
    return false;
}

static bool s_touch(struct s_touched *t, size_t *nt, const char *account, const char *id,
                    size_t id_len)
{
    for (size_t i = 0; i < *nt; i++)
        if (strcmp(t[i].account, account) == 0 && t[i].id_len == id_len &&
            strncmp(t[i].id, id, id_len) == 0)
            return true;
    if (*nt == S_APPLY_MAX || id_len == 0 || id_len >= 256)
        return false;
    t[(*nt)++] = (struct s_touched){account, id, id_len};
    return true;
}

static enum mg_err s_apply(const void *prevp, struct mg_snapshot *snap,
                           const struct mg_snapshot_change *c, size_t n, void **out,
                           struct mg_errinfo *ei)
{
    (void)ei;
    *out = NULL;
    const struct s_ext *prev = prevp;
    struct s_touched touched[S_APPLY_MAX];
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = c[i].key;
        size_t len;
        if (strcmp(c[i].kind, MG_AC_KIND_GATEWAY) == 0) {
            len = strlen(id);
        } else if (strcmp(c[i].kind, MG_AC_KIND_TARGET) == 0) {
            const char *slash = strchr(id, '/');
            len = slash ? (size_t)(slash - id) : 0;
        } else if (strcmp(c[i].kind, MG_AC_KIND_POLICY) == 0) {
            /* arn:aws:bedrock-agentcore:REGION:ACCOUNT:gateway/ID: that gateway points at it */
            const char *gw = strstr(id, ":gateway/");
            if (gw == NULL)
                continue; /* another resource's: only the policy map changes */
            id = gw + strlen(":gateway/");
            if (strchr(id, '/'))
                continue;
            len = strlen(id);
        } else {
            continue;
        }
        if (!s_touch(touched, &nt, c[i].account, id, len))
            return MG_E_OK; /* decline: a full build */
    }
    struct s_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_pmap_share(&x->by_id, &prev->by_id);
    mg_pmap_share(&x->policies, &prev->policies);
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; i < n && !e; i++) {
        if (strcmp(c[i].kind, MG_AC_KIND_POLICY) != 0)
            continue;
        const struct mg_snapshot_doc *d = mg_snapshot_get(snap, c[i].kind, c[i].account, c[i].key);
        struct mg_policy *p = d ? s_compile_policy(d) : NULL;
        e = mg_pmap_set(&x->policies, mg_slice_cstr(d ? d->key : c[i].key), p);
        if (e)
            mg_policy_unref(p);
    }
    /* the touched gateways: out with the old nodes, in with new ones */
    struct s_node *fresh[S_APPLY_MAX];
    size_t nf = 0;
    for (size_t i = 0; i < nt && !e; i++) {
        char id[256];
        mg_memcpy(id, touched[i].id, touched[i].id_len);
        id[touched[i].id_len] = 0;
        struct s_node *old = mg_pmap_get(&x->by_id, mg_slice_cstr(id));
        if (old && strcmp(old->account, touched[i].account) != 0) {
            s_destroy(x); /* one id in two accounts: let the full build decide */
            return MG_E_OK;
        }
        const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY,
                                                          touched[i].account, id);
        struct s_node *node = NULL;
        if (d)
            e = s_node_new(x, snap, d, &node);
        if (!e && node) {
            e = mg_pmap_set(&x->by_id, mg_slice_cstr(node->id), node);
            if (e)
                s_node_unref(node);
            else
                fresh[nf++] = node;
        } else if (!e && old) {
            e = mg_pmap_set(&x->by_id, mg_slice_cstr(id), NULL);
        }
    }
    /* the sorted list: the previous one without the touched gateways, plus the new nodes */
    if (!e) {
        x->gws = mg_calloc(prev->n_gws + nf + 1, sizeof(const struct mg_gateway *));
        if (x->gws == NULL)
            e = MG_E_NOMEM;
    }
    /* the touched gateways' places in the previous list, found by binary search; the runs
     * between them are copied as they are */
    size_t skip[S_APPLY_MAX], ns = 0;
    for (size_t i = 0; i < nt && !e; i++) {
        char id[256];
        mg_memcpy(id, touched[i].id, touched[i].id_len);
        id[touched[i].id_len] = 0;
        size_t lo = 0, hi = prev->n_gws;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s_cmp_gw(prev->gws[mid]->account, prev->gws[mid]->id, touched[i].account, id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < prev->n_gws && s_is_touched(&touched[i], 1, prev->gws[lo]))
            skip[ns++] = lo;
    }
    if (ns > 1)
        qsort(skip, ns, sizeof(skip[0]), s_cmp_size);
    for (size_t i = 0, from = 0; i <= ns && !e; i++) {
        size_t to = i < ns ? skip[i] : prev->n_gws;
        if (to > from) {
            mg_memcpy(&x->gws[x->n_gws], &prev->gws[from],
                      (to - from) * sizeof(const struct mg_gateway *));
            x->n_gws += to - from;
        }
        from = to + 1;
    }
    for (size_t f = 0; f < nf && !e; f++) {
        const struct mg_gateway *g = &fresh[f]->g;
        size_t lo = 0, hi = x->n_gws;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (s_cmp_gw(x->gws[mid]->account, x->gws[mid]->id, g->account, g->id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = x->n_gws; k > lo; k--)
            x->gws[k] = x->gws[k - 1];
        x->gws[lo] = g;
        x->n_gws++;
    }
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

void mg_agentcore_register_docs(void)
{
    mg_snapshot_register_compact(MG_AC_KIND_TARGET, mg_ac_compact_target_snapshot);
    mg_snapshot_register_store_only(MG_AC_KIND_GATEWAY_NAME);
    mg_snapshot_register_store_only(MG_AC_KIND_GATEWAY_TOKEN);
}

void mg_agentcore_init(void)
{
    static const char *const kinds[] = {MG_AC_KIND_GATEWAY, MG_AC_KIND_TARGET, MG_AC_KIND_POLICY,
                                        NULL};
    static const struct mg_snapshot_ext ext = {"agentcore", s_build, s_destroy, kinds, s_apply};
    mg_agentcore_register_docs();
    if (s_slot < 0)
        s_slot = mg_snapshot_register_ext(&ext);
}

static const struct s_ext *s_get(const struct mg_snapshot *snap)
{
    if (snap == NULL || s_slot < 0)
        return NULL;
    return snap->ext[s_slot];
}

const struct mg_gateway *mg_agentcore_gateway(const struct mg_snapshot *snap,
                                              struct mg_slice gateway_id)
{
    const struct s_ext *x = s_get(snap);
    const struct s_node *n = x ? mg_pmap_get(&x->by_id, gateway_id) : NULL;
    return n ? &n->g : NULL;
}

const struct mg_gateway *const *mg_agentcore_gateways(const struct mg_snapshot *snap, size_t *n)
{
    const struct s_ext *x = s_get(snap);
    *n = x ? x->n_gws : 0;
    return x ? x->gws : NULL;
}

const struct mg_tool *mg_agentcore_find_tool(const struct mg_gateway *gw, struct mg_slice full_name)
{
    if (gw == NULL)
        return NULL;
    size_t lo = 0, hi = gw->catalog.n_tools;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mg_tool *t = &gw->catalog.tools[mid];
        int c = mg_slice_cmp(mg_slice_make(t->full_name, t->full_name_len), full_name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct mg_policy *mg_agentcore_resource_policy(const struct mg_snapshot *snap,
                                                     struct mg_slice arn)
{
    const struct s_ext *x = s_get(snap);
    return x ? mg_pmap_get(&x->policies, arn) : NULL;
}

struct mg_vault_target mg_agentcore_vault_target(const struct mg_gateway_target *t)
{
    const struct mg_gateway *gw = t->gateway;
    return (struct mg_vault_target){
        .account = gw->account,
        .gateway_id = gw->id,
        .gateway_arn = gw->arn,
        .role_arn = gw->role_arn,
        .config = json_array_get(json_object_get(t->doc, "credentialProviderConfigurations"), 0),
    };
}
