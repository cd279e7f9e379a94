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
    {
        2,
        "0002_gateway_index.sql",
        "-- 0002_gateway_index.sql: the index rows of an account's gateways "
        "(agentcore/internal.h), made\n"
        "-- for the gateways stored before they existed: by name for every gateway not being "
        "deleted, by\n"
        "-- the clientToken of its CreateGateway for every gateway that has one.\n"
        "INSERT OR IGNORE INTO documents (kind, account, key, doc, updated_ms)\n"
        "SELECT 'agentcore_gateway_name', account, json_extract(doc, '$.name'),\n"
        "       json_object('gatewayId', key), updated_ms\n"
        "FROM documents\n"
        "WHERE kind = 'agentcore_gateway' AND json_valid(doc)\n"
        "  AND json_type(doc, '$.name') = 'text'\n"
        "  AND coalesce(json_extract(doc, '$.status'), '') <> 'DELETING';\n"
        "INSERT OR IGNORE INTO documents (kind, account, key, doc, updated_ms)\n"
        "SELECT 'agentcore_gateway_token', account, json_extract(doc, '$._clientToken'),\n"
        "       json_object('gatewayId', key), updated_ms\n"
        "FROM documents\n"
        "WHERE kind = 'agentcore_gateway' AND json_valid(doc)\n"
        "  AND json_type(doc, '$._clientToken') = 'text';\n",
    },
    {
        3,
        "0003_lambdacode.sql",
        "-- 0003_lambdacode.sql: chunks, large values kept beside the documents (Lambda code "
        "packages),\n"
        "-- each in parts of at most MG_STORE_DOC_MAX bytes; never read into a snapshot or a "
        "scan.\n"
        "CREATE TABLE chunks (\n"
        "    kind TEXT NOT NULL,\n"
        "    account TEXT NOT NULL,\n"
        "    key TEXT NOT NULL,\n"
        "    part INTEGER NOT NULL,\n"
        "    data BLOB NOT NULL,\n"
        "    PRIMARY KEY (kind, account, key, part)\n"
        ");\n",
    },
    {
        4,
        "0004_feed.sql",
        "-- 0004_feed.sql: the change log. Every write transaction records the rows it changed "
        "with the\n"
        "-- generation its commit gave the store (kind '' marks a generation whose rows are not "
        "listed:\n"
        "-- a reader rebuilds in full), seq numbering them within it; one b-tree, so that a commit "
        "touches\n"
        "-- one more page. Rows of generations up to store_changes_floor are pruned; the log "
        "starts at the\n"
        "-- generation the store had when this ran.\n"
        "CREATE TABLE store_changes (\n"
        "    generation INTEGER NOT NULL,\n"
        "    seq INTEGER NOT NULL,\n"
        "    kind TEXT NOT NULL,\n"
        "    account TEXT NOT NULL,\n"
        "    key TEXT NOT NULL,\n"
        "    PRIMARY KEY (generation, seq)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE store_changes_floor (\n"
        "    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),\n"
        "    value INTEGER NOT NULL\n"
        ");\n"
        "INSERT INTO store_changes_floor (id, value)\n"
        "SELECT 1, value FROM meta WHERE key = 'generation';\n",
    },
};

const size_t g_mg_store_sqlite_migration_count = sizeof(g_mg_store_sqlite_migrations) /
                                                 sizeof(g_mg_store_sqlite_migrations[0]);
