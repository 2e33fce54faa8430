-- LEMUR's own tables, with LEMUR's columns (ab/nn/util/db/Init.py), so that
-- LEMUR's Python tools read this file as they read db/ab.nn.db.
CREATE TABLE IF NOT EXISTS nn (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transform (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metric (name TEXT PRIMARY KEY, code TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_nn_id ON nn(id);

-- One row per hyperparameter of a trial; value keeps the Python type
-- (INTEGER, REAL, TEXT). LEMUR's index is not unique; ours is on (uid, name)
-- so re-imports add nothing.
CREATE TABLE IF NOT EXISTS prm (uid TEXT NOT NULL, name TEXT NOT NULL, value OBJECT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS idx_prm_uid_name ON prm(uid, name);

CREATE TABLE IF NOT EXISTS stat (
    id TEXT PRIMARY KEY,
    accuracy REAL,
    epoch INTEGER,
    duration INTEGER,
    task, dataset, nn, transform, metric, prm,
    FOREIGN KEY (nn) REFERENCES nn (name) ON DELETE CASCADE,
    FOREIGN KEY (transform) REFERENCES transform (name) ON DELETE CASCADE,
    FOREIGN KEY (metric) REFERENCES metric (name) ON DELETE CASCADE,
    FOREIGN KEY (prm) REFERENCES prm (uid) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_accuracy_desc ON stat (accuracy DESC);
CREATE INDEX IF NOT EXISTS idx_task ON stat (task);
CREATE INDEX IF NOT EXISTS idx_dataset ON stat (dataset);
CREATE INDEX IF NOT EXISTS idx_nn ON stat (nn);
CREATE INDEX IF NOT EXISTS idx_transform ON stat (transform);
CREATE INDEX IF NOT EXISTS idx_metric ON stat (metric);
CREATE INDEX IF NOT EXISTS idx_prm ON stat (prm);

-- nngpt's own: the trial's hyperparameters as the JSON object they came in
-- (key order and Python types kept), so rows read back exactly; and the
-- pipeline key used by queries.
CREATE TABLE IF NOT EXISTS nngpt_trial (uid TEXT PRIMARY KEY, prm TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_stat_pipeline ON stat (task, dataset, metric, nn, epoch, accuracy DESC);
