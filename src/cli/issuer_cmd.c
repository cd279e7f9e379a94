/* mcpgate token / mcpgate issuer rotate-keys: the built-in OAuth issuer from the command line
 * (docs/builtin-issuer.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "base/alloc.h"
#include "base/util.h"
#include "cli/cli.h"
#include "issuer/issuer.h"
#include "state/store.h"

static const char s_token_usage[] =
    "usage: mcpgate token --client ID [options]\n"
    "\n"
    "Prints an access token of the built-in OAuth issuer (ES256 JWS, typ at+jwt) signed with\n"
    "the current key in the server's store (made when there is none), for scripts and tests.\n"
    "It verifies at a CUSTOM_JWT gateway whose discoveryUrl is the issuer's:\n"
    "PUBLIC-URL/_mcpgate/issuer/.well-known/openid-configuration.\n"
    "\n"
    "  --client ID           the client: sub and client_id of the token\n"
    "  --scope S             space-separated scopes (default: all the client's scopes with\n"
    "                        --oauth-issuer, else none)\n"
    "  --aud A               the aud claim (with --oauth-issuer: one the client may have;\n"
    "                        default: the client's audiences, else none)\n"
    "  --ttl SECONDS         lifetime, 1 to 86400 (default: the file's tokenLifetimeSeconds,\n"
    "                        else 3600)\n"
    "  --data DIR            the server's data directory (default ./mcpgate-data)\n"
    "  --store LOCATION      the server's store (default: MCPGATE_STORE, else SQLite in DIR)\n"
    "  --oauth-issuer FILE   the server's issuer file: the client must be in it, and its\n"
    "                        scopes and audiences are enforced as at the token endpoint\n"
    "  --public-url URL      the server's public URL: iss is URL/_mcpgate/issuer\n"
    "  --port P              the same as --public-url http://127.0.0.1:P\n"
    "                        (default: the URL a server last recorded in the store, else\n"
    "                        http://127.0.0.1:4777)\n";

static const char s_issuer_usage[] =
    "usage: mcpgate issuer rotate-keys [--data DIR] [--store LOCATION]\n"
    "\n"
    "Adds a new current signing key to the server's store (--store, else MCPGATE_STORE, else\n"
    "SQLite in DIR, default ./mcpgate-data) and keeps the two before it in the JWKS, so tokens\n"
    "they signed still verify until they expire. Every running server on that store picks the\n"
    "new key up within a second, without a restart. Prints the new key id (kid).\n";

static const char s_default_data[] = "./mcpgate-data";

/* The store of the issuer's keys: --store, else MCPGATE_STORE, else SQLite in data. *legacy
 * gets the data directory whose keys.json is moved into a store without keys: the store's own
 * directory, or one given with --data (data_given), else NULL. */
static struct mg_store *s_open_store(const char *prog, const char *data, bool data_given,
                                     const char *store, const char **legacy)
{
    if (store == NULL) {
        const char *env = getenv("MCPGATE_STORE");
        store = env != NULL && env[0] != '\0' ? env : data;
    }
    *legacy = data_given || store == data ? data : NULL;
    struct mg_store *st = NULL;
    struct mg_errinfo ei = {0};
    if (mg_store_open(store, &st, &ei) != MG_E_OK) {
        fprintf(stderr, "%s: %s\n", prog, ei.msg);
        return NULL;
    }
    return st;
}

/* The public URL a server last recorded in its store (mcpgate serve does at start-up). */
static bool s_recorded_endpoint(struct mg_store *store, char *out, size_t cap)
{
    struct mg_buf ep;
    mg_buf_init(&ep, 4096);
    bool ok = mg_store_meta_get(store, "endpoint", &ep) == MG_E_OK && mg_buf_cstr(&ep) &&
              ep.len > 0 && mg_fmt(out, cap, "%s", mg_buf_cstr(&ep));
    mg_buf_cleanup(&ep);
    return ok;
}

/* Splits a space-separated scope list into v (pointers into s, which is modified). */
static bool s_split_scopes(char *s, const char **v, size_t *n)
{
    *n = 0;
    for (char *p = s; *p;) {
        while (*p == ' ')
            *p++ = 0;
        if (*p == 0)
            break;
        if (*n >= MG_ISSUER_MAX_SCOPES)
            return false;
        v[(*n)++] = p;
        while (*p && *p != ' ') {
            unsigned char c = (unsigned char)*p;
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
                return false;
            p++;
        }
    }
    return true;
}

int mg_cli_token_main(int argc, char **argv)
{
    const char *client = NULL, *scope = NULL, *aud = NULL, *data = s_default_data;
    const char *file = NULL, *public_url = NULL, *port = NULL, *store_loc = NULL;
    uint64_t ttl = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_token_usage, stdout);
            return 0;
        }
        static const char *const opts[] = {"--client", "--scope", "--aud",          "--ttl",
                                           "--data",   "--store", "--oauth-issuer", "--public-url",
                                           "--port",   NULL};
        const char **slot[] = {&client,    &scope, &aud,        NULL, &data,
                               &store_loc, &file,  &public_url, &port};
        size_t k = 0;
        while (opts[k] && strcmp(opts[k], a) != 0)
            k++;
        if (opts[k] == NULL) {
            fprintf(stderr, "mcpgate token: unknown option '%s' (see mcpgate token --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mcpgate token: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (slot[k]) {
            *slot[k] = v;
        } else if (!mg_cli_parse_u64(v, 1, MG_ISSUER_MAX_LIFETIME, &ttl)) {
            fprintf(stderr, "mcpgate token: --ttl wants 1 to %d seconds, got '%s'\n",
                    MG_ISSUER_MAX_LIFETIME, v);
            return 2;
        }
    }
    if (client == NULL) {
        fprintf(stderr, "mcpgate token: --client is required (see mcpgate token --help)\n");
        return 2;
    }
    if (public_url && port) {
        fprintf(stderr, "mcpgate token: give --public-url or --port, not both\n");
        return 2;
    }
    char base[1024];
    uint64_t pn = 0;
    if (port && !mg_cli_parse_u64(port, 1, 65535, &pn)) {
        fprintf(stderr, "mcpgate token: --port wants 1 to 65535, got '%s'\n", port);
        return 2;
    }
    if (public_url) {
        if (strncmp(public_url, "http://", 7) != 0 && strncmp(public_url, "https://", 8) != 0) {
            fprintf(stderr, "mcpgate token: --public-url wants an http(s) URL, got '%s'\n",
                    public_url);
            return 2;
        }
        if (!mg_fmt(base, sizeof(base), "%s", public_url)) {
            fprintf(stderr, "mcpgate token: --public-url too long\n");
            return 2;
        }
    } else if (port) {
        if (!mg_fmt(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)pn))
            return 2;
    }
    const char *legacy = NULL;
    struct mg_store *store = s_open_store("mcpgate token", data, data != s_default_data, store_loc,
                                          &legacy);
    if (store == NULL)
        return 1;
    if (!public_url && !port && !s_recorded_endpoint(store, base, sizeof(base)) &&
        !mg_fmt(base, sizeof(base), "http://127.0.0.1:%d", MG_DEFAULT_PORT)) {
        mg_store_close(store);
        return 2;
    }
    char issuer[1200];
    if (!mg_issuer_url(base, issuer, sizeof(issuer))) {
        fprintf(stderr, "mcpgate token: the public URL is too long\n");
        mg_store_close(store);
        return 2;
    }

    struct mg_errinfo ei = {0};
    struct mg_issuer_config *cfg = NULL;
    int rc = 1;
    char *scope_copy = NULL;
    struct mg_issuer_keys *keys = NULL;
    struct mg_buf tok;
    mg_buf_init(&tok, 64 * 1024);
    struct mg_issuer_resolved res;
    mg_memzero(&res, sizeof(res));
    if (file && mg_issuer_config_load(file, &cfg, &ei) != MG_E_OK) {
        fprintf(stderr, "mcpgate token: %s\n", ei.msg);
        goto out;
    }
    if (cfg) {
        const struct mg_issuer_client *cl = mg_issuer_config_client(cfg, mg_slice_cstr(client));
        const char *oauth_error = NULL;
        if (cl == NULL) {
            fprintf(stderr, "mcpgate token: no client '%s' in %s\n", client, file);
            rc = 2;
            goto out;
        }
        if (mg_issuer_resolve(cl, scope, aud, NULL, &res, &oauth_error, &ei) != MG_E_OK) {
            fprintf(stderr, "mcpgate token: %s (%s)\n", ei.msg, oauth_error);
            rc = 2;
            goto out;
        }
        if (ttl == 0)
            ttl = (uint64_t)cfg->token_lifetime;
    } else {
        size_t cl = strlen(client);
        bool ok = cl > 0 && cl <= MG_ISSUER_MAX_CLIENT_ID;
        for (size_t i = 0; ok && i < cl; i++)
            ok = (unsigned char)client[i] > 0x20 && (unsigned char)client[i] < 0x7f;
        if (!ok) {
            fprintf(stderr, "mcpgate token: --client wants 1 to %d visible ASCII characters\n",
                    MG_ISSUER_MAX_CLIENT_ID);
            rc = 2;
            goto out;
        }
        if (scope) {
            scope_copy = mg_strdup(scope);
            if (scope_copy == NULL || !s_split_scopes(scope_copy, res.scopes, &res.n_scopes)) {
                fprintf(stderr, "mcpgate token: --scope wants up to %d space-separated scopes\n",
                        MG_ISSUER_MAX_SCOPES);
                rc = 2;
                goto out;
            }
        }
        if (aud)
            res.audiences[res.n_audiences++] = aud;
    }
    if (ttl == 0)
        ttl = MG_ISSUER_DEFAULT_LIFETIME;
    if (mg_issuer_keys_open(store, legacy, true, &keys, &ei) != MG_E_OK) {
        fprintf(stderr, "mcpgate token: %s\n", ei.msg);
        goto out;
    }
    struct mg_issuer_grant g = {.issuer = issuer,
                                .client_id = client,
                                .scopes = res.scopes,
                                .n_scopes = res.n_scopes,
                                .audiences = res.audiences,
                                .n_audiences = res.n_audiences,
                                .now = mg_now(),
                                .ttl = (int64_t)ttl};
    if (mg_issuer_sign(keys, &g, &tok, &ei) != MG_E_OK || mg_buf_cstr(&tok) == NULL) {
        fprintf(stderr, "mcpgate token: %s\n", ei.msg[0] ? ei.msg : "cannot sign the token");
        goto out;
    }
    printf("%s\n", mg_buf_cstr(&tok));
    rc = 0;
out:
    if (tok.ptr)
        mg_memzero(tok.ptr, tok.len);
    mg_buf_cleanup(&tok);
    mg_issuer_keys_unref(keys);
    mg_issuer_config_free(cfg);
    mg_free(scope_copy);
    mg_store_close(store);
    return rc;
}

int mg_cli_issuer_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(s_issuer_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "rotate-keys") != 0) {
        fprintf(stderr, "mcpgate issuer: unknown subcommand '%s' (see mcpgate issuer --help)\n",
                argv[1]);
        return 2;
    }
    const char *data = s_default_data, *store_loc = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(s_issuer_usage, stdout);
            return 0;
        }
        bool is_data = strcmp(argv[i], "--data") == 0;
        if (!is_data && strcmp(argv[i], "--store") != 0) {
            fprintf(stderr, "mcpgate issuer rotate-keys: unknown option '%s'\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mcpgate issuer rotate-keys: %s needs a value\n", argv[i]);
            return 2;
        }
        if (is_data)
            data = argv[++i];
        else
            store_loc = argv[++i];
    }
    const char *legacy = NULL;
    struct mg_store *store = s_open_store("mcpgate issuer rotate-keys", data,
                                          data != s_default_data, store_loc, &legacy);
    if (store == NULL)
        return 1;
    char kid[MG_ISSUER_KID_LEN + 1];
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_issuer_keys_rotate(store, legacy, kid, sizeof(kid), &ei);
    mg_store_close(store);
    if (e != MG_E_OK) {
        fprintf(stderr, "mcpgate issuer rotate-keys: %s\n", ei.msg);
        return 1;
    }
    printf("%s\n", kid);
    return 0;
}
