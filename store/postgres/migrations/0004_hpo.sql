-- Hyperparameter searches, shared by any number of processes: trial
-- numbers are handed out under a lock on the study's row.
CREATE TABLE IF NOT EXISTS nngpt_hpo_study (
    name TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    space TEXT NOT NULL,
    sampler TEXT NOT NULL,
    seed BIGINT NOT NULL,
    attrs TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nngpt_hpo_trial (
    study TEXT NOT NULL REFERENCES nngpt_hpo_study (name) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    value DOUBLE PRECISION,
    intermediate TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (study, number)
);
CREATE INDEX IF NOT EXISTS idx_hpo_trial_waiting ON nngpt_hpo_trial (study, state, number);
