-- Registry webhooks (PostgreSQL) and their deliveries. A registry change queues one delivery
-- per subscribed webhook in its own transaction; a worker sends them, so they survive a
-- restart and never hold up the request that caused them.
CREATE TABLE webhooks (
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    url               TEXT    NOT NULL,
    -- Subscribed events, each between spaces (' model_version.created registered_model.created '),
    -- so one LIKE finds a change's subscribers.
    events            TEXT    NOT NULL,
    -- Signs deliveries (HMAC), so it is kept as given; no reply ever carries it.
    secret            TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT 'ACTIVE',
    creation_time     BIGINT  NOT NULL,
    last_updated_time BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT    PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    model_name      TEXT    NOT NULL DEFAULT '',
    -- The JSON body exactly as sent (each try signs it afresh with its own timestamp).
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'PENDING',
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    -- A sender's lease: until then no other sender (replica) takes it.
    claimed_until   BIGINT  NOT NULL DEFAULT 0,
    last_status     BIGINT,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_model ON webhook_deliveries (model_name, created_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id);
