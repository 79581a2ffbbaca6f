// The contract with the Rust side: every command name and argument name ipc.ts sends
// through Tauri's invoke(), how errors come back, and how events are read.
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
const save = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...args: unknown[]) => listen(...args) }));
vi.mock('@tauri-apps/plugin-dialog', () => ({ save: (...args: unknown[]) => save(...args) }));

import * as ipc from '../ipc';

beforeAll(() => {
  (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
});

beforeEach(() => {
  invoke.mockReset();
  invoke.mockResolvedValue({});
});

describe('Tauri commands', () => {
  it('uses the Tauri backend inside the webview', async () => {
    expect(ipc.inTauri()).toBe(true);
    expect(await ipc.isMock()).toBe(false);
  });

  it('sends each admin API mirror with its argument names', async () => {
    const filter = { agent: 'research-bot', status: 'denied' as const };
    const calls: [() => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
      [() => ipc.startupState(), 'startup_state', undefined],
      [() => ipc.status(), 'status', undefined],
      [() => ipc.listAgents(), 'list_agents', undefined],
      [() => ipc.addAgent('bot', 'travel'), 'add_agent', { name: 'bot', profile: 'travel' }],
      [() => ipc.addAgent('bot', null), 'add_agent', { name: 'bot', profile: null }],
      [() => ipc.setAgentStatus('bot', 'frozen'), 'set_agent_status', { name: 'bot', status: 'frozen' }],
      [() => ipc.policyShow(), 'policy_show', undefined],
      [() => ipc.policyHistory(), 'policy_history', undefined],
      [() => ipc.policyVersion(3), 'policy_version', { version: 3 }],
      [() => ipc.policyCheck('version = 1'), 'policy_check', { text: 'version = 1' }],
      [() => ipc.policyApply('version = 1'), 'policy_apply', { text: 'version = 1' }],
      [() => ipc.policyPreview('version = 1', 30), 'policy_preview', { text: 'version = 1', days: 30 }],
      [() => ipc.approvals(), 'approvals', undefined],
      [() => ipc.approve('auth_1', 'once'), 'approve', { id: 'auth_1', grant: 'once' }],
      [() => ipc.approve('auth_1', 'for', '15m'), 'approve', { id: 'auth_1', grant: 'for', duration: '15m' }],
      [() => ipc.deny('auth_1', 'too much'), 'deny', { id: 'auth_1', reason: 'too much' }],
      [() => ipc.deny('auth_1'), 'deny', { id: 'auth_1' }],
      [() => ipc.kill('spike'), 'kill', { reason: 'spike' }],
      [() => ipc.kill(), 'kill', {}],
      [() => ipc.resume(), 'resume', undefined],
      [() => ipc.budget('bot'), 'budget', { agent: 'bot' }],
      [() => ipc.auditExport(filter, 'csv', '/tmp/a.csv'), 'audit_export', { filter, format: 'csv', path: '/tmp/a.csv' }],
      [() => ipc.auditVerify(), 'audit_verify', undefined],
      [() => ipc.agentUrl(), 'agent_url', undefined],
    ];
    for (const [call, command, args] of calls) {
      invoke.mockClear();
      await call();
      expect(invoke, command).toHaveBeenCalledTimes(1);
      expect(invoke.mock.calls[0], command).toEqual([command, args]);
    }
  });

  it('pages the audit trail by keyset and accepts either name of the cursor', async () => {
    invoke.mockResolvedValueOnce({ entries: [], next_before: 41 });
    expect(await ipc.auditPage({}, null, 200)).toEqual({ entries: [], next_before: 41 });
    expect(invoke).toHaveBeenLastCalledWith('audit_page', { filter: {}, limit: 200 });

    invoke.mockResolvedValueOnce({ entries: [], next_before_seq: null });
    expect(await ipc.auditPage({ q: 'x' }, 41, 200)).toEqual({ entries: [], next_before: null });
    expect(invoke).toHaveBeenLastCalledWith('audit_page', { filter: { q: 'x' }, before: 41, limit: 200 });
  });

  it('turns rejections into IpcError with the daemon code, field and engine errors', async () => {
    invoke.mockRejectedValueOnce({ code: 'policy_invalid', message: 'invalid', errors: ['policy.toml:3:7: bad'] });
    await expect(ipc.policyCheck('x')).rejects.toMatchObject({ name: 'IpcError', code: 'policy_invalid', errors: ['policy.toml:3:7: bad'] });

    invoke.mockRejectedValueOnce({ error: { code: 'invalid_request', message: 'name', field: 'name' } });
    await expect(ipc.addAgent('', null)).rejects.toMatchObject({ code: 'invalid_request', field: 'name' });

    invoke.mockRejectedValueOnce('command approve not found');
    await expect(ipc.approve('x', 'once')).rejects.toMatchObject({ code: 'internal', message: 'command approve not found' });
  });
});

describe('events and dialogs', () => {
  it('listens on purser://event and hands over parsed events only', async () => {
    let deliver: (event: { payload: unknown }) => void = () => undefined;
    const unlisten = vi.fn();
    listen.mockImplementation(async (name: string, handler: typeof deliver) => {
      expect(name).toBe('purser://event');
      deliver = handler;
      return unlisten;
    });
    const seen: unknown[] = [];
    const stop = await ipc.onDaemonEvent((event) => seen.push(event));
    deliver({ payload: { event: 'kill_switch', data: '{"engaged":true}' } });
    deliver({ payload: 'garbage' });
    expect(seen).toEqual([{ event: 'kill_switch', data: { engaged: true } }]);
    stop();
    expect(unlisten).toHaveBeenCalled();
  });

  it('asks where to save an export with the right file type', async () => {
    save.mockResolvedValueOnce('/home/me/audit.csv');
    expect(await ipc.chooseExportPath('csv')).toBe('/home/me/audit.csv');
    expect(save.mock.calls[0][0]).toMatchObject({ filters: [{ extensions: ['csv'] }] });
    save.mockResolvedValueOnce(null);
    expect(await ipc.chooseExportPath('jsonl')).toBeNull();
    expect(save.mock.calls[1][0].defaultPath).toMatch(/\.jsonl$/);
  });
});
