-- Leases: one writer per loop (store.Leases). Times are Unix nanoseconds
-- from the holder's clock, as in SQLite.
CREATE TABLE IF NOT EXISTS nngpt_lease (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    acquired BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
