-- 0001_init.sql -- jobs and their events, clusters, capacity samples, API tokens, leader.

-- One global counter, like etcd's revision: every change to a job takes the next value,
-- so watchers can ask "anything newer than N".
CREATE SEQUENCE resource_version_seq;

CREATE TABLE jobs (
    id                 bigserial PRIMARY KEY,   -- creation order; keyset pagination key
    uid                uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    namespace          text NOT NULL,
    name               text NOT NULL,
    api_version        text NOT NULL,
    labels             jsonb NOT NULL DEFAULT '{}',
    spec               jsonb NOT NULL,
    idempotency_key    text,
    phase              text NOT NULL DEFAULT 'Queued' CHECK (phase IN
                       ('Queued','Admitted','Dispatched','Running','Succeeded','Failed',
                        'Cancelled','Preempting','Lost')),
    cluster            text,
    pool               text,
    priority           integer NOT NULL DEFAULT 0,
    preemptible        boolean NOT NULL DEFAULT false,
    sku                text NOT NULL,
    gpu_count          integer NOT NULL CHECK (gpu_count > 0),
    gpus_per_worker    integer NOT NULL CHECK (gpus_per_worker > 0),
    attempt            integer NOT NULL DEFAULT 0,
    preemptions        integer NOT NULL DEFAULT 0,
    cancel_requested   boolean NOT NULL DEFAULT false,
    reason             text,
    message            text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    admitted_at        timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    last_checkpoint_at timestamptz,
    resource_version   bigint NOT NULL DEFAULT nextval('resource_version_seq'),
    CONSTRAINT jobs_namespace_name UNIQUE (namespace, name)
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_phase_id ON jobs (phase, id);
CREATE INDEX jobs_namespace_id ON jobs (namespace, id);
CREATE INDEX jobs_sku_id ON jobs (sku, id);
CREATE INDEX jobs_labels ON jobs USING gin (labels jsonb_path_ops);
-- The scheduler's queue scan: only live jobs, in priority order.
CREATE INDEX jobs_live ON jobs (priority DESC, id)
    WHERE phase NOT IN ('Succeeded','Failed','Cancelled');

CREATE TABLE job_events (
    id         bigserial PRIMARY KEY,
    job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ts         timestamptz NOT NULL DEFAULT now(),
    type       text NOT NULL,
    reason     text,
    message    text,
    from_phase text,
    to_phase   text
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE clusters (
    name             text PRIMARY KEY,
    config           jsonb NOT NULL,
    cordoned         boolean NOT NULL DEFAULT false,
    source           text NOT NULL DEFAULT 'api' CHECK (source IN ('config','api')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    resource_version bigint NOT NULL DEFAULT nextval('resource_version_seq')
);

-- One row per cluster x SKU x pool per sampling tick; the reports aggregate these.
CREATE TABLE capacity_samples (
    ts             timestamptz NOT NULL,
    cluster        text NOT NULL,
    sku            text NOT NULL,
    pool           text NOT NULL,
    total          integer NOT NULL,
    used           integer NOT NULL,
    free           integer NOT NULL,
    borrowed       integer NOT NULL DEFAULT 0,
    pending_demand integer NOT NULL DEFAULT 0,
    lendable       integer NOT NULL DEFAULT 0,
    healthy        boolean NOT NULL DEFAULT true,
    PRIMARY KEY (cluster, sku, pool, ts)
);
CREATE INDEX capacity_samples_ts ON capacity_samples (ts);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    token_hash   bytea NOT NULL UNIQUE,      -- SHA-256 of the token; the token is never stored
    role         text NOT NULL CHECK (role IN ('admin','submitter','viewer')),
    namespaces   text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- The single leader row: the fencing epoch grows by one on every takeover, and every
-- decision write is conditional on the epoch its writer holds.
CREATE TABLE leader (
    id          integer PRIMARY KEY CHECK (id = 1),
    epoch       bigint NOT NULL,
    holder      text,
    acquired_at timestamptz,
    renewed_at  timestamptz
);
INSERT INTO leader (id, epoch) VALUES (1, 0);
