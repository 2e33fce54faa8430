-- NN-RAG's block library.
CREATE TABLE IF NOT EXISTS nngpt_rag_block (
    name TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    module TEXT NOT NULL,
    code TEXT NOT NULL,
    id TEXT NOT NULL,
    repo TEXT NOT NULL,
    git_commit TEXT NOT NULL DEFAULT '',
    paths TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]',
    level INTEGER NOT NULL DEFAULT -1,
    error TEXT NOT NULL DEFAULT '',
    error_kind TEXT NOT NULL DEFAULT '',
    input TEXT NOT NULL DEFAULT '',
    unresolved TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_nngpt_rag_block_class ON nngpt_rag_block (class);
CREATE INDEX IF NOT EXISTS idx_nngpt_rag_block_id ON nngpt_rag_block (id);
