/* The control-plane documents kept with a snapshot's gateway (mg_ac_gateway_json): the same text
 * as json_dumps of what GetGateway and ListGateways built per request, made once per snapshot and
 * shared by every later call (also from several threads), none for a gateway being deleted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "unit/leaks.h"

struct s_fx {
    char dir[64];
    struct mg_store *store;
    struct mg_state st;
};

static int s_setup(void **state)
{
    struct s_fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mg-ac-json-test-XXXXXX");
    if (f == NULL || mkdtemp(f->dir) == NULL)
        return -1;
    struct mg_errinfo ei = {0};
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

#define ACCT "111122223333"
#define GW_ARN "arn:aws:bedrock-agentcore:us-east-1:" ACCT ":gateway/gw-abcdefghij"

static char *s_dumped(json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return t;
}

static void *s_get(void *arg)
{
    void **a = arg;
    return (void *)mg_ac_gateway_json(a[0], a[1]);
}

static void test_gateway_json(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    /* members in an order of their own, a private member, text that JSON escapes */
    const char *doc =
        "{\"gatewayId\":\"gw-abcdefghij\",\"gatewayArn\":\"" GW_ARN "\",\"name\":\"gw\","
        "\"description\":\"caf\\u00e9 \\\"q\\\" a/b \\t\",\"status\":\"READY\","
        "\"createdAt\":\"2026-12-03T06:00:00.000000Z\",\"authorizerType\":\"AWS_IAM\","
        "\"roleArn\":\"arn:aws:iam::" ACCT ":role/r\",\"protocolType\":\"MCP\","
        "\"_tags\":{\"env\":\"t\"},\"_region\":\"us-east-1\","
        "\"updatedAt\":\"2026-12-03T06:00:01.000000Z\"}";
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, ACCT, "gw-abcdefghij",
                                  mg_slice_cstr(doc)),
                     MG_E_OK);
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, ACCT, "gw-deleting-zzzzzzzzzz",
                                  mg_slice_cstr("{\"gatewayId\":\"gw-deleting-zzzzzzzzzz\","
                                                "\"name\":\"gw-deleting\",\"status\":"
                                                "\"DELETING\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);

    struct mg_snapshot *snap = mg_state_acquire(&f->st);
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, ACCT,
                                                      "gw-abcdefghij");
    assert_non_null(d);
    const struct mg_gateway_json *j = mg_ac_gateway_json(snap, d);
    if (j == NULL) { /* out of memory (torture mode): the caller builds the answer itself */
        mg_snapshot_unref(snap);
        return;
    }
    char *pub = s_dumped(mg_ac_public_gateway(d->doc));
    char *sum = s_dumped(mg_ac_gateway_summary(d->doc));
    if (pub && sum) {
        assert_string_equal(j->public_doc, pub);
        assert_int_equal(j->public_len, strlen(pub));
        assert_string_equal(j->summary, sum);
        assert_int_equal(j->summary_len, strlen(sum));
        assert_null(strstr(j->public_doc, "_tags"));
        assert_non_null(strstr(j->public_doc, "\"gatewayUrl\":\""));
        assert_null(strstr(j->summary, "roleArn"));
    }
    mg_free(pub);
    mg_free(sum);
    /* made once: the same text on every later call, from any thread */
    assert_ptr_equal(mg_ac_gateway_json(snap, d), j);
    void *args[2] = {snap, (void *)d};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_get, args), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_ptr_equal(r, j);
    }
    /* a gateway being deleted has none: ListGateways builds its item itself */
    const struct mg_snapshot_doc *del = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, ACCT,
                                                        "gw-deleting-zzzzzzzzzz");
    assert_non_null(del);
    assert_null(mg_ac_gateway_json(snap, del));
    /* nor a document of another snapshot */
    struct mg_snapshot_doc other = *d;
    other.doc = del->doc;
    assert_null(mg_ac_gateway_json(snap, &other));
    mg_snapshot_unref(snap);
}

/* A write makes a new snapshot: its gateway's documents are made from its own document, and a
 * document of the old snapshot does not match the new snapshot's gateway. */
static void test_gateway_json_new_snapshot(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, ACCT, "gw-abcdefghij",
                                  mg_slice_cstr(
                                      "{\"gatewayId\":\"gw-abcdefghij\",\"gatewayArn\":\"" GW_ARN
                                      "\",\"name\":\"gw\",\"status\":\"READY\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *a = mg_state_acquire(&f->st);
    const struct mg_snapshot_doc *da = mg_snapshot_get(a, MG_AC_KIND_GATEWAY, ACCT,
                                                       "gw-abcdefghij");
    assert_non_null(da);
    const struct mg_gateway_json *ja = mg_ac_gateway_json(a, da);
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    assert_int_equal(mg_store_put(f->store, MG_AC_KIND_GATEWAY, ACCT, "gw-abcdefghij",
                                  mg_slice_cstr(
                                      "{\"gatewayId\":\"gw-abcdefghij\",\"gatewayArn\":\"" GW_ARN
                                      "\",\"name\":\"gw\",\"status\":\"UPDATING\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    struct mg_snapshot *b = mg_state_acquire(&f->st);
    const struct mg_snapshot_doc *db = mg_snapshot_get(b, MG_AC_KIND_GATEWAY, ACCT,
                                                       "gw-abcdefghij");
    assert_non_null(db);
    const struct mg_gateway_json *jb = mg_ac_gateway_json(b, db);
    if (ja && jb) {
        assert_ptr_not_equal(ja, jb);
        assert_non_null(strstr(jb->summary, "\"status\":\"UPDATING\""));
        assert_non_null(strstr(ja->summary, "\"status\":\"READY\""));
    }
    /* the old snapshot's document does not match the new snapshot's gateway */
    assert_null(mg_ac_gateway_json(b, da));
    mg_snapshot_unref(a);
    mg_snapshot_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gateway_json, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gateway_json_new_snapshot, s_setup, s_teardown),
    };
    return MG_RUN_TESTS(tests);
}
