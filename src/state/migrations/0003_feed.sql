-- 0003_feed.sql: the change log. Every write transaction records the rows it changed with the
-- generation its commit gave the store (kind '' marks a generation whose rows are not listed:
-- a reader rebuilds in full). Rows of generations up to store_changes_floor are pruned; the log
-- starts at the generation the store had when this ran.
CREATE TABLE store_changes (
    generation INTEGER NOT NULL,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX store_changes_by_generation ON store_changes (generation);
CREATE TABLE store_changes_floor (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO store_changes_floor (id, value)
SELECT 1, value FROM meta WHERE key = 'generation';
