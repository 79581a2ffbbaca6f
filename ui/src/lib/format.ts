// Display formatting shared by the views: times, reason codes, windows, statuses. Pure
// functions of their inputs (the current time is passed in), so they are easy to test.

import type { AuthorizationStatus } from './types';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "4 min ago", "3 h ago", "2 d ago"; future times read "in …". */
export function relativeTime(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = nowMs - at;
  const future = delta < 0;
  const span = Math.abs(delta);
  let text: string;
  // Clocks of the console and the daemon differ by a little: a few seconds either way
  // is "just now".
  if (span < 45 * SECOND) return 'just now';
  if (span < HOUR) text = `${Math.round(span / MINUTE)} min`;
  else if (span < DAY) text = `${Math.round(span / HOUR)} h`;
  else if (span < 30 * DAY) text = `${Math.round(span / DAY)} d`;
  else return dateTime(iso);
  return future ? `in ${text}` : `${text} ago`;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const shortFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** Local date and time to the second: "4 May 2026, 14:03:22". */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : dateTimeFormat.format(at);
}

export function timeOfDay(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : timeFormat.format(at);
}

export function shortDateTime(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : shortFormat.format(at);
}

const REASONS: Record<string, string> = {
  kill_switch_engaged: 'Kill switch engaged',
  agent_frozen: 'Agent frozen',
  outside_schedule: 'Outside schedule',
  currency_not_allowed: 'Currency not allowed',
  rail_not_allowed: 'Rail not allowed',
  category_not_allowed: 'Category not allowed',
  merchant_blocked: 'Merchant blocked',
  over_transaction_limit: 'Over per-transaction limit',
  velocity_exceeded: 'Too many requests (velocity)',
  over_budget: 'Over budget',
  denied_by_principal: 'Denied by you',
  approval_expired: 'Approval expired',
  over_approval_threshold: 'Above approval threshold',
  merchant_not_listed: 'Merchant not on the list',
  over_budget_needs_approval: 'Over budget (asks you)',
  within_policy: 'Within policy',
  approved_by_principal: 'Approved by you',
  standing_grant: 'Standing grant',
};

/** "over_approval_threshold" → "Above approval threshold"; unknown codes are humanised. */
export function reasonLabel(code: string): string {
  return REASONS[code] ?? code.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

const WINDOW_LABELS: Record<string, string> = {
  transaction: 'per transaction',
  session: 'per session',
  hour: 'per hour',
  day: 'per day',
  week: 'per week',
  month: 'per month',
  total: 'in total',
};

export function windowLabel(window: string): string {
  return WINDOW_LABELS[window] ?? window;
}

export type Tone = 'good' | 'bad' | 'warn' | 'neutral' | 'info';

export function statusTone(status: AuthorizationStatus | string | null | undefined): Tone {
  switch (status) {
    case 'approved':
    case 'captured':
      return 'good';
    case 'denied':
    case 'expired':
    case 'cancelled':
      return 'bad';
    case 'pending':
      return 'warn';
    case 'voided':
      return 'neutral';
    default:
      return 'info';
  }
}

/** "policy_change" → "policy change". */
export function kindLabel(kind: string): string {
  return kind.replace(/_/g, ' ');
}
