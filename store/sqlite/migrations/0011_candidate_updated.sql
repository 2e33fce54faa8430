-- Viewers (the dashboard) read a loop's journal incrementally: the
-- candidates written since their last look, without scanning the loop.
CREATE INDEX IF NOT EXISTS idx_nngpt_candidate_updated ON nngpt_candidate (loop_id, updated);
