/* src/state/migrations/migrations.c: the numbered SQLite migrations, embedded so that the binary
 * runs from anywhere. Each string is the exact text of the .sql file named beside it (the unit
 * test compares them): when adding NNNN_name.sql, add its text here in the same order. Versions
 * are never renumbered or edited once released; a database is refused when it carries a version
 * this list does not know. */
#include "state/store_internal.h"

const struct mg_store_migration g_mg_store_sqlite_migrations[] = {
    {
        1,
        "0001_init.sql",
        "-- 0001_init.sql: documents keyed by (kind, account, key), server-wide meta values, and "
        "the\n"
        "-- generation counter that every write transaction bumps.\n"
        "CREATE TABLE documents (\n"
        "    kind TEXT NOT NULL,\n"
        "    account TEXT NOT NULL,\n"
        "    key TEXT NOT NULL,\n"
        "    doc TEXT NOT NULL,\n"
        "    updated_ms INTEGER NOT NULL,\n"
        "    PRIMARY KEY (kind, account, key)\n"
        ");\n"
        "CREATE INDEX documents_by_account ON documents (account, kind, key);\n"
        "CREATE TABLE meta (\n"
        "    key TEXT PRIMARY KEY NOT NULL,\n"
        "    value BLOB NOT NULL\n"
        ");\n"
        "INSERT INTO meta (key, value) VALUES ('generation', 0);\n",
    },
};

const size_t g_mg_store_sqlite_migration_count = sizeof(g_mg_store_sqlite_migrations) /
                                                 sizeof(g_mg_store_sqlite_migrations[0]);
