// The JSON shapes the console receives from and sends to the daemon, as described in
// docs/admin-api.md and docs/agent-api.md. Money is always a decimal string (never a
// number), times are RFC 3339 UTC strings. Types only: no behaviour lives here.

/** An exact decimal string such as "12.50". Never converted to a float. */
export type Amount = string;
/** 3–10 uppercase letters/digits: USD, EUR, USDC. */
export type Currency = string;
/** RFC 3339 UTC, e.g. "2026-11-26T10:39:11.123Z". */
export type Timestamp = string;

export type AuthorizationStatus =
  | 'approved'
  | 'denied'
  | 'pending'
  | 'expired'
  | 'cancelled'
  | 'captured'
  | 'voided';

export type DecidedBy = 'policy' | 'principal' | 'kill_switch' | 'timeout';

export interface Reason {
  code: string;
  message: string;
}

/** The agent API decision shape (agent-api.md §1), plus the fields the admin API adds. */
export interface Authorization {
  id: string;
  request_id: string;
  agent: string;
  status: AuthorizationStatus;
  amount: Amount;
  currency: Currency;
  merchant: string;
  reason: Reason | null;
  reasons: Reason[];
  decided_by: DecidedBy | null;
  expires_at: Timestamp | null;
  created_at: Timestamp;
  decided_at: Timestamp | null;
  captured_amount?: Amount | null;
  category?: string | null;
  rail?: string | null;
  capture?: 'auto' | 'manual';
  session_id?: string | null;
}

/** A pending approval as `GET /admin/approvals` lists it. */
export interface PendingApproval extends Authorization {
  purpose: string;
  context?: Record<string, unknown> | null;
}

export interface KillSwitchState {
  engaged: boolean;
  reason: string | null;
  changed_at: Timestamp | null;
}

export interface CurrencySpend {
  currency: Currency;
  spent: Amount;
  held?: Amount;
}

export interface AgentCounts {
  active: number;
  frozen: number;
  revoked: number;
}

export interface Status {
  version: string;
  listen: string | null;
  data_dir: string | null;
  /** The SQLite file, or in team mode the shared PostgreSQL database ("postgres://… (team mode)"). */
  database?: string | null;
  kill_switch: KillSwitchState;
  pending: number;
  /** Agents that may ask (active or frozen). */
  agents: number;
  agents_by_status?: AgentCounts;
  policy_version: number;
  today: CurrencySpend[];
}

/** `startup_state`: whether the app's embedded daemon runs, or why not. */
export type StartupState =
  | { ok: true; agent_url: string; data_dir: string }
  | {
      ok: false;
      /** data_dir_locked, invalid_config, io_error, store_unavailable, no_data_dir */
      code: string;
      message: string;
      /** data_dir_locked: the process holding the data dir, when known. */
      pid?: number;
      process?: string;
      data_dir?: string;
    };

export type AgentStatus = 'active' | 'frozen' | 'revoked';

export interface Agent {
  name: string;
  /** The profile it was created with, else the one the policy assigns; null if none exists. */
  profile: string | null;
  status: AgentStatus;
  created_at: Timestamp;
  last_seen_at: Timestamp | null;
  spent_today: { currency: Currency; amount: Amount }[];
}

/** `add_agent`'s answer: the token is shown exactly once. */
export interface NewAgent {
  name: string;
  profile: string | null;
  token: string;
}

export interface PolicyText {
  version: number;
  text: string;
  applied_at: Timestamp;
}

export interface PolicyHistoryEntry {
  version: number;
  applied_at: Timestamp;
  applied_by: string | null;
}

/** How a request is decided when it is made: approved, pending (asks) or denied. A
 * bare outcome, or one with its headline reason. */
export type PreviewOutcome = AuthorizationStatus | { status: AuthorizationStatus; reason?: Reason | null };

export interface PreviewExample {
  /** The recorded request (decision shape), or just its id. */
  authorization: (Partial<Authorization> & { id: string; purpose?: string }) | string;
  was: PreviewOutcome;
  now: PreviewOutcome;
  /** Why the edited policy decides as it does. */
  reasons?: Reason[];
}

export interface PolicyPreview {
  days?: number;
  /** Requests replayed. */
  total: number;
  flipped: number;
  /** How many went from `was` to `now`, per kind of change. */
  changes?: { was: PreviewOutcome; now: PreviewOutcome; count: number }[];
  examples: PreviewExample[];
  /** More requests were recorded than one preview replays; the oldest were left out. */
  truncated?: boolean;
}

export type Grant = 'once' | 'for' | 'session' | 'always';

export interface KillResult {
  engaged: boolean;
  cancelled?: number;
}

export type BudgetScope = 'shared' | 'agent' | 'session';
export type WindowName = 'transaction' | 'session' | 'hour' | 'day' | 'week' | 'month' | 'total';
export type OnExceed = 'deny' | 'ask';

export interface BudgetLine {
  scope: BudgetScope;
  window: WindowName;
  currency: Currency;
  limit: Amount;
  spent: Amount;
  held: Amount;
  remaining: Amount;
  on_exceed: OnExceed;
  window_start: Timestamp | null;
}

/** `/v1/budget` for one agent, as `budget {agent}` returns it. */
export interface Budget {
  agent: string;
  session_id: string | null;
  budgets: BudgetLine[];
}

export type AuditKind =
  | 'request'
  | 'usage'
  | 'approval'
  | 'denial'
  | 'expiry'
  | 'cancel'
  | 'capture'
  | 'void'
  | 'lapse'
  | 'kill'
  | 'resume'
  | 'policy_change'
  | 'agent_change';

/** The query of `GET /admin/audit` (every field narrows; absent does not). */
export interface AuditFilter {
  agent?: string;
  kind?: AuditKind;
  status?: AuthorizationStatus;
  merchant?: string;
  currency?: Currency;
  since?: Timestamp;
  until?: Timestamp;
  /** Case-insensitive text in the row's body. */
  q?: string;
}

export interface AuditEntry {
  seq: number;
  at: Timestamp;
  kind: AuditKind;
  agent: string | null;
  authorization_id: string | null;
  body: Record<string, unknown>;
  hash: string;
  prev_hash?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next_before: number | null;
}

export type ExportFormat = 'csv' | 'jsonl';

export interface AuditExportResult {
  rows?: number;
  path?: string;
}

export interface AuditVerification {
  rows: number;
  intact: boolean;
  first_broken: { seq: number; problem: string } | null;
}

/** An error as a Tauri command rejects: the admin API's error object. */
export interface ApiErrorShape {
  code: string;
  message: string;
  field?: string;
  /** `policy_invalid`: `file:line:col: message` strings. */
  errors?: string[];
}

export type DaemonEventKind =
  | 'lagged'
  | 'decision'
  | 'pending'
  | 'approval_decided'
  | 'expired'
  | 'kill_switch'
  | 'policy_applied'
  | 'agent_changed'
  | 'capture'
  | 'void'
  | 'usage';

/** One happening on the daemon's event stream (`purser://event`). */
export interface DaemonEvent {
  event: DaemonEventKind | string;
  data: Record<string, unknown>;
}
