// The policy editor's model of the TOML policy file (agent-api.md §2): reading TOML into
// a model the visual editor can bind to, and writing the model back as TOML.
//
// Every value is kept exactly as written: amounts, durations and times stay strings, so
// "25.00" round-trips as "25.00". The daemon's engine is the judge of validity
// (`policy_check`); this module only refuses what the visual editor cannot represent
// faithfully (an unknown key, a number where a string belongs), so that nothing is lost
// silently. Comments are not kept: the visual editor writes a clean file.

import { parse, TomlError } from 'smol-toml';

export const WINDOWS = ['transaction', 'session', 'hour', 'day', 'week', 'month', 'total'] as const;
export const ON_EXCEED = ['deny', 'ask'] as const;
export const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const DEFAULT_PROFILE = 'default';

export interface LimitModel {
  currency: string;
  window: string;
  max: string;
  on_exceed: string;
}

export interface ThresholdModel {
  currency: string;
  amount: string;
}

export interface VelocityModel {
  count: number;
  window: string;
}

export interface HoursModel {
  /** As written: "mon-fri", "mon,wed,fri"... */
  days: string;
  from: string;
  to: string;
}

export interface ProfileModel {
  name: string;
  currencies: string[];
  approve_above: ThresholdModel[];
  allowed_categories: string[];
  allowed_merchants: string[];
  blocked_merchants: string[];
  allowed_rails: string[];
  velocity: VelocityModel | null;
  hours: HoursModel | null;
  limits: LimitModel[];
}

export interface AgentAssignment {
  agent: string;
  profile: string;
}

export interface PolicyModel {
  version: number;
  timezone: string;
  approval_timeout: string;
  hold_ttl: string;
  /** Shared by all agents together (`[[limit]]`). */
  limits: LimitModel[];
  profiles: ProfileModel[];
  agents: AgentAssignment[];
}

export type ModelResult = { ok: true; model: PolicyModel } | { ok: false; error: string; line?: number; column?: number };

/** Why the TOML cannot be shown in the visual editor. */
class ModelError extends Error {}

type Table = Record<string, unknown>;

const TOP_KEYS = ['version', 'timezone', 'approval_timeout', 'hold_ttl', 'limit', 'profiles', 'agents'];
const LIMIT_KEYS = ['currency', 'window', 'max', 'on_exceed'];
const PROFILE_KEYS = [
  'currencies',
  'approve_above',
  'allowed_categories',
  'allowed_merchants',
  'blocked_merchants',
  'allowed_rails',
  'velocity',
  'hours',
  'limit',
];

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  if (typeof value === 'number') return `the number ${value}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function checkKeys(table: Table, allowed: string[], where: string): void {
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key)) {
      throw new ModelError(`unknown key \`${key}\` in ${where}: allowed keys are ${allowed.map((k) => `\`${k}\``).join(', ')}`);
    }
  }
}

function text(value: unknown, where: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined) return '';
  if (typeof value !== 'string') {
    throw new ModelError(`${where} must be a string (amounts too: "25.00"), found ${describe(value)}`);
  }
  return value;
}

function texts(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ModelError(`${where} must be an array of strings, found ${describe(value)}`);
  return value.map((item, index) => text(item, `${where}[${index}]`));
}

function table(value: unknown, where: string): Table {
  if (!isTable(value)) throw new ModelError(`${where} must be a table, found ${describe(value)}`);
  return value;
}

function readLimits(value: unknown, where: string): LimitModel[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ModelError(`${where} must be an array of tables ([[…]]), found ${describe(value)}`);
  return value.map((raw, index) => {
    const at = `${where}[${index}]`;
    const limit = table(raw, at);
    checkKeys(limit, LIMIT_KEYS, at);
    return {
      currency: text(limit.currency, `${at}.currency`),
      window: text(limit.window, `${at}.window`),
      max: text(limit.max, `${at}.max`),
      on_exceed: text(limit.on_exceed, `${at}.on_exceed`),
    };
  });
}

function readProfile(name: string, value: unknown): ProfileModel {
  const where = `[profiles.${name}]`;
  const raw = table(value, where);
  checkKeys(raw, PROFILE_KEYS, where);
  const approve = raw.approve_above === undefined ? {} : table(raw.approve_above, `${where} approve_above`);
  let velocity: VelocityModel | null = null;
  if (raw.velocity !== undefined) {
    const v = table(raw.velocity, `${where} velocity`);
    checkKeys(v, ['count', 'window'], `${where} velocity`);
    if (typeof v.count !== 'number' || !Number.isInteger(v.count)) {
      throw new ModelError(`${where} velocity.count must be a whole number, found ${describe(v.count)}`);
    }
    velocity = { count: v.count, window: text(v.window, `${where} velocity.window`) };
  }
  let hours: HoursModel | null = null;
  if (raw.hours !== undefined) {
    const h = table(raw.hours, `${where} hours`);
    checkKeys(h, ['days', 'from', 'to'], `${where} hours`);
    hours = {
      days: text(h.days, `${where} hours.days`),
      from: text(h.from, `${where} hours.from`),
      to: text(h.to, `${where} hours.to`),
    };
  }
  return {
    name,
    currencies: texts(raw.currencies, `${where} currencies`),
    approve_above: Object.entries(approve).map(([currency, amount]) => ({
      currency,
      amount: text(amount, `${where} approve_above.${currency}`),
    })),
    allowed_categories: texts(raw.allowed_categories, `${where} allowed_categories`),
    allowed_merchants: texts(raw.allowed_merchants, `${where} allowed_merchants`),
    blocked_merchants: texts(raw.blocked_merchants, `${where} blocked_merchants`),
    allowed_rails: texts(raw.allowed_rails, `${where} allowed_rails`),
    velocity,
    hours,
    limits: readLimits(raw.limit, `[[profiles.${name}.limit]]`),
  };
}

/** TOML text → editor model, or why the visual editor cannot show it. */
export function fromToml(source: string): ModelResult {
  let document: Table;
  try {
    document = parse(source) as Table;
  } catch (error) {
    if (error instanceof TomlError) {
      const message = error.message.split('\n')[0];
      return { ok: false, error: message, line: error.line, column: error.column };
    }
    return { ok: false, error: String(error) };
  }
  try {
    checkKeys(document, TOP_KEYS, 'the top level');
    if (typeof document.version !== 'number') {
      throw new ModelError('missing `version`: add `version = 1` at the top of the file');
    }
    const profiles = document.profiles === undefined ? {} : table(document.profiles, '[profiles]');
    const agents = document.agents === undefined ? {} : table(document.agents, '[agents]');
    return {
      ok: true,
      model: {
        version: document.version,
        timezone: text(document.timezone, 'timezone', 'UTC'),
        approval_timeout: text(document.approval_timeout, 'approval_timeout', '10m'),
        hold_ttl: text(document.hold_ttl, 'hold_ttl', '30m'),
        limits: readLimits(document.limit, '[[limit]]'),
        profiles: Object.entries(profiles).map(([name, value]) => readProfile(name, value)),
        agents: Object.entries(agents).map(([agent, profile]) => ({
          agent,
          profile: text(profile, `[agents] ${agent}`),
        })),
      },
    };
  } catch (error) {
    if (error instanceof ModelError) return { ok: false, error: error.message };
    throw error;
  }
}

/** A TOML string literal (basic string with JSON-compatible escapes). */
function quote(value: string): string {
  return JSON.stringify(value).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function key(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : quote(name);
}

function list(values: string[]): string {
  return `[${values.map(quote).join(', ')}]`;
}

function limitLines(header: string, limit: LimitModel): string[] {
  return [
    header,
    `currency = ${quote(limit.currency)}`,
    `window = ${quote(limit.window)}`,
    `max = ${quote(limit.max)}`,
    `on_exceed = ${quote(limit.on_exceed)}`,
  ];
}

/** Editor model → TOML text the daemon reads. Empty optional lists are left out (an
 * absent list and an empty one mean the same); `currencies` is always written. */
export function toToml(model: PolicyModel): string {
  const blocks: string[][] = [];
  blocks.push([
    `version = ${model.version}`,
    `timezone = ${quote(model.timezone)}`,
    `approval_timeout = ${quote(model.approval_timeout)}`,
    `hold_ttl = ${quote(model.hold_ttl)}`,
  ]);
  for (const limit of model.limits) blocks.push(limitLines('[[limit]]', limit));
  for (const profile of model.profiles) {
    const name = key(profile.name);
    const lines = [`[profiles.${name}]`, `currencies = ${list(profile.currencies)}`];
    if (profile.approve_above.length > 0) {
      const pairs = profile.approve_above.map((t) => `${key(t.currency)} = ${quote(t.amount)}`);
      lines.push(`approve_above = { ${pairs.join(', ')} }`);
    }
    for (const field of ['allowed_categories', 'allowed_merchants', 'blocked_merchants', 'allowed_rails'] as const) {
      if (profile[field].length > 0) lines.push(`${field} = ${list(profile[field])}`);
    }
    if (profile.velocity) {
      lines.push(`velocity = { count = ${profile.velocity.count}, window = ${quote(profile.velocity.window)} }`);
    }
    if (profile.hours) {
      const h = profile.hours;
      lines.push(`hours = { days = ${quote(h.days)}, from = ${quote(h.from)}, to = ${quote(h.to)} }`);
    }
    blocks.push(lines);
    for (const limit of profile.limits) blocks.push(limitLines(`[[profiles.${name}.limit]]`, limit));
  }
  if (model.agents.length > 0) {
    blocks.push(['[agents]', ...model.agents.map((a) => `${key(a.agent)} = ${quote(a.profile)}`)]);
  }
  return blocks.map((block) => block.join('\n')).join('\n\n') + '\n';
}

/** The same policy written the way the visual editor writes it; used to compare two
 * policies by meaning rather than by comments and layout. Unreadable text stays as is. */
export function canonicalToml(source: string): string {
  const result = fromToml(source);
  return result.ok ? toToml(result.model) : source;
}

/** "mon-fri" / "mon,wed,fri" → a flag per weekday (Monday first), or null when the text
 * is not a day list the engine reads. */
export function parseDays(days: string): boolean[] | null {
  const flags = new Array<boolean>(7).fill(false);
  if (days.trim() === '') return null;
  const index = (name: string) => DAY_NAMES.indexOf(name.trim() as (typeof DAY_NAMES)[number]);
  for (const item of days.split(',')) {
    const parts = item.split('-');
    if (parts.length > 2) return null;
    const first = index(parts[0]);
    const last = parts.length === 2 ? index(parts[1]) : first;
    if (first < 0 || last < 0 || first > last) return null;
    for (let day = first; day <= last; day++) flags[day] = true;
  }
  return flags;
}

/** Day flags → the shortest day list: runs of three or more days become ranges. */
export function formatDays(flags: boolean[]): string {
  const parts: string[] = [];
  let day = 0;
  while (day < 7) {
    if (!flags[day]) {
      day++;
      continue;
    }
    let end = day;
    while (end + 1 < 7 && flags[end + 1]) end++;
    if (end - day >= 2) parts.push(`${DAY_NAMES[day]}-${DAY_NAMES[end]}`);
    else for (let d = day; d <= end; d++) parts.push(DAY_NAMES[d]);
    day = end + 1;
  }
  return parts.join(',');
}

export function emptyProfile(name: string, currencies: string[] = ['USD']): ProfileModel {
  return {
    name,
    currencies: [...currencies],
    approve_above: [],
    allowed_categories: [],
    allowed_merchants: [],
    blocked_merchants: [],
    allowed_rails: [],
    velocity: null,
    hours: null,
    limits: [],
  };
}

export function newLimit(currency: string): LimitModel {
  return { currency, window: 'day', max: '100.00', on_exceed: 'deny' };
}

/** Renames a profile and every agent assigned to it. */
export function renameProfile(model: PolicyModel, from: string, to: string): void {
  for (const profile of model.profiles) if (profile.name === from) profile.name = to;
  for (const agent of model.agents) if (agent.profile === from) agent.profile = to;
}

/** Removes a profile; its agents fall back to `default` (their assignment is removed). */
export function removeProfile(model: PolicyModel, name: string): void {
  model.profiles = model.profiles.filter((profile) => profile.name !== name);
  model.agents = model.agents.filter((agent) => agent.profile !== name);
}

/** A fresh profile name not yet used: "profile-2", "profile-3"... */
export function unusedProfileName(model: PolicyModel): string {
  const taken = new Set(model.profiles.map((p) => p.name));
  for (let n = 2; ; n++) if (!taken.has(`profile-${n}`)) return `profile-${n}`;
}

/** The profile that governs an agent: its assignment, else `default`. */
export function profileOf(model: PolicyModel, agent: string): string {
  return model.agents.find((a) => a.agent === agent)?.profile ?? DEFAULT_PROFILE;
}
