//! MLflow's search grammar for runs, parsed into an AST.
//!
//! MLflow's own grammar is a conjunction of comparisons; on top of it we accept `OR`,
//! parentheses and `IS [NOT] NULL` for every entity. The AST compiles to parameterised
//! SQL in [`sql`] (server only): values are always bound, never spliced into SQL.

mod parser;
#[cfg(feature = "ssr")]
pub mod sql;

pub use parser::{
    parse_experiment_filter, parse_experiment_order_by, parse_filter, parse_logged_model_filter,
    parse_model_version_filter, parse_model_version_order_by, parse_order_by, parse_registered_model_filter,
    parse_registered_model_order_by, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS,
};

use serde::{Deserialize, Serialize};

/// Why a filter or order-by was refused, in words for the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

/// The run attributes a filter may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attribute {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
    // Experiment attributes (experiment search only); Name and the times serve logged models too.
    ExperimentId,
    Name,
    CreationTime,
    LastUpdateTime,
    // Logged-model attributes (logged-model search only).
    ModelId,
    SourceRunId,
    ModelStatus,
    ModelType,
    // Registry attributes (registered-model and model-version searches only).
    VersionNumber,
    SourcePath,
    CurrentStage,
}

impl Attribute {
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Attribute::StartTime
                | Attribute::EndTime
                | Attribute::CreationTime
                | Attribute::LastUpdateTime
                | Attribute::VersionNumber
        )
    }

    fn parse_logged_model(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(Attribute::Name),
            "model_id" => Some(Attribute::ModelId),
            "source_run_id" => Some(Attribute::SourceRunId),
            "status" => Some(Attribute::ModelStatus),
            "model_type" => Some(Attribute::ModelType),
            "creation_time" | "creation_timestamp" | "creation_timestamp_ms" => Some(Attribute::CreationTime),
            "last_updated_timestamp" | "last_updated_timestamp_ms" => Some(Attribute::LastUpdateTime),
            _ => None,
        }
    }

    fn parse_registered_model(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(Attribute::Name),
            "creation_timestamp" | "creation_time" => Some(Attribute::CreationTime),
            "last_updated_timestamp" | "last_update_time" => Some(Attribute::LastUpdateTime),
            _ => None,
        }
    }

    fn parse_model_version(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(Attribute::Name),
            "version_number" | "version" => Some(Attribute::VersionNumber),
            "run_id" => Some(Attribute::RunId),
            "source_path" | "source" => Some(Attribute::SourcePath),
            "current_stage" => Some(Attribute::CurrentStage),
            "user_id" => Some(Attribute::UserId),
            "creation_timestamp" | "creation_time" => Some(Attribute::CreationTime),
            "last_updated_timestamp" | "last_update_time" => Some(Attribute::LastUpdateTime),
            _ => None,
        }
    }

    fn parse_experiment(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "name" => Some(Attribute::Name),
            "experiment_id" => Some(Attribute::ExperimentId),
            "creation_time" => Some(Attribute::CreationTime),
            "last_update_time" => Some(Attribute::LastUpdateTime),
            _ => None,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "run_id" | "run_uuid" => Some(Attribute::RunId),
            "run_name" | "run name" => Some(Attribute::RunName),
            "status" => Some(Attribute::Status),
            "user_id" => Some(Attribute::UserId),
            "artifact_uri" => Some(Attribute::ArtifactUri),
            "start_time" | "created" => Some(Attribute::StartTime),
            "end_time" => Some(Attribute::EndTime),
            _ => None,
        }
    }
}

/// What a comparison is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entity {
    /// The latest value of a metric.
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(Attribute),
    /// `datasets.name|digest|context`: the datasets a run logged as inputs.
    Dataset(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    fn is_numeric(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Number(f64),
    Text(String),
    List(Vec<String>),
    /// For `IS NULL` / `IS NOT NULL`.
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub entity: Entity,
    pub op: Op,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    Compare(Comparison),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// One `order_by` clause.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderBy {
    pub entity: Entity,
    pub ascending: bool,
}
