-- Datasets a run read (mlflow.log_input) and the logged models it read or wrote.
-- A dataset is stored once per experiment by (name, digest), as MLflow does.
CREATE TABLE datasets (
    dataset_uuid   TEXT    PRIMARY KEY,
    experiment_id  BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name           TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    source_type    TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    dataset_schema TEXT,
    profile        TEXT,
    UNIQUE (experiment_id, name, digest)
);

-- One row per (run, dataset). The input tags are kept as JSON [[key, value], ...]; the
-- mlflow.data.context tag is also a column so that `datasets.context` searches use it.
CREATE TABLE run_dataset_inputs (
    run_uuid     TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    dataset_uuid TEXT NOT NULL REFERENCES datasets (dataset_uuid),
    context      TEXT,
    tags         TEXT NOT NULL,
    PRIMARY KEY (run_uuid, dataset_uuid)
);
CREATE INDEX run_dataset_inputs_by_dataset ON run_dataset_inputs (dataset_uuid);

-- Logged models a run used (direction 'input') or produced at a step ('output').
CREATE TABLE run_model_links (
    run_uuid  TEXT    NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
    direction TEXT    NOT NULL,
    model_id  TEXT    NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, direction, model_id, step)
);
