-- Purser's durable state on PostgreSQL (team mode), version 1: the same tables as the
-- SQLite schema (migrations/0001_init.sql), in PostgreSQL's types.
--
-- Conventions: money is BIGINT micro-units (never floating point); instants are BIGINT
-- unix microseconds UTC; enumerations are lowercase snake_case TEXT checked here; JSON is
-- TEXT (the audit hash covers the exact text, which jsonb would normalize); every
-- integer is BIGINT, so one Rust type (i64) reads every backend.

CREATE TABLE agents (
    name        TEXT PRIMARY KEY NOT NULL,
    profile     TEXT,
    token_hash  BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    status      TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'revoked')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    version     BIGINT PRIMARY KEY NOT NULL CHECK (version >= 1),
    text        TEXT NOT NULL,
    applied_at  BIGINT NOT NULL,
    applied_by  TEXT NOT NULL
);

CREATE TABLE authorizations (
    id               TEXT PRIMARY KEY NOT NULL,
    agent            TEXT NOT NULL REFERENCES agents (name),
    request_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('payment', 'usage')),
    -- SHA-256 of the canonical request: an idempotent replay must match it exactly.
    params_hash      BYTEA NOT NULL CHECK (length(params_hash) = 32),
    request          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                         ('approved', 'denied', 'pending', 'expired', 'cancelled', 'captured', 'voided')),
    reason_code      TEXT NOT NULL,
    reasons          TEXT NOT NULL,
    decided_by       TEXT CHECK (decided_by IN ('policy', 'principal', 'kill_switch', 'timeout')),
    amount_micros    BIGINT NOT NULL CHECK (amount_micros > 0),
    captured_micros  BIGINT CHECK (captured_micros >= 0 AND captured_micros <= amount_micros),
    currency         TEXT NOT NULL,
    merchant         TEXT NOT NULL,
    session_id       TEXT,
    capture          TEXT NOT NULL CHECK (capture IN ('auto', 'manual')),
    policy_version   BIGINT NOT NULL,
    expires_at       BIGINT,
    created_at       BIGINT NOT NULL,
    decided_at       BIGINT,
    grant_id         TEXT,
    UNIQUE (agent, request_id)
);

-- What can still change by itself: pending approvals and manual holds, by deadline.
CREATE INDEX authorizations_open ON authorizations (expires_at)
    WHERE status IN ('pending', 'approved') AND expires_at IS NOT NULL;

-- The principal's inbox, oldest first.
CREATE INDEX authorizations_pending ON authorizations (created_at) WHERE status = 'pending';

-- Money committed against budgets: one row per approved authorization, at the instant it
-- was approved. Capture moves held to spent; void and lapse release held to zero.
CREATE TABLE ledger (
    authorization_id  TEXT PRIMARY KEY NOT NULL REFERENCES authorizations (id),
    agent             TEXT NOT NULL,
    -- The request's session_id, or '' for the agent's requests without one.
    session_key       TEXT NOT NULL,
    currency          TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('payment', 'usage')),
    at                BIGINT NOT NULL,
    spent_micros      BIGINT NOT NULL CHECK (spent_micros >= 0),
    held_micros       BIGINT NOT NULL CHECK (held_micros >= 0)
);

CREATE INDEX ledger_session ON ledger (agent, session_key, currency);
CREATE INDEX ledger_at ON ledger (at);

-- The ledger summed per agent, currency and 15-minute bucket of the approval instant,
-- kept in step with it by every transaction: a daemon loads these few rows instead of
-- every ledger row.
CREATE TABLE ledger_buckets (
    agent         TEXT NOT NULL,
    currency      TEXT NOT NULL,
    bucket        BIGINT NOT NULL,
    -- No CHECK (>= 0) here: a release is added as a negative change to its bucket.
    spent_micros  BIGINT NOT NULL,
    held_micros   BIGINT NOT NULL,
    PRIMARY KEY (agent, currency, bucket)
);

-- Standing approvals granted by the principal (`approve --for/--session/--always`).
CREATE TABLE grants (
    id                TEXT PRIMARY KEY NOT NULL,
    agent             TEXT NOT NULL REFERENCES agents (name),
    merchant          TEXT NOT NULL,
    currency          TEXT NOT NULL,
    max_micros        BIGINT NOT NULL CHECK (max_micros > 0),
    scope             TEXT NOT NULL CHECK (scope IN ('until', 'session', 'always')),
    until_at          BIGINT,
    session_id        TEXT,
    authorization_id  TEXT NOT NULL REFERENCES authorizations (id),
    created_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);

CREATE TABLE kill_switch (
    id          BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    engaged     BIGINT NOT NULL CHECK (engaged IN (0, 1)),
    reason      TEXT,
    changed_at  BIGINT
);

INSERT INTO kill_switch (id, engaged, reason, changed_at) VALUES (1, 0, NULL, NULL);

-- The append-only, hash-chained audit trail, one chain for every daemon of the team
-- (they append under one lock, see src/postgres/mod.rs). hash = SHA-256 over prev_hash,
-- seq, at, kind, agent, authorization_id and body (see audit.rs for the exact encoding).
CREATE TABLE audit (
    seq               BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    at                BIGINT NOT NULL,
    kind              TEXT NOT NULL,
    agent             TEXT,
    authorization_id  TEXT,
    body              TEXT NOT NULL,
    prev_hash         TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash              TEXT NOT NULL CHECK (length(hash) = 64)
);

CREATE INDEX audit_agent ON audit (agent, seq);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
