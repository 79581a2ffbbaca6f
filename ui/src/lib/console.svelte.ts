// The state every view shares: the daemon's status (kill switch, pending count), the
// inbox, today's decisions, and the event subscription that keeps them live. Views read
// it and call its actions; they subscribe to raw events through `on` for their own data.

import { applyEvent, sortNewestFirst } from './inbox';
import { killSwitchOf, settledId } from './events';
import * as ipc from './ipc';
import { cancelRecent, countDecisions, decisionFromEntry, decisionFromEvent, mergeRecent, type DayCounts, type RecentDecision } from './recent';
import type { DaemonEvent, PendingApproval, StartupState, Status } from './types';

type Listener = (event: DaemonEvent) => void;

function startOfToday(): Date {
  const at = new Date();
  at.setHours(0, 0, 0, 0);
  return at;
}

export class ConsoleState {
  status = $state<Status | null>(null);
  pending = $state<PendingApproval[]>([]);
  recent = $state<RecentDecision[]>([]);
  today = $state<DayCounts>({ approved: 0, denied: 0, capped: false });
  mock = $state(false);
  ready = $state(false);
  /** Set when the app's embedded daemon could not start (shown instead of the views). */
  startup = $state<Extract<StartupState, { ok: false }> | null>(null);
  /** Why the daemon cannot be reached, shown instead of stale data. */
  error = $state<string | null>(null);
  /** The kill switch confirmation dialog (reachable from every view). */
  killDialogOpen = $state(false);

  private listeners = new Set<Listener>();
  private unlisten: (() => void) | null = null;
  private refetchTimer: ReturnType<typeof setTimeout> | null = null;
  private statusTimer: ReturnType<typeof setTimeout> | null = null;
  private seenKeys = new Set<string>();
  /** Requests taken out of the inbox (by an event, or decided here). A list of pending
   * requests read before such a change but answered after it must not bring them back:
   * a settled request never becomes pending again. Bounded; the oldest go first. */
  private settledIds = new Set<string>();
  /** Bumped whenever the inbox is emptied at once (kill switch): a list read before that
   * is stale as a whole. */
  private inboxEpoch = 0;

  get killed(): boolean {
    return this.status?.kill_switch.engaged ?? false;
  }

  async start(): Promise<void> {
    this.mock = await ipc.isMock();
    try {
      const startup = await ipc.startupState();
      if (!startup.ok) {
        this.startup = startup;
        return;
      }
    } catch {
      // An older shell without `startup_state`: the status call below tells.
    }
    this.startup = null;
    this.unlisten = await ipc.onDaemonEvent((event) => this.handle(event));
    await Promise.all([this.refresh(), this.loadToday()]);
  }

  stop(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  async refresh(): Promise<void> {
    const epoch = this.inboxEpoch;
    try {
      const [status, pending] = await Promise.all([ipc.status(), ipc.approvals()]);
      this.status = status;
      if (epoch === this.inboxEpoch) this.pending = this.unsettled(pending);
      this.error = null;
      this.ready = true;
    } catch (error) {
      this.error = ipc.toIpcError(error).message;
    }
  }

  /** Today's decisions from the audit trail (one page of at most 1000 rows). */
  async loadToday(): Promise<void> {
    try {
      const page = await ipc.auditPage({ since: startOfToday().toISOString() }, null, 1000);
      this.today = countDecisions(page.entries, page.next_before !== null);
      for (const entry of page.entries) if (entry.authorization_id) this.seenKeys.add(`${entry.authorization_id}:${entry.kind}`);
      const decisions = page.entries.map(decisionFromEntry).filter((d): d is RecentDecision => d !== null);
      this.recent = mergeRecent([], decisions);
    } catch {
      // The status error already tells the user; the counts stay at zero.
    }
  }

  /** Registers a listener for every daemon event; returns its removal. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  handle(event: DaemonEvent): void {
    if (event.event === 'lagged') {
      // Events were missed: the lists may be stale, read them again.
      void this.refresh();
      void this.loadToday();
      for (const listener of this.listeners) listener(event);
      return;
    }
    const settled = settledId(event);
    if (settled) this.rememberSettled(settled);
    const kill = killSwitchOf(event);
    if (kill?.engaged) this.inboxEpoch += 1;
    this.pending = applyEvent(this.pending, event);
    if (kill && this.status) this.status = { ...this.status, kill_switch: kill };
    const cancelledIds = kill?.engaged && Array.isArray(event.data.cancelled_ids) ? event.data.cancelled_ids.filter((id): id is string => typeof id === 'string') : [];
    if (cancelledIds.length > 0) {
      this.recent = cancelRecent(this.recent, cancelledIds, kill?.changed_at ?? new Date().toISOString());
      this.today = { ...this.today, denied: this.today.denied + cancelledIds.length };
    }
    if (this.status) this.status = { ...this.status, pending: this.pending.length };
    if (event.event === 'pending') this.refetchPending();
    if (['decision', 'approval_decided', 'expired', 'capture', 'void', 'usage', 'policy_applied', 'agent_changed'].includes(event.event)) {
      this.refreshStatusSoon();
    }

    const decision = decisionFromEvent(event, new Date().toISOString());
    if (decision) {
      const key = `${decision.key}:${event.event}`;
      if (!this.seenKeys.has(key)) {
        this.seenKeys.add(key);
        if (decision.outcome === 'approved') this.today = { ...this.today, approved: this.today.approved + 1 };
        if (decision.outcome === 'denied') this.today = { ...this.today, denied: this.today.denied + 1 };
      }
      this.recent = mergeRecent(this.recent, [decision]);
    }
    for (const listener of this.listeners) listener(event);
  }

  /** A pending event may carry less than the inbox shows (context, purpose): fetch the
   * full list shortly after, once for a burst of events. */
  private refetchPending(): void {
    if (this.refetchTimer) clearTimeout(this.refetchTimer);
    this.refetchTimer = setTimeout(async () => {
      this.refetchTimer = null;
      const epoch = this.inboxEpoch;
      try {
        const pending = await ipc.approvals();
        if (epoch !== this.inboxEpoch) return;
        this.pending = this.unsettled(pending);
        if (this.status) this.status = { ...this.status, pending: this.pending.length };
      } catch (error) {
        this.error = ipc.toIpcError(error).message;
      }
    }, 50);
  }

  private refreshStatusSoon(): void {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(async () => {
      this.statusTimer = null;
      try {
        const status = await ipc.status();
        this.status = { ...status, pending: this.pending.length };
      } catch (error) {
        this.error = ipc.toIpcError(error).message;
      }
    }, 300);
  }

  /** Engages the kill switch; resolves once the daemon says it is durable. */
  async engageKill(reason: string): Promise<number> {
    const result = await ipc.kill(reason.trim() || undefined);
    const changed_at = new Date().toISOString();
    if (this.status) {
      this.status = { ...this.status, kill_switch: { engaged: true, reason: reason.trim() || null, changed_at }, pending: 0 };
    }
    this.inboxEpoch += 1;
    this.pending = [];
    return result.cancelled ?? 0;
  }

  async resumeSpending(): Promise<void> {
    await ipc.resume();
    if (this.status) {
      this.status = { ...this.status, kill_switch: { engaged: false, reason: null, changed_at: new Date().toISOString() } };
    }
  }

  private rememberSettled(id: string): void {
    this.settledIds.add(id);
    if (this.settledIds.size > 1000) {
      const oldest = this.settledIds.values().next().value;
      if (oldest !== undefined) this.settledIds.delete(oldest);
    }
  }

  /** A freshly read list of pending requests, without those settled meanwhile. */
  private unsettled(pending: PendingApproval[]): PendingApproval[] {
    return sortNewestFirst(pending.filter((item) => !this.settledIds.has(item.id)));
  }

  /** Removes a request the principal just decided here (the event confirms it later). */
  settle(id: string): void {
    this.rememberSettled(id);
    this.pending = this.pending.filter((item) => item.id !== id);
    if (this.status) this.status = { ...this.status, pending: this.pending.length };
  }
}

export const app = new ConsoleState();
