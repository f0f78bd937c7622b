//! The model registry's types: registered models, their versions, stages, aliases and
//! the audit trail. They compile everywhere (the pages use them too).

use serde::{Deserialize, Serialize};

/// MLflow's stages, in the order a version usually moves through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];

    /// MLflow's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Case-insensitive, as MLflow accepts stages.
    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub alias: String,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub description: String,
    pub user_id: String,
    pub current_stage: Stage,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub model_id: String,
    pub status: String,
    pub tags: Vec<Tag>,
    pub aliases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub description: String,
    pub tags: Vec<Tag>,
    pub aliases: Vec<Alias>,
    /// The newest version in each stage that has one (MLflow's `latest_versions`).
    pub latest_versions: Vec<ModelVersion>,
}

/// What a new version is made from.
#[derive(Clone, Debug, Default)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub model_id: String,
    pub description: String,
    pub user_id: String,
    pub tags: Vec<Tag>,
}

/// One line of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub name: String,
    pub version: Option<i64>,
    /// `version_created`, `version_deleted`, `stage_transitioned`, `alias_set`, `alias_deleted`, …
    pub action: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub actor: String,
    pub comment: String,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_case_insensitively() {
        assert_eq!(Stage::parse("production"), Some(Stage::Production));
        assert_eq!(Stage::parse("NONE"), Some(Stage::None));
        assert_eq!(Stage::parse("prod"), None);
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.name()), Some(s));
        }
    }
}
