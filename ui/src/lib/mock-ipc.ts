// An in-memory stand-in for the daemon, used when the console runs outside Tauri (a
// browser, `vite preview`, screenshots) and by tests. It answers every command ipc.ts
// sends with the admin API's shapes and behaves like the daemon where a principal would
// notice: approving or denying removes the request from the inbox, the kill switch
// cancels every pending request and refuses approvals until resume, applying a policy
// adds a version, unanswered requests expire, events are emitted for all of it.
// The policy check and the what-if preview use a much simplified engine.

import type { IpcBackend, SaveDialogOptions } from './ipc';
import { AGENT_NAME } from './names';
import { buildSeed, mockDecide, windowStart, type SeedAuthorization, type SeedHappening, type SeedPolicyVersion, type SeedAgent, authorizationId, prng } from './mock-seed';
import { fromMicros, isPositiveAmount, sumAmounts, toMicros } from './money';
import { fromToml, ON_EXCEED, parseDays, WINDOWS, type PolicyModel } from './policy-model';
import type {
  Agent,
  AgentStatus,
  AuditEntry,
  AuditFilter,
  AuditVerification,
  Authorization,
  BudgetLine,
  PendingApproval,
  PolicyPreview,
  Status,
  WindowName,
} from './types';

const POLICY_FILE = 'policy.toml';
const DAY = 86_400_000;

interface Failure {
  code: string;
  message: string;
  field?: string;
  errors?: string[];
}

function fail(code: string, message: string, extra: Partial<Failure> = {}): never {
  throw { code, message, ...extra } satisfies Failure;
}

/** A stand-in SHA-256: 64 hex characters derived from the row (not cryptographic). */
function fakeHash(input: string): string {
  let out = '';
  let h = 0x811c9dc5;
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < input.length; i++) {
      h ^= input.charCodeAt(i) + round;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    out += h.toString(16).padStart(8, '0');
  }
  return out;
}

function view(record: SeedAuthorization): PendingApproval {
  const { policy_status: _policyStatus, ...rest } = record;
  return { ...rest, reason: rest.reasons[0] ?? null, captured_amount: null };
}

const AMOUNT_HELP = 'use a decimal string greater than zero such as "25.00"';
const DURATION = /^[1-9]\d*(s|m|h|d)$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The simplified policy check: TOML syntax, then the rules a principal trips over most,
 * reported like the engine (`file:line:col: message`). */
export function mockCheck(text: string): string[] {
  const parsed = fromToml(text);
  if (!parsed.ok) {
    return [`${POLICY_FILE}:${parsed.line ?? 1}:${parsed.column ?? 1}: ${parsed.error}`];
  }
  const model = parsed.model;
  const lines = text.split('\n');
  const errors: { line: number; col: number; message: string }[] = [];
  let cursor = 0;
  const at = (needle: string, message: string, from = 0) => {
    let line = lines.findIndex((l, i) => i >= from && l.includes(needle));
    if (line < 0) line = lines.findIndex((l) => l.includes(needle));
    const col = line >= 0 ? lines[line].indexOf(needle) + 1 : 1;
    errors.push({ line: line + 1 || 1, col, message });
  };
  const section = (header: string) => {
    const index = lines.findIndex((l) => l.trim().startsWith(header));
    return index < 0 ? 0 : index;
  };
  if (model.version !== 1) at('version', '`version` must be 1, the only policy format this build reads');
  try {
    new Intl.DateTimeFormat('en', { timeZone: model.timezone });
  } catch {
    at('timezone', `unknown time zone ${JSON.stringify(model.timezone)}: use an IANA name such as "Europe/Paris" or "UTC"`);
  }
  for (const key of ['approval_timeout', 'hold_ttl'] as const) {
    if (!DURATION.test(model[key])) at(key, `invalid \`${key}\`: ${JSON.stringify(model[key])} is not a duration: use e.g. "10m", "2h", "1d"`);
  }
  const checkLimits = (limits: PolicyModel['limits'], from: number, currencies: string[] | null, profile: string | null) => {
    const seen = new Set<string>();
    cursor = from;
    for (const limit of limits) {
      const start = lines.findIndex((l, i) => i >= cursor && l.includes(`max = ${JSON.stringify(limit.max)}`));
      const near = start < 0 ? cursor : Math.max(cursor, start - 3);
      if (!/^[A-Z0-9]{3,10}$/.test(limit.currency)) at(`currency = ${JSON.stringify(limit.currency)}`, `invalid \`currency\`: ${JSON.stringify(limit.currency)} is not a currency code: use 3–10 uppercase letters or digits such as "USD"`, near);
      else if (currencies && !currencies.includes(limit.currency)) {
        at(`currency = ${JSON.stringify(limit.currency)}`, `profile \`${profile}\` does not allow ${limit.currency}, so this limit could never apply: add "${limit.currency}" to \`currencies\` or remove the limit`, near);
      }
      if (!(WINDOWS as readonly string[]).includes(limit.window)) at(`window = ${JSON.stringify(limit.window)}`, `invalid \`window\`: window ${JSON.stringify(limit.window)} is unknown: use one of ${WINDOWS.join(', ')}`, near);
      if (!isPositiveAmount(limit.max)) at(`max = ${JSON.stringify(limit.max)}`, `invalid \`max\`: ${JSON.stringify(limit.max)} is not an amount: ${AMOUNT_HELP}`, near);
      if (!(ON_EXCEED as readonly string[]).includes(limit.on_exceed)) at(`on_exceed = ${JSON.stringify(limit.on_exceed)}`, `invalid \`on_exceed\`: use "deny" or "ask"`, near);
      const key = `${limit.currency}/${limit.window}`;
      if (seen.has(key)) at(`window = ${JSON.stringify(limit.window)}`, `a second ${limit.currency} limit per \`${limit.window}\` in this list: keep one limit per currency and window`, near + 1);
      seen.add(key);
      cursor = start < 0 ? cursor : start + 1;
    }
  };
  checkLimits(model.limits, 0, null, null);
  for (const profile of model.profiles) {
    const from = section(`[profiles.${profile.name}]`);
    const seen = new Set<string>();
    for (const currency of profile.currencies) {
      if (!/^[A-Z0-9]{3,10}$/.test(currency)) at(JSON.stringify(currency), `invalid \`currencies\`: ${JSON.stringify(currency)} is not a currency code`, from);
      if (seen.has(currency)) at('currencies', `\`currencies\` lists ${currency} twice: keep one`, from);
      seen.add(currency);
    }
    for (const threshold of profile.approve_above) {
      if (!profile.currencies.includes(threshold.currency)) {
        at('approve_above', `\`approve_above\` names ${threshold.currency}, which profile \`${profile.name}\` does not allow: add "${threshold.currency}" to \`currencies\` or remove it here`, from);
      }
      if (!isPositiveAmount(threshold.amount)) at('approve_above', `invalid \`approve_above.${threshold.currency}\`: ${JSON.stringify(threshold.amount)} is not an amount: ${AMOUNT_HELP}`, from);
    }
    if (profile.velocity) {
      if (profile.velocity.count < 1 || profile.velocity.count > 10_000) at('velocity', '`count` must be a whole number from 1 to 10000', from);
      if (!DURATION.test(profile.velocity.window)) at('velocity', `invalid \`window\`: ${JSON.stringify(profile.velocity.window)} is not a duration: use e.g. "1h"`, from);
    }
    if (profile.hours) {
      if (!parseDays(profile.hours.days)) at('hours', `unknown days ${JSON.stringify(profile.hours.days)}: use mon, tue, wed, thu, fri, sat, sun, a range such as "mon-fri" or a list such as "mon,wed,fri"`, from);
      const to = profile.hours.to === '24:00' || TIME.test(profile.hours.to);
      if (!TIME.test(profile.hours.from)) at('hours', `\`from\` ${JSON.stringify(profile.hours.from)} is not a time: use "HH:MM" from "00:00" to "23:59"`, from);
      else if (!to) at('hours', `\`to\` ${JSON.stringify(profile.hours.to)} is not a time: use "HH:MM" from "00:00" to "24:00"`, from);
      else if (profile.hours.from >= profile.hours.to) at('hours', `\`to\` ${JSON.stringify(profile.hours.to)} must be later than \`from\` ${JSON.stringify(profile.hours.from)}: hours cannot cross midnight, end the day with "24:00"`, from);
    }
    checkLimits(profile.limits, from, profile.currencies, profile.name);
  }
  const names = model.profiles.map((p) => p.name);
  for (const agent of model.agents) {
    if (!names.includes(agent.profile)) {
      at(`${agent.agent} =`, `agent \`${agent.agent}\` is assigned to profile ${JSON.stringify(agent.profile)}, which is not defined; defined profiles are ${names.map((n) => JSON.stringify(n)).join(', ')}`, section('[agents]'));
    }
  }
  errors.sort((a, b) => a.line - b.line || a.col - b.col);
  return errors.map((e) => `${POLICY_FILE}:${e.line}:${e.col}: ${e.message}`);
}

type Listener = (payload: unknown) => void;

export interface MockOptions {
  /** The clock (tests pass a fixed one). */
  now?: () => number;
  /** Expire unanswered requests and stream a little live traffic (the browser demo). */
  live?: boolean;
  /** Milliseconds each command takes, to feel like a real round trip. */
  latencyMs?: number;
}

export class MockDaemon {
  readonly now: () => number;
  versions: SeedPolicyVersion[];
  agents: SeedAgent[];
  authorizations: SeedAuthorization[];
  audit: AuditEntry[] = [];
  kill = { engaged: false, reason: null as string | null, changed_at: null as string | null };
  private listeners = new Set<Listener>();
  private random = prng(42);
  private lastSeen = new Map<string, string>();
  /** Set to show the console's "could not start" screen. */
  startupFailure: Record<string, unknown> | null = null;

  constructor(options: MockOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    const seed = buildSeed(this.now());
    this.versions = seed.versions;
    this.agents = seed.agents;
    this.authorizations = seed.authorizations;
    for (const happening of seed.happenings) this.append(happening);
    const lastKill = seed.happenings.filter((h) => h.kind === 'kill' || h.kind === 'resume').at(-1);
    if (lastKill) this.kill.changed_at = lastKill.at;
    for (const record of this.authorizations) this.lastSeen.set(record.agent, record.created_at);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private append(happening: SeedHappening): void {
    const seq = this.audit.length + 1;
    const prev = this.audit.at(-1)?.hash ?? '0'.repeat(64);
    const { policy_status: _ignored, ...body } = happening.body as Record<string, unknown> & { policy_status?: unknown };
    const entry: AuditEntry = {
      seq,
      at: happening.at,
      kind: happening.kind as AuditEntry['kind'],
      agent: happening.agent,
      authorization_id: happening.authorization_id,
      body,
      prev_hash: prev,
      hash: fakeHash(`${prev}|${seq}|${happening.at}|${happening.kind}|${JSON.stringify(body)}`),
    };
    this.audit.push(entry);
  }

  private emit(event: string, data: unknown): void {
    for (const listener of this.listeners) listener({ event, data });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private policyModel(): PolicyModel {
    const result = fromToml(this.versions.at(-1)?.text ?? '');
    if (!result.ok) fail('unavailable', 'the running policy does not parse');
    return result.model;
  }

  private agent(name: string): SeedAgent {
    const agent = this.agents.find((a) => a.name === name);
    if (!agent) fail('not_found', `no agent named "${name}": see the Agents list`);
    return agent;
  }

  private pending(): SeedAuthorization[] {
    return this.authorizations.filter((a) => a.status === 'pending');
  }

  private spent(filter: (record: SeedAuthorization) => boolean): string {
    return sumAmounts(this.authorizations.filter((a) => (a.status === 'approved' || a.status === 'captured') && filter(a)).map((a) => a.amount));
  }

  /** Expires requests nobody answered in time. */
  expireDue(): void {
    const now = this.now();
    for (const record of this.pending()) {
      if (record.expires_at && Date.parse(record.expires_at) <= now) {
        record.status = 'expired';
        record.decided_by = 'timeout';
        record.decided_at = this.iso();
        record.reasons = [{ code: 'approval_expired', message: 'Nobody answered in time.' }, ...record.reasons];
        this.append({ at: record.decided_at, kind: 'expiry', agent: record.agent, authorization_id: record.id, body: { ...record } });
        this.emit('expired', view(record));
      }
    }
  }

  /** A small auto-approved purchase, as a busy agent would make. */
  simulateTraffic(): void {
    if (this.kill.engaged) return;
    const options = [
      { agent: 'research-bot', merchant: 'api.openai.com', currency: 'USD', category: 'software', rail: 'card', purpose: 'API credits for the summarisation batch' },
      { agent: 'research-bot', merchant: 'x402.weather-api.dev', currency: 'USDC', category: 'data', rail: 'x402', purpose: 'Forecast lookup for the logistics notebook' },
      { agent: 'ops-cloud', merchant: 'console.aws.amazon.com', currency: 'USD', category: 'cloud', rail: 'card', purpose: 'Autoscale the ingest workers' },
    ];
    const pick = options[Math.floor(this.random() * options.length)];
    const amount = fromMicros(BigInt(20 + Math.floor(this.random() * 480)) * 10_000n, 2);
    const now = this.now();
    const record: SeedAuthorization = {
      ...pick,
      id: authorizationId(now, this.random),
      request_id: `live-${now}`,
      status: 'approved',
      amount,
      capture: 'auto',
      session_id: 'live',
      context: null,
      reasons: [{ code: 'within_policy', message: 'Within every limit of the policy.' }],
      decided_by: 'policy',
      policy_version: this.versions.at(-1)?.version ?? 1,
      expires_at: null,
      created_at: this.iso(),
      decided_at: this.iso(),
      policy_status: 'approved',
    };
    this.authorizations.push(record);
    this.lastSeen.set(record.agent, record.created_at);
    this.append({ at: record.created_at, kind: 'request', agent: record.agent, authorization_id: record.id, body: { ...record } });
    this.emit('decision', view(record));
  }

  /** A request above the threshold arrives (tests and the demo's "simulate" hook). */
  simulatePending(input: Partial<SeedAuthorization> = {}): PendingApproval {
    const now = this.now();
    const record: SeedAuthorization = {
      id: authorizationId(now, this.random),
      request_id: `sim-${now}`,
      agent: 'research-bot',
      status: 'pending',
      amount: '64.00',
      currency: 'USD',
      merchant: 'api.anthropic.com',
      category: 'software',
      rail: 'card',
      capture: 'auto',
      session_id: 'live',
      purpose: 'API credits for the evaluation run',
      context: { prompt: 'Run the eval suite on the new prompts.' },
      reasons: [{ code: 'over_approval_threshold', message: "64.00 USD is above profile default's approval threshold of 25.00 USD." }],
      decided_by: null,
      policy_version: this.versions.at(-1)?.version ?? 1,
      expires_at: new Date(now + 10 * 60_000).toISOString(),
      created_at: new Date(now).toISOString(),
      decided_at: null,
      policy_status: 'pending',
      ...input,
    };
    this.authorizations.push(record);
    this.append({ at: record.created_at, kind: 'request', agent: record.agent, authorization_id: record.id, body: { ...record } });
    this.emit('pending', view(record));
    return view(record);
  }

  // ---- commands ----------------------------------------------------------------------

  status(): Status {
    const today = windowStart('day', this.now()) ?? 0;
    const currencies = [...new Set(this.authorizations.map((a) => a.currency))].sort();
    return {
      version: '0.1.0',
      listen: '127.0.0.1:7402',
      data_dir: '~/.local/share/purser',
      kill_switch: { ...this.kill },
      pending: this.pending().length,
      agents: this.agents.length,
      policy_version: this.versions.at(-1)?.version ?? 0,
      today: currencies
        .map((currency) => ({ currency, spent: this.spent((a) => a.currency === currency && Date.parse(a.decided_at ?? a.created_at) >= today), held: '0.00' }))
        .filter((line) => toMicros(line.spent) !== 0n),
    };
  }

  listAgents(): Agent[] {
    const today = windowStart('day', this.now()) ?? 0;
    return this.agents.map((agent) => {
      const mine = this.authorizations.filter((a) => a.agent === agent.name && Date.parse(a.decided_at ?? a.created_at) >= today);
      const currencies = [...new Set(mine.map((a) => a.currency))].sort();
      return {
        ...agent,
        last_seen_at: this.lastSeen.get(agent.name) ?? null,
        spent_today: currencies
          .map((currency) => ({ currency, amount: this.spent((a) => mine.includes(a) && a.currency === currency) }))
          .filter((line) => toMicros(line.amount) !== 0n),
      };
    });
  }

  addAgent(name: string, profile: string | null) {
    if (!AGENT_NAME.test(name)) {
      fail('invalid_request', `agent name ${JSON.stringify(name)} is invalid: use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit`, { field: 'name' });
    }
    if (this.agents.some((a) => a.name === name)) fail('invalid_state', `an agent named "${name}" already exists: pick another name`, { field: 'name' });
    const assigned = profile ?? this.policyModel().agents.find((a) => a.agent === name)?.profile ?? 'default';
    const agent: SeedAgent = { name, profile: assigned, status: 'active', created_at: this.iso() };
    this.agents.push(agent);
    this.append({ at: agent.created_at, kind: 'agent_change', agent: name, authorization_id: null, body: { action: 'add', agent: name, profile: assigned, status: 'active' } });
    this.emit('agent_changed', { action: 'add', ...this.listAgents().find((a) => a.name === name) });
    let token = 'psr_';
    for (let i = 0; i < 40; i++) token += 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'[Math.floor(this.random() * 57)];
    return { name, profile: assigned, token };
  }

  setAgentStatus(name: string, status: AgentStatus): Agent {
    const agent = this.agent(name);
    if (agent.status === 'revoked') fail('invalid_state', `${name} is revoked; revoking is final. Add a new agent instead.`);
    agent.status = status;
    const action = status === 'active' ? 'unfreeze' : status === 'frozen' ? 'freeze' : 'revoke';
    this.append({ at: this.iso(), kind: 'agent_change', agent: name, authorization_id: null, body: { action, agent: name, status } });
    this.emit('agent_changed', { action, ...this.listAgents().find((a) => a.name === name) });
    return this.listAgents().find((a) => a.name === name) as Agent;
  }

  policyVersion(version: number) {
    const found = this.versions.find((v) => v.version === version);
    if (!found) fail('not_found', `policy version ${version} does not exist`);
    return { version: found.version, text: found.text, applied_at: found.applied_at };
  }

  policyCheck(text: string): { ok: true } {
    const errors = mockCheck(text);
    if (errors.length > 0) fail('policy_invalid', `the policy has ${errors.length} problem${errors.length === 1 ? '' : 's'}`, { errors });
    return { ok: true };
  }

  policyApply(text: string): { version: number } {
    this.policyCheck(text);
    const version = (this.versions.at(-1)?.version ?? 0) + 1;
    const entry = { version, text, applied_at: this.iso(), applied_by: 'console' };
    this.versions.push(entry);
    this.append({ at: entry.applied_at, kind: 'policy_change', agent: null, authorization_id: null, body: { version, applied_by: 'console', text } });
    this.emit('policy_applied', { version, applied_by: 'console' });
    return { version };
  }

  policyPreview(text: string, days: number): PolicyPreview {
    this.policyCheck(text);
    const parsed = fromToml(text);
    if (!parsed.ok) fail('policy_invalid', parsed.error);
    // The simplified engine ignores budgets and schedules, so "was" is what it says
    // under the running policy: only the edit's own effect shows as a flip.
    const running = this.policyModel();
    const since = this.now() - days * DAY;
    const recorded = this.authorizations.filter((a) => Date.parse(a.created_at) >= since && a.decided_by !== 'kill_switch');
    const examples: PolicyPreview['examples'] = [];
    const changes = new Map<string, { was: string; now: string; count: number }>();
    let flipped = 0;
    for (const record of recorded) {
      const was = mockDecide(running, record);
      const now = mockDecide(parsed.model, record);
      if (now.status !== was.status) {
        flipped++;
        const key = `${was.status}>${now.status}`;
        const change = changes.get(key) ?? { was: was.status, now: now.status, count: 0 };
        change.count++;
        changes.set(key, change);
        if (examples.length < 20) examples.push({ authorization: view(record), was: was.status, now: now.status, reasons: now.reasons });
      }
    }
    return { days, total: recorded.length, flipped, changes: [...changes.values()] as PolicyPreview['changes'], examples, truncated: false };
  }

  approve(id: string, grant: string, duration?: string): Authorization {
    const record = this.authorizations.find((a) => a.id === id);
    if (!record) fail('not_found', `no authorization ${id}`);
    if (record.status !== 'pending') fail('invalid_state', `${id} is already ${record.status}: someone decided it first`);
    if (this.kill.engaged) fail('invalid_state', 'the kill switch is engaged: resume spending before approving');
    if (grant === 'for' && !(duration && DURATION.test(duration))) fail('invalid_request', 'grant "for" needs a duration such as "15m"', { field: 'duration' });
    const grantText = grant === 'once' ? 'once' : grant === 'for' ? `for ${duration}` : grant === 'session' ? 'for this session' : 'always, up to this amount';
    record.status = 'approved';
    record.decided_by = 'principal';
    record.decided_at = this.iso();
    record.reasons = [{ code: 'approved_by_principal', message: `Approved ${grantText} by the principal.` }, ...record.reasons];
    this.append({ at: record.decided_at, kind: 'approval', agent: record.agent, authorization_id: id, body: { ...record, grant, for: duration ?? null } });
    this.emit('approval_decided', view(record));
    return view(record);
  }

  deny(id: string, reason?: string): Authorization {
    const record = this.authorizations.find((a) => a.id === id);
    if (!record) fail('not_found', `no authorization ${id}`);
    if (record.status !== 'pending') fail('invalid_state', `${id} is already ${record.status}: someone decided it first`);
    record.status = 'denied';
    record.decided_by = 'principal';
    record.decided_at = this.iso();
    record.reasons = [{ code: 'denied_by_principal', message: reason?.trim() || 'Denied by the principal.' }, ...record.reasons];
    this.append({ at: record.decided_at, kind: 'denial', agent: record.agent, authorization_id: id, body: { ...record, reason: reason ?? null } });
    this.emit('approval_decided', view(record));
    return view(record);
  }

  engageKill(reason?: string) {
    const cancelled = this.pending();
    this.kill = { engaged: true, reason: reason?.trim() || null, changed_at: this.iso() };
    this.append({ at: this.iso(), kind: 'kill', agent: null, authorization_id: null, body: { engaged: true, reason: this.kill.reason } });
    for (const record of cancelled) {
      record.status = 'cancelled';
      record.decided_by = 'kill_switch';
      record.decided_at = this.iso();
      this.append({ at: record.decided_at, kind: 'cancel', agent: record.agent, authorization_id: record.id, body: { ...record } });
    }
    this.emit('kill_switch', { ...this.kill, cancelled: cancelled.length, cancelled_ids: cancelled.map((record) => record.id) });
    return { engaged: true, cancelled: cancelled.length };
  }

  resume() {
    this.kill = { engaged: false, reason: null, changed_at: this.iso() };
    this.append({ at: this.iso(), kind: 'resume', agent: null, authorization_id: null, body: { engaged: false } });
    this.emit('kill_switch', { ...this.kill });
    return { engaged: false };
  }

  budget(agent: string) {
    this.agent(agent);
    const model = this.policyModel();
    const profileName = model.agents.find((a) => a.agent === agent)?.profile ?? 'default';
    const profile = model.profiles.find((p) => p.name === profileName);
    const lines: BudgetLine[] = [];
    const now = this.now();
    const add = (scope: 'shared' | 'agent', limit: PolicyModel['limits'][number]) => {
      const window = limit.window as WindowName;
      if (window === 'session') return;
      const start = window === 'transaction' ? null : windowStart(window, now);
      const spent =
        window === 'transaction'
          ? '0.00'
          : this.spent((a) => a.currency === limit.currency && (scope === 'shared' || a.agent === agent) && Date.parse(a.decided_at ?? a.created_at) >= (start ?? 0));
      const remainingMicros = (toMicros(limit.max) ?? 0n) - (toMicros(spent) ?? 0n);
      lines.push({
        scope,
        window,
        currency: limit.currency,
        limit: limit.max,
        spent: fromMicros(toMicros(spent) ?? 0n, 2),
        held: '0.00',
        remaining: fromMicros(remainingMicros > 0n ? remainingMicros : 0n, 2),
        on_exceed: limit.on_exceed as 'deny' | 'ask',
        window_start: start && window !== 'total' ? new Date(start).toISOString() : null,
      });
    };
    for (const limit of model.limits) add('shared', limit);
    for (const limit of profile?.limits ?? []) add('agent', limit);
    return { agent, session_id: null, budgets: lines };
  }

  auditPage(filter: AuditFilter, before: number | undefined, limit: number) {
    const size = Math.max(1, Math.min(1000, limit));
    const matches = (entry: AuditEntry) => {
      const body = entry.body;
      if (before !== undefined && entry.seq >= before) return false;
      if (filter.agent && entry.agent !== filter.agent) return false;
      if (filter.kind && entry.kind !== filter.kind) return false;
      if (filter.status && body.status !== filter.status) return false;
      if (filter.merchant && body.merchant !== filter.merchant) return false;
      if (filter.currency && body.currency !== filter.currency) return false;
      if (filter.since && entry.at < filter.since) return false;
      if (filter.until && entry.at >= filter.until) return false;
      if (filter.q && !JSON.stringify(body).toLowerCase().includes(filter.q.toLowerCase())) return false;
      return true;
    };
    const entries: AuditEntry[] = [];
    for (let i = this.audit.length - 1; i >= 0 && entries.length <= size; i--) {
      if (matches(this.audit[i])) entries.push(this.audit[i]);
    }
    const more = entries.length > size;
    const page = entries.slice(0, size);
    return { entries: page, next_before: more ? page[page.length - 1].seq : null };
  }

  auditVerify(): AuditVerification {
    return { rows: this.audit.length, intact: true, first_broken: null };
  }

  dispatch(command: string, args: Record<string, unknown>): unknown {
    const text = (key: string) => args[key] as string;
    switch (command) {
      case 'startup_state':
        return this.startupFailure ?? { ok: true, agent_url: 'http://127.0.0.1:7402', data_dir: '~/.local/share/purser' };
      case 'status':
        return this.status();
      case 'list_agents':
        return this.listAgents();
      case 'add_agent':
        return this.addAgent(text('name'), (args.profile as string | null | undefined) ?? null);
      case 'set_agent_status':
        return this.setAgentStatus(text('name'), args.status as AgentStatus);
      case 'policy_show': {
        const current = this.versions.at(-1) as SeedPolicyVersion;
        return { version: current.version, text: current.text, applied_at: current.applied_at };
      }
      case 'policy_history':
        return [...this.versions].reverse().map(({ version, applied_at, applied_by }) => ({ version, applied_at, applied_by }));
      case 'policy_version':
        return this.policyVersion(args.version as number);
      case 'policy_check':
        return this.policyCheck(text('text'));
      case 'policy_apply':
        return this.policyApply(text('text'));
      case 'policy_preview':
        return this.policyPreview(text('text'), (args.days as number) ?? 30);
      case 'approvals':
        return this.pending().map(view);
      case 'approve':
        return this.approve(text('id'), text('grant'), args.duration as string | undefined);
      case 'deny':
        return this.deny(text('id'), args.reason as string | undefined);
      case 'kill':
        return this.engageKill(args.reason as string | undefined);
      case 'resume':
        return this.resume();
      case 'budget':
        return this.budget(text('agent'));
      case 'audit_page':
        return this.auditPage((args.filter as AuditFilter) ?? {}, args.before as number | undefined, (args.limit as number) ?? 200);
      case 'audit_export': {
        const page = this.auditPage((args.filter as AuditFilter) ?? {}, undefined, 1000);
        return { rows: page.entries.length, path: text('path') };
      }
      case 'audit_verify':
        return this.auditVerify();
      case 'agent_url':
        return 'http://127.0.0.1:7402';
      default:
        return fail('not_found', `the mock daemon has no command "${command}"`);
    }
  }
}

/** The mock as an ipc.ts backend. */
export function createMockBackend(options: MockOptions = {}): IpcBackend & { daemon: MockDaemon } {
  const live = options.live ?? true;
  const latency = options.latencyMs ?? (live ? 25 : 0);
  const daemon = new MockDaemon(options);
  if (typeof window !== 'undefined' && new URLSearchParams(window.location.search).get('demo') === 'locked') {
    daemon.startupFailure = {
      ok: false,
      code: 'data_dir_locked',
      message: 'the data directory is in use by another Purser (pid 48213)',
      pid: 48213,
      process: '/usr/local/bin/purser serve --listen 127.0.0.1:7402',
      data_dir: '/home/sam/.local/share/purser',
    };
  }
  if (live && typeof window !== 'undefined') {
    window.setInterval(() => daemon.expireDue(), 1000);
    window.setInterval(() => daemon.simulateTraffic(), 20_000);
    (window as unknown as { purserDemo: MockDaemon }).purserDemo = daemon;
  }
  return {
    mock: true,
    daemon,
    async invoke(command, args = {}) {
      if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
      // A copy, as if it had crossed the IPC boundary.
      return structuredClone(daemon.dispatch(command, args));
    },
    async listen(handler) {
      return daemon.subscribe((payload) => handler(structuredClone(payload)));
    },
    async saveDialog(options: SaveDialogOptions) {
      return `~/Downloads/${options.defaultPath}`;
    },
  };
}
