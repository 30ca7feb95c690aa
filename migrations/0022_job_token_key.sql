-- 0022_job_token_key.sql -- the installation's key for checkpoint tokens (base/job_token.h):
-- one row, made by the first replica that needs it (INSERT ... ON CONFLICT DO NOTHING), so
-- every replica signs and checks with the same key. The tokens themselves are never stored.
CREATE TABLE job_token_key (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    key        bytea NOT NULL CHECK (octet_length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
