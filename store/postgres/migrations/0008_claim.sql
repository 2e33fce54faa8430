-- Claims on model code: only the holder of a code id's claim trains it,
-- so coordinators sharing the corpus never train the same code twice.
CREATE TABLE IF NOT EXISTS nngpt_claim (
    code_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
