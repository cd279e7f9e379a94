-- 0003_lambdacode.sql (PostgreSQL): chunks, large values kept beside the documents (Lambda code
-- packages), each in parts of at most MG_STORE_DOC_MAX bytes; never read into a snapshot or a
-- scan.
CREATE TABLE chunks (
    kind text COLLATE "C" NOT NULL,
    account text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    part integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (kind, account, key, part)
);
