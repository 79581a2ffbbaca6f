// Inbox logic without the DOM: ordering, what an event does to the list, keyboard
// handling as a reducer, the expiry countdown and the budget a decision would leave.

import { authorizationOf, killSwitchOf, settledId } from './events';
import { compareAmounts, isNegative, subtractAmounts } from './money';
import type { BudgetLine, DaemonEvent, PendingApproval } from './types';

/** Newest request on top. */
export function sortNewestFirst(items: PendingApproval[]): PendingApproval[] {
  return [...items].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

function looksPending(value: Partial<PendingApproval>): boolean {
  return (
    value.status === 'pending' &&
    typeof value.amount === 'string' &&
    typeof value.currency === 'string' &&
    typeof value.agent === 'string' &&
    typeof value.created_at === 'string'
  );
}

/** The inbox after a daemon event: decided elsewhere, expired, withdrawn or cancelled by
 * the kill switch → gone; a new pending request → added on top. */
export function applyEvent(items: PendingApproval[], event: DaemonEvent): PendingApproval[] {
  const kill = killSwitchOf(event);
  if (kill?.engaged) return [];
  const settled = settledId(event);
  if (settled) return items.filter((item) => item.id !== settled);
  if (event.event === 'pending') {
    const authorization = authorizationOf(event) as Partial<PendingApproval> | null;
    if (authorization && looksPending(authorization) && !items.some((item) => item.id === authorization.id)) {
      const full = {
        ...authorization,
        purpose: authorization.purpose ?? '',
        reasons: authorization.reasons ?? [],
        reason: authorization.reason ?? null,
      } as PendingApproval;
      return sortNewestFirst([...items, full]);
    }
  }
  return items;
}

// ---- keyboard ----------------------------------------------------------------------

export interface InboxKeys {
  selected: string | null;
  /** `a` arms "approve once" on the selection; Enter confirms, Escape disarms. */
  armed: boolean;
  /** `d` opens the deny reason box; Enter there denies. */
  denying: boolean;
}

export type InboxCommand =
  | { type: 'none' }
  | { type: 'approve-once'; id: string }
  | { type: 'focus-reason'; id: string }
  | { type: 'deny'; id: string }
  | { type: 'focus-item'; id: string };

export const initialKeys: InboxKeys = { selected: null, armed: false, denying: false };

/** One key press. `inReason` is true while the deny reason box has focus (letters are
 * then typed, not commands). */
export function inboxKey(
  state: InboxKeys,
  key: string,
  ids: string[],
  inReason = false,
): { state: InboxKeys; command: InboxCommand } {
  const none = { type: 'none' } as const;
  const selected = state.selected && ids.includes(state.selected) ? state.selected : (ids[0] ?? null);
  if (!selected) return { state: { ...initialKeys }, command: none };

  if (inReason) {
    if (key === 'Enter') return { state: { ...state, selected, denying: false }, command: { type: 'deny', id: selected } };
    if (key === 'Escape') return { state: { ...state, selected, denying: false }, command: { type: 'focus-item', id: selected } };
    return { state: { ...state, selected }, command: none };
  }

  const index = ids.indexOf(selected);
  const move = (to: number) => {
    const id = ids[Math.max(0, Math.min(ids.length - 1, to))];
    return { state: { selected: id, armed: false, denying: false }, command: { type: 'focus-item', id } as InboxCommand };
  };
  switch (key) {
    case 'j':
    case 'ArrowDown':
      return move(index + 1);
    case 'k':
    case 'ArrowUp':
      return move(index - 1);
    case 'a':
      return { state: { selected, armed: true, denying: false }, command: none };
    case 'd':
      return { state: { selected, armed: false, denying: true }, command: { type: 'focus-reason', id: selected } };
    case 'Enter':
      if (state.armed) return { state: { selected, armed: false, denying: false }, command: { type: 'approve-once', id: selected } };
      return { state: { ...state, selected }, command: none };
    case 'Escape':
      return { state: { selected, armed: false, denying: false }, command: none };
    default:
      return { state: { ...state, selected }, command: none };
  }
}

/** After the list changed: keep the selection, or take the item now at its old place. */
export function keepSelection(selected: string | null, before: string[], after: string[]): string | null {
  if (after.length === 0) return null;
  if (selected && after.includes(selected)) return selected;
  const old = selected ? before.indexOf(selected) : -1;
  return after[Math.max(0, Math.min(after.length - 1, old))];
}

// ---- time --------------------------------------------------------------------------

/** "9:05", "1:02:03" or "expired". */
export function formatCountdown(msLeft: number): string {
  if (msLeft <= 0) return 'expired';
  const total = Math.ceil(msLeft / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : `${minutes}:${ss}`;
}

/** How urgent the countdown should look. */
export function urgency(msLeft: number): 'calm' | 'soon' | 'expired' {
  if (msLeft <= 0) return 'expired';
  return msLeft <= 120_000 ? 'soon' : 'calm';
}

// ---- budget impact -----------------------------------------------------------------

export interface BudgetImpact {
  line: BudgetLine;
  before: string;
  after: string;
  /** Approving would take this budget past its limit. */
  exceeds: boolean;
}

/** The budgets of `currency` a decision would draw on, with what is left before and
 * after approving `amount`; tightest first. Per-transaction caps are compared instead. */
export function budgetImpact(lines: BudgetLine[], amount: string, currency: string): BudgetImpact[] {
  return lines
    .filter((line) => line.currency === currency)
    .map((line) => {
      if (line.window === 'transaction') {
        const after = subtractAmounts(line.limit, amount);
        return { line, before: line.limit, after, exceeds: isNegative(after) };
      }
      const after = subtractAmounts(line.remaining, amount);
      return { line, before: line.remaining, after, exceeds: isNegative(after) };
    })
    .sort((a, b) => compareAmounts(a.after, b.after));
}
