//! Metric histories on the SQL store ([`MetricStore`]).

use super::*;

#[async_trait::async_trait]
impl MetricStore for SqlTrackingStore {
    async fn get_metric_history(&self, run_id: &str, key: &str) -> CoreResult<Vec<Metric>> {
        self.get_metric_history_page(run_id, key, 0, i64::MAX).await
    }

    async fn get_metric_history_page(
        &self,
        run_id: &str,
        key: &str,
        offset: i64,
        limit: i64,
    ) -> CoreResult<Vec<Metric>> {
        self.run_info(run_id).await?;
        self.metric_points(run_id, key, (i64::MIN, i64::MAX), offset, limit)
            .await
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
            let points = self.metric_points(run_id, key, steps, 0, i64::MAX).await?;
            out.extend(
                sample_evenly(points, max_points)
                    .into_iter()
                    .map(|m| (run_id.clone(), m)),
            );
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
