/* The incremental snapshot: the store's change list, mg_state_apply, and a sequence of random
 * writes applied one commit at a time giving the same documents and the same extension lookups
 * (AgentCore catalog, IAM keys and policies) as a full rebuild of the same store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "call/call.h"
#include "iam/iam.h"
#include "state/snapshot.h"
#include "state/store.h"
#include "unit/leaks.h"

struct s_fx {
    char dir[64];
    struct mg_store *store;
    struct mg_state st;
};

static int s_setup(void **state)
{
    struct s_fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mg-apply-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    struct mg_errinfo ei = {0};
    mg_iam_init();
    mg_agentcore_init();
    if (mg_store_open(f->dir, &f->store, &ei) != MG_E_OK ||
        mg_state_init(&f->st, f->store, &ei) != MG_E_OK)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct s_fx *f = *state;
    mg_state_cleanup(&f->st);
    mg_store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* ---- comparing two snapshots -------------------------------------------------------------- */

static void s_same_docs(const struct mg_snapshot *a, const struct mg_snapshot *b)
{
    assert_int_equal(a->n_buckets, b->n_buckets);
    assert_int_equal(a->n_docs, b->n_docs);
    for (size_t i = 0; i < a->n_buckets; i++) {
        const struct mg_snapshot_bucket *x = a->buckets[i], *y = b->buckets[i];
        assert_int_equal(x->n, y->n);
        for (size_t k = 0; k < x->n; k++) {
            assert_string_equal(x->docs[k].kind, y->docs[k].kind);
            assert_string_equal(x->docs[k].account, y->docs[k].account);
            assert_string_equal(x->docs[k].key, y->docs[k].key);
            assert_true(json_equal(x->docs[k].doc, y->docs[k].doc));
            assert_ptr_equal(mg_snapshot_get(a, y->docs[k].kind, y->docs[k].account,
                                             y->docs[k].key),
                             &x->docs[k]);
        }
    }
}

static void s_same_gateway(const struct mg_gateway *x, const struct mg_gateway *y)
{
    assert_non_null(x);
    assert_string_equal(x->id, y->id);
    assert_string_equal(x->account, y->account);
    assert_int_equal(x->status, y->status);
    assert_true(json_equal((json_t *)x->doc, (json_t *)y->doc));
    assert_int_equal(x->resource_policy != NULL, y->resource_policy != NULL);
    assert_int_equal(x->n_targets, y->n_targets);
    for (size_t t = 0; t < x->n_targets; t++) {
        assert_string_equal(x->targets[t].id, y->targets[t].id);
        assert_string_equal(x->targets[t].name, y->targets[t].name);
        assert_int_equal(x->targets[t].status, y->targets[t].status);
        assert_ptr_equal(x->targets[t].gateway, x);
    }
    assert_int_equal(x->catalog.n_tools, y->catalog.n_tools);
    assert_int_equal(x->catalog.n_pages, y->catalog.n_pages);
    assert_true(x->catalog.version == y->catalog.version);
    for (size_t t = 0; t < x->catalog.n_tools; t++) {
        assert_string_equal(x->catalog.tools[t].full_name, y->catalog.tools[t].full_name);
        assert_ptr_equal(x->catalog.tools[t].target->gateway, x);
    }
    for (size_t p = 0; p < x->catalog.n_pages; p++)
        assert_string_equal(x->catalog.page_json[p], y->catalog.page_json[p]);
}

static void s_same_entities(const struct mg_snapshot *a, const struct mg_snapshot *b,
                            const struct mg_snapshot_doc *d, size_t n, bool role);

static void s_same_lookups(const struct mg_snapshot *a, const struct mg_snapshot *b)
{
    size_t na, nb;
    mg_agentcore_gateways(a, &na);
    mg_agentcore_gateways(b, &nb);
    assert_int_equal(na, nb);
    size_t pos = 0, n;
    const struct mg_snapshot_doc *d;
    while ((d = mg_snapshot_next_run(b, MG_AC_KIND_GATEWAY, &pos, &n)))
        for (size_t i = 0; i < n; i++) {
            const struct mg_gateway *y = mg_agentcore_gateway(b, mg_slice_cstr(d[i].key));
            const struct mg_gateway *x = mg_agentcore_gateway(a, mg_slice_cstr(d[i].key));
            assert_int_equal(x != NULL, y != NULL);
            if (y)
                s_same_gateway(x, y);
        }
    pos = 0;
    while ((d = mg_snapshot_next_run(b, MG_AC_KIND_POLICY, &pos, &n)))
        for (size_t i = 0; i < n; i++)
            assert_int_equal(mg_agentcore_resource_policy(a, mg_slice_cstr(d[i].key)) != NULL,
                             mg_agentcore_resource_policy(b, mg_slice_cstr(d[i].key)) != NULL);
    pos = 0;
    while ((d = mg_snapshot_next_run(b, "access_key", &pos, &n)))
        for (size_t i = 0; i < n; i++) {
            const struct mg_iam_key *x = mg_iam_find_key(a, mg_slice_cstr(d[i].key));
            const struct mg_iam_key *y = mg_iam_find_key(b, mg_slice_cstr(d[i].key));
            assert_int_equal(x != NULL, y != NULL);
            if (y == NULL)
                continue;
            assert_string_equal(x->secret, y->secret);
            assert_string_equal(x->account, y->account);
            assert_int_equal(x->active, y->active);
            assert_int_equal(x->user != NULL, y->user != NULL);
            if (y->user)
                assert_true(json_equal((json_t *)x->user, (json_t *)y->user));
        }
    for (int r = 0; r < 2; r++) {
        pos = 0;
        while ((d = mg_snapshot_next_run(b, r ? "role" : "user", &pos, &n)))
            s_same_entities(a, b, d, n, r == 1);
    }
}

static void s_same_entities(const struct mg_snapshot *a, const struct mg_snapshot *b,
                            const struct mg_snapshot_doc *d, size_t n, bool role)
{
    {
        for (size_t i = 0; i < n; i++) {
            struct mg_principal p = {0};
            p.type = role ? MG_PRINCIPAL_ASSUMED_ROLE : MG_PRINCIPAL_USER;
            snprintf(p.account, sizeof(p.account), "%s", d[i].account);
            snprintf(p.name, sizeof(p.name), "%s", d[i].key);
            const struct mg_iam_entity_policies *x = mg_iam_policies_of(a, &p);
            const struct mg_iam_entity_policies *y = mg_iam_policies_of(b, &p);
            assert_non_null(x);
            assert_non_null(y);
            assert_int_equal(x->n_identity, y->n_identity);
            assert_int_equal(x->n_boundary, y->n_boundary);
        }
    }
}

/* A second state on the same store: a full build of what the store holds now. */
static void s_check_against_full(struct s_fx *f)
{
    struct mg_state full;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_init(&full, f->store, &ei), MG_E_OK);
    struct mg_snapshot *a = mg_state_acquire(&f->st), *b = mg_state_acquire(&full);
    s_same_docs(a, b);
    s_same_lookups(a, b);
    mg_snapshot_unref(a);
    mg_snapshot_unref(b);
    mg_state_cleanup(&full);
}

/* ---- random documents --------------------------------------------------------------------- */

static uint32_t s_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffffu;
}

static const char *const s_accounts[] = {"111122223333", "444455556666", "777788889999"};
static const char *const s_gws[] = {"gw-aaaaaaaaaa", "gw-bbbbbbbbbb", "gw-cccccccccc"};
static const char *const s_status[] = {"READY", "CREATING", "DELETING"};

/* One random write inside the open transaction. */
static void s_random_write(struct s_fx *f, uint32_t *seed)
{
    char key[128], doc[2048];
    unsigned ai = s_rand(seed) % 3;
    const char *acct = s_accounts[ai];
    char gw[32]; /* gateway ids are unique across accounts */
    snprintf(gw, sizeof(gw), "%s%u", s_gws[s_rand(seed) % 3], ai);
    const char *kind;
    unsigned v = s_rand(seed) % 1000;
    switch (s_rand(seed) % 7) {
    case 0:
        kind = MG_AC_KIND_GATEWAY;
        snprintf(key, sizeof(key), "%s", gw);
        snprintf(doc, sizeof(doc),
                 "{\"gatewayId\":\"%s\",\"name\":\"n%u\",\"status\":\"%s\","
                 "\"gatewayArn\":\"arn:aws:bedrock-agentcore:us-east-1:%s:gateway/%s\"}",
                 gw, v, s_status[v % 3], acct, gw);
        break;
    case 1:
    case 2:
        kind = MG_AC_KIND_TARGET;
        snprintf(key, sizeof(key), "%s/T%u", gw, v % 4);
        snprintf(doc, sizeof(doc),
                 "{\"name\":\"t%u\",\"status\":\"%s\",\"targetConfiguration\":{\"mcp\":{"
                 "\"lambda\":{\"lambdaArn\":\"arn:aws:lambda:us-east-1:%s:function:f\","
                 "\"toolSchema\":{\"inlinePayload\":[{\"name\":\"a%u\",\"inputSchema\":"
                 "{\"type\":\"object\"}},{\"name\":\"b\",\"inputSchema\":{\"type\":\"object\"}}]"
                 "}}}}}",
                 v % 4, s_status[(v / 3) % 3], acct, v % 5);
        break;
    case 3:
        kind = MG_AC_KIND_POLICY;
        snprintf(key, sizeof(key), "arn:aws:bedrock-agentcore:us-east-1:%s:gateway/%s", acct, gw);
        snprintf(doc, sizeof(doc),
                 "{\"policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{"
                 "\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":"
                 "\\\"bedrock-agentcore:InvokeGateway\\\",\\\"Resource\\\":\\\"%s\\\",\\\"Sid\\\":"
                 "\\\"s%u\\\"}]}\"}",
                 key, v);
        break;
    case 4:
        kind = v % 4 == 0 ? "role" : v % 4 == 1 ? "policy" : "user";
        if (strcmp(kind, "policy") == 0) { /* customer managed, attached by users */
            snprintf(key, sizeof(key), "p%u", (v / 4) % 2);
            snprintf(doc, sizeof(doc),
                     "{\"Arn\":\"arn:aws:iam::%s:policy/%s\",\"DefaultVersionId\":\"v1\","
                     "\"Versions\":[{\"VersionId\":\"v1\",\"Document\":\"{\\\"Version\\\":"
                     "\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\","
                     "\\\"Action\\\":\\\"s3:Put%u\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}]}",
                     acct, key, v);
            break;
        }
        snprintf(key, sizeof(key), "u%u", v % 3);
        snprintf(
            doc, sizeof(doc),
            "{\"UserName\":\"u%u\",\"Arn\":\"arn:aws:iam::%s:user/u%u\",\"UserId\":\"AIDA%u\","
            "\"AttachedPolicies\":[\"arn:aws:iam::%s:policy/p%u\"],"
            "\"InlinePolicies\":{\"p\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
            "[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"s3:Get%u\\\",\\\"Resource\\\":"
            "\\\"*\\\"}]}\"}}",
            v % 3, acct, v % 3, v, acct, (v / 7) % 2, v);
        break;
    case 5:
        kind = "access_key";
        snprintf(key, sizeof(key), "AKIA%u%011u", ai, v % 4); /* unique across accounts */
        snprintf(doc, sizeof(doc),
                 "{\"secretAccessKey\":\"s%u\",\"userName\":\"u%u\",\"status\":\"%s\"}", v, v % 3,
                 v % 2 ? "Active" : "Inactive");
        break;
    default:
        kind = "other";
        snprintf(key, sizeof(key), "k%u", v % 6);
        snprintf(doc, sizeof(doc), "{\"v\":%u}", v);
        break;
    }
    enum mg_err e;
    if (s_rand(seed) % 4 == 0) {
        e = mg_store_delete(f->store, kind, acct, key);
        assert_true(e == MG_E_OK || e == MG_E_NOT_FOUND);
    } else {
        e = mg_store_put(f->store, kind, acct, key, mg_slice_cstr(doc));
        assert_int_equal(e, MG_E_OK);
    }
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_apply_matches_full_rebuild(void **state)
{
    struct s_fx *f = *state;
    uint32_t seed = 7;
    uint64_t full0 = f->st.full_builds;
    for (int round = 0; round < 150; round++) {
        assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
        int n = 1 + (int)(s_rand(&seed) % 4);
        for (int i = 0; i < n; i++)
            s_random_write(f, &seed);
        struct mg_errinfo ei = {0};
        if (s_rand(&seed) % 10 == 0) {
            mg_state_write_abort(&f->st);
        } else {
            assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
        }
        s_check_against_full(f);
    }
    assert_int_equal(f->st.full_builds, full0); /* every commit took the incremental path */
    assert_true(f->st.applies > 100);
}

static void test_unrelated_write_shares_everything_else(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, "111122223333", "gw-aaaaaaaaaa",
                                  MG_SLICE_LIT("{\"gatewayId\":\"gw-aaaaaaaaaa\",\"status\":"
                                               "\"READY\"}")),
                     MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "user", "111122223333", "u1",
                                  MG_SLICE_LIT("{\"UserName\":\"u1\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *a = mg_state_acquire(&f->st);

    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "other", "444455556666", "k",
                                  MG_SLICE_LIT("{\"v\":1}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *b = mg_state_acquire(&f->st);
    assert_true(b->generation > a->generation);
    /* the untouched buckets and every extension are the previous snapshot's */
    assert_ptr_equal(mg_snapshot_get(a, "user", "111122223333", "u1")->doc,
                     mg_snapshot_get(b, "user", "111122223333", "u1")->doc);
    size_t n;
    assert_ptr_equal(mg_agentcore_gateways(a, &n), mg_agentcore_gateways(b, &n));
    assert_ptr_equal(mg_agentcore_gateway(a, MG_SLICE_LIT("gw-aaaaaaaaaa")),
                     mg_agentcore_gateway(b, MG_SLICE_LIT("gw-aaaaaaaaaa")));
    assert_null(mg_snapshot_get(a, "other", "444455556666", "k"));
    assert_non_null(mg_snapshot_get(b, "other", "444455556666", "k"));
    mg_snapshot_unref(a);
    mg_snapshot_unref(b);
}

/* A target written on one gateway builds that gateway again and shares every other one. */
static void test_catalog_rebuilds_only_the_touched_gateway(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    for (int i = 0; i < 3; i++) {
        char id[32], doc[128];
        snprintf(id, sizeof(id), "gw-%010d", i);
        snprintf(doc, sizeof(doc), "{\"gatewayId\":\"%s\",\"status\":\"READY\"}", id);
        assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, "111122223333", id,
                                      mg_slice_cstr(doc)),
                         MG_E_OK);
    }
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *a = mg_state_acquire(&f->st);
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(
        mg_store_put(f->store, MG_AC_KIND_TARGET, "111122223333", "gw-0000000001/T",
                     MG_SLICE_LIT("{\"name\":\"t\",\"status\":\"READY\",\"targetConfiguration\":"
                                  "{\"mcp\":{\"lambda\":{\"toolSchema\":{\"inlinePayload\":[{"
                                  "\"name\":\"x\",\"inputSchema\":{}}]}}}}}")),
        MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *b = mg_state_acquire(&f->st);
    assert_ptr_equal(mg_agentcore_gateway(a, MG_SLICE_LIT("gw-0000000000")),
                     mg_agentcore_gateway(b, MG_SLICE_LIT("gw-0000000000")));
    assert_ptr_equal(mg_agentcore_gateway(a, MG_SLICE_LIT("gw-0000000002")),
                     mg_agentcore_gateway(b, MG_SLICE_LIT("gw-0000000002")));
    const struct mg_gateway *g1 = mg_agentcore_gateway(b, MG_SLICE_LIT("gw-0000000001"));
    assert_ptr_not_equal(mg_agentcore_gateway(a, MG_SLICE_LIT("gw-0000000001")), g1);
    assert_int_equal(g1->n_targets, 1);
    assert_int_equal(g1->catalog.n_tools, 1);
    size_t n;
    const struct mg_gateway *const *all = mg_agentcore_gateways(b, &n);
    assert_int_equal(n, 3);
    assert_ptr_equal(all[1], g1);
    mg_snapshot_unref(a); /* the shared gateways outlive the snapshot they were built for */
    assert_string_equal(mg_agentcore_gateway(b, MG_SLICE_LIT("gw-0000000000"))->id,
                        "gw-0000000000");
    mg_snapshot_unref(b);
    s_check_against_full(f);
}

static void test_store_change_list(void **state)
{
    struct s_fx *f = *state;
    struct mg_store_changes ch;
    mg_store_changes_take(f->store, &ch);
    mg_store_changes_cleanup(&ch);
    assert_int_equal(mg_store_put(f->store, "k", "1", "a", MG_SLICE_LIT("{}")), MG_E_OK);
    /* a rolled-back transaction leaves nothing */
    assert_int_equal(mg_store_begin(f->store), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "k", "1", "b", MG_SLICE_LIT("{}")), MG_E_OK);
    mg_store_rollback(f->store);
    /* a committed one: its writes, not its failed ones */
    assert_int_equal(mg_store_begin(f->store), MG_E_OK);
    assert_int_equal(mg_store_insert(f->store, "k", "1", "a", MG_SLICE_LIT("{}")), MG_E_CONFLICT);
    assert_int_equal(mg_store_delete(f->store, "k", "1", "zz"), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_put(f->store, "k", "", "c", MG_SLICE_LIT("{}")), MG_E_OK);
    assert_int_equal(mg_store_delete(f->store, "k", "1", "a"), MG_E_OK);
    assert_int_equal(mg_store_commit(f->store), MG_E_OK);
    mg_store_changes_take(f->store, &ch);
    assert_false(ch.overflow);
    assert_int_equal(ch.n, 3);
    assert_string_equal(ch.v[0].key, "a"); /* the write outside a transaction */
    assert_string_equal(ch.v[1].kind, "k");
    assert_string_equal(ch.v[1].account, "");
    assert_string_equal(ch.v[1].key, "c");
    assert_string_equal(ch.v[2].account, "1");
    assert_string_equal(ch.v[2].key, "a");
    /* the state catches up with what the list names */
    struct mg_snapshot_change c[3];
    for (size_t i = 0; i < 3; i++)
        c[i] = (struct mg_snapshot_change){ch.v[i].kind, ch.v[i].account, ch.v[i].key};
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_apply(&f->st, c, 3, &ei), MG_E_OK);
    mg_store_changes_cleanup(&ch);
    s_check_against_full(f);
    mg_store_changes_take(f->store, &ch);
    assert_int_equal(ch.n, 0);
    mg_store_changes_cleanup(&ch);
    /* and mg_state_refresh with what the store committed behind its back */
    assert_int_equal(mg_store_put(f->store, "k", "2", "d", MG_SLICE_LIT("{}")), MG_E_OK);
    assert_int_equal(mg_state_refresh(&f->st, &ei), MG_E_OK);
    s_check_against_full(f);
}

/* A change feed from elsewhere (another node): the row is applied by name alone. */
static void test_apply_explicit_changes(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_put(f->store, "access_key", "111122223333", "AKIAFEED00000001",
                                  MG_SLICE_LIT("{\"secretAccessKey\":\"x\"}")),
                     MG_E_OK);
    struct mg_store_changes ch;
    mg_store_changes_take(f->store, &ch); /* as if this node had not written it */
    mg_store_changes_cleanup(&ch);
    struct mg_snapshot *s = mg_state_acquire(&f->st);
    assert_null(mg_iam_find_key(s, MG_SLICE_LIT("AKIAFEED00000001")));
    mg_snapshot_unref(s);
    const struct mg_snapshot_change c[] = {
        {"access_key", "111122223333", "AKIAFEED00000001"},
        {"access_key", "111122223333", "AKIAFEED00000001"}, /* repeats are fine */
        {"access_key", "111122223333", "AKIAGONE00000000"}, /* and rows that are gone */
    };
    assert_int_equal(mg_state_apply(&f->st, c, 3, &ei), MG_E_OK);
    s = mg_state_acquire(&f->st);
    const struct mg_iam_key *k = mg_iam_find_key(s, MG_SLICE_LIT("AKIAFEED00000001"));
    assert_non_null(k);
    assert_string_equal(k->secret, "x");
    mg_snapshot_unref(s);
    s_check_against_full(f);
    const struct mg_snapshot_change bad = {"access_key", NULL, "x"};
    assert_int_equal(mg_state_apply(&f->st, &bad, 1, &ei), MG_E_INVALID);
}

/* Kinds registered as store-only never enter a snapshot, by the full build or an apply, and a
 * commit that writes only such rows leaves every bucket and extension shared. */
static void test_store_only_kinds(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    mg_snapshot_register_store_only("test_index");
    assert_true(mg_snapshot_store_only("test_index"));
    assert_true(mg_snapshot_store_only(MG_AC_KIND_GATEWAY_NAME));
    assert_false(mg_snapshot_store_only("test_kept"));
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "test_kept", "1", "a", MG_SLICE_LIT("{}")), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "test_index", "1", "a", MG_SLICE_LIT("{}")), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY_TOKEN, "1", "t",
                                  MG_SLICE_LIT("{\"gatewayId\":\"g\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *s = mg_state_acquire(&f->st);
    assert_non_null(mg_snapshot_get(s, "test_kept", "1", "a"));
    assert_null(mg_snapshot_get(s, "test_index", "1", "a"));
    assert_null(mg_snapshot_get(s, MG_AC_KIND_GATEWAY_TOKEN, "1", "t"));
    /* an index row alone: the documents and the extensions are the previous snapshot's */
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, "test_index", "1", "b", MG_SLICE_LIT("{}")), MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *s2 = mg_state_acquire(&f->st);
    assert_ptr_not_equal(s, s2);
    assert_int_equal(s->n_buckets, s2->n_buckets);
    for (size_t i = 0; i < s->n_buckets; i++)
        assert_ptr_equal(s->buckets[i], s2->buckets[i]);
    for (int i = 0; i < MG_SNAPSHOT_EXT_MAX; i++)
        assert_ptr_equal(s->ext[i], s2->ext[i]);
    assert_null(mg_snapshot_get(s2, "test_index", "1", "b"));
    /* still in the store, and out of a full build too */
    struct mg_buf b;
    mg_buf_init(&b, 64);
    assert_int_equal(mg_store_get(f->store, "test_index", "1", "b", &b), MG_E_OK);
    mg_buf_cleanup(&b);
    assert_int_equal(mg_state_rebuild(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *s3 = mg_state_acquire(&f->st);
    assert_non_null(mg_snapshot_get(s3, "test_kept", "1", "a"));
    assert_null(mg_snapshot_get(s3, "test_index", "1", "a"));
    assert_null(mg_snapshot_get(s3, MG_AC_KIND_GATEWAY_TOKEN, "1", "t"));
    assert_int_equal(s3->n_docs, s2->n_docs);
    mg_snapshot_unref(s3);
    mg_snapshot_unref(s2);
    mg_snapshot_unref(s);
    s_check_against_full(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_matches_full_rebuild, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unrelated_write_shares_everything_else, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_catalog_rebuilds_only_the_touched_gateway, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_change_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_apply_explicit_changes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_only_kinds, s_setup, s_teardown),
    };
    return MG_RUN_TESTS(tests);
}
