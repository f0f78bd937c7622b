//! Input limits shared by the API, the server functions and the forms, so every entry
//! point refuses the same things with the same words. Limits follow MLflow's
//! `mlflow/utils/validation.py`.

pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;

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
