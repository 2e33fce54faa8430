-- The closed loops' journals: each loop keeps its own rows.
CREATE TABLE IF NOT EXISTS nngpt_loop (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    seed BIGINT NOT NULL,
    cycles INTEGER NOT NULL,
    cycle_done INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nngpt_candidate (
    id TEXT PRIMARY KEY,
    loop_id TEXT NOT NULL REFERENCES nngpt_loop (id),
    cycle INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    name TEXT NOT NULL,
    code_id TEXT NOT NULL,
    code TEXT NOT NULL,
    generator TEXT NOT NULL,
    parents TEXT NOT NULL,
    operators TEXT NOT NULL,
    task TEXT NOT NULL, dataset TEXT NOT NULL, metric TEXT NOT NULL,
    prm TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    epochs TEXT NOT NULL,
    durations TEXT NOT NULL,
    params BIGINT NOT NULL,
    duration BIGINT NOT NULL,
    admitted BOOLEAN NOT NULL,
    predicted DOUBLE PRECISION,
    repro TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_nngpt_candidate_loop ON nngpt_candidate (loop_id, cycle, idx);
CREATE INDEX IF NOT EXISTS idx_nngpt_candidate_code ON nngpt_candidate (code_id);
