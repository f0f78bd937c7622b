//! Input limits shared by the API, the server functions and the forms, so every entry
//! point refuses the same things with the same words. Limits follow MLflow's
//! `mlflow/utils/validation.py`.

pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;
/// MLflow's `runs.user_id` column is a VARCHAR(256).
pub const MAX_USER_ID_LENGTH: usize = 256;
/// Most experiment ids one `runs/search` may name: each is a bound SQL value.
pub const MAX_SEARCH_EXPERIMENT_IDS: usize = 1000;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_DATASETS_PER_BATCH: usize = 1000;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;

/// Checks an experiment name; returns the trimmed name or a message for the user.
pub fn experiment_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("Experiment name must not be empty".to_string());
    }
    if trimmed.chars().count() > MAX_EXPERIMENT_NAME_LENGTH {
        return Err(format!(
            "Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters"
        ));
    }
    Ok(trimmed.to_string())
}

/// Checks a param, tag or metric key.
pub fn entity_key(kind: &str, key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(format!("{kind} key must not be empty"));
    }
    if key.chars().count() > MAX_ENTITY_KEY_LENGTH {
        return Err(format!(
            "{kind} key '{}' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH}",
            key.chars().take(40).collect::<String>()
        ));
    }
    // MLflow keys are path-safe names: letters, digits, `_ - . / space`, and no `..` part.
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':');
    if !key.chars().all(allowed)
        || key.split('/').any(|part| part == ".." || part == ".")
        || key.starts_with('/')
    {
        return Err(format!(
            "Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        ));
    }
    Ok(())
}

/// Checks an experiment tag (key rules as for runs; longer values, as in MLflow).
pub fn experiment_tag(key: &str, value: &str) -> Result<(), String> {
    entity_key("Tag", key)?;
    within(
        &format!("tag '{key}' value"),
        value,
        MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    )
}

/// Checks a run's `user_id`.
pub fn user_id(user_id: &str) -> Result<(), String> {
    within("user_id", user_id, MAX_USER_ID_LENGTH)
}

fn within(field: &str, value: &str, limit: usize) -> Result<(), String> {
    if value.chars().count() > limit {
        return Err(format!(
            "'{field}' exceeds the maximum length of {limit} characters"
        ));
    }
    Ok(())
}

/// Checks the datasets of one `log-inputs` call, with MLflow's limits and words.
pub fn dataset_inputs(inputs: &[crate::tracking::DatasetInput]) -> Result<(), String> {
    if inputs.len() > MAX_DATASETS_PER_BATCH {
        return Err(format!(
            "A batch of datasets may hold at most {MAX_DATASETS_PER_BATCH} entries; got {}",
            inputs.len()
        ));
    }
    for input in inputs {
        let d = &input.dataset;
        if d.name.is_empty() {
            return Err("Dataset name cannot be empty".into());
        }
        if d.digest.is_empty() {
            return Err("Dataset digest cannot be empty".into());
        }
        within("name", &d.name, MAX_DATASET_NAME_LENGTH)?;
        within("digest", &d.digest, MAX_DATASET_DIGEST_LENGTH)?;
        within("source", &d.source, MAX_DATASET_SOURCE_LENGTH)?;
        within(
            "schema",
            d.schema.as_deref().unwrap_or(""),
            MAX_DATASET_SCHEMA_LENGTH,
        )?;
        within(
            "profile",
            d.profile.as_deref().unwrap_or(""),
            MAX_DATASET_PROFILE_LENGTH,
        )?;
        for tag in &input.tags {
            if tag.key.is_empty() {
                return Err("InputTag key cannot be empty".into());
            }
            within("key", &tag.key, MAX_INPUT_TAG_KEY_LENGTH)?;
            within("value", &tag.value, MAX_INPUT_TAG_VALUE_LENGTH)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_names() {
        assert!(experiment_name("   ").is_err());
        assert_eq!(experiment_name(" churn ").as_deref(), Ok("churn"));
        assert!(experiment_name(&"x".repeat(501)).is_err());
    }

    #[test]
    fn keys() {
        assert!(entity_key("Param", "lr").is_ok());
        assert!(entity_key("Param", "a/b.c d").is_ok());
        assert!(entity_key("Param", "").is_err());
        assert!(entity_key("Param", "../x").is_err());
        assert!(entity_key("Param", "a\\b").is_err());
        assert!(entity_key("Param", &"k".repeat(251)).is_err());
    }
}
