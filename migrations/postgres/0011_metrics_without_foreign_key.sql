-- SQLite's 0011 drops the foreign key from metrics to runs, which PostgreSQL's 0010 already
-- dropped. Nothing to do here; the file keeps both folders numbered alike.
SELECT 1;
