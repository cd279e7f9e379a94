/* src/state/migrations_pg/migrations_pg.c: the numbered PostgreSQL migrations, embedded so that
 * the binary runs from anywhere. Each string is the exact text of the .sql file named beside it
 * (the unit test compares them): when adding NNNN_name.sql, add its text here in the same order.
 * Versions are never renumbered or edited once released; a database is refused when it carries
 * a version this list does not know. They run under an advisory lock (store_pg.c), each set of
 * missing ones in one transaction. */
#include "state/store_internal.h"

const struct mg_store_migration g_mg_store_pg_migrations[] = {
    {
        1,
        "0001_init.sql",
        "-- 0001_init.sql (PostgreSQL): documents keyed by (kind, account, key), server-wide meta "
        "values,\n"
        "-- and the generation counter that every write transaction bumps. Names compare byte by "
        "byte\n"
        "-- (COLLATE \"C\"), as in SQLite; documents and meta values are bytes (bytea), stored as "
        "given.\n"
        "CREATE TABLE documents (\n"
        "    kind text COLLATE \"C\" NOT NULL,\n"
        "    account text COLLATE \"C\" NOT NULL,\n"
        "    key text COLLATE \"C\" NOT NULL,\n"
        "    doc bytea NOT NULL,\n"
        "    updated_ms bigint NOT NULL,\n"
        "    PRIMARY KEY (kind, account, key)\n"
        ");\n"
        "CREATE INDEX documents_by_account ON documents (account, kind, key);\n"
        "CREATE TABLE meta (\n"
        "    key text COLLATE \"C\" PRIMARY KEY NOT NULL,\n"
        "    value bytea NOT NULL\n"
        ");\n"
        "CREATE TABLE store_generation (\n"
        "    id integer PRIMARY KEY NOT NULL CHECK (id = 1),\n"
        "    value bigint NOT NULL\n"
        ");\n"
        "INSERT INTO store_generation (id, value) VALUES (1, 0);\n",
    },
    {
        2,
        "0002_leader.sql",
        "-- 0002_leader.sql (PostgreSQL): leases, so that background work runs on one node at a "
        "time.\n"
        "-- expires_at is set with the server's clock; token grows whenever a lease starts again, "
        "and a\n"
        "-- holder's writes check it (store.h, mg_store_lease_*). SQLite has no counterpart: one "
        "process\n"
        "-- owns an SQLite store and always holds every lease.\n"
        "CREATE TABLE leases (\n"
        "    name text COLLATE \"C\" PRIMARY KEY NOT NULL,\n"
        "    holder text COLLATE \"C\" NOT NULL,\n"
        "    token bigint NOT NULL,\n"
        "    expires_at timestamptz NOT NULL\n"
        ");\n",
    },
    {
        3,
        "0003_lambdacode.sql",
        "-- 0003_lambdacode.sql (PostgreSQL): chunks, large values kept beside the documents "
        "(Lambda code\n"
        "-- packages), each in parts of at most MG_STORE_DOC_MAX bytes; never read into a snapshot "
        "or a\n"
        "-- scan.\n"
        "CREATE TABLE chunks (\n"
        "    kind text COLLATE \"C\" NOT NULL,\n"
        "    account text COLLATE \"C\" NOT NULL,\n"
        "    key text COLLATE \"C\" NOT NULL,\n"
        "    part integer NOT NULL,\n"
        "    data bytea NOT NULL,\n"
        "    PRIMARY KEY (kind, account, key, part)\n"
        ");\n",
    },
    {
        4,
        "0004_feed.sql",
        "-- 0004_feed.sql (PostgreSQL): the change log. Every write transaction records the rows "
        "it\n"
        "-- changed with the generation its commit gave the store (kind '' marks a generation "
        "whose rows\n"
        "-- are not listed: a reader rebuilds in full), seq numbering them within it. Rows of "
        "generations\n"
        "-- up to store_changes_floor are pruned; the log starts at the generation the store had "
        "when this\n"
        "-- ran.\n"
        "CREATE TABLE store_changes (\n"
        "    generation bigint NOT NULL,\n"
        "    seq integer NOT NULL,\n"
        "    kind text COLLATE \"C\" NOT NULL,\n"
        "    account text COLLATE \"C\" NOT NULL,\n"
        "    key text COLLATE \"C\" NOT NULL,\n"
        "    PRIMARY KEY (generation, seq)\n"
        ");\n"
        "CREATE TABLE store_changes_floor (\n"
        "    id integer PRIMARY KEY NOT NULL CHECK (id = 1),\n"
        "    value bigint NOT NULL\n"
        ");\n"
        "INSERT INTO store_changes_floor (id, value)\n"
        "SELECT 1, value FROM store_generation WHERE id = 1;\n",
    },
};

const size_t g_mg_store_pg_migration_count = sizeof(g_mg_store_pg_migrations) /
                                             sizeof(g_mg_store_pg_migrations[0]);
