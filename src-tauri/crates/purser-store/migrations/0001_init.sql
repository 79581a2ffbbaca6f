-- Purser's durable state, version 1.
--
-- Conventions: money is INTEGER micro-units (never REAL); instants are INTEGER unix
-- microseconds UTC; enumerations are lowercase snake_case TEXT checked here; JSON is TEXT.

CREATE TABLE agents (
    name        TEXT PRIMARY KEY NOT NULL,
    profile     TEXT,
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    status      TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'revoked')),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE policy_versions (
    version     INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1),
    text        TEXT NOT NULL,
    applied_at  INTEGER NOT NULL,
    applied_by  TEXT NOT NULL
) STRICT;

CREATE TABLE authorizations (
    id               TEXT PRIMARY KEY NOT NULL,
    agent            TEXT NOT NULL REFERENCES agents (name),
    request_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('payment', 'usage')),
    -- SHA-256 of the canonical request: an idempotent replay must match it exactly.
    params_hash      BLOB NOT NULL CHECK (length(params_hash) = 32),
    request          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                         ('approved', 'denied', 'pending', 'expired', 'cancelled', 'captured', 'voided')),
    reason_code      TEXT NOT NULL,
    reasons          TEXT NOT NULL,
    decided_by       TEXT CHECK (decided_by IN ('policy', 'principal', 'kill_switch', 'timeout')),
    amount_micros    INTEGER NOT NULL CHECK (amount_micros > 0),
    captured_micros  INTEGER CHECK (captured_micros >= 0 AND captured_micros <= amount_micros),
    currency         TEXT NOT NULL,
    merchant         TEXT NOT NULL,
    session_id       TEXT,
    capture          TEXT NOT NULL CHECK (capture IN ('auto', 'manual')),
    policy_version   INTEGER NOT NULL,
    expires_at       INTEGER,
    created_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    grant_id         TEXT,
    UNIQUE (agent, request_id)
) STRICT;

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
    at                INTEGER NOT NULL,
    spent_micros      INTEGER NOT NULL CHECK (spent_micros >= 0),
    held_micros       INTEGER NOT NULL CHECK (held_micros >= 0)
) STRICT, WITHOUT ROWID;

CREATE INDEX ledger_session ON ledger (agent, session_key, currency);
CREATE INDEX ledger_at ON ledger (at);

-- The ledger summed per agent, currency and 15-minute bucket of the approval instant,
-- kept in step with it by every transaction: opening the store reads these few rows
-- instead of every ledger row.
CREATE TABLE ledger_buckets (
    agent         TEXT NOT NULL,
    currency      TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    -- No CHECK (>= 0) here: a release is added as a negative change to its bucket.
    spent_micros  INTEGER NOT NULL,
    held_micros   INTEGER NOT NULL,
    PRIMARY KEY (agent, currency, bucket)
) STRICT, WITHOUT ROWID;

-- Standing approvals granted by the principal (`approve --for/--session/--always`).
CREATE TABLE grants (
    id                TEXT PRIMARY KEY NOT NULL,
    agent             TEXT NOT NULL REFERENCES agents (name),
    merchant          TEXT NOT NULL,
    currency          TEXT NOT NULL,
    max_micros        INTEGER NOT NULL CHECK (max_micros > 0),
    scope             TEXT NOT NULL CHECK (scope IN ('until', 'session', 'always')),
    until_at          INTEGER,
    session_id        TEXT,
    authorization_id  TEXT NOT NULL REFERENCES authorizations (id),
    created_at        INTEGER NOT NULL,
    revoked_at        INTEGER
) STRICT;

CREATE TABLE kill_switch (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    engaged     INTEGER NOT NULL CHECK (engaged IN (0, 1)),
    reason      TEXT,
    changed_at  INTEGER
) STRICT;

INSERT INTO kill_switch (id, engaged, reason, changed_at) VALUES (1, 0, NULL, NULL);

-- The append-only, hash-chained audit trail. hash = SHA-256 over prev_hash, seq, at,
-- kind, agent, authorization_id and body (see audit.rs for the exact encoding).
CREATE TABLE audit (
    seq               INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    at                INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    agent             TEXT,
    authorization_id  TEXT,
    body              TEXT NOT NULL,
    prev_hash         TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash              TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;

CREATE INDEX audit_agent ON audit (agent, seq);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
