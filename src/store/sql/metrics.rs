//! Metric histories on the SQL store ([`MetricStore`]).

use super::*;

#[async_trait::async_trait]
impl MetricStore for SqlTrackingStore {
    async fn get_metric_history(&self, run_id: &str, key: &str) -> CoreResult<Vec<Metric>> {
        self.get_metric_history_page(run_id, key, None, 0, i64::MAX).await
    }

    async fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        after: Option<&Metric>,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        // The run's check and its points at once, on two connections: one after the other,
        // a history call waited for two round trips to the database.
        let (_, points) = futures::future::try_join(
            self.run_info(run_id),
            self.metric_points(run_id, key, (i64::MIN, i64::MAX), after, offset, limit),
        )
        .await?;
        Ok(points)
    }

    async fn get_metric_history_sampled(
        &self,
        run_ids: &[String],
        key: &str,
        step_range: Option<(i64, i64)>,
        max_points: usize,
    ) -> CoreResult<Vec<(String, Metric)>> {
        let steps = step_range.unwrap_or((i64::MIN, i64::MAX));
        let mut out = Vec::new();
        for run_id in run_ids {
            let points = self.sampled_points(run_id, key, steps, max_points).await?;
            out.extend(points.into_iter().map(|m| (run_id.clone(), m)));
        }
        Ok(out)
    }

    async fn metric_ranges(&self, run_ids: &[String]) -> CoreResult<Vec<MetricRange>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT run_uuid, key, MIN(value) AS min_value, MAX(value) AS max_value FROM metrics \
             WHERE run_uuid IN ({}) AND is_nan = 0 GROUP BY run_uuid, key",
            placeholders(self.backend, 1, run_ids.len())
        );
        ids_query(&sql, run_ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(MetricRange {
                    run_id: row.try_get("run_uuid")?,
                    key: row.try_get("key")?,
                    min: row.try_get("min_value")?,
                    max: row.try_get("max_value")?,
                })
            })
            .collect()
    }
}

impl SqlTrackingStore {
    /// One history sampled for a chart: every point when there are at most `max_points`,
    /// else the points at up to `max_points` steps spread evenly between the first and last
    /// step in range (both kept), each found by one index seek. A million-step history
    /// costs a few hundred seeks, not a scan.
    async fn sampled_points(
        &self,
        run_id: &str,
        key: &str,
        steps: (i64, i64),
        max_points: usize,
    ) -> CoreResult<Vec<Metric>> {
        let n = max_points.max(2);
        let head = self
            .metric_points(run_id, key, steps, None, 0, n as i64 + 1)
            .await?;
        if head.len() <= n {
            return Ok(head);
        }
        let first = head[0].step;
        let last: i64 = sqlx::query(
            "SELECT step FROM metrics WHERE run_uuid = $1 AND key = $2 AND step <= $3 \
             ORDER BY step DESC LIMIT 1",
        )
        .bind(run_id)
        .bind(key)
        .bind(steps.1)
        .fetch_one(&self.pool)
        .await?
        .try_get("step")?;
        let targets = spread(first, last, n);
        // Each target becomes the first step at or after it; the points at those steps.
        let values = (0..targets.len())
            .map(|i| format!("(${})", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = self.history_sql(&format!(
            "SELECT value, timestamp, step, is_nan FROM metrics \
             WHERE run_uuid = $1 AND key = $2 AND step IN (SELECT (SELECT s.step FROM metrics s \
               WHERE s.run_uuid = $1 AND s.key = $2 AND s.step >= v.column1 AND s.step <= $3 \
               ORDER BY s.step LIMIT 1) FROM (VALUES {values}) v) \
             ORDER BY step, timestamp, value, is_nan"
        ));
        self.history_rows(key, &sql, |q| {
            targets
                .iter()
                .fold(q.bind(run_id).bind(key).bind(last), |q, t| q.bind(*t))
        })
        .await
    }
}

/// Up to `n` distinct steps from `first` to `last` (both included), evenly spaced.
fn spread(first: i64, last: i64, n: usize) -> Vec<i64> {
    let span = i128::from(last) - i128::from(first);
    let parts = (n.max(2) - 1) as i128;
    let mut out: Vec<i64> = (0..=parts)
        .map(|i| (i128::from(first) + span * i / parts) as i64)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_keeps_both_ends_and_stays_in_range() {
        assert_eq!(spread(0, 10, 3), vec![0, 5, 10]);
        assert_eq!(spread(5, 5, 4), vec![5]);
        assert_eq!(spread(0, 2, 10), vec![0, 1, 2]);
        let wide = spread(i64::MIN, i64::MAX, 5);
        assert_eq!((wide[0], wide[4]), (i64::MIN, i64::MAX));
        let s = spread(0, 999_999, 320);
        assert_eq!(s.len(), 320);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }
}
