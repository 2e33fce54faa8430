-- nngpt's record of each training run (as store/sqlite 0002_runs).
CREATE TABLE IF NOT EXISTS nngpt_run (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT '',
    nn TEXT NOT NULL,
    code_id TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT '',
    dataset TEXT NOT NULL DEFAULT '',
    metric TEXT NOT NULL DEFAULT '',
    transform TEXT NOT NULL DEFAULT '',
    uid TEXT NOT NULL DEFAULT '',
    prm TEXT NOT NULL DEFAULT '{}',
    batch INTEGER NOT NULL DEFAULT 0,
    epochs_requested INTEGER NOT NULL DEFAULT 0,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    failure_kind TEXT NOT NULL DEFAULT '',
    failure_message TEXT NOT NULL DEFAULT '',
    log_tail TEXT NOT NULL DEFAULT '',
    params BIGINT NOT NULL DEFAULT 0,
    torch TEXT NOT NULL DEFAULT '',
    python TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    threads INTEGER NOT NULL DEFAULT 0,
    isolation TEXT NOT NULL DEFAULT '',
    seed BIGINT NOT NULL DEFAULT 0,
    dataset_id TEXT NOT NULL DEFAULT '',
    split_id TEXT NOT NULL DEFAULT '',
    epochs TEXT NOT NULL DEFAULT '[]',
    best_accuracy DOUBLE PRECISION NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,                -- RFC 3339, UTC, nanoseconds (as in SQLite)
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_nngpt_run_nn ON nngpt_run (nn);
CREATE INDEX IF NOT EXISTS idx_nngpt_run_started ON nngpt_run (started_at);
CREATE INDEX IF NOT EXISTS idx_nngpt_run_status ON nngpt_run (status, failure_kind);
