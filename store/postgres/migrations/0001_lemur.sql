-- LEMUR's own tables and columns, as in store/sqlite (and db/ab.nn.db).
-- prm.value keeps the Python type as JSON (a number with or without a
-- fraction, a string) where SQLite keeps it as the column's storage class.
CREATE TABLE IF NOT EXISTS nn (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transform (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metric (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_nn_id ON nn (id);

CREATE TABLE IF NOT EXISTS prm (uid TEXT NOT NULL, name TEXT NOT NULL, value JSONB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS idx_prm_uid_name ON prm (uid, name);

CREATE TABLE IF NOT EXISTS stat (
    id TEXT PRIMARY KEY,
    accuracy DOUBLE PRECISION,
    epoch INTEGER,
    duration BIGINT,
    task TEXT, dataset TEXT, nn TEXT, transform TEXT, metric TEXT, prm TEXT
);
CREATE INDEX IF NOT EXISTS idx_accuracy_desc ON stat (accuracy DESC);
CREATE INDEX IF NOT EXISTS idx_task ON stat (task);
CREATE INDEX IF NOT EXISTS idx_dataset ON stat (dataset);
CREATE INDEX IF NOT EXISTS idx_nn ON stat (nn);
CREATE INDEX IF NOT EXISTS idx_transform ON stat (transform);
CREATE INDEX IF NOT EXISTS idx_metric ON stat (metric);
CREATE INDEX IF NOT EXISTS idx_prm ON stat (prm);

-- nngpt's own: a trial's hyperparameters as the JSON object they came in
-- (key order and Python types kept; TEXT, not JSONB, which reorders keys).
CREATE TABLE IF NOT EXISTS nngpt_trial (uid TEXT PRIMARY KEY, prm TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_stat_pipeline ON stat (task, dataset, metric, nn, epoch, accuracy DESC);
