-- 0001_init.sql: documents keyed by (kind, account, key), server-wide meta values, and the
-- generation counter that every write transaction bumps.
CREATE TABLE documents (
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, account, key)
);
CREATE INDEX documents_by_account ON documents (account, kind, key);
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
INSERT INTO meta (key, value) VALUES ('generation', 0);
