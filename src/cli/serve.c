/* mcpgate serve / mcpgate credentials */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "cli/cli.h"
#include "state/store.h"

static const char s_serve_usage[] =
    "usage: mcpgate serve [options]\n"
    "\n"
    "  --listen ADDR:PORT      where to listen (default 127.0.0.1:4777; [::1]:PORT for IPv6)\n"
    "  --data DIR              state directory, SQLite inside (default ./mcpgate-data)\n"
    "  --store LOCATION        where the store is: a postgresql:// (or postgres://) URI, or\n"
    "                          an SQLite directory (default: the data directory; or\n"
    "                          MCPGATE_STORE). ps shows the command line: give a password\n"
    "                          through MCPGATE_STORE, PGPASSWORD, ~/.pgpass or a service file\n"
    "  --identities FILE       hosted AWS accounts, users, roles and keys (JSON); without it:\n"
    "                          account 000000000000, access key 'test', secret 'test',\n"
    "                          loopback addresses only\n"
    "  --identities-update     on a store shared by several nodes (PostgreSQL): apply the\n"
    "                          --identities file even when the store holds another one's\n"
    "                          (without it, such a node refuses to start)\n"
    "  --region REGION         the region this server is (default us-east-1)\n"
    "  --threads N             event-loop threads (default: one per core)\n"
    "  --log-level LEVEL       debug, info, warn, error or off (default info)\n"
    "  --access-log on|off     a log line (level info) for each request (default on)\n"
    "  --access-log-sample N   log one request in N (per event loop; default 1, every one)\n"
    "  --max-body BYTES        request body limit (default 6291456)\n"
    "  --max-connections N     open client connections at once, all event loops (default\n"
    "                          4096; more wait in the kernel's queue)\n"
    "  --clock-skew SECONDS    allowed SigV4 clock difference (default 900)\n"
    "  --request-timeout MS    time allowed to receive one request (default 10000)\n"
    "  --idle-timeout MS       keep-alive idle timeout (default 10000)\n"
    "  --tls-cert FILE         serve HTTPS with this PEM certificate chain (with --tls-key)\n"
    "  --tls-key FILE          the PEM private key for --tls-cert\n"
    "  --public-url URL        how clients reach this server (default from --listen)\n"
    "  --gateway-url-template T  gatewayUrl of AgentCore gateways, {id} = gateway id\n"
    "                          (default PUBLIC-URL/gateways/{id}/mcp)\n"
    "  --runtimes-dir DIR      Lambda bootstraps (default: DATA/runtimes, written there at\n"
    "                          start-up from the copies built into mcpgate)\n"
    "  --lambda-concurrency N  runtime processes per Lambda function (default 10)\n"
    "  --lambda-queue N        invocations that may wait per function before Invoke answers\n"
    "                          429 TooManyRequestsException (default 100)\n"
    "  --lambda-idle-timeout S stop idle runtime processes after S seconds (default 300)\n"
    "  --lambda-code-storage BYTES  Lambda code (zips and unpacked trees) per account\n"
    "                          (default 10737418240, or MCPGATE_LAMBDA_CODE_STORAGE)\n"
    "  --lambda-isolation M    auto (default): each function in a sandbox where the host\n"
    "                          allows, else one account's functions only; sandbox: refuse to\n"
    "                          start without one; none: no sandbox, every function runs as\n"
    "                          this server and can read every account's secrets\n"
    "  --tools-page-size N     tools per MCP tools/list page (default 100)\n"
    "  --outbound-ca FILE      trust the PEM CA bundle FILE for outbound https (targets, OAuth\n"
    "                          endpoints) in addition to the system store; repeatable\n"
    "  --outbound-ca HOST=FILE the same, only for URLs whose host is HOST; repeatable\n"
    "  --outbound-deny-local   refuse outbound requests (targets, OAuth endpoints) to loopback\n"
    "                          and private addresses too (shared deployments); link-local\n"
    "                          (cloud metadata), multicast and unspecified addresses are\n"
    "                          always refused\n"
    "  --outbound-allow RULE   an exception to --outbound-deny-local: CIDR (10.1.0.0/16),\n"
    "                          ADDR[:PORT] or HOST[:PORT]; repeatable\n"
    "  --oauth-issuer FILE     turn on the built-in OAuth issuer (a development tool) with the\n"
    "                          clients of FILE (JSON); keys in the store (see mcpgate token)\n"
    "\n"
    "Relative paths are taken from the working directory at start-up and made absolute.\n";

/* Every option of serve takes a value (but the switches --outbound-deny-local and
 * --identities-update). */
static const char *const s_serve_opts[] = {
    "--listen",
    "--data",
    "--store",
    "--identities",
    "--region",
    "--threads",
    "--log-level",
    "--access-log",
    "--access-log-sample",
    "--max-body",
    "--max-connections",
    "--clock-skew",
    "--request-timeout",
    "--idle-timeout",
    "--tls-cert",
    "--tls-key",
    "--public-url",
    "--gateway-url-template",
    "--runtimes-dir",
    "--tools-page-size",
    "--lambda-concurrency",
    "--lambda-queue",
    "--lambda-idle-timeout",
    "--lambda-code-storage",
    "--lambda-isolation",
    "--outbound-ca",
    "--outbound-allow",
    "--oauth-issuer", /* issuer */
    NULL,
};

static bool s_serve_opt_known(const char *a)
{
    for (size_t i = 0; s_serve_opts[i]; i++)
        if (strcmp(a, s_serve_opts[i]) == 0)
            return true;
    return false;
}

static bool s_parse_listen(const char *s, struct mg_http_config *h)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(h->listen_host))
        return false;
    uint64_t port;
    if (!mg_cli_parse_u64(colon + 1, 0, 65535, &port))
        return false;
    mg_memcpy(h->listen_host, s, hl);
    h->listen_host[hl] = 0;
    h->listen_port = (uint16_t)port;
    return true;
}

/* Makes path absolute against the working directory, in place (cap bytes): realpath when it
 * exists, else a lexical join that drops "." and resolves ".." (the data folder may not exist
 * yet). False when the working directory is unknown or the result does not fit. */
static bool s_make_absolute(char *path, size_t cap)
{
    char real[PATH_MAX];
    if (realpath(path, real) != NULL) {
        if (strlen(real) >= cap)
            return false;
        snprintf(path, cap, "%s", real);
        return true;
    }
    char joined[PATH_MAX * 2];
    if (path[0] == '/') {
        snprintf(joined, sizeof(joined), "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return false;
        int n = snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
        if (n < 0 || (size_t)n >= sizeof(joined))
            return false;
    }
    /* lexical clean-up: "//" and "/./" go, "/x/.." goes */
    char out[PATH_MAX * 2];
    size_t o = 0;
    const char *p = joined;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the slash before it */
            continue;
        }
        if (o + 1 + len >= sizeof(out))
            return false;
        out[o++] = '/';
        mg_memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    if (o >= cap)
        return false;
    snprintf(path, cap, "%s", out);
    return true;
}

/* Every path option, made absolute: the runtime processes start in their function's folder. */
static bool s_absolute_paths(struct mg_app_config *cfg)
{
    static char identities[PATH_MAX], tls_cert[PATH_MAX], tls_key[PATH_MAX];
    static char oauth_issuer[PATH_MAX]; /* issuer */
    static char store[PATH_MAX];
    struct {
        const char *what;
        const char **ref;
        char *buf;
        size_t cap;
    } opts[] = {
        {"--data", NULL, cfg->data_dir, sizeof(cfg->data_dir)},
        {"--store", &cfg->store, store, sizeof(store)},
        {"--runtimes-dir", NULL, cfg->lambda.runtimes_dir, sizeof(cfg->lambda.runtimes_dir)},
        {"--identities", &cfg->identities, identities, sizeof(identities)},
        {"--tls-cert", &cfg->http.tls_cert, tls_cert, sizeof(tls_cert)},
        {"--tls-key", &cfg->http.tls_key, tls_key, sizeof(tls_key)},
        {"--oauth-issuer", &cfg->oauth_issuer, oauth_issuer, sizeof(oauth_issuer)}, /* issuer */
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].ref) {
            /* a PostgreSQL URI is no path (and is never copied: it may hold a password) */
            if (*opts[i].ref == NULL || mg_store_location_is_pg(*opts[i].ref))
                continue;
            if (strlen(*opts[i].ref) >= opts[i].cap) {
                fprintf(stderr, "mcpgate serve: %s path too long\n", opts[i].what);
                return false;
            }
            snprintf(opts[i].buf, opts[i].cap, "%s", *opts[i].ref);
        }
        if (opts[i].buf[0] == 0)
            continue;
        if (!s_make_absolute(opts[i].buf, opts[i].cap)) {
            fprintf(stderr, "mcpgate serve: cannot make the %s path '%s' absolute\n", opts[i].what,
                    opts[i].buf);
            return false;
        }
        if (opts[i].ref)
            *opts[i].ref = opts[i].buf;
    }
    return true;
}

/* --outbound-ca FILE or HOST=FILE: HOST=FILE when the first '=' comes before any '/' (write a
 * file whose name has a '=' as ./NAME). The file is read when the outbound client starts. */
static bool s_parse_outbound_ca(const char *v, struct mg_app_config *cfg)
{
    static char hosts[MG_HTTP_CLIENT_MAX_CAS][MG_HTTP_CLIENT_MAX_CA_HOST + 1];
    if (cfg->n_outbound_ca >= MG_HTTP_CLIENT_MAX_CAS) {
        fprintf(stderr, "mcpgate serve: --outbound-ca: at most %d of them\n",
                MG_HTTP_CLIENT_MAX_CAS);
        return false;
    }
    struct mg_http_ca *ca = &cfg->outbound_ca[cfg->n_outbound_ca];
    const char *eq = strchr(v, '='), *slash = strchr(v, '/');
    ca->host = NULL;
    ca->file = v;
    if (eq && (slash == NULL || eq < slash)) {
        size_t hl = (size_t)(eq - v);
        if (hl == 0 || hl > MG_HTTP_CLIENT_MAX_CA_HOST) {
            fprintf(stderr, "mcpgate serve: --outbound-ca wants FILE or HOST=FILE, got '%s'\n", v);
            return false;
        }
        char *h = hosts[cfg->n_outbound_ca];
        mg_memcpy(h, v, hl);
        h[hl] = 0;
        ca->host = h;
        ca->file = eq + 1;
    }
    if (ca->file[0] == 0) {
        fprintf(stderr, "mcpgate serve: --outbound-ca wants FILE or HOST=FILE, got '%s'\n", v);
        return false;
    }
    cfg->n_outbound_ca++;
    return true;
}

int mg_cli_serve_main(int argc, char **argv)
{
    struct mg_app_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.http.listen_host, sizeof(cfg.http.listen_host), "127.0.0.1");
    cfg.http.listen_port = MG_DEFAULT_PORT;
    cfg.http.max_body = MG_LIMIT_BODY_DEFAULT;
    cfg.http.max_header_bytes = MG_LIMIT_HEADER_BYTES;
    cfg.http.req_timeout_ms = 10000;
    cfg.http.idle_timeout_ms = 10000;
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "./mcpgate-data");
    snprintf(cfg.region, sizeof(cfg.region), "us-east-1");
    cfg.clock_skew = 900;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_serve_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--outbound-deny-local") == 0) { /* an option without a value */
            cfg.outbound_deny_local = true;
            continue;
        }
        if (strcmp(a, "--identities-update") == 0) { /* the other one */
            cfg.identities_update = true;
            continue;
        }
        if (!s_serve_opt_known(a)) {
            fprintf(stderr, "mcpgate serve: unknown option '%s' (see mcpgate serve --help)\n", a);
            return 2;
        }
        if (v == NULL) {
            fprintf(stderr, "mcpgate serve: %s needs a value (see mcpgate serve --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (!s_parse_listen(v, &cfg.http)) {
                fprintf(stderr, "mcpgate serve: --listen wants ADDR:PORT, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--data") == 0) {
            if (strlen(v) >= sizeof(cfg.data_dir)) {
                fprintf(stderr, "mcpgate serve: --data path too long\n");
                return 2;
            }
            snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", v);
        } else if (strcmp(a, "--store") == 0) {
            if (v[0] == '\0') {
                fprintf(stderr,
                        "mcpgate serve: --store wants a postgresql:// URI or a directory\n");
                return 2;
            }
            cfg.store = v;
        } else if (strcmp(a, "--identities") == 0) {
            cfg.identities = v;
        } else if (strcmp(a, "--oauth-issuer") == 0) { /* issuer */
            cfg.oauth_issuer = v;
        } else if (strcmp(a, "--region") == 0) {
            size_t l = strlen(v);
            bool ok = l > 0 && l < sizeof(cfg.region);
            for (size_t k = 0; ok && k < l; k++)
                ok = (v[k] >= 'a' && v[k] <= 'z') || (v[k] >= '0' && v[k] <= '9') || v[k] == '-';
            if (!ok) {
                fprintf(stderr,
                        "mcpgate serve: --region wants a region name like us-east-1, got '%s'\n",
                        v);
                return 2;
            }
            snprintf(cfg.region, sizeof(cfg.region), "%s", v);
        } else if (strcmp(a, "--threads") == 0) {
            if (!mg_cli_parse_u64(v, 1, MG_MAX_LOOPS, &n)) {
                fprintf(stderr, "mcpgate serve: --threads wants 1 to %d, got '%s'\n", MG_MAX_LOOPS,
                        v);
                return 2;
            }
            cfg.http.threads = (int)n;
        } else if (strcmp(a, "--max-connections") == 0) {
            if (!mg_cli_parse_u64(v, 1, MG_LIMIT_CONNECTIONS_MAX, &n)) {
                fprintf(stderr, "mcpgate serve: --max-connections wants 1 to %u, got '%s'\n",
                        MG_LIMIT_CONNECTIONS_MAX, v);
                return 2;
            }
            cfg.http.max_connections = (uint32_t)n;
        } else if (strcmp(a, "--log-level") == 0) {
            if (!mg_log_parse_level(v, &g_mg_log_level)) {
                fprintf(stderr,
                        "mcpgate serve: --log-level wants debug, info, warn, error or off, "
                        "got '%s'\n",
                        v);
                return 2;
            }
        } else if (strcmp(a, "--access-log") == 0) {
            if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
                fprintf(stderr, "mcpgate serve: --access-log wants on or off, got '%s'\n", v);
                return 2;
            }
            cfg.http.access_log_off = strcmp(v, "off") == 0;
        } else if (strcmp(a, "--access-log-sample") == 0) {
            if (!mg_cli_parse_u64(v, 1, 1000000, &n)) {
                fprintf(stderr, "mcpgate serve: --access-log-sample wants 1 to 1000000, got '%s'\n",
                        v);
                return 2;
            }
            cfg.http.access_log_sample = (uint32_t)n;
        } else if (strcmp(a, "--max-body") == 0) {
            if (!mg_cli_parse_u64(v, 1024, 1ull << 30, &n)) {
                fprintf(stderr,
                        "mcpgate serve: --max-body wants 1024 to 1073741824 bytes, got '%s'\n", v);
                return 2;
            }
            cfg.http.max_body = n;
        } else if (strcmp(a, "--clock-skew") == 0) {
            if (!mg_cli_parse_u64(v, 0, 86400, &n)) {
                fprintf(stderr, "mcpgate serve: --clock-skew wants 0 to 86400 seconds, got '%s'\n",
                        v);
                return 2;
            }
            cfg.clock_skew = (int64_t)n;
        } else if (strcmp(a, "--request-timeout") == 0) {
            if (!mg_cli_parse_u64(v, 100, 3600000, &n)) {
                fprintf(stderr,
                        "mcpgate serve: --request-timeout wants 100 to 3600000 ms, got '%s'\n", v);
                return 2;
            }
            cfg.http.req_timeout_ms = n;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (!mg_cli_parse_u64(v, 100, 3600000, &n)) {
                fprintf(stderr, "mcpgate serve: --idle-timeout wants 100 to 3600000 ms, got '%s'\n",
                        v);
                return 2;
            }
            cfg.http.idle_timeout_ms = n;
        } else if (strcmp(a, "--tls-cert") == 0) {
            cfg.http.tls_cert = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            cfg.http.tls_key = v;
        } else if (strcmp(a, "--public-url") == 0) {
            if (strlen(v) >= sizeof(cfg.public_url)) {
                fprintf(stderr, "mcpgate serve: --public-url too long\n");
                return 2;
            }
            snprintf(cfg.public_url, sizeof(cfg.public_url), "%s", v);
        } else if (strcmp(a, "--gateway-url-template") == 0) {
            if (strlen(v) >= sizeof(cfg.gateway_url_template) || strstr(v, "{id}") == NULL) {
                fprintf(stderr,
                        "mcpgate serve: --gateway-url-template wants a URL with {id}, got '%s'\n",
                        v);
                return 2;
            }
            snprintf(cfg.gateway_url_template, sizeof(cfg.gateway_url_template), "%s", v);
        } else if (strcmp(a, "--runtimes-dir") == 0) {
            /* Lambda */
            if (strlen(v) >= sizeof(cfg.lambda.runtimes_dir)) {
                fprintf(stderr, "mcpgate serve: --runtimes-dir path too long\n");
                return 2;
            }
            snprintf(cfg.lambda.runtimes_dir, sizeof(cfg.lambda.runtimes_dir), "%s", v);
        } else if (strcmp(a, "--tools-page-size") == 0) {
            if (!mg_cli_parse_u64(v, 1, 1000, &n)) {
                fprintf(stderr, "mcpgate serve: --tools-page-size wants 1 to 1000, got '%s'\n", v);
                return 2;
            }
            cfg.tools_page_size = (size_t)n;
        } else if (strcmp(a, "--lambda-concurrency") == 0) {
            if (!mg_cli_parse_u64(v, 1, 1000, &n)) {
                fprintf(stderr, "mcpgate serve: --lambda-concurrency wants 1 to 1000, got '%s'\n",
                        v);
                return 2;
            }
            cfg.lambda.concurrency = (int)n;
        } else if (strcmp(a, "--lambda-queue") == 0) {
            if (!mg_cli_parse_u64(v, 1, 100000, &n)) {
                fprintf(stderr, "mcpgate serve: --lambda-queue wants 1 to 100000, got '%s'\n", v);
                return 2;
            }
            cfg.lambda.queue = (int)n;
        } else if (strcmp(a, "--lambda-idle-timeout") == 0) {
            if (!mg_cli_parse_u64(v, 1, 86400, &n)) {
                fprintf(stderr,
                        "mcpgate serve: --lambda-idle-timeout wants 1 to 86400 seconds, got '%s'\n",
                        v);
                return 2;
            }
            cfg.lambda.idle_seconds = (int)n;
        } else if (strcmp(a, "--lambda-code-storage") == 0) {
            if (!mg_cli_parse_u64(v, 1, UINT64_MAX, &n)) {
                fprintf(stderr,
                        "mcpgate serve: --lambda-code-storage wants a byte count, got '%s'\n", v);
                return 2;
            }
            cfg.lambda.code_storage = n;
        } else if (strcmp(a, "--outbound-ca") == 0) {
            if (!s_parse_outbound_ca(v, &cfg))
                return 2;
        } else if (strcmp(a, "--outbound-allow") == 0) {
            /* checked when the outbound client starts (mcpgate serve: outbound allow rule ...) */
            if (cfg.n_outbound_allow >= MG_HTTP_EGRESS_MAX_ALLOW) {
                fprintf(stderr, "mcpgate serve: --outbound-allow: at most %d of them\n",
                        MG_HTTP_EGRESS_MAX_ALLOW);
                return 2;
            }
            cfg.outbound_allow[cfg.n_outbound_allow++] = v;
        } else if (strcmp(a, "--lambda-isolation") == 0) {
            if (strcmp(v, "auto") == 0)
                cfg.lambda.isolation = 0;
            else if (strcmp(v, "sandbox") == 0)
                cfg.lambda.isolation = 1;
            else if (strcmp(v, "none") == 0)
                cfg.lambda.isolation = 2;
            else {
                fprintf(stderr,
                        "mcpgate serve: --lambda-isolation wants auto, sandbox or none, got '%s'\n",
                        v);
                return 2;
            }
        } else {
            fprintf(stderr, "mcpgate serve: unknown option '%s'\n\n%s", a, s_serve_usage);
            return 2;
        }
    }
    if (!cfg.http.tls_cert != !cfg.http.tls_key) {
        fprintf(stderr, "mcpgate serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (cfg.store == NULL) {
        const char *env = getenv("MCPGATE_STORE");
        if (env != NULL && env[0] != '\0')
            cfg.store = env;
    }
    /* a shared (PostgreSQL) store may hold a file's identities already: checked once it is open */
    bool shared = cfg.store != NULL && mg_store_location_is_pg(cfg.store);
    if (cfg.identities == NULL && !shared && !mg_host_is_loopback(cfg.http.listen_host)) {
        fprintf(stderr,
                "mcpgate serve: refusing to listen on %s with the well-known test credentials.\n"
                "Give an --identities file with your own keys to listen beyond loopback.\n",
                cfg.http.listen_host);
        return 2;
    }
    if (cfg.identities_update && cfg.identities == NULL) {
        fprintf(stderr, "mcpgate serve: --identities-update goes with --identities FILE\n");
        return 2;
    }
    if (!s_absolute_paths(&cfg))
        return 2;

    /* Signals are taken by this thread with sigwait; the loops never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* From here on, log lines go through the log writer's buffer (written off the event loops);
     * everything buffered is written before any other message on stderr and at exit. */
    if (mg_log_start(NULL) != MG_E_OK)
        fprintf(stderr, "mcpgate serve: no log writer thread; log lines are written at once\n");

    char runtimes[sizeof(cfg.lambda.runtimes_dir) + 32];
    if (cfg.lambda.runtimes_dir[0])
        snprintf(runtimes, sizeof(runtimes), "%s", cfg.lambda.runtimes_dir);
    else
        snprintf(runtimes, sizeof(runtimes), "%s/runtimes (built in)", cfg.data_dir);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN,
           "paths: data %s; identities %s; runtimes %s; tls cert %s; tls key %s", cfg.data_dir,
           cfg.identities ? cfg.identities : "(none: test credentials)", runtimes,
           cfg.http.tls_cert ? cfg.http.tls_cert : "(none)",
           cfg.http.tls_key ? cfg.http.tls_key : "(none)");
    if (cfg.store != NULL) { /* else the store is DATA/mcpgate.db */
        char shown[PATH_MAX];
        mg_store_location_redact(cfg.store, shown, sizeof(shown));
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "store: %s", shown);
    }

    /* With the port given, the endpoint is known before the services build their snapshots
     * (gateway URLs are made with it): no second build once the socket is bound. */
    const char *scheme = cfg.http.tls_cert ? "https" : "http";
    if (!cfg.public_url[0] && cfg.http.listen_port != 0)
        snprintf(cfg.public_url, sizeof(cfg.public_url), "%s://%s:%u", scheme, cfg.http.listen_host,
                 (unsigned)cfg.http.listen_port);

    static struct mg_app app;
    struct mg_errinfo ei = {0};
    if (mg_app_open(&app, &cfg, &ei) != MG_E_OK) {
        mg_log_stop();
        fprintf(stderr, "mcpgate serve: %s\n", ei.msg);
        return 1;
    }
    /* the start-up lines are out before the server accepts connections, as they were when every
     * line was written at once */
    mg_log_flush();
    if (mg_app_serve(&app, &ei) != MG_E_OK) {
        mg_app_close(&app);
        mg_log_stop();
        fprintf(stderr, "mcpgate serve: %s\n", ei.msg);
        return 1;
    }
    char endpoint[512];
    if (cfg.public_url[0])
        snprintf(endpoint, sizeof(endpoint), "%s", cfg.public_url);
    else
        snprintf(endpoint, sizeof(endpoint), "%s://%s:%u", scheme, cfg.http.listen_host,
                 (unsigned)mg_http_port(app.http));
    if (strcmp(app.cfg.public_url, endpoint) != 0) {
        snprintf(app.cfg.public_url, sizeof(app.cfg.public_url), "%s", endpoint);
        /* the snapshot built at open had no URL yet (the port was chosen at bind): gateway URLs
         * and their protected-resource metadata URLs are made again with it */
        pthread_mutex_lock(&app.state.write_lock);
        enum mg_err rb = mg_state_rederive(&app.state, &ei);
        pthread_mutex_unlock(&app.state.write_lock);
        if (rb != MG_E_OK)
            MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "could not rebuild the state: %s", ei.msg);
    }
    if (mg_store_meta_put(app.store, "endpoint", mg_slice_cstr(endpoint)) != MG_E_OK)
        MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "could not record the endpoint in the store");
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "listening on %s (region %s, data %s)", endpoint, cfg.region,
           cfg.data_dir);
    mg_log_flush();

    int sig = 0;
    sigwait(&set, &sig);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "signal %d: stopping, letting requests in flight finish", sig);
    mg_app_close(&app);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "stopped");
    mg_log_stop();
    return 0;
}

struct s_cred_ctx {
    const char *endpoint;
    const char *region;
    int count;
    FILE *out;
    bool config;
};

static bool s_print_key(void *user, const struct mg_store_row *row)
{
    struct s_cred_ctx *c = user;
    json_t *doc = json_loadb(row->doc, row->doc_len, 0, NULL);
    if (doc == NULL)
        return true;
    const char *id = json_string_value(json_object_get(doc, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(doc, "secretAccessKey"));
    const char *user_name = json_string_value(json_object_get(doc, "userName"));
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (id && secret && (status == NULL || strcmp(status, "Active") == 0)) {
        char profile[256];
        if (user_name)
            snprintf(profile, sizeof(profile), "mcpgate-%s-%s", row->account, user_name);
        else
            snprintf(profile, sizeof(profile), "mcpgate-%s", row->account);
        if (c->config)
            fprintf(c->out, "[profile %s]\nregion = %s\nendpoint_url = %s\n\n", profile, c->region,
                    c->endpoint);
        else
            fprintf(c->out, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", profile,
                    id, secret);
        c->count++;
    }
    json_decref(doc);
    return true;
}

int mg_cli_credentials_main(int argc, char **argv)
{
    const char *data = "./mcpgate-data";
    const char *region = "us-east-1";
    const char *store_loc = getenv("MCPGATE_STORE");
    if (store_loc != NULL && store_loc[0] == '\0')
        store_loc = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            puts("usage: mcpgate credentials [--data DIR] [--store LOCATION] [--region REGION]\n\n"
                 "Prints ~/.aws/config and ~/.aws/credentials sections for every active access\n"
                 "key that this server hosts, with the endpoint it last listened on.\n"
                 "--store (or MCPGATE_STORE): the store's postgresql:// URI or directory, as\n"
                 "given to mcpgate serve (default: the data directory).");
            return 0;
        }
        if (strcmp(argv[i], "--data") != 0 && strcmp(argv[i], "--region") != 0 &&
            strcmp(argv[i], "--store") != 0) {
            fprintf(stderr,
                    "mcpgate credentials: unknown option '%s' (see mcpgate credentials --help)\n",
                    argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mcpgate credentials: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--data") == 0)
            data = argv[++i];
        else if (strcmp(argv[i], "--store") == 0)
            store_loc = argv[++i];
        else if (strcmp(argv[i], "--region") == 0)
            region = argv[++i];
        else {
            fprintf(stderr, "mcpgate credentials: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    struct mg_store *store;
    struct mg_errinfo ei = {0};
    if (mg_store_open(store_loc != NULL ? store_loc : data, &store, &ei) != MG_E_OK) {
        fprintf(stderr, "mcpgate credentials: %s\n", ei.msg);
        return 1;
    }
    struct mg_buf ep;
    mg_buf_init(&ep, 4096);
    char endpoint[512];
    if (mg_store_meta_get(store, "endpoint", &ep) == MG_E_OK && mg_buf_cstr(&ep))
        snprintf(endpoint, sizeof(endpoint), "%s", mg_buf_cstr(&ep));
    else
        snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", MG_DEFAULT_PORT);
    mg_buf_cleanup(&ep);
    struct s_cred_ctx c = {endpoint, region, 0, stdout, true};
    printf("# ~/.aws/config\n");
    enum mg_err e = mg_store_list(store, "access_key", NULL, s_print_key, &c);
    c.config = false;
    c.count = 0;
    printf("# ~/.aws/credentials\n");
    if (!e)
        e = mg_store_list(store, "access_key", NULL, s_print_key, &c);
    mg_store_close(store);
    if (e) {
        fprintf(stderr, "mcpgate credentials: cannot read the store: %s\n", mg_err_str(e));
        return 1;
    }
    if (c.count == 0)
        fprintf(stderr, "mcpgate credentials: no access keys in %s (run 'mcpgate serve' first)\n",
                data);
    return 0;
}
