//! Compiles search ASTs to SQL with numbered placeholders. Every value the user wrote is
//! a bind parameter; only fixed column names and operators are written into the SQL.

use super::{Attribute, Comparison, Entity, Filter, Op, OrderBy, Value};

/// A value to bind, in placeholder order.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
}

/// Collects SQL fragments and their binds; placeholders continue from `first`.
pub struct SqlBuilder {
    first: usize,
    pub binds: Vec<Bind>,
    /// The column a run's params, tags, metrics and inputs are matched on.
    run_id: &'static str,
    /// Appended to each related-rows subquery: `" OFFSET 0"` keeps PostgreSQL from turning
    /// it into a join, so it stays one index probe per row tested.
    per_row: &'static str,
}

impl SqlBuilder {
    pub fn new(first: usize) -> Self {
        SqlBuilder {
            first,
            binds: Vec::new(),
            run_id: "r.run_uuid",
            per_row: "",
        }
    }

    /// PostgreSQL: conditions on params, tags, metrics and inputs are tested by a probe
    /// per row, never by a join. For queries that test rows as they walk or in a bounded
    /// set (the pager's newest runs, a metric order's walk): the planner hashed all params
    /// of a million-run experiment (2,000,000 rows, about 220 ms) to test 10,000 runs, and
    /// without statistics joined a metric condition so that every run was tested against
    /// every match.
    pub fn probing_each_row(mut self) -> Self {
        self.per_row = " OFFSET 0";
        self
    }

    /// Run filters match related rows on `column` instead of `r.run_uuid`: a query that
    /// walks another table equal on the run id (`o0.run_uuid` in a metric's order) then
    /// tests them before it looks the run up, where each is evaluated at the earliest
    /// table it names.
    pub fn matching_runs_on(mut self, column: &'static str) -> Self {
        self.run_id = column;
        self
    }

    /// Adds a bind and returns its placeholder.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.first + self.binds.len() - 1)
    }

    pub fn next_placeholder(&self) -> usize {
        self.first + self.binds.len()
    }
}

/// Which rows a filter applies to: runs (alias `r`) or experiments (alias `e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Runs,
    Experiments,
    LoggedModels,
    RegisteredModels,
    ModelVersions,
}

impl Subject {
    /// How a row `x` of a tag (or param) table belongs to the searched row.
    fn owner_match(self) -> &'static str {
        match self {
            // Runs match on the builder's `run_id` instead (`compile_comparison`).
            Subject::Runs => "x.run_uuid = r.run_uuid",
            Subject::Experiments => "x.experiment_id = e.experiment_id",
            Subject::LoggedModels => "x.model_id = m.model_id",
            Subject::RegisteredModels => "x.name = rm.name",
            Subject::ModelVersions => "x.name = v.name AND x.version = v.version",
        }
    }

    fn tag_table(self) -> &'static str {
        match self {
            Subject::Runs => "tags",
            Subject::Experiments => "experiment_tags",
            Subject::LoggedModels => "logged_model_tags",
            Subject::RegisteredModels => "registered_model_tags",
            Subject::ModelVersions => "model_version_tags",
        }
    }

    fn param_table(self) -> &'static str {
        match self {
            Subject::LoggedModels => "logged_model_params",
            _ => "params",
        }
    }
}

fn column(subject: Subject, attribute: Attribute) -> &'static str {
    if subject == Subject::RegisteredModels {
        return match attribute {
            Attribute::Name => "rm.name",
            Attribute::CreationTime => "rm.creation_time",
            _ => "rm.last_updated_time",
        };
    }
    if subject == Subject::ModelVersions {
        return match attribute {
            Attribute::Name => "v.name",
            Attribute::VersionNumber => "v.version",
            Attribute::RunId => "v.run_id",
            Attribute::SourcePath => "v.source",
            Attribute::CurrentStage => "v.current_stage",
            Attribute::UserId => "v.user_id",
            Attribute::CreationTime => "v.creation_time",
            _ => "v.last_updated_time",
        };
    }
    if subject == Subject::LoggedModels {
        return match attribute {
            Attribute::Name => "m.name",
            Attribute::ModelId => "m.model_id",
            Attribute::SourceRunId => "m.source_run_id",
            Attribute::ModelStatus => "m.status",
            Attribute::ModelType => "m.model_type",
            Attribute::CreationTime => "m.creation_timestamp_ms",
            _ => "m.last_updated_timestamp_ms",
        };
    }
    match attribute {
        Attribute::RunId => "r.run_uuid",
        Attribute::RunName => "r.name",
        Attribute::Status => "r.status",
        Attribute::UserId => "r.user_id",
        Attribute::ArtifactUri => "r.artifact_uri",
        Attribute::StartTime => "r.start_time",
        Attribute::EndTime => "r.end_time",
        Attribute::ExperimentId => "e.experiment_id",
        Attribute::Name => "e.name",
        Attribute::CreationTime => "e.creation_time",
        Attribute::LastUpdateTime => "e.last_update_time",
        // Logged-model attributes only parse for logged-model searches.
        Attribute::ModelId
        | Attribute::SourceRunId
        | Attribute::ModelStatus
        | Attribute::ModelType
        | Attribute::VersionNumber
        | Attribute::SourcePath
        | Attribute::CurrentStage => "NULL",
    }
}

fn number_bind(n: f64) -> Bind {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Bind::Int(n as i64)
    } else {
        Bind::Float(n)
    }
}

fn simple_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => "=",
    }
}

/// `expr op value` for string-valued things; `None` for the null tests handled by callers.
fn string_predicate(b: &mut SqlBuilder, expr: &str, op: Op, value: &Value) -> String {
    match (op, value) {
        (Op::Like, Value::Text(t)) => format!("{expr} LIKE {}", b.bind(Bind::Text(t.clone()))),
        (Op::ILike, Value::Text(t)) => format!("LOWER({expr}) LIKE LOWER({})", b.bind(Bind::Text(t.clone()))),
        (Op::In | Op::NotIn, Value::List(items)) => {
            let list = items
                .iter()
                .map(|i| b.bind(Bind::Text(i.clone())))
                .collect::<Vec<_>>()
                .join(", ");
            let not = if op == Op::NotIn { "NOT " } else { "" };
            format!("{expr} {not}IN ({list})")
        }
        (_, Value::Text(t)) => format!("{expr} {} {}", simple_op(op), b.bind(Bind::Text(t.clone()))),
        (_, Value::Number(n)) => format!("{expr} {} {}", simple_op(op), b.bind(number_bind(*n))),
        _ => "1 = 0".to_string(),
    }
}

/// Compiles a filter to a boolean SQL expression over `r` (runs) or `e` (experiments).
pub fn compile_filter(b: &mut SqlBuilder, subject: Subject, filter: &Filter) -> String {
    match filter {
        Filter::And(parts) => join(b, subject, parts, " AND "),
        Filter::Or(parts) => join(b, subject, parts, " OR "),
        Filter::Compare(c) => compile_comparison(b, subject, c),
    }
}

fn join(b: &mut SqlBuilder, subject: Subject, parts: &[Filter], sep: &str) -> String {
    let inner: Vec<String> = parts.iter().map(|p| compile_filter(b, subject, p)).collect();
    format!("({})", inner.join(sep))
}

/// A condition on rows related to the searched one: `base` selects them (`x`, and the
/// related thing present), `column` is what the comparison looks at, and `extra` narrows
/// only value comparisons (a NaN metric has a key but no comparable value).
fn exists_condition(b: &mut SqlBuilder, base: &str, column: &str, extra: &str, c: &Comparison) -> String {
    let per_row = b.per_row;
    match c.op {
        Op::IsNull => format!("NOT EXISTS ({base}{per_row})"),
        Op::IsNotNull => format!("EXISTS ({base}{per_row})"),
        _ => {
            let predicate = string_predicate(b, column, c.op, &c.value);
            format!("EXISTS ({base}{extra} AND {predicate}{per_row})")
        }
    }
}

fn compile_comparison(b: &mut SqlBuilder, subject: Subject, c: &Comparison) -> String {
    let owner = match subject {
        Subject::Runs => format!("x.run_uuid = {}", b.run_id),
        _ => subject.owner_match().to_string(),
    };
    let keyed = |b: &mut SqlBuilder, table: &str, key: &str, extra: &str, c: &Comparison| -> String {
        let key = b.bind(Bind::Text(key.to_string()));
        let base = format!("SELECT 1 FROM {table} x WHERE {owner} AND x.key = {key}");
        exists_condition(b, &base, "x.value", extra, c)
    };
    let registry = matches!(subject, Subject::RegisteredModels | Subject::ModelVersions);
    match &c.entity {
        // Logged models keep no metrics here, so a metric condition matches none; the
        // registry keeps neither metrics nor params.
        Entity::Metric(_) if subject == Subject::LoggedModels || registry => "1 = 0".into(),
        Entity::Param(_) if registry => "1 = 0".into(),
        // In the registry a missing tag differs from any value: the MLflow client asks for
        // ``tags.`mlflow.prompt.is_prompt` != 'true'`` and means every model that is no prompt.
        Entity::Tag(key) if registry && c.op == Op::Ne => {
            if let Value::Text(value) = &c.value {
                let table = subject.tag_table();
                let key = b.bind(Bind::Text(key.clone()));
                let value = b.bind(Bind::Text(value.clone()));
                format!("NOT EXISTS (SELECT 1 FROM {table} x WHERE {owner} AND x.key = {key} AND x.value = {value})")
            } else {
                keyed(b, subject.tag_table(), key, "", c)
            }
        }
        Entity::Metric(key) => keyed(b, "latest_metrics", key, " AND x.is_nan = 0", c),
        Entity::Param(key) => keyed(b, subject.param_table(), key, "", c),
        Entity::Tag(key) => keyed(b, subject.tag_table(), key, "", c),
        Entity::Attribute(attribute) => {
            let col = column(subject, *attribute);
            match c.op {
                Op::IsNull => format!("{col} IS NULL"),
                Op::IsNotNull => format!("{col} IS NOT NULL"),
                _ => string_predicate(b, col, c.op, &c.value),
            }
        }
        Entity::Dataset(key) if subject == Subject::Runs => {
            let column = match key.as_str() {
                "name" => "d.name",
                "digest" => "d.digest",
                _ => "x.context",
            };
            let base = format!(
                "SELECT 1 FROM run_dataset_inputs x JOIN datasets d ON d.dataset_uuid = x.dataset_uuid \
                 WHERE {owner} AND {column} IS NOT NULL"
            );
            exists_condition(b, &base, column, "", c)
        }
        // Experiments and logged models have no dataset inputs: only "has none" is true.
        Entity::Dataset(_) => {
            if c.op == Op::IsNull {
                "1 = 1".into()
            } else {
                "1 = 0".into()
            }
        }
    }
}

/// LEFT JOINs and ORDER BY terms for run ordering. Runs lacking the key (or with a NaN
/// metric) sort last in both directions; ties break on start_time DESC, run_id ASC.
pub fn compile_run_order(b: &mut SqlBuilder, order_by: &[OrderBy]) -> (String, String) {
    let mut joins = String::new();
    let mut terms = Vec::new();
    for (i, clause) in order_by.iter().enumerate() {
        let dir = if clause.ascending { "ASC" } else { "DESC" };
        let joined = |b: &mut SqlBuilder, joins: &mut String, table: &str, key: &str| {
            let key = b.bind(Bind::Text(key.to_string()));
            joins.push_str(&format!(
                " LEFT JOIN {table} o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = {key}"
            ));
        };
        match &clause.entity {
            Entity::Metric(key) => {
                joined(b, &mut joins, "latest_metrics", key);
                terms.push(format!(
                    "CASE WHEN o{i}.run_uuid IS NULL OR o{i}.is_nan = 1 THEN 1 ELSE 0 END"
                ));
                terms.push(format!("o{i}.value {dir}"));
            }
            Entity::Param(key) | Entity::Tag(key) => {
                let table = if matches!(clause.entity, Entity::Param(_)) {
                    "params"
                } else {
                    "tags"
                };
                joined(b, &mut joins, table, key);
                terms.push(format!("CASE WHEN o{i}.run_uuid IS NULL THEN 1 ELSE 0 END"));
                terms.push(format!("o{i}.value {dir}"));
            }
            Entity::Attribute(attribute) => {
                let col = column(Subject::Runs, *attribute);
                terms.push(format!("CASE WHEN {col} IS NULL THEN 1 ELSE 0 END"));
                terms.push(format!("{col} {dir}"));
            }
            Entity::Dataset(_) => {}
        }
    }
    terms.push("r.start_time DESC".into());
    terms.push("r.run_uuid ASC".into());
    (joins, terms.join(", "))
}

/// ORDER BY terms for experiments; default newest first, ties by id.
pub fn compile_experiment_order(order_by: &[OrderBy]) -> String {
    let mut terms = Vec::new();
    for clause in order_by {
        if let Entity::Attribute(attribute) = clause.entity {
            let dir = if clause.ascending { "ASC" } else { "DESC" };
            terms.push(format!("{} {dir}", column(Subject::Experiments, attribute)));
        }
    }
    if terms.is_empty() {
        terms.push("e.creation_time DESC".into());
    }
    terms.push("e.experiment_id ASC".into());
    terms.join(", ")
}

/// ORDER BY terms for a registry search: attributes only (the grammar allows no others
/// there), then the subject's natural order as the tie-break.
pub fn compile_registry_order(subject: Subject, order_by: &[OrderBy]) -> String {
    let mut terms: Vec<String> = order_by
        .iter()
        .filter_map(|clause| match clause.entity {
            Entity::Attribute(attribute) => {
                let dir = if clause.ascending { "ASC" } else { "DESC" };
                Some(format!("{} {dir}", column(subject, attribute)))
            }
            _ => None,
        })
        .collect();
    terms.push(match subject {
        Subject::ModelVersions => "v.name ASC, v.version DESC".to_string(),
        _ => "rm.name ASC".to_string(),
    });
    terms.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse_filter;

    #[test]
    fn values_are_bound_never_spliced() {
        let filter = parse_filter("params.x = 'a''; DROP TABLE runs; --' OR metrics.m > 1")
            .unwrap()
            .unwrap();
        let mut b = SqlBuilder::new(3);
        let sql = compile_filter(&mut b, Subject::Runs, &filter);
        assert!(!sql.contains("DROP"), "{sql}");
        assert!(sql.contains("$3") && sql.contains("$6"), "{sql}");
        assert_eq!(b.binds.len(), 4);
        assert_eq!(b.binds[1], Bind::Text("a'; DROP TABLE runs; --".into()));
        assert_eq!(b.next_placeholder(), 7);
    }
}
