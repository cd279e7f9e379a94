-- 0001_init.sql (PostgreSQL): documents keyed by (kind, account, key), server-wide meta values,
-- and the generation counter that every write transaction bumps. Names compare byte by byte
-- (COLLATE "C"), as in SQLite; documents and meta values are bytes (bytea), stored as given.
CREATE TABLE documents (
    kind text COLLATE "C" NOT NULL,
    account text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    doc bytea NOT NULL,
    updated_ms bigint NOT NULL,
    PRIMARY KEY (kind, account, key)
);
CREATE INDEX documents_by_account ON documents (account, kind, key);
CREATE TABLE meta (
    key text COLLATE "C" PRIMARY KEY NOT NULL,
    value bytea NOT NULL
);
CREATE TABLE store_generation (
    id integer PRIMARY KEY NOT NULL CHECK (id = 1),
    value bigint NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);
