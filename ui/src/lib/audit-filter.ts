// The Audit view's filter form and how it becomes the admin API's audit query
// (`agent, kind, status, merchant, currency, since, until, q`). Empty fields narrow
// nothing and are left out; time presets are resolved against a given "now".

import type { AuditFilter, AuditKind, AuthorizationStatus } from './types';

export const AUDIT_KINDS: AuditKind[] = [
  'request',
  'usage',
  'approval',
  'denial',
  'expiry',
  'cancel',
  'capture',
  'void',
  'lapse',
  'kill',
  'resume',
  'policy_change',
  'agent_change',
];

export const STATUSES: AuthorizationStatus[] = [
  'approved',
  'denied',
  'pending',
  'expired',
  'cancelled',
  'captured',
  'voided',
];

export type TimeRange = 'all' | '1h' | '24h' | '7d' | '30d' | 'custom';

export const TIME_RANGES: { value: TimeRange; label: string }[] = [
  { value: 'all', label: 'All time' },
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'custom', label: 'Custom…' },
];

const RANGE_MS: Record<Exclude<TimeRange, 'all' | 'custom'>, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

export interface AuditFilterForm {
  agent: string;
  /** An audit kind, or '' for any. */
  kind: string;
  /** An authorization status, or '' for any. */
  status: string;
  merchant: string;
  currency: string;
  range: TimeRange;
  /** `custom` range bounds as an `<input type="datetime-local">` writes them (local time). */
  from: string;
  to: string;
  text: string;
}

export function emptyFilterForm(): AuditFilterForm {
  return { agent: '', kind: '', status: '', merchant: '', currency: '', range: 'all', from: '', to: '', text: '' };
}

export interface FilterResult {
  filter: AuditFilter;
  /** Problems to show beside the form; the query is still usable without those fields. */
  problems: string[];
}

function localToUtc(value: string): string | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** The form → the audit query. `now` anchors the relative ranges. */
export function toAuditFilter(form: AuditFilterForm, now: Date): FilterResult {
  const filter: AuditFilter = {};
  const problems: string[] = [];
  const agent = form.agent.trim();
  if (agent) filter.agent = agent;
  if (form.kind && (AUDIT_KINDS as string[]).includes(form.kind)) filter.kind = form.kind as AuditKind;
  if (form.status && (STATUSES as string[]).includes(form.status)) filter.status = form.status as AuthorizationStatus;
  const merchant = form.merchant.trim();
  if (merchant) filter.merchant = merchant;
  const currency = form.currency.trim().toUpperCase();
  if (currency) {
    if (/^[A-Z0-9]{3,10}$/.test(currency)) filter.currency = currency;
    else problems.push('Currency is 3–10 letters or digits, such as USD or USDC.');
  }
  if (form.range === 'custom') {
    const since = localToUtc(form.from);
    const until = localToUtc(form.to);
    if (since) filter.since = since;
    if (until) filter.until = until;
    if (since && until && since >= until) problems.push('“From” must be before “To”.');
  } else if (form.range !== 'all') {
    filter.since = new Date(now.getTime() - RANGE_MS[form.range]).toISOString();
  }
  const text = form.text.trim();
  if (text) filter.q = text;
  return { filter, problems };
}

/** How many fields narrow the query (for the "N filters" badge). */
export function activeFilterCount(filter: AuditFilter): number {
  return Object.values(filter).filter((value) => value !== undefined && value !== '').length;
}
