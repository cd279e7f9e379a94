/* tests/unit/store_migrate_test.c: migrations that carry data forward. A database at version 1
 * (made by opening a store and taking the later versions back out) gets the gateway index rows
 * of 0002_gateway_index.sql when it is opened again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "state/store.h"
#include "state/store_internal.h"

static char s_root[256];

static void exec_sql(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("sql failed: %s", msg ? msg : "?");
    sqlite3_close(db);
}

static void assert_row(struct mg_store *s, const char *kind, const char *account, const char *key,
                       const char *want)
{
    struct mg_buf b;
    mg_buf_init(&b, 1 << 20);
    enum mg_err e = mg_store_get(s, kind, account, key, &b);
    if (want == NULL) {
        assert_int_equal(e, MG_E_NOT_FOUND);
    } else {
        assert_int_equal(e, MG_E_OK);
        assert_string_equal(mg_buf_cstr(&b), want);
    }
    mg_buf_cleanup(&b);
}

static void test_gateway_index_backfill(void **state)
{
    (void)state;
    char dir[300], db[340];
    snprintf(dir, sizeof(dir), "%s/data", s_root);
    snprintf(db, sizeof(db), "%s/mcpgate.db", dir);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(dir, &s, &ei), MG_E_OK);
    mg_store_close(s);
    /* back to version 1, holding gateways of two accounts: one ready with a client token, one
     * being deleted, one without a token, and a row that is not JSON */
    exec_sql(db,
             "DELETE FROM schema_migrations WHERE version > 1;"
             "DROP TABLE chunks;" /* what 0003 made */
             "DROP TABLE store_changes; DROP TABLE store_changes_floor;"
             "DELETE FROM documents;"
             "INSERT INTO documents VALUES ('agentcore_gateway', '111122223333', 'a-0000000001',"
             " '{\"name\":\"a\",\"status\":\"READY\",\"_clientToken\":\"tok-1\"}', 5);"
             "INSERT INTO documents VALUES ('agentcore_gateway', '111122223333', 'b-0000000002',"
             " '{\"name\":\"b\",\"status\":\"DELETING\",\"_clientToken\":\"tok-2\"}', 5);"
             "INSERT INTO documents VALUES ('agentcore_gateway', '444455556666', 'a-0000000003',"
             " '{\"name\":\"a\",\"status\":\"CREATING\"}', 5);"
             "INSERT INTO documents VALUES ('agentcore_gateway', '444455556666', 'x-0000000004',"
             " 'not json', 5);"
             "INSERT INTO documents VALUES ('agentcore_target', '111122223333', 'a-0000000001/T',"
             " '{\"name\":\"t\",\"_clientToken\":\"tok-3\"}', 5);");
    assert_int_equal(mg_store_open(dir, &s, &ei), MG_E_OK);
    assert_row(s, "agentcore_gateway_name", "111122223333", "a",
               "{\"gatewayId\":\"a-0000000001\"}");
    assert_row(s, "agentcore_gateway_name", "111122223333", "b", NULL);
    assert_row(s, "agentcore_gateway_name", "444455556666", "a",
               "{\"gatewayId\":\"a-0000000003\"}");
    assert_row(s, "agentcore_gateway_token", "111122223333", "tok-1",
               "{\"gatewayId\":\"a-0000000001\"}");
    assert_row(s, "agentcore_gateway_token", "111122223333", "tok-2",
               "{\"gatewayId\":\"b-0000000002\"}");
    assert_row(s, "agentcore_gateway_token", "111122223333", "tok-3", NULL);
    mg_store_close(s);
    /* opened again: nothing is added twice, nothing fails */
    assert_int_equal(mg_store_open(dir, &s, &ei), MG_E_OK);
    assert_row(s, "agentcore_gateway_name", "111122223333", "a",
               "{\"gatewayId\":\"a-0000000001\"}");
    mg_store_close(s);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_root, sizeof(s_root), "%s/mg_store_migrate.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(s_root) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_index_backfill),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_root);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
