-- Canaries, dynamic batching and inference monitoring (SQLite).
-- A deployment may send a share of its traffic to a second version (its canary).
ALTER TABLE deployments ADD COLUMN canary_version INTEGER;
-- Dynamic batching (Triton's): rows per run at most (0: off) and the wait for more.
ALTER TABLE deployments ADD COLUMN max_batch_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN batch_delay_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN canary_percent INTEGER NOT NULL DEFAULT 0;

-- Each replica's calls per deployment version in 10-second buckets; the monitoring page
-- merges the replicas. latencies: 'class:count' pairs of a log-spaced histogram.
CREATE TABLE inference_stats (
    bucket_start INTEGER NOT NULL,
    deployment   TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    replica      TEXT    NOT NULL,
    requests     INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    latencies    TEXT    NOT NULL,
    PRIMARY KEY (bucket_start, deployment, version, replica)
);
