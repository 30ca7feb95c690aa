-- 0004_scheduler_state.sql -- the policy's state carried between cycles (reclaim streaks,
-- token buckets, lending back-off, fair-share usage), kept so a new leader continues
-- where the old one stopped. Losing it is safe; it only makes the first cycles forgetful.
CREATE TABLE scheduler_state (
    id         integer PRIMARY KEY CHECK (id = 1),
    state      jsonb NOT NULL,
    epoch      bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
