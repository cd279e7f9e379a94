/* tests/unit/pgtest.h: the PostgreSQL server unit tests run against, for the cases named pg/...:
 * MCPGATE_TEST_PG, a postgresql:// URI (scripts/pg-server start DIR prints one; scripts/test
 * starts one). Without it those cases are skipped, saying so. Include after cmocka.h. */
#ifndef MG_TEST_PGTEST_H
#define MG_TEST_PGTEST_H

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The test server's URI, or NULL when none is given. */
static inline const char *pgtest_uri(void)
{
    const char *u = getenv("MCPGATE_TEST_PG");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

static inline void pgtest_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection to the test database with search_path set to schema (the URI as given when schema
 * is NULL), notices silenced; fails the case when it cannot connect. PQfinish it. */
static inline PGconn *pgtest_connect(const char *schema)
{
    char opt[160];
    snprintf(opt, sizeof(opt), "-csearch_path=%s", schema != NULL ? schema : "public");
    const char *keys[] = {"dbname", schema != NULL ? "options" : NULL, NULL};
    const char *vals[] = {pgtest_uri(), opt, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        PQfinish(c);
        fail_msg("cannot connect to MCPGATE_TEST_PG: %s", msg);
    }
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    return c;
}

/* Runs fixed SQL (see pgtest_connect for schema); fails the case when it fails. */
static inline void pgtest_exec(const char *schema, const char *sql)
{
    PGconn *c = pgtest_connect(schema);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        fail_msg("sql failed: %s: %s", sql, msg);
    }
    PQclear(r);
    PQfinish(c);
}

/* One integer: the first column of the one row fixed SQL returns. */
static inline int64_t pgtest_query_int(const char *schema, const char *sql)
{
    PGconn *c = pgtest_connect(schema);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

#endif
