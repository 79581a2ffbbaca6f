// The console's only door to the daemon. Every Tauri command the app calls, every event
// it listens to and the save dialog go through here; nothing else imports
// @tauri-apps/*. Command names are snake_case mirrors of the admin API
// (docs/admin-api.md) and their arguments are the names the Rust commands take.
//
// Outside Tauri (a plain browser, `vite preview`, screenshots) an in-memory mock daemon
// with seed data answers instead, so every view can be seen and exercised; the header
// says "Demo data" then.

import { invoke as tauriInvoke } from '@tauri-apps/api/core';
import { listen as tauriListen } from '@tauri-apps/api/event';
import { save as tauriSave } from '@tauri-apps/plugin-dialog';

import { EVENT_NAME, parseEvent } from './events';
import type {
  Agent,
  AgentStatus,
  ApiErrorShape,
  AuditEntry,
  AuditExportResult,
  AuditFilter,
  AuditPage,
  AuditVerification,
  Authorization,
  Budget,
  DaemonEvent,
  ExportFormat,
  Grant,
  KillResult,
  NewAgent,
  PendingApproval,
  PolicyHistoryEntry,
  PolicyPreview,
  PolicyText,
  StartupState,
  Status,
} from './types';

export interface SaveDialogOptions {
  title: string;
  defaultPath: string;
  filters: { name: string; extensions: string[] }[];
}

/** What answers the console's calls: the Tauri shell, or the mock daemon. */
export interface IpcBackend {
  readonly mock: boolean;
  invoke(command: string, args?: Record<string, unknown>): Promise<unknown>;
  /** Calls `handler` with each raw `purser://event` payload; resolves to an unsubscribe. */
  listen(handler: (payload: unknown) => void): Promise<() => void>;
  saveDialog(options: SaveDialogOptions): Promise<string | null>;
}

/** A failed command, with the daemon's error code (`policy_invalid`, `not_found`...). */
export class IpcError extends Error implements ApiErrorShape {
  readonly code: string;
  readonly field?: string;
  readonly errors?: string[];

  constructor(shape: ApiErrorShape) {
    super(shape.message);
    this.name = 'IpcError';
    this.code = shape.code;
    if (shape.field !== undefined) this.field = shape.field;
    if (shape.errors !== undefined) this.errors = shape.errors;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whatever a command rejected with → an IpcError. Accepts `{code, message, ...}`, the
 * HTTP shape `{error: {...}}`, a plain string, or an Error. */
export function toIpcError(raw: unknown): IpcError {
  if (raw instanceof IpcError) return raw;
  const inner = isRecord(raw) && isRecord(raw.error) ? raw.error : raw;
  if (isRecord(inner) && typeof inner.message === 'string') {
    const shape: ApiErrorShape = {
      code: typeof inner.code === 'string' ? inner.code : 'internal',
      message: inner.message,
    };
    if (typeof inner.field === 'string') shape.field = inner.field;
    if (Array.isArray(inner.errors)) shape.errors = inner.errors.map(String);
    return new IpcError(shape);
  }
  if (typeof raw === 'string') return new IpcError({ code: 'internal', message: raw });
  if (raw instanceof Error) return new IpcError({ code: 'internal', message: raw.message });
  return new IpcError({ code: 'internal', message: 'The console could not reach the daemon.' });
}

const tauriBackend: IpcBackend = {
  mock: false,
  invoke: (command, args) => tauriInvoke(command, args),
  listen: (handler) => tauriListen(EVENT_NAME, (event) => handler(event.payload)),
  saveDialog: (options) => tauriSave(options),
};

/** True inside the Tauri webview. */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

let backend: Promise<IpcBackend> | null = null;

function currentBackend(): Promise<IpcBackend> {
  backend ??= inTauri()
    ? Promise.resolve(tauriBackend)
    : import('./mock-ipc').then((module) => module.createMockBackend());
  return backend;
}

/** Replaces the backend (tests, or a fresh mock). */
export function useBackend(next: IpcBackend): void {
  backend = Promise.resolve(next);
}

/** Whether the console shows demo data rather than a daemon's. */
export async function isMock(): Promise<boolean> {
  return (await currentBackend()).mock;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  const target = await currentBackend();
  const cleaned: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args ?? {})) if (value !== undefined) cleaned[key] = value;
  try {
    return (await target.invoke(command, args ? cleaned : undefined)) as T;
  } catch (error) {
    throw toIpcError(error);
  }
}

// ---- commands (name = admin API mirror; argument names are the Rust parameter names) --

/** Whether the embedded daemon started; why not (e.g. another Purser holds the data dir). */
export const startupState = () => call<StartupState>('startup_state');

export const status = () => call<Status>('status');

export const listAgents = () => call<Agent[]>('list_agents');

/** `profile` null → the daemon's default profile. The token is in the answer only. */
export const addAgent = (name: string, profile: string | null) => call<NewAgent>('add_agent', { name, profile });

/** active = unfreeze, frozen = freeze, revoked = revoke (final). */
export const setAgentStatus = (name: string, status: AgentStatus) =>
  call<Agent>('set_agent_status', { name, status });

export const policyShow = () => call<PolicyText>('policy_show');

export const policyHistory = () => call<PolicyHistoryEntry[]>('policy_history');

export const policyVersion = (version: number) => call<PolicyText>('policy_version', { version });

/** Resolves `{ok: true}`; rejects with code `policy_invalid` and `errors` otherwise. */
export const policyCheck = (text: string) => call<{ ok: true }>('policy_check', { text });

export const policyApply = (text: string) => call<{ version: number }>('policy_apply', { text });

export const policyPreview = (text: string, days: number) => call<PolicyPreview>('policy_preview', { text, days });

/** Pending approvals, oldest first (the inbox sorts newest first). */
export const approvals = () => call<PendingApproval[]>('approvals');

/** `duration` ("15m") only with grant "for". */
export const approve = (id: string, grant: Grant, duration?: string) =>
  call<Authorization>('approve', { id, grant, duration });

export const deny = (id: string, reason?: string) => call<Authorization>('deny', { id, reason });

export const kill = (reason?: string) => call<KillResult>('kill', { reason });

export const resume = () => call<KillResult>('resume');

export const budget = (agent: string) => call<Budget>('budget', { agent });

/** Newest first; pass the previous page's `next_before` as `before` for older rows. */
export async function auditPage(filter: AuditFilter, before: number | null, limit: number): Promise<AuditPage> {
  const page = await call<{ entries: AuditEntry[]; next_before?: number | null; next_before_seq?: number | null }>(
    'audit_page',
    { filter, before: before ?? undefined, limit },
  );
  return { entries: page.entries, next_before: page.next_before ?? page.next_before_seq ?? null };
}

export const auditExport = (filter: AuditFilter, format: ExportFormat, path: string) =>
  call<AuditExportResult | null>('audit_export', { filter, format, path });

export const auditVerify = () => call<AuditVerification>('audit_verify');

/** The daemon's agent API base URL, e.g. "http://127.0.0.1:7402". */
export const agentUrl = () => call<string>('agent_url');

// ---- events and dialogs ------------------------------------------------------------

/** Calls `handler` for each daemon event; resolves to the function that stops it. */
export async function onDaemonEvent(handler: (event: DaemonEvent) => void): Promise<() => void> {
  const target = await currentBackend();
  return target.listen((payload) => {
    const event = parseEvent(payload);
    if (event) handler(event);
  });
}

/** Asks where to save an audit export; null when the user cancels. */
export async function chooseExportPath(format: ExportFormat): Promise<string | null> {
  const target = await currentBackend();
  const stamp = new Date().toISOString().slice(0, 10);
  return target.saveDialog({
    title: 'Export audit trail',
    defaultPath: `purser-audit-${stamp}.${format}`,
    filters: [
      format === 'csv'
        ? { name: 'CSV (spreadsheet)', extensions: ['csv'] }
        : { name: 'JSON Lines', extensions: ['jsonl'] },
    ],
  });
}
