-- Ordering runs by a metric straight from an index (PostgreSQL). MLflow breaks ties on a
-- metric by start_time DESC, then run_uuid; each latest metric carries its run's start_time
-- (which never changes) so one index walk gives that whole order, in either direction.
ALTER TABLE latest_metrics ADD COLUMN start_time BIGINT;
UPDATE latest_metrics SET start_time = r.start_time FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid;
-- A binary older than this schema writes rows without it during a rolling upgrade.
CREATE FUNCTION latest_metrics_start_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.start_time IS NULL THEN
        SELECT r.start_time INTO NEW.start_time FROM runs r WHERE r.run_uuid = NEW.run_uuid;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER latest_metrics_start_time BEFORE INSERT ON latest_metrics
FOR EACH ROW EXECUTE FUNCTION latest_metrics_start_time();
CREATE INDEX latest_metrics_order_asc ON latest_metrics (key, value, start_time DESC, run_uuid);
CREATE INDEX latest_metrics_order_desc ON latest_metrics (key, value DESC, start_time DESC, run_uuid);
