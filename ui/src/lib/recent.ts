// "Recent decisions" and today's approved/denied counts for the dashboard: read once from
// today's audit rows, then kept current from daemon events.

import { authorizationOf, outcomeOf } from './events';
import type { AuditEntry, DaemonEvent, Reason } from './types';

export interface RecentDecision {
  /** The authorization id, or `seq:N` for rows without one. */
  key: string;
  at: string;
  agent: string;
  amount: string;
  currency: string;
  merchant: string;
  outcome: 'approved' | 'denied' | 'pending';
  reason: Reason | null;
  by: string | null;
}

export interface DayCounts {
  approved: number;
  denied: number;
  /** True when today had more rows than one page could count. */
  capped: boolean;
}

const DECIDING_KINDS = new Set(['request', 'usage', 'approval', 'denial', 'expiry', 'cancel']);

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The outcome an audit row records, if it is a decision. */
export function outcomeOfEntry(entry: AuditEntry): RecentDecision['outcome'] | null {
  if (!DECIDING_KINDS.has(entry.kind)) return null;
  if (entry.kind === 'approval') return 'approved';
  if (entry.kind === 'denial' || entry.kind === 'expiry' || entry.kind === 'cancel') return 'denied';
  const status = entry.body.status;
  if (status === 'approved' || status === 'captured') return 'approved';
  if (status === 'denied' || status === 'expired' || status === 'cancelled') return 'denied';
  if (status === 'pending') return 'pending';
  return null;
}

export function decisionFromEntry(entry: AuditEntry): RecentDecision | null {
  const outcome = outcomeOfEntry(entry);
  if (!outcome) return null;
  const reasons = Array.isArray(entry.body.reasons) ? (entry.body.reasons as Reason[]) : [];
  return {
    key: entry.authorization_id ?? `seq:${entry.seq}`,
    at: entry.at,
    agent: entry.agent ?? str(entry.body.agent),
    amount: str(entry.body.amount),
    currency: str(entry.body.currency),
    merchant: str(entry.body.merchant),
    outcome,
    reason: reasons[0] ?? null,
    by: typeof entry.body.decided_by === 'string' ? entry.body.decided_by : null,
  };
}

export function decisionFromEvent(event: DaemonEvent, nowIso: string): RecentDecision | null {
  const authorization = authorizationOf(event);
  if (!authorization) return null;
  const outcome = outcomeOf(event) ?? (event.event === 'pending' ? 'pending' : null);
  if (!outcome) return null;
  return {
    key: authorization.id,
    at: authorization.decided_at ?? authorization.created_at ?? nowIso,
    agent: authorization.agent ?? '',
    amount: authorization.amount ?? '',
    currency: authorization.currency ?? '',
    merchant: authorization.merchant ?? '',
    outcome,
    reason: authorization.reasons?.[0] ?? authorization.reason ?? null,
    by: authorization.decided_by ?? null,
  };
}

/** Approved and denied decisions among today's rows (newest first, one page). */
export function countDecisions(entries: AuditEntry[], more: boolean): DayCounts {
  let approved = 0;
  let denied = 0;
  for (const entry of entries) {
    const outcome = outcomeOfEntry(entry);
    if (outcome === 'approved') approved++;
    else if (outcome === 'denied') denied++;
  }
  return { approved, denied, capped: more };
}

/** The kill switch cancelled these pending requests: their lines say so (denied, by the
 * kill switch) instead of still waiting. */
export function cancelRecent(existing: RecentDecision[], cancelledIds: string[], at: string): RecentDecision[] {
  const cancelled = new Set(cancelledIds);
  return existing.map((item) =>
    cancelled.has(item.key) && item.outcome === 'pending'
      ? {
          ...item,
          at,
          outcome: 'denied',
          reason: { code: 'kill_switch_engaged', message: 'Cancelled by the kill switch' },
          by: 'kill_switch',
        }
      : item,
  );
}

/** Newest first, one line per authorization (its latest outcome), at most `limit`. */
export function mergeRecent(existing: RecentDecision[], incoming: RecentDecision[], limit = 30): RecentDecision[] {
  // Two decisions in the same millisecond: the one that arrived later is the newer.
  const byKey = new Map<string, { item: RecentDecision; arrival: number }>();
  [...existing].reverse().forEach((item, i) => remember(item, i - existing.length));
  incoming.forEach((item, i) => remember(item, i + 1));
  function remember(item: RecentDecision, arrival: number) {
    const known = byKey.get(item.key);
    if (!known || known.item.at <= item.at) byKey.set(item.key, { item, arrival });
  }
  return [...byKey.values()]
    .sort((a, b) => (a.item.at < b.item.at ? 1 : a.item.at > b.item.at ? -1 : b.arrival - a.arrival))
    .map(({ item }) => item)
    .slice(0, limit);
}
