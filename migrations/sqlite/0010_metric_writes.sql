-- latest_metrics_by_key_value is a prefix of latest_metrics_order_asc, which serves every
-- query it did, and each write kept both. (PostgreSQL's 0010 also drops checks that SQLite
-- makes cheaply; see there.)
DROP INDEX latest_metrics_by_key_value;
