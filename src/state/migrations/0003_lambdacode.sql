-- 0003_lambdacode.sql: chunks, large values kept beside the documents (Lambda code packages),
-- each in parts of at most MG_STORE_DOC_MAX bytes; never read into a snapshot or a scan.
CREATE TABLE chunks (
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    part INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (kind, account, key, part)
);
