-- 0020_audit.sql -- every mutating API call: who, what, when, from where, and the result.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    ts         timestamptz NOT NULL,
    token_name text,                  -- NULL when authentication is disabled
    role       text,
    remote     text NOT NULL,
    method     text NOT NULL,
    path       text NOT NULL,
    namespace  text,
    status     integer NOT NULL,
    detail     text                   -- the error code for failures
);
CREATE INDEX audit_log_ts ON audit_log (ts);
CREATE INDEX audit_log_token ON audit_log (token_name, ts);
