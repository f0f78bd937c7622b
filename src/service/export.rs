//! Downloads as CSV: the runs table a user is looking at (filter, order, columns), every
//! matching run up to [`EXPORT_MAX_RUNS`], and a metric's whole history, streamed; both read
//! a page at a time.

use super::AppState;
use crate::auth::Actor;
use crate::store::RunSearch;
use crate::tracking::Run;
use crate::CoreResult;

/// Most runs one export writes.
pub const EXPORT_MAX_RUNS: usize = 100_000;
const EXPORT_PAGE: i64 = 1_000;

/// A column beyond the run's attributes: `metrics.<k>`, `params.<k>` or `tags.<k>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExportColumn {
    pub kind: ColumnKind,
    pub key: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnKind {
    Metric,
    Param,
    Tag,
}

impl ExportColumn {
    /// `metrics.acc` and the like; anything else is not a column.
    pub fn parse(spec: &str) -> Option<ExportColumn> {
        let (kind, key) = spec.split_once('.')?;
        let kind = match kind {
            "metrics" => ColumnKind::Metric,
            "params" => ColumnKind::Param,
            "tags" => ColumnKind::Tag,
            _ => return None,
        };
        (!key.is_empty()).then(|| ExportColumn {
            kind,
            key: key.to_string(),
        })
    }

    fn header(&self) -> String {
        let kind = match self.kind {
            ColumnKind::Metric => "metrics",
            ColumnKind::Param => "params",
            ColumnKind::Tag => "tags",
        };
        format!("{kind}.{}", self.key)
    }

    fn value(&self, run: &Run) -> String {
        match self.kind {
            ColumnKind::Metric => run.metric(&self.key).map(|v| v.to_string()),
            ColumnKind::Param => run.param(&self.key).map(str::to_string),
            ColumnKind::Tag => run.tag(&self.key).map(str::to_string),
        }
        .unwrap_or_default()
    }
}

/// RFC 4180 field: quoted when it holds a separator, quote or line break. A leading
/// `=`, `+`, `-` or `@` gets a `'` so a spreadsheet never runs a logged value as a formula.
fn field(value: &str) -> String {
    let guarded = match value.chars().next() {
        Some('=' | '+' | '@') => format!("'{value}"),
        Some('-') if value.parse::<f64>().is_err() => format!("'{value}"),
        _ => value.to_string(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

impl AppState {
    /// The CSV text of every run `search` matches (its paging fields are ignored), with the
    /// run's attributes and then `columns`; with no columns, every metric and param the
    /// matched runs have.
    pub async fn export_runs_csv(
        &self,
        actor: &Actor,
        search: &RunSearch,
        columns: &[ExportColumn],
    ) -> CoreResult<String> {
        let mut runs: Vec<Run> = Vec::new();
        let mut page = RunSearch {
            max_results: EXPORT_PAGE,
            offset: 0,
            after: None,
            ..search.clone()
        };
        loop {
            let found = self.search_runs(actor, &page).await?;
            let last = found
                .items
                .last()
                .map(|r| (r.info.start_time, r.info.run_id.clone()));
            runs.extend(found.items);
            if !found.has_more || runs.len() >= EXPORT_MAX_RUNS {
                break;
            }
            // The default order pages by keyset; others by offset.
            if page.order_by.is_empty() {
                page.after = last;
            } else {
                page.offset += EXPORT_PAGE;
            }
        }
        runs.truncate(EXPORT_MAX_RUNS);
        let columns: Vec<ExportColumn> = if columns.is_empty() {
            let mut all = std::collections::BTreeSet::new();
            for run in &runs {
                all.extend(run.metrics.iter().map(|m| ExportColumn {
                    kind: ColumnKind::Metric,
                    key: m.key.clone(),
                }));
                all.extend(run.params.iter().map(|p| ExportColumn {
                    kind: ColumnKind::Param,
                    key: p.key.clone(),
                }));
            }
            all.into_iter().collect()
        } else {
            columns.to_vec()
        };
        let mut out = String::new();
        let mut header = vec![
            "run_id".to_string(),
            "run_name".into(),
            "status".into(),
            "start_time".into(),
            "end_time".into(),
            "user".into(),
        ];
        header.extend(columns.iter().map(ExportColumn::header));
        push_row(&mut out, &header);
        for run in &runs {
            let info = &run.info;
            let mut row = vec![
                info.run_id.clone(),
                info.run_name.clone(),
                info.status.as_str().to_string(),
                crate::time::iso8601(info.start_time),
                info.end_time.map(crate::time::iso8601).unwrap_or_default(),
                info.user_id.clone(),
            ];
            row.extend(columns.iter().map(|c| c.value(run)));
            push_row(&mut out, &row);
        }
        Ok(out)
    }
}

fn push_row(out: &mut String, row: &[String]) {
    let fields: Vec<String> = row.iter().map(|v| field(v)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// Points per database read of a streamed history: one page is all it holds at a time.
const HISTORY_STREAM_PAGE: i64 = 10_000;

impl AppState {
    /// A metric's whole history as CSV (`step,timestamp,value`), as a stream: read a page
    /// at a time by keyset and written out as it goes, so a million points never sit in
    /// memory. The first page is read before this returns (a refusal or a missing run is
    /// an error, not a cut stream); each later page goes through the permission check too.
    pub async fn metric_history_csv(
        &self,
        actor: Actor,
        run_id: String,
        key: String,
    ) -> CoreResult<impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static> {
        let first = self
            .get_metric_history_page(&actor, &run_id, &key, None, 0, HISTORY_STREAM_PAGE)
            .await?;
        let state = self.clone();
        let mut header = true;
        // Fused: a body layer may poll once more after the end, which a bare unfold panics on.
        Ok(futures::StreamExt::fuse(futures::stream::unfold(
            Some(first),
            move |page| {
                let (state, actor, run_id, key) = (state.clone(), actor.clone(), run_id.clone(), key.clone());
                let head = std::mem::take(&mut header);
                async move {
                    let page = page?;
                    if page.is_empty() && !head {
                        return None;
                    }
                    let mut out = String::with_capacity(page.len() * 32 + 32);
                    if head {
                        out.push_str("step,timestamp,value\n");
                    }
                    for m in &page {
                        use std::fmt::Write;
                        let _ = writeln!(out, "{},{},{}", m.step, m.timestamp, m.value);
                    }
                    let next = if (page.len() as i64) < HISTORY_STREAM_PAGE {
                        Ok(Vec::new())
                    } else {
                        state
                            .get_metric_history_page(
                                &actor,
                                &run_id,
                                &key,
                                page.last(),
                                0,
                                HISTORY_STREAM_PAGE,
                            )
                            .await
                    };
                    let next = match next {
                        Ok(next) if next.is_empty() => None,
                        Ok(next) => Some(next),
                        Err(e) => {
                            // The status line is sent: the stream ends early and the log says why.
                            tracing::warn!(error = %e, run_id, "metric history stream stopped");
                            None
                        }
                    };
                    Some((Ok(bytes::Bytes::from(out)), next))
                }
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("-0.5"), "-0.5");
        assert_eq!(field("-x"), "'-x");
        assert_eq!(ExportColumn::parse("metrics.a.b").unwrap().key, "a.b");
        assert!(ExportColumn::parse("attributes.x").is_none());
    }
}
