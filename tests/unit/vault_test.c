/* AgentCore Identity: sealing and opening secrets (bound to purpose, account and ARN), workload
 * access tokens, JWT claims, provider ARNs (both forms), vendor endpoints, and the vault key
 * kept in the store's meta across opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "state/snapshot.h"
#include "state/store.h"
#include "unit/leaks.h"
#include "vault/internal.h"

static const uint8_t K1[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t K2[32] = {9};

#define ARN                                                                                        \
    "arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/default/"                        \
    "apikeycredentialprovider/weather"

static void test_seal_open(void **state)
{
    (void)state;
    char *s1 = NULL, *s2 = NULL, *out = NULL;
    size_t n;
    assert_int_equal(mg_vault_seal(K1, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN,
                                   mg_slice_cstr("sk-secret"), &s1),
                     MG_E_OK);
    assert_int_equal(mg_vault_seal(K1, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN,
                                   mg_slice_cstr("sk-secret"), &s2),
                     MG_E_OK);
    /* a fresh nonce each time; never the plaintext */
    assert_string_not_equal(s1, s2);
    assert_null(strstr(s1, "sk-secret"));
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN, s1, &out, &n),
                     MG_E_OK);
    assert_int_equal(n, 9);
    assert_string_equal(out, "sk-secret");
    mg_vault_free_secret(out);
    /* bound to key, account, ARN and purpose */
    assert_int_equal(mg_vault_open(K2, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN, s1, &out, &n),
                     MG_E_AUTH);
    assert_null(out);
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "444455556666", ARN, s1, &out, &n),
                     MG_E_AUTH);
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN "2", s1, &out,
                                   &n),
                     MG_E_AUTH);
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_WAT, "111122223333", ARN, s1, &out, &n),
                     MG_E_AUTH);
    /* tampered: one character of the base64 changed */
    size_t len = strlen(s1);
    s1[len / 2] = s1[len / 2] == 'A' ? 'B' : 'A';
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "111122223333", ARN, s1, &out, &n),
                     MG_E_AUTH);
    /* not base64, too short, absent */
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "a", ARN, "!!", &out, &n),
                     MG_E_INVALID);
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "a", ARN, "AAAA", &out, &n),
                     MG_E_INVALID);
    assert_int_equal(mg_vault_open(K1, MG_VAULT_PURPOSE_SECRET, "a", ARN, NULL, &out, &n),
                     MG_E_INVALID);
    mg_free(s1);
    mg_free(s2);
    /* an empty secret seals and opens; one past the limit is refused */
    assert_int_equal(mg_vault_seal(K1, "p", "", "", mg_slice_cstr(""), &s1), MG_E_OK);
    assert_int_equal(mg_vault_open(K1, "p", "", "", s1, &out, &n), MG_E_OK);
    assert_int_equal(n, 0);
    mg_vault_free_secret(out);
    mg_free(s1);
    char *big = calloc(1, 200 * 1024);
    assert_non_null(big);
    assert_int_equal(mg_vault_seal(K1, "p", "", "", mg_slice_make(big, 200 * 1024), &s1),
                     MG_E_TOO_LARGE);
    assert_null(s1);
    free(big);
}

static void test_wat(void **state)
{
    (void)state;
    struct mg_vault_wat t = {0}, o;
    snprintf(t.account, sizeof(t.account), "111122223333");
    snprintf(t.workload, sizeof(t.workload), "agent-1");
    snprintf(t.user_id, sizeof(t.user_id), "alice");
    t.expires = 2000;
    char *tok = NULL;
    assert_int_equal(mg_vault_wat_seal(K1, &t, &tok), MG_E_OK);
    assert_true(strncmp(tok, MG_VAULT_WAT_PREFIX, strlen(MG_VAULT_WAT_PREFIX)) == 0);
    assert_null(strstr(tok, "alice"));
    assert_int_equal(mg_vault_wat_open(K1, tok, 1000, &o), MG_E_OK);
    assert_string_equal(o.account, "111122223333");
    assert_string_equal(o.workload, "agent-1");
    assert_string_equal(o.user_id, "alice");
    assert_string_equal(o.iss, "");
    assert_int_equal(o.expires, 2000);
    assert_int_equal(mg_vault_wat_open(K1, tok, 2000, &o), MG_E_DENIED); /* expired */
    assert_int_equal(mg_vault_wat_open(K2, tok, 1000, &o), MG_E_AUTH);
    assert_int_equal(mg_vault_wat_open(K1, tok + 1, 1000, &o), MG_E_AUTH);
    assert_int_equal(mg_vault_wat_open(K1, NULL, 1000, &o), MG_E_AUTH);
    assert_int_equal(mg_vault_wat_open(K1, MG_VAULT_WAT_PREFIX "AAAA", 1000, &o), MG_E_AUTH);
    mg_vault_free_secret(tok);
    /* a secret sealed for a provider never opens as a token */
    char *s = NULL;
    assert_int_equal(mg_vault_seal(K1, MG_VAULT_PURPOSE_SECRET, "", "",
                                   mg_slice_cstr("{\"a\":\"111122223333\",\"w\":\"x\",\"e\":9999}"),
                                   &s),
                     MG_E_OK);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", MG_VAULT_WAT_PREFIX, s);
    assert_int_equal(mg_vault_wat_open(K1, buf, 1000, &o), MG_E_AUTH);
    mg_free(s);
    /* ForJWT: iss and sub */
    memset(&t, 0, sizeof(t));
    snprintf(t.account, sizeof(t.account), "111122223333");
    snprintf(t.workload, sizeof(t.workload), "w");
    snprintf(t.iss, sizeof(t.iss), "https://idp");
    snprintf(t.sub, sizeof(t.sub), "u1");
    t.expires = 5000;
    assert_int_equal(mg_vault_wat_seal(K1, &t, &tok), MG_E_OK);
    assert_int_equal(mg_vault_wat_open(K1, tok, 1, &o), MG_E_OK);
    assert_string_equal(o.iss, "https://idp");
    assert_string_equal(o.sub, "u1");
    assert_string_equal(o.user_id, "");
    mg_vault_free_secret(tok);
}

static void test_jwt_claims(void **state)
{
    (void)state;
    char iss[1025], sub[1025];
    int64_t exp;
    /* {"alg":"none"} . {"iss":"https://idp","sub":"u1","exp":1700000000} . sig */
    const char *jwt = "eyJhbGciOiJub25lIn0."
                      "eyJpc3MiOiJodHRwczovL2lkcCIsInN1YiI6InUxIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln";
    assert_true(mg_vault_jwt_claims(jwt, iss, sub, &exp));
    assert_string_equal(iss, "https://idp");
    assert_string_equal(sub, "u1");
    assert_int_equal(exp, 1700000000);
    /* {"iss":"x"}: no sub */
    assert_false(mg_vault_jwt_claims("e30.eyJpc3MiOiJ4In0.c2ln", iss, sub, &exp));
    /* {"iss":1,"sub":"a"}: iss not a string */
    assert_false(mg_vault_jwt_claims("e30.eyJpc3MiOjEsInN1YiI6ImEifQ.c2ln", iss, sub, &exp));
    assert_false(mg_vault_jwt_claims("e30.bm90IGpzb24.c2ln", iss, sub, &exp)); /* not JSON */
    assert_false(mg_vault_jwt_claims("e30.e30", iss, sub, &exp));              /* two parts */
    assert_false(mg_vault_jwt_claims("a.b.c.d", iss, sub, &exp));
    assert_false(mg_vault_jwt_claims("e30.!!!.c2ln", iss, sub, &exp));
    assert_false(mg_vault_jwt_claims(NULL, iss, sub, &exp));
}

static void test_provider_arns(void **state)
{
    (void)state;
    char acct[13], name[129];
    assert_true(mg_vault_parse_provider_arn(ARN, true, acct, name));
    assert_string_equal(acct, "111122223333");
    assert_string_equal(name, "weather");
    assert_false(mg_vault_parse_provider_arn(ARN, false, acct, name)); /* not OAuth2 */
    assert_true(mg_vault_parse_provider_arn(
        "arn:aws:acps:us-east-1:444455556666:token-vault/default/oauth2credentialprovider/idp_1",
        false, acct, name));
    assert_string_equal(acct, "444455556666");
    assert_string_equal(name, "idp_1");
    assert_false(mg_vault_parse_provider_arn(
        "arn:aws:s3:us-east-1:111122223333:token-vault/default/apikeycredentialprovider/x", true,
        acct, name));
    assert_false(mg_vault_parse_provider_arn(
        "arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/other/"
        "apikeycredentialprovider/x",
        true, acct, name));
    assert_false(mg_vault_parse_provider_arn(
        "arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/default/"
        "apikeycredentialprovider/a/b",
        true, acct, name));
    assert_false(mg_vault_parse_provider_arn(
        "arn:aws:bedrock-agentcore:us-east-1::token-vault/default/apikeycredentialprovider/x", true,
        acct, name));
    assert_false(mg_vault_parse_provider_arn("weather", true, acct, name));
    assert_false(mg_vault_parse_provider_arn(NULL, true, acct, name));
    struct mg_env env = {.region = "eu-west-1"};
    char arn[512];
    mg_vault_provider_arn(&env, "111122223333", false, "idp", arn, sizeof(arn));
    assert_string_equal(arn, "arn:aws:bedrock-agentcore:eu-west-1:111122223333:token-vault/"
                             "default/oauth2credentialprovider/idp");
    mg_vault_workload_arn(&env, "111122223333", "a.b", arn, sizeof(arn));
    assert_string_equal(arn, "arn:aws:bedrock-agentcore:eu-west-1:111122223333:"
                             "workload-identity-directory/default/workload-identity/a.b");
}

static void test_vendors(void **state)
{
    (void)state;
    struct mg_vault_vendor_endpoints e;
    assert_true(mg_vault_vendor_endpoints("GoogleOauth2", NULL, &e));
    assert_string_equal(e.token, "https://oauth2.googleapis.com/token");
    assert_true(mg_vault_vendor_endpoints("MicrosoftOauth2", NULL, &e));
    assert_string_equal(e.issuer, "https://login.microsoftonline.com/common/v2.0");
    assert_true(mg_vault_vendor_endpoints("MicrosoftOauth2", "contoso", &e));
    assert_string_equal(e.token, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
    assert_true(mg_vault_vendor_endpoints("GithubOauth2", NULL, &e));
    assert_true(e.auth_post);
    assert_string_equal(e.discovery, "");
}

/* The OAuth2 configuration rules: vendor and member agree, clientId, no EXTERNAL secret, the
 * discovery of custom and included providers; the answered oauthDiscovery. */
static const char *s_oauth2(const char *vendor, const char *in_json, char *err, size_t cap,
                            struct mg_vault_oauth2_server *o, json_t **disc)
{
    json_t *in = json_loads(in_json, 0, NULL);
    assert_non_null(in);
    const json_t *cfg = NULL;
    *disc = NULL;
    const char *m = mg_vault_check_oauth2(vendor, in, &cfg, o, disc, err, cap);
    json_decref(in); /* *disc is a copy: it outlives in */
    return m ? "ok" : NULL;
}

static void test_oauth2_rules(void **state)
{
    (void)state;
    char err[1024];
    struct mg_vault_oauth2_server o;
    json_t *disc = NULL;
    /* custom with a discovery URL */
    assert_non_null(s_oauth2("CustomOauth2",
                             "{\"customOauth2ProviderConfig\": {\"clientId\": \"c\", "
                             "\"oauthDiscovery\": {\"discoveryUrl\": "
                             "\"https://idp/.well-known/openid-configuration\"}}}",
                             err, sizeof(err), &o, &disc));
    assert_string_equal(o.discovery, "https://idp/.well-known/openid-configuration");
    assert_string_equal(o.token, "");
    assert_false(o.auth_post);
    assert_string_equal(json_string_value(json_object_get(disc, "discoveryUrl")),
                        "https://idp/.well-known/openid-configuration");
    json_decref(disc);
    /* custom with metadata and client_secret_post */
    assert_non_null(s_oauth2("CustomOauth2",
                             "{\"customOauth2ProviderConfig\": {\"clientId\": \"c\", "
                             "\"clientAuthenticationMethod\": \"CLIENT_SECRET_POST\", "
                             "\"oauthDiscovery\": {\"authorizationServerMetadata\": {"
                             "\"issuer\": \"https://as\", \"authorizationEndpoint\": "
                             "\"https://as/a\", \"tokenEndpoint\": \"https://as/t\"}}}}",
                             err, sizeof(err), &o, &disc));
    assert_string_equal(o.token, "https://as/t");
    assert_string_equal(o.issuer, "https://as");
    assert_true(o.auth_post);
    json_decref(disc);
    /* refused, each with its message */
    static const struct {
        const char *vendor, *in, *msg;
    } bad[] = {
        {"GoogleOauth2", "{\"githubOauth2ProviderConfig\": {\"clientId\": \"g\"}}",
         "does not configure the credentialProviderVendor GoogleOauth2"},
        {"OktaOauth2", "{\"googleOauth2ProviderConfig\": {\"clientId\": \"g\"}}",
         "does not configure"},
        {"GoogleOauth2",
         "{\"includedOauth2ProviderConfig\": {\"clientId\": \"g\", "
         "\"issuer\": \"https://x\"}}",
         "does not configure"},
        {"GoogleOauth2", "{}", "exactly one member"},
        {"GoogleOauth2", "{\"googleOauth2ProviderConfig\": {\"clientId\": \"\"}}",
         "clientId is required"},
        {"GoogleOauth2",
         "{\"googleOauth2ProviderConfig\": {\"clientId\": \"g\", "
         "\"clientSecretSource\": \"EXTERNAL\"}}",
         "EXTERNAL"},
        {"CustomOauth2",
         "{\"customOauth2ProviderConfig\": {\"clientId\": \"c\", "
         "\"oauthDiscovery\": {}}}",
         "exactly one of discoveryUrl"},
        {"CustomOauth2",
         "{\"customOauth2ProviderConfig\": {\"clientId\": \"c\", "
         "\"oauthDiscovery\": {\"discoveryUrl\": "
         "\"ftp://x/.well-known/openid-configuration\"}}}",
         "http(s) URL"},
        {"CustomOauth2",
         "{\"customOauth2ProviderConfig\": {\"clientId\": \"c\", "
         "\"oauthDiscovery\": {\"authorizationServerMetadata\": {"
         "\"issuer\": \"i\", \"authorizationEndpoint\": \"https://a\", "
         "\"tokenEndpoint\": \"not a url\"}}}}",
         "tokenEndpoint must be http(s) URLs"},
        {"OktaOauth2", "{\"includedOauth2ProviderConfig\": {\"clientId\": \"o\"}}", "needs issuer"},
        {"OktaOauth2",
         "{\"includedOauth2ProviderConfig\": {\"clientId\": \"o\", "
         "\"issuer\": \"https://okta\", \"tokenEndpoint\": \"https://t\"}}",
         "both authorizationEndpoint and tokenEndpoint or neither"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (s_oauth2(bad[i].vendor, bad[i].in, err, sizeof(err), &o, &disc) != NULL)
            fail_msg("case %zu accepted", i);
        assert_null(disc);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].msg);
    }
    /* included: issuer only -> its discovery URL; with endpoints -> metadata */
    assert_non_null(s_oauth2("OktaOauth2",
                             "{\"includedOauth2ProviderConfig\": {\"clientId\": \"o\", "
                             "\"issuer\": \"https://okta/oauth2/default/\"}}",
                             err, sizeof(err), &o, &disc));
    assert_string_equal(o.discovery,
                        "https://okta/oauth2/default/.well-known/openid-configuration");
    json_decref(disc);
    assert_non_null(s_oauth2("Auth0Oauth2",
                             "{\"includedOauth2ProviderConfig\": {\"clientId\": \"o\", "
                             "\"issuer\": \"https://a0\", \"authorizationEndpoint\": "
                             "\"https://a0/authorize\", \"tokenEndpoint\": \"https://a0/t\"}}",
                             err, sizeof(err), &o, &disc));
    assert_string_equal(o.token, "https://a0/t");
    assert_non_null(json_object_get(disc, "authorizationServerMetadata"));
    json_decref(disc);
    /* a vendor: its endpoints */
    assert_non_null(s_oauth2("MicrosoftOauth2",
                             "{\"microsoftOauth2ProviderConfig\": {\"clientId\": \"m\", "
                             "\"tenantId\": \"t1\"}}",
                             err, sizeof(err), &o, &disc));
    assert_string_equal(o.token, "https://login.microsoftonline.com/t1/oauth2/v2.0/token");
    json_decref(disc);
}

/* mg_vault_provider_find over a real store and snapshot: both ARN forms and a bare name, another
 * account's ARN, a missing provider, a secret that does not open, the OAuth2 fields. */
static void s_put_sealed(struct mg_store *st, const uint8_t key[32], const char *kind,
                         const char *account, const char *name, const char *arn,
                         const char *seal_arn, const char *secret, const char *extra)
{
    char *sealed = NULL;
    assert_int_equal(mg_vault_seal(key, MG_VAULT_PURPOSE_SECRET, account, seal_arn,
                                   mg_slice_cstr(secret), &sealed),
                     MG_E_OK);
    char doc[4096];
    snprintf(doc, sizeof(doc),
             "{\"name\":\"%s\",\"credentialProviderArn\":\"%s\",\"_secret\":\"%s\"%s}", name, arn,
             sealed, extra);
    mg_free(sealed);
    assert_int_equal(mg_store_put(st, kind, account, name, mg_slice_cstr(doc)), MG_E_OK);
}

static void test_provider_find(void **state)
{
    (void)state;
    char root[256], dir[300];
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/mg_vault_find.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/data", root);
    struct mg_store *st = NULL;
    struct mg_state state_;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(dir, &st, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&state_, st, &ei), MG_E_OK);
    struct mg_env env = {.region = "us-east-1", .store = st, .state = &state_};
    struct mg_vault *v = NULL;
    assert_int_equal(mg_vault_new(&env, &v, &ei), MG_E_OK);
    env.vault = v;
    const char *oarn = "arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/default/"
                       "oauth2credentialprovider/idp";
    assert_int_equal(mg_state_write_begin(&state_), MG_E_OK);
    s_put_sealed(st, v->key, MG_VAULT_KIND_APIKEY, "111122223333", "weather", ARN, ARN, "sk-1", "");
    s_put_sealed(st, v->key, MG_VAULT_KIND_OAUTH2, "111122223333", "idp", oarn, oarn, "cs-1",
                 ",\"credentialProviderVendor\":\"CustomOauth2\",\"oauth2ProviderConfigOutput\":"
                 "{\"customOauth2ProviderConfig\":{\"clientId\":\"cid\"}},\"_tokenEndpoint\":"
                 "\"https://as/t\",\"_issuer\":\"https://as\",\"_authPost\":true");
    /* sealed for another ARN: does not open */
    s_put_sealed(st, v->key, MG_VAULT_KIND_APIKEY, "111122223333", "moved",
                 "arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/default/"
                 "apikeycredentialprovider/moved",
                 ARN, "sk-2", "");
    assert_int_equal(mg_state_write_commit(&state_, &ei), MG_E_OK);
    struct mg_snapshot *snap = mg_state_acquire(&state_);
    struct mg_vault_provider p;
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", ARN, true, &p, &ei),
                     MG_E_OK);
    assert_string_equal(p.api_key, "sk-1");
    assert_string_equal(p.name, "weather");
    assert_string_equal(p.account, "111122223333");
    mg_vault_provider_cleanup(&p);
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333",
                                            "arn:aws:acps:us-east-1:111122223333:token-vault/"
                                            "default/apikeycredentialprovider/weather",
                                            true, &p, &ei),
                     MG_E_OK);
    mg_vault_provider_cleanup(&p);
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", "weather", true, &p, &ei),
                     MG_E_OK);
    mg_vault_provider_cleanup(&p);
    assert_int_equal(mg_vault_provider_find(&env, snap, "444455556666", ARN, true, &p, &ei),
                     MG_E_DENIED);
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", ARN, false, &p, &ei),
                     MG_E_NOT_FOUND); /* an API-key ARN is not an OAuth2 provider */
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", "nope", true, &p, &ei),
                     MG_E_NOT_FOUND);
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", "moved", true, &p, &ei),
                     MG_E_INTERNAL);
    assert_null(p.api_key);
    assert_int_equal(mg_vault_provider_find(&env, snap, "111122223333", oarn, false, &p, &ei),
                     MG_E_OK);
    assert_string_equal(p.client_secret, "cs-1");
    assert_string_equal(p.client_id, "cid");
    assert_string_equal(p.vendor, "CustomOauth2");
    assert_string_equal(p.token_endpoint, "https://as/t");
    assert_string_equal(p.issuer, "https://as");
    assert_null(p.discovery_url);
    assert_true(p.auth_post);
    mg_vault_provider_cleanup(&p);
    mg_snapshot_unref(snap);
    mg_vault_free(v);
    mg_state_cleanup(&state_);
    mg_store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* The key is made once and kept in the store's meta: a second open finds the same one. */
static void test_key_kept(void **state)
{
    (void)state;
    char root[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/mg_vault_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(root));
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/data", root);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(dir, &s, &ei), MG_E_OK);
    struct mg_env env = {.region = "us-east-1", .store = s};
    struct mg_vault *v1 = NULL, *v2 = NULL;
    assert_int_equal(mg_vault_new(&env, &v1, &ei), MG_E_OK);
    assert_int_equal(mg_vault_new(&env, &v2, &ei), MG_E_OK);
    assert_memory_equal(v1->key, v2->key, 32);
    static const uint8_t zero[32];
    assert_memory_not_equal(v1->key, zero, 32);
    mg_vault_free(v1);
    mg_vault_free(v2);
    mg_store_close(s);
    char path[400];
    static const char *const files[] = {"mcpgate.db", "mcpgate.db-wal", "mcpgate.db-shm",
                                        "mcpgate.db-journal"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    rmdir(root);
}

int main(void)
{
    g_mg_log_level = MG_LOG_OFF;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open),     cmocka_unit_test(test_wat),
        cmocka_unit_test(test_jwt_claims),    cmocka_unit_test(test_provider_arns),
        cmocka_unit_test(test_vendors),       cmocka_unit_test(test_oauth2_rules),
        cmocka_unit_test(test_provider_find), cmocka_unit_test(test_key_kept),
    };
    return MG_RUN_TESTS(tests);
}
