-- 0030_capacity_rollup.sql -- capacity samples summed by the hour (store/reports.c).
-- A capacity report over days of a large federation read every sample of the window
-- (100 clusters of 4 SKU and pool rows write 576,000 a day) and met the statement
-- timeout past a day or so. The leader sums each finished hour once, the same way the
-- report sums samples, and a report reads those sums for the hours that lie whole
-- inside one of its steps; the samples of every other hour, as before.
CREATE TABLE capacity_rollup (
    hour           timestamptz NOT NULL,
    cluster        text NOT NULL,
    sku            text NOT NULL,
    pool           text NOT NULL,
    -- GPU-milliseconds in the hour, as the report's columns of the same names
    total_ms       bigint NOT NULL,
    used_ms        bigint NOT NULL,
    training_ms    bigint NOT NULL,
    serving_ms     bigint NOT NULL,
    borrowed_ms    bigint NOT NULL,
    idle_ms        bigint NOT NULL,
    unavailable_ms bigint NOT NULL,
    PRIMARY KEY (hour, cluster, sku, pool)
);

-- The hours summed, with or without rows (an hour without samples has none): a report
-- reads an hour's sums only when the hour is here, and its samples otherwise.
CREATE TABLE capacity_rollup_hours (
    hour      timestamptz PRIMARY KEY,
    rolled_at timestamptz NOT NULL DEFAULT now()
);
