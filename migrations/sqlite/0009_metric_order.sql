-- Ordering runs by a metric straight from an index (SQLite). MLflow breaks ties on a metric
-- by start_time DESC, then run_uuid; each latest metric carries its run's start_time (which
-- never changes) so one index walk gives that whole order, in either direction.
ALTER TABLE latest_metrics ADD COLUMN start_time INTEGER;
UPDATE latest_metrics SET start_time = (SELECT r.start_time FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid);
-- A binary older than this schema writes rows without it during a rolling upgrade.
CREATE TRIGGER latest_metrics_start_time AFTER INSERT ON latest_metrics
WHEN NEW.start_time IS NULL
BEGIN
    UPDATE latest_metrics SET start_time = (SELECT r.start_time FROM runs r WHERE r.run_uuid = NEW.run_uuid)
    WHERE run_uuid = NEW.run_uuid AND key = NEW.key;
END;
CREATE INDEX latest_metrics_order_asc ON latest_metrics (key, value, start_time DESC, run_uuid);
CREATE INDEX latest_metrics_order_desc ON latest_metrics (key, value DESC, start_time DESC, run_uuid);
