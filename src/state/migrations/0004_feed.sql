-- 0004_feed.sql: the change log. Every write transaction records the rows it changed with the
-- generation its commit gave the store (kind '' marks a generation whose rows are not listed:
-- a reader rebuilds in full), seq numbering them within it; one b-tree, so that a commit touches
-- one more page. Rows of generations up to store_changes_floor are pruned; the log starts at the
-- generation the store had when this ran.
CREATE TABLE store_changes (
    generation INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (generation, seq)
) WITHOUT ROWID;
CREATE TABLE store_changes_floor (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO store_changes_floor (id, value)
SELECT 1, value FROM meta WHERE key = 'generation';
