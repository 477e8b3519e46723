-- Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
-- oxmigrate's own tables in configdb (the admin API, admin-api/).
-- Load after sql/configdb.sql, into the same database:
--   mariadb configdb < sql/oxmigrate.sql
-- Idempotent: every table is created only when missing.
--
-- Times are epoch milliseconds (BIGINT), like updateTask.lastModified.

-- Every mutating admin call: who, when, what, with which arguments, and
-- what it answered.  GET /oxmigrate/v1/audit?limit=N reads it.
CREATE TABLE IF NOT EXISTS oxmigrate_audit (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    ts BIGINT NOT NULL,
    user VARCHAR(255) NOT NULL,
    action VARCHAR(64) NOT NULL,       -- OX tool name, e.g. disableschema
    arguments TEXT NOT NULL,           -- JSON: {"params":[...],"body":"..."}
    status SMALLINT UNSIGNED NOT NULL, -- HTTP status of the answer
    result TEXT NOT NULL,              -- the answer (JSON, cut at 4000)
    PRIMARY KEY (id),
    INDEX (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Jobs (POST /upgrade, POST /updates).  They live here so that every
-- worker of every balancer answers GET /jobs.  The worker that runs a job
-- refreshes heartbeat at least every oxmigrate_update_lock_refresh; a
-- "running" job whose heartbeat is older than oxmigrate_update_lock_idle
-- lost its worker and is shown "interrupted" (POST /jobs/{id}/resume).
CREATE TABLE IF NOT EXISTS oxmigrate_job (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    kind VARCHAR(16) NOT NULL,         -- upgrade | updates
    state VARCHAR(16) NOT NULL,        -- running | done | failed | interrupted
    options TEXT NOT NULL,             -- the request body (JSON)
    server_id INT UNSIGNED NULL,       -- upgrade: the target server
    user VARCHAR(255) NOT NULL,
    owner VARCHAR(255) NOT NULL,       -- host:pid of the running worker
    claim BIGINT UNSIGNED NOT NULL DEFAULT 0, -- its driver, new per resume
    started BIGINT NOT NULL,
    finished BIGINT NULL,
    heartbeat BIGINT NOT NULL,
    PRIMARY KEY (id),
    INDEX (state, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A table created by an earlier version lacks the claim.
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS claim BIGINT UNSIGNED NOT NULL DEFAULT 0
    AFTER owner;

-- What the OX nodes' caches saw of the job's steps: "invalidated by OX ..."
-- (oxmigrate_ox_tools ran OX's own tools) or "not invalidated" (plain SQL
-- on configdb).
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS ox_caches VARCHAR(32) NOT NULL
    DEFAULT 'not invalidated' AFTER claim;

-- Steering a running job (POST /jobs/{id}/pause, /cancel, /continue,
-- PATCH /jobs/{id}): control is what the driver is asked to do ("pause",
-- "cancel"; NULL: run), parallel overrides the request's while it runs,
-- pause_after is the canary's count of schemas done before the job pauses
-- (cleared once it paused).  state also takes "paused" and "cancelled".
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS control VARCHAR(16) NULL AFTER ox_caches;
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS parallel INT UNSIGNED NULL AFTER control;
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS pause_after INT UNSIGNED NULL AFTER parallel;
-- time_window: "HH:MM-HH:MM" (oxmigrate_job_utc_offset) in which schemas
-- start; max_downtime: seconds a schema may stay disabled before the job
-- pauses; reason: why the job paused by itself (canary, max_downtime).
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS time_window VARCHAR(16) NULL AFTER pause_after;
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS max_downtime INT UNSIGNED NULL
    AFTER time_window;
ALTER TABLE oxmigrate_job
    ADD COLUMN IF NOT EXISTS reason VARCHAR(255) NULL AFTER max_downtime;

-- The schemas of a job, in the order they run (seq).
CREATE TABLE IF NOT EXISTS oxmigrate_job_schema (
    job_id BIGINT UNSIGNED NOT NULL,
    seq INT UNSIGNED NOT NULL,
    name VARCHAR(32) NOT NULL,
    db_pool_id INT UNSIGNED NOT NULL,
    host VARCHAR(255) NOT NULL,        -- host:port of its database
    state VARCHAR(16) NOT NULL,        -- pending | running | done | failed
                                       -- | cancelled
    failed_tasks TEXT NULL,            -- JSON array of task names
    message TEXT NULL,
    disabled_at BIGINT NULL,           -- first disable (downtime start)
    enabled_at BIGINT NULL,            -- enable (downtime end)
    PRIMARY KEY (job_id, seq),
    FOREIGN KEY (job_id) REFERENCES oxmigrate_job (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A schema's contexts when planned and the start and end of its last run:
-- a job's rate and eta_seconds, dry_run's estimates (GET /jobs/{id}).
ALTER TABLE oxmigrate_job_schema
    ADD COLUMN IF NOT EXISTS contexts INT UNSIGNED NULL;
ALTER TABLE oxmigrate_job_schema
    ADD COLUMN IF NOT EXISTS started_at BIGINT NULL;
ALTER TABLE oxmigrate_job_schema
    ADD COLUMN IF NOT EXISTS ended_at BIGINT NULL;
-- The server the schema had before the job (POST /schemas/{s}/revert).
ALTER TABLE oxmigrate_job_schema
    ADD COLUMN IF NOT EXISTS from_server_id INT UNSIGNED NULL;
-- The checks before its enable: [{"check":"tasks","ok":true,"detail":..}]
ALTER TABLE oxmigrate_job_schema
    ADD COLUMN IF NOT EXISTS checks TEXT NULL;
-- ox_caches names the OX clusters that dropped the contexts ("invalidated
-- by OX in both clusters", or which one was not reached): longer words.
ALTER TABLE oxmigrate_job
    MODIFY COLUMN ox_caches VARCHAR(255) NOT NULL DEFAULT 'not invalidated';
