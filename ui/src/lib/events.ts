// The daemon's event stream as the console sees it: the Tauri event `purser://event`
// carries `{event: KIND, data: JSON}`. This module turns a raw payload into a typed
// event and answers the questions the views ask of it (which authorization, is it still
// pending, did the kill switch change). It does not subscribe; ipc.ts does.

import type { Authorization, DaemonEvent, KillSwitchState } from './types';

export const EVENT_NAME = 'purser://event';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A raw Tauri event payload → a daemon event, or null when it is not one. `data` may
 * arrive as a JSON object or as the JSON text of one. */
export function parseEvent(payload: unknown): DaemonEvent | null {
  if (!isObject(payload) || typeof payload.event !== 'string') return null;
  let data: unknown = payload.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      data = { text: data };
    }
  }
  return { event: payload.event, data: isObject(data) ? data : {} };
}

/** The authorization an event is about: `data.authorization` when the daemon nests it,
 * else `data` itself when it looks like one. */
export function authorizationOf(event: DaemonEvent): (Partial<Authorization> & { id: string }) | null {
  const nested = event.data.authorization;
  const subject = isObject(nested) ? nested : event.data;
  const id = typeof subject.id === 'string' ? subject.id : event.data.authorization_id;
  if (typeof id !== 'string') return null;
  return { ...(subject as Partial<Authorization>), id };
}

/** Events after which an authorization no longer waits for the principal. */
const SETTLING = new Set(['approval_decided', 'expired', 'void', 'capture']);

/** The id of an authorization this event takes out of the inbox, if any. */
export function settledId(event: DaemonEvent): string | null {
  const authorization = authorizationOf(event);
  if (!authorization) return null;
  if (SETTLING.has(event.event)) return authorization.id;
  if (event.event === 'decision' && authorization.status && authorization.status !== 'pending') {
    return authorization.id;
  }
  return null;
}

/** The kill switch state an event announces, or null. */
export function killSwitchOf(event: DaemonEvent): KillSwitchState | null {
  if (event.event !== 'kill_switch') return null;
  const data = isObject(event.data.kill_switch) ? event.data.kill_switch : event.data;
  if (typeof data.engaged !== 'boolean') return null;
  return {
    engaged: data.engaged,
    reason: typeof data.reason === 'string' ? data.reason : null,
    changed_at: typeof data.changed_at === 'string' ? data.changed_at : new Date().toISOString(),
  };
}

/** A decision a principal would call "approved" or "denied" for today's counts. */
export function outcomeOf(event: DaemonEvent): 'approved' | 'denied' | null {
  if (!['decision', 'approval_decided', 'expired', 'usage'].includes(event.event)) return null;
  const status = authorizationOf(event)?.status ?? (event.data.status as string | undefined);
  if (event.event === 'expired') return 'denied';
  if (status === 'approved' || status === 'captured') return 'approved';
  if (status === 'denied' || status === 'expired' || status === 'cancelled') return 'denied';
  return null;
}
