-- Deployments (PostgreSQL): which registered model version each served name runs. Every
-- replica loads what this table says, at start and when it changes.
CREATE TABLE deployments (
    name             TEXT    PRIMARY KEY,
    model_name       TEXT    NOT NULL,
    version          BIGINT  NOT NULL,
    -- '' for a pinned version, 'stage:Production' or 'alias:champion' to follow one.
    follows          TEXT    NOT NULL DEFAULT '',
    -- The version served before the last change, for rollback.
    previous_version BIGINT,
    deployed_by      TEXT    NOT NULL,
    deployed_at      BIGINT  NOT NULL
);
