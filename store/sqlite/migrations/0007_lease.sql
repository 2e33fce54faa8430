-- Leases: one writer per loop (store.Leases). Times are Unix nanoseconds
-- from the holder's clock, so comparisons need no date parsing.
CREATE TABLE IF NOT EXISTS nngpt_lease (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    acquired INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
