-- 0004_feed.sql (PostgreSQL): the change log. Every write transaction records the rows it
-- changed with the generation its commit gave the store (kind '' marks a generation whose rows
-- are not listed: a reader rebuilds in full), seq numbering them within it. Rows of generations
-- up to store_changes_floor are pruned; the log starts at the generation the store had when this
-- ran.
CREATE TABLE store_changes (
    generation bigint NOT NULL,
    seq integer NOT NULL,
    kind text COLLATE "C" NOT NULL,
    account text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    PRIMARY KEY (generation, seq)
);
CREATE TABLE store_changes_floor (
    id integer PRIMARY KEY NOT NULL CHECK (id = 1),
    value bigint NOT NULL
);
INSERT INTO store_changes_floor (id, value)
SELECT 1, value FROM store_generation WHERE id = 1;
