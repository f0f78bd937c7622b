-- Metric points without a foreign key to runs, as on PostgreSQL since its 0010: a run is
-- never deleted from the table (deleting one only changes its lifecycle_stage), and every
-- write checks its run inside the write's own transaction first. Anything that ever removes
-- runs must remove their metrics itself.
-- Why here: a statement that may fail on a constraint halfway gets a statement journal
-- inside a transaction, a copy of every page it changes. A batch of 500 metrics under 500
-- keys changes a page per key, and the foreign key made its insert such a statement (with
-- the writer's `INSERT OR IGNORE`, nothing else does). SQLite cannot drop a constraint, so
-- the table is rebuilt with the same columns, key and name: one pass over the points, in
-- key order; a binary older than this schema reads and writes it as before.
CREATE TABLE metrics_rebuilt (
    run_uuid  TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value     REAL    NOT NULL,
    is_nan    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;
INSERT INTO metrics_rebuilt (run_uuid, key, step, timestamp, value, is_nan)
SELECT run_uuid, key, step, timestamp, value, is_nan FROM metrics;
DROP TABLE metrics;
ALTER TABLE metrics_rebuilt RENAME TO metrics;
