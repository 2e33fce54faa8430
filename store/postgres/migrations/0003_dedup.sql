-- The dedup index's cache, shared by every coordinator of the corpus.
CREATE TABLE IF NOT EXISTS nngpt_dedup (
    code_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    normalised TEXT NOT NULL,
    structure TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('corpus', 'candidate')),
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (code_id, version)
);
CREATE INDEX IF NOT EXISTS idx_dedup_normalised ON nngpt_dedup (normalised);
CREATE INDEX IF NOT EXISTS idx_dedup_structure ON nngpt_dedup (structure);
