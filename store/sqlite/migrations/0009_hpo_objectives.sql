-- Multi-objective studies (package hpo): a study's objectives (JSON array
-- of {name, direction}; empty for the single accuracy objective of older
-- studies) and each trial's objective values (JSON array, same order).
ALTER TABLE nngpt_hpo_study ADD COLUMN objectives TEXT NOT NULL DEFAULT '[]';
ALTER TABLE nngpt_hpo_trial ADD COLUMN objective_values TEXT NOT NULL DEFAULT '[]';
