-- 0002_leader.sql (PostgreSQL): leases, so that background work runs on one node at a time.
-- expires_at is set with the server's clock; token grows whenever a lease starts again, and a
-- holder's writes check it (store.h, mg_store_lease_*). SQLite has no counterpart: one process
-- owns an SQLite store and always holds every lease.
CREATE TABLE leases (
    name text COLLATE "C" PRIMARY KEY NOT NULL,
    holder text COLLATE "C" NOT NULL,
    token bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
