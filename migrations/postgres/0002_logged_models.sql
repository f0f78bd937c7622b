-- MLflow 3 logged models: what `mlflow.<flavor>.log_model` creates and `models:/m-…` names.
CREATE TABLE logged_models (
    model_id                  TEXT    PRIMARY KEY,
    experiment_id             BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name                      TEXT    NOT NULL,
    artifact_location         TEXT    NOT NULL,
    creation_timestamp_ms     BIGINT  NOT NULL,
    last_updated_timestamp_ms BIGINT  NOT NULL,
    status                    TEXT    NOT NULL,
    lifecycle_stage           TEXT    NOT NULL DEFAULT 'active',
    model_type                TEXT    NOT NULL DEFAULT '',
    source_run_id             TEXT    NOT NULL DEFAULT '',
    status_message            TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_timestamp_ms DESC);
CREATE INDEX logged_models_by_run ON logged_models (source_run_id);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
