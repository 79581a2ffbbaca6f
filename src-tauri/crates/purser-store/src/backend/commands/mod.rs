//! The writer's commands: one variant per mutation (and per read that needs the
//! writer's in-memory ledger), each carrying the oneshot its caller waits on.
//!
//! [`Command::execute`] runs one command inside the writer's open transaction against
//! the batch's [`Scratch`]; the answer is held back until the batch commits. Every
//! command follows one discipline: a refusal ([`Failure::Rejected`]) leaves behind only
//! writes the command means to keep (e.g. an approval that came too late is first marked
//! expired); any database error is [`Failure::Fatal`] and fails the whole batch.

mod admin;
mod requests;

use std::collections::HashMap;

use purser_core::{
    AgentName, Amount, BudgetLine, CaptureMode, Clock, Policy, ProfileName, RequestId, SessionId,
    Timestamp,
};
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use super::{Conn, Db};
use tokio::sync::oneshot;

use super::audit::{self, NewAuditRow};
use super::bulk::{self, AuthorizationRow, LedgerRow, PendingWrites};
use super::rows::{AUTHORIZATION_COLUMNS, authorization_from_row, to_micros};
use super::session_totals::{self, PerCurrency, SessionKey, session_column};
use super::state::{Scratch, State};
use crate::StoreError;
use crate::canonical::PreparedRequest;
use crate::ledger_index::{LedgerDelta, Sums, bucket_of};
use crate::records::{
    AgentRecord, AgentStatus, AgentStatusChange, AuditKind, Authorization, GrantChoice,
    KillSwitchState, StoreStatus, UsageTotals,
};

/// Where a command's answer goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

#[derive(Debug)]
pub(crate) enum Command {
    Authorize {
        request: PreparedRequest,
        reply: Reply<Authorization>,
    },
    RecordUsage {
        request: PreparedRequest,
        reply: Reply<(Authorization, UsageTotals)>,
    },
    Approve {
        id: String,
        choice: GrantChoice,
        reply: Reply<Authorization>,
    },
    Deny {
        id: String,
        reason: Option<String>,
        reply: Reply<Authorization>,
    },
    Capture {
        agent: AgentName,
        id: String,
        amount: Option<Amount>,
        reply: Reply<Authorization>,
    },
    Void {
        agent: AgentName,
        id: String,
        reply: Reply<Authorization>,
    },
    ExpireDue {
        reply: Reply<Vec<Authorization>>,
    },
    EngageKillSwitch {
        reason: Option<String>,
        reply: Reply<Vec<Authorization>>,
    },
    Resume {
        reply: Reply<KillSwitchState>,
    },
    AddAgent {
        name: AgentName,
        profile: Option<ProfileName>,
        token_hash: [u8; 32],
        reply: Reply<AgentRecord>,
    },
    SetAgentStatus {
        name: AgentName,
        status: AgentStatus,
        reply: Reply<AgentStatusChange>,
    },
    SetAgentProfile {
        name: AgentName,
        profile: Option<ProfileName>,
        reply: Reply<AgentRecord>,
    },
    ApplyPolicy {
        text: String,
        policy: Box<Policy>,
        applied_by: String,
        reply: Reply<u32>,
    },
    Budget {
        agent: AgentName,
        session: Option<SessionId>,
        reply: Reply<Vec<BudgetLine>>,
    },
    Status {
        reply: Reply<StoreStatus>,
    },
    /// Nothing of its own: the batch it runs in brings the writer's state up to date
    /// with what other daemons committed (team mode) and publishes it.
    #[allow(
        dead_code,
        reason = "team mode only: nobody else commits to a SQLite file"
    )]
    Refresh {
        reply: Reply<()>,
    },
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command is refused; the batch goes on.
    Rejected(StoreError),
    /// The database failed: the whole batch rolls back.
    Fatal(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Failure {
        Failure::Fatal(error.into())
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::Fatal(error)
    }
}

pub(crate) fn reject<T>(error: StoreError) -> Result<T, Failure> {
    Err(Failure::Rejected(error))
}

/// A computed answer, sent once the batch's fate is known: as computed after COMMIT,
/// or replaced by the batch's error after a rollback.
pub(crate) struct Answer(Box<dyn FnOnce(Option<StoreError>) + Send>);

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answer")
    }
}

impl Answer {
    fn new<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
        Answer(Box::new(move |failure| {
            // A caller that stopped waiting is no error of the store's.
            let _ = reply.send(match failure {
                Some(error) => Err(error),
                None => result,
            });
        }))
    }

    /// Delivers the answer; `Some(error)` when the batch did not commit.
    pub(crate) fn send(self, batch_failure: Option<StoreError>) {
        (self.0)(batch_failure)
    }
}

/// What running one command produced: its answer, and the error that must fail the
/// batch if there was one.
pub(crate) type Step = (Answer, Option<StoreError>);

fn settle<T: Send + 'static>(reply: Reply<T>, result: Result<T, Failure>) -> Step {
    match result {
        Ok(value) => (Answer::new(reply, Ok(value)), None),
        Err(Failure::Rejected(error)) => (Answer::new(reply, Err(error)), None),
        Err(Failure::Fatal(error)) => {
            let unavailable = StoreError::Unavailable(error.to_string());
            (Answer::new(reply, Err(unavailable)), Some(error))
        }
    }
}

fn refuse<T>(reply: Reply<T>, error: StoreError) {
    let _ = reply.send(Err(error));
}

impl Command {
    /// Must this command be the last of its batch? (A policy change may need the
    /// velocity index reloaded before anything is decided under it.)
    pub(crate) fn closes_batch(&self) -> bool {
        matches!(self, Command::ApplyPolicy { .. })
    }

    /// The idempotency key of a request command.
    fn request_key(&self) -> Option<(&AgentName, &RequestId)> {
        match self {
            Command::Authorize { request, .. } | Command::RecordUsage { request, .. } => {
                Some((&request.request.agent, &request.request.request_id))
            }
            _ => None,
        }
    }

    pub(crate) async fn execute(self, batch: &mut Batch<'_>) -> Step {
        match self {
            Command::Authorize { request, reply } => settle(reply, batch.authorize(request).await),
            Command::RecordUsage { request, reply } => {
                settle(reply, batch.record_usage(request).await)
            }
            Command::Approve { id, choice, reply } => {
                settle(reply, batch.approve(&id, choice).await)
            }
            Command::Deny { id, reason, reply } => settle(reply, batch.deny(&id, reason).await),
            Command::Capture {
                agent,
                id,
                amount,
                reply,
            } => settle(reply, batch.capture(&agent, &id, amount).await),
            Command::Void { agent, id, reply } => settle(reply, batch.void(&agent, &id).await),
            Command::ExpireDue { reply } => settle(reply, batch.expire_due().await),
            Command::EngageKillSwitch { reason, reply } => {
                settle(reply, batch.engage_kill_switch(reason).await)
            }
            Command::Resume { reply } => settle(reply, batch.resume().await),
            Command::AddAgent {
                name,
                profile,
                token_hash,
                reply,
            } => settle(reply, batch.add_agent(name, profile, token_hash).await),
            Command::SetAgentStatus {
                name,
                status,
                reply,
            } => settle(reply, batch.set_agent_status(&name, status).await),
            Command::SetAgentProfile {
                name,
                profile,
                reply,
            } => settle(reply, batch.set_agent_profile(&name, profile).await),
            Command::ApplyPolicy {
                text,
                policy,
                applied_by,
                reply,
            } => settle(reply, batch.apply_policy(text, *policy, applied_by).await),
            Command::Budget {
                agent,
                session,
                reply,
            } => settle(reply, batch.budget(&agent, session).await),
            Command::Status { reply } => settle(reply, batch.status().await),
            Command::Refresh { reply } => settle(reply, Ok(())),
        }
    }

    /// Answers `error` without running the command.
    pub(crate) fn fail(self, error: StoreError) {
        match self {
            Command::Authorize { reply, .. }
            | Command::Approve { reply, .. }
            | Command::Deny { reply, .. }
            | Command::Capture { reply, .. }
            | Command::Void { reply, .. } => refuse(reply, error),
            Command::RecordUsage { reply, .. } => refuse(reply, error),
            Command::ExpireDue { reply } | Command::EngageKillSwitch { reply, .. } => {
                refuse(reply, error)
            }
            Command::Resume { reply } => refuse(reply, error),
            Command::AddAgent { reply, .. } | Command::SetAgentProfile { reply, .. } => {
                refuse(reply, error)
            }
            Command::SetAgentStatus { reply, .. } => refuse(reply, error),
            Command::ApplyPolicy { reply, .. } => refuse(reply, error),
            Command::Budget { reply, .. } => refuse(reply, error),
            Command::Status { reply } => refuse(reply, error),
            Command::Refresh { reply } => refuse(reply, error),
        }
    }
}

/// An earlier authorization with the same `(agent, request_id)`: its fingerprint and
/// record.
pub(crate) type Replay = ([u8; 32], Authorization);

/// One batch in progress: the writer's connection inside an open transaction, the
/// committed state, the batch's scratch and its buffered INSERTs.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    conn: &'a mut Conn,
    state: &'a mut State,
    pub scratch: Scratch,
    clock: &'a dyn Clock,
    writes: PendingWrites,
    /// Earlier authorizations for the keys of this batch's requests.
    replays: HashMap<(AgentName, RequestId), Replay>,
    /// `replays` answers for every key of the batch: nothing has changed a stored
    /// authorization since it was filled. Otherwise replays are looked up in SQL.
    replays_complete: bool,
    /// Keys that more than one request of this batch carries: only their new records
    /// need remembering for a replay within the batch.
    repeated_keys: Vec<(AgentName, RequestId)>,
}

/// Keys looked up per prefetch query at most.
const PREFETCH_CHUNK: usize = 128;

impl<'a> Batch<'a> {
    pub(crate) fn new(conn: &'a mut Conn, state: &'a mut State, clock: &'a dyn Clock) -> Batch<'a> {
        let scratch = Scratch::new(state);
        Batch {
            conn,
            state,
            scratch,
            clock,
            writes: PendingWrites::default(),
            replays: HashMap::new(),
            replays_complete: false,
            repeated_keys: Vec::new(),
        }
    }

    /// Looks up, in one query per chunk, every earlier authorization with the key of
    /// one of `commands`' requests, so that new requests need no query of their own.
    pub(crate) async fn prefetch_replays(
        &mut self,
        commands: &[Command],
    ) -> Result<(), StoreError> {
        let keys: Vec<(&AgentName, &RequestId)> =
            commands.iter().filter_map(Command::request_key).collect();
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        for key in &keys {
            if !seen.insert(*key) {
                self.repeated_keys.push((key.0.clone(), key.1.clone()));
            }
        }
        for chunk in keys.chunks(PREFETCH_CHUNK) {
            // Padded to a power of two (repeating a key) so few statement shapes exist.
            let padded = chunk.len().next_power_of_two();
            let mut query = QueryBuilder::<Db>::new(format!(
                "SELECT {AUTHORIZATION_COLUMNS}, params_hash FROM authorizations WHERE (agent, request_id) IN ("
            ));
            query.push_values(
                chunk.iter().cycle().take(padded),
                |mut row, (agent, request_id)| {
                    row.push_bind(agent.as_str()).push_bind(request_id.as_str());
                },
            );
            query.push(")");
            for row in query.build().fetch_all(&mut *self.conn).await? {
                let record = authorization_from_row(&row)?;
                let hash: Vec<u8> = row.try_get(11)?;
                let hash: [u8; 32] = hash.try_into().map_err(|_| {
                    StoreError::Corrupt(format!("params_hash of {} is not 32 bytes", record.id))
                })?;
                self.replays.insert(
                    (record.agent.clone(), record.request_id.clone()),
                    (hash, record),
                );
            }
        }
        self.replays_complete = true;
        Ok(())
    }

    /// Loads, in one query per chunk, the session totals of every new request of
    /// `commands` that neither the state's cache nor this batch holds yet, before the
    /// batch writes anything (so they include none of its deltas). After a catch-up
    /// (team mode) the cache is empty: this spares each decision a query of its own,
    /// and the buffered INSERTs a flush before it.
    pub(crate) async fn prefetch_sessions(
        &mut self,
        commands: &[Command],
    ) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::new();
        let mut keys: Vec<SessionKey> = Vec::new();
        for command in commands {
            let (Command::Authorize { request, .. } | Command::RecordUsage { request, .. }) =
                command
            else {
                continue;
            };
            let key: SessionKey = (
                request.request.agent.clone(),
                request.request.session_id.clone(),
            );
            if self.scratch.sessions_loaded.contains_key(&key)
                || self.state.sessions.get(&key).is_some()
                || !seen.insert(key.clone())
            {
                continue;
            }
            keys.push(key);
        }
        for chunk in keys.chunks(PREFETCH_CHUNK) {
            let mut loaded: HashMap<SessionKey, PerCurrency> = chunk
                .iter()
                .map(|key| (key.clone(), PerCurrency::new()))
                .collect();
            let padded = chunk.len().next_power_of_two();
            let mut query = QueryBuilder::<Db>::new(
                "SELECT agent, session_key, currency, CAST(SUM(spent_micros) AS BIGINT), \
                 CAST(SUM(held_micros) AS BIGINT) FROM ledger WHERE (agent, session_key) IN (",
            );
            query.push_values(
                chunk.iter().cycle().take(padded),
                |mut row, (agent, session)| {
                    row.push_bind(agent.as_str())
                        .push_bind(session_column(session.as_ref()));
                },
            );
            query.push(") GROUP BY agent, session_key, currency");
            for row in query.build().fetch_all(&mut *self.conn).await? {
                let agent: String = row.try_get(0)?;
                let session: String = row.try_get(1)?;
                let currency: String = row.try_get(2)?;
                let agent = agent
                    .parse::<AgentName>()
                    .map_err(|e| StoreError::Corrupt(format!("ledger agent: {e}")))?;
                let session = (!session.is_empty())
                    .then(|| session.parse::<SessionId>())
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("ledger session: {e}")))?;
                let currency = currency
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("ledger currency: {e}")))?;
                if let Some(totals) = loaded.get_mut(&(agent, session)) {
                    totals.insert(
                        currency,
                        Sums {
                            spent: row.try_get(3)?,
                            held: row.try_get(4)?,
                        },
                    );
                }
            }
            let included = self.scratch.deltas.len();
            for (key, totals) in loaded {
                self.scratch.sessions_loaded.insert(key, (totals, included));
            }
        }
        Ok(())
    }

    /// Writes the buffered rows (before any other statement, and before COMMIT).
    pub(crate) async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.writes.is_empty() {
            return Ok(());
        }
        self.writes.flush(self.conn).await
    }

    /// Writes what is still buffered and the batch's ledger changes to the bucket
    /// summary: the last step before COMMIT.
    pub(crate) async fn finish(&mut self) -> Result<(), sqlx::Error> {
        self.flush().await?;
        let mut totals: std::collections::BTreeMap<(&str, &str, i64), Sums> =
            std::collections::BTreeMap::new();
        for delta in &self.scratch.deltas {
            let key = (
                delta.agent.as_str(),
                delta.currency.as_str(),
                bucket_of(delta.at_micros),
            );
            totals.entry(key).or_default().add(delta.change);
        }
        let totals: Vec<(String, String, i64, Sums)> = totals
            .into_iter()
            .filter(|(_, change)| *change != Sums::default())
            .map(|((agent, currency, bucket), change)| {
                (agent.to_owned(), currency.to_owned(), bucket, change)
            })
            .collect();
        bulk::add_to_buckets(self.conn, &totals).await
    }

    /// The connection for a statement of its own, after the buffered rows.
    async fn sql(&mut self) -> Result<&mut Conn, Failure> {
        self.flush().await?;
        Ok(&mut *self.conn)
    }

    pub(crate) fn into_scratch(self) -> Scratch {
        self.scratch
    }
}

pub(crate) fn capture_str(capture: CaptureMode) -> &'static str {
    match capture {
        CaptureMode::Auto => "auto",
        CaptureMode::Manual => "manual",
    }
}

fn kind_str(authorization: &Authorization) -> &'static str {
    match authorization.kind {
        purser_core::RequestKind::Payment => "payment",
        purser_core::RequestKind::Usage { .. } => "usage",
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value)
        .map_err(|e| Failure::Fatal(StoreError::Corrupt(format!("cannot encode a record: {e}"))))
}

fn encode_text<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map_err(|e| Failure::Fatal(StoreError::Corrupt(format!("cannot encode a record: {e}"))))
}

impl Batch<'_> {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn find(&mut self, id: &str) -> Result<Option<Authorization>, Failure> {
        let row = sqlx::query(&format!(
            "SELECT {AUTHORIZATION_COLUMNS} FROM authorizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.sql().await?)
        .await?;
        Ok(row.as_ref().map(authorization_from_row).transpose()?)
    }

    /// The authorization `id`, if it exists and (when `agent` is given) is that agent's.
    async fn find_required(
        &mut self,
        id: &str,
        agent: Option<&AgentName>,
    ) -> Result<Authorization, Failure> {
        match self.find(id).await? {
            Some(found) if agent.is_none_or(|a| a == &found.agent) => Ok(found),
            _ => reject(StoreError::NotFound(format!("authorization {id}"))),
        }
    }

    /// Buffers a new authorization row and remembers it for replays in this batch.
    fn insert_authorization(
        &mut self,
        record: &Authorization,
        request: &PreparedRequest,
    ) -> Result<(), Failure> {
        self.writes.authorizations.push(AuthorizationRow {
            id: record.id.clone(),
            agent: record.agent.as_str().to_owned(),
            request_id: record.request_id.as_str().to_owned(),
            kind: kind_str(record),
            params_hash: request.params_hash,
            request: request.json.clone(),
            status: record.status.as_str(),
            reason_code: record.reason().map_or("", |r| r.code.as_str()),
            reasons: encode_text(&record.reasons)?,
            decided_by: record.decided_by.map(|d| d.as_str()),
            amount_micros: record.amount.micros(),
            currency: record.currency.as_str().to_owned(),
            merchant: record.merchant.as_str().to_owned(),
            session_id: record.session_id.as_ref().map(|s| s.as_str().to_owned()),
            capture: capture_str(record.capture),
            policy_version: i64::from(record.policy_version),
            expires_at: record.expires_at.map(to_micros),
            created_at: to_micros(record.created_at),
            decided_at: record.decided_at.map(to_micros),
            grant_id: record.grant_id.clone(),
        });
        let key = (record.agent.clone(), record.request_id.clone());
        if self.repeated_keys.contains(&key) {
            self.replays
                .insert(key, (request.params_hash, record.clone()));
        }
        Ok(())
    }

    /// Writes the decision fields of `record` back to its row.
    async fn update_authorization(&mut self, record: &Authorization) -> Result<(), Failure> {
        self.replays_complete = false;
        let reasons = encode_text(&record.reasons)?;
        sqlx::query(
            "UPDATE authorizations SET status = $2, reason_code = $3, reasons = $4, decided_by = $5, \
             captured_micros = $6, policy_version = $7, expires_at = $8, decided_at = $9, grant_id = $10 \
             WHERE id = $1",
        )
        .bind(&record.id)
        .bind(record.status.as_str())
        .bind(record.reason().map_or("", |r| r.code.as_str()))
        .bind(reasons)
        .bind(record.decided_by.map(|d| d.as_str()))
        .bind(record.captured_amount.map(Amount::micros))
        .bind(i64::from(record.policy_version))
        .bind(record.expires_at.map(to_micros))
        .bind(record.decided_at.map(to_micros))
        .bind(record.grant_id.as_deref())
        .execute(self.sql().await?)
        .await?;
        Ok(())
    }

    /// Counts an approval against every budget at `at`: spent for auto capture and
    /// usage, held for a manual hold.
    fn commit_money(&mut self, record: &Authorization, at: Timestamp) {
        let micros = record.amount.micros();
        let change = match record.capture {
            CaptureMode::Manual if !record.is_usage() => Sums {
                spent: 0,
                held: micros,
            },
            _ => Sums {
                spent: micros,
                held: 0,
            },
        };
        self.writes.ledger.push(LedgerRow {
            authorization_id: record.id.clone(),
            agent: record.agent.as_str().to_owned(),
            session_key: session_column(record.session_id.as_ref()).to_owned(),
            currency: record.currency.as_str().to_owned(),
            kind: kind_str(record),
            at: to_micros(at),
            spent_micros: change.spent,
            held_micros: change.held,
        });
        self.scratch.deltas.push(LedgerDelta {
            agent: record.agent.clone(),
            session: record.session_id.clone(),
            currency: record.currency.clone(),
            at_micros: to_micros(at),
            change,
        });
        if !record.is_usage() {
            self.scratch
                .approvals
                .push((record.agent.clone(), to_micros(at)));
        }
    }

    /// Ends a hold: `captured` becomes spent and the rest of what was held is released.
    /// Returns what was released.
    async fn end_hold(
        &mut self,
        record: &Authorization,
        captured: Amount,
    ) -> Result<Amount, Failure> {
        let row = sqlx::query_as::<_, (i64, i64)>(
            "SELECT at, held_micros FROM ledger WHERE authorization_id = $1",
        )
        .bind(&record.id)
        .fetch_optional(self.sql().await?)
        .await?;
        let Some((at_micros, held)) = row else {
            return Err(Failure::Fatal(StoreError::Corrupt(format!(
                "hold {} has no ledger row",
                record.id
            ))));
        };
        if captured.micros() > held {
            return Err(Failure::Fatal(StoreError::Corrupt(format!(
                "hold {} holds {held} micro-units, less than the {} captured",
                record.id,
                captured.micros()
            ))));
        }
        sqlx::query(
            "UPDATE ledger SET spent_micros = spent_micros + $2, held_micros = 0 WHERE authorization_id = $1",
        )
        .bind(&record.id)
        .bind(captured.micros())
        .execute(self.sql().await?)
        .await?;
        self.scratch.deltas.push(LedgerDelta {
            agent: record.agent.clone(),
            session: record.session_id.clone(),
            currency: record.currency.clone(),
            at_micros,
            change: Sums {
                spent: captured.micros(),
                held: -held,
            },
        });
        Ok(Amount::from_micros(held - captured.micros()).unwrap_or(Amount::ZERO))
    }

    fn audit(
        &mut self,
        at: Timestamp,
        kind: AuditKind,
        agent: Option<&str>,
        authorization_id: Option<&str>,
        body: Value,
    ) -> Result<(), Failure> {
        let row = NewAuditRow {
            at,
            kind,
            agent,
            authorization_id,
            body,
        };
        self.writes
            .audit
            .push(audit::chain(&mut self.scratch.gov.audit_head, row));
        Ok(())
    }

    /// Audits an event of one authorization: the record as it now stands, plus `extra`
    /// fields about the event.
    fn audit_authorization(
        &mut self,
        at: Timestamp,
        kind: AuditKind,
        record: &Authorization,
        extra: &[(&str, Value)],
    ) -> Result<(), Failure> {
        let mut body = encode(record)?;
        if let Value::Object(map) = &mut body {
            for (key, value) in extra {
                map.insert((*key).to_owned(), value.clone());
            }
        }
        self.audit(
            at,
            kind,
            Some(record.agent.as_str()),
            Some(&record.id),
            body,
        )
    }

    /// Makes sure [`super::state::View`] can answer for this session: cached, or
    /// loaded now (after the buffered rows, so the load includes them).
    async fn ensure_session(
        &mut self,
        agent: &AgentName,
        session: Option<&SessionId>,
    ) -> Result<(), Failure> {
        let key: SessionKey = (agent.clone(), session.cloned());
        if self.scratch.sessions_loaded.contains_key(&key) || self.state.sessions.touch(&key) {
            return Ok(());
        }
        let totals = session_totals::load_session(self.sql().await?, agent, session).await?;
        self.scratch
            .sessions_loaded
            .insert(key, (totals, self.scratch.deltas.len()));
        Ok(())
    }
}
