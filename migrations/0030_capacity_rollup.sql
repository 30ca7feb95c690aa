-- 0030_capacity_rollup.sql -- capacity samples summed by the quarter hour, the hour and
-- the day (UTC) (store/reports.c, store/rollup_plan.h). A capacity report over days of a
-- large federation read every sample of the window (100 clusters of 4 SKU and pool rows
-- write 576,000 a day) and met the statement timeout past a day or so. The leader sums
-- each finished quarter hour once, the same way the report sums samples, then each hour
-- from its quarters and each day from its hours; a report reads the widest sums that lie
-- whole inside its steps, and the samples of the rest, as before.
CREATE TABLE capacity_rollup (
    width_s        integer NOT NULL,  -- 900, 3600 or 86400
    start          timestamptz NOT NULL,
    cluster        text NOT NULL,
    sku            text NOT NULL,
    pool           text NOT NULL,
    -- GPU-milliseconds in [start, start + width), as the report's columns of the same names
    total_ms       bigint NOT NULL,
    used_ms        bigint NOT NULL,
    training_ms    bigint NOT NULL,
    serving_ms     bigint NOT NULL,
    borrowed_ms    bigint NOT NULL,
    idle_ms        bigint NOT NULL,
    unavailable_ms bigint NOT NULL,
    PRIMARY KEY (width_s, start, cluster, sku, pool)
);

-- The spans summed, with or without rows (one without samples has none): a report reads a
-- span's sums only when its mark is here, and its samples otherwise. Deleting marks has the
-- spans summed again at the next collection pass (docs/operations.md).
CREATE TABLE capacity_rollup_marks (
    width_s   integer NOT NULL,
    start     timestamptz NOT NULL,
    rolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (width_s, start)
);
