-- Claims on model code (store.Claims): the coordinator that holds a code
-- id's claim is the only one that trains it.
CREATE TABLE IF NOT EXISTS nngpt_claim (
    code_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    claimed_at TEXT NOT NULL
);
