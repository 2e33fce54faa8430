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

-- Provenance of each run's data and the coordinator's own timings.
ALTER TABLE nngpt_run ADD COLUMN train_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN test_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN data_subset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN data_seed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN setup_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN setup_memory INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nngpt_run ADD COLUMN tensors INTEGER NOT NULL DEFAULT 0;
