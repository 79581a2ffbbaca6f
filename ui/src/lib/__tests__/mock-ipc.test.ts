// The browser demo's mock daemon must behave like the real one where the UI relies on it.
import { describe, expect, it } from 'vitest';
import { createMockBackend, mockCheck } from '../mock-ipc';
import { DEMO_POLICY } from '../mock-seed';
import type { AuditPage, PendingApproval, Status } from '../types';

const NOW = Date.parse('2026-05-06T12:00:00.000Z');

function setup() {
  let now = NOW;
  const backend = createMockBackend({ now: () => now, live: false });
  const events: { event: string; data: Record<string, unknown> }[] = [];
  void backend.listen((payload) => events.push(payload as (typeof events)[number]));
  const call = <T>(command: string, args: Record<string, unknown> = {}) => backend.invoke(command, args) as Promise<T>;
  return { backend, events, call, advance: (ms: number) => (now += ms) };
}

describe('mock daemon', () => {
  it('seeds pending approvals with context, agents and an audit trail', async () => {
    const { call } = setup();
    const pending = await call<PendingApproval[]>('approvals');
    expect(pending.length).toBeGreaterThanOrEqual(3);
    expect(pending.every((p) => p.status === 'pending' && p.purpose && p.expires_at)).toBe(true);
    expect(pending.some((p) => typeof p.context?.prompt === 'string' && typeof p.context?.url === 'string')).toBe(true);
    const agents = await call<{ status: string }[]>('list_agents');
    expect(new Set(agents.map((a) => a.status))).toEqual(new Set(['active', 'frozen', 'revoked']));
    const page = await call<AuditPage>('audit_page', { filter: {}, limit: 50 });
    expect(page.entries).toHaveLength(50);
    expect(page.entries[0].seq).toBeGreaterThan(page.entries[49].seq);
  });

  it('approving removes the request from the inbox and announces it', async () => {
    const { call, events } = setup();
    const [first] = await call<PendingApproval[]>('approvals');
    const decided = await call<PendingApproval>('approve', { id: first.id, grant: 'once' });
    expect(decided.status).toBe('approved');
    expect((await call<PendingApproval[]>('approvals')).some((p) => p.id === first.id)).toBe(false);
    expect(events.at(-1)).toMatchObject({ event: 'approval_decided', data: { id: first.id, status: 'approved', purpose: first.purpose } });
    await expect(call('deny', { id: first.id })).rejects.toMatchObject({ code: 'invalid_state' });
  });

  it('denying records the reason', async () => {
    const { call } = setup();
    const [first] = await call<PendingApproval[]>('approvals');
    const denied = await call<PendingApproval>('deny', { id: first.id, reason: 'Use the team card' });
    expect(denied.reasons[0]).toEqual({ code: 'denied_by_principal', message: 'Use the team card' });
  });

  it('the kill switch cancels pending requests and refuses approvals until resume', async () => {
    const { call, events } = setup();
    const before = await call<PendingApproval[]>('approvals');
    const result = await call<{ engaged: boolean; cancelled: number }>('kill', { reason: 'test' });
    expect(result).toEqual({ engaged: true, cancelled: before.length });
    expect(await call<PendingApproval[]>('approvals')).toEqual([]);
    expect((await call<Status>('status')).kill_switch).toMatchObject({ engaged: true, reason: 'test' });
    expect(events.at(-1)).toMatchObject({ event: 'kill_switch', data: { engaged: true } });
    await call('resume');
    expect((await call<Status>('status')).kill_switch.engaged).toBe(false);
  });

  it('unanswered requests expire', async () => {
    const { backend, call, advance, events } = setup();
    advance(11 * 60_000);
    backend.daemon.expireDue();
    expect(await call<PendingApproval[]>('approvals')).toEqual([]);
    expect(events.some((e) => e.event === 'expired')).toBe(true);
  });

  it('checks policies with file:line:col errors and applies new versions', async () => {
    const { call } = setup();
    expect(mockCheck(DEMO_POLICY)).toEqual([]);
    const bad = DEMO_POLICY.replace('max = "200.00"', 'max = "lots"');
    const errors = mockCheck(bad);
    expect(errors).toHaveLength(1);
    const line = bad.split('\n').findIndex((l) => l.includes('"lots"')) + 1;
    expect(errors[0]).toMatch(new RegExp(`^policy\\.toml:${line}:1: invalid \`max\``));
    await expect(call('policy_apply', { text: bad })).rejects.toMatchObject({ code: 'policy_invalid', errors });
    const { version } = await call<{ version: number }>('policy_apply', { text: DEMO_POLICY.replace('"25.00"', '"30.00"') });
    expect(version).toBe(5);
    expect((await call<{ version: number }>('policy_show')).version).toBe(5);
  });

  it('previews how many recorded requests a stricter policy would flip', async () => {
    const { call } = setup();
    const same = await call<{ total: number; flipped: number }>('policy_preview', { text: DEMO_POLICY, days: 30 });
    expect(same.total).toBeGreaterThan(0);
    expect(same.flipped).toBe(0);
    const strict = DEMO_POLICY.replace('USD = "25.00", USDC = "5.00"', 'USD = "1.00", USDC = "0.01"');
    const preview = await call<{ flipped: number; changes: { was: string; now: string; count: number }[]; examples: { was: string; now: string }[] }>('policy_preview', { text: strict, days: 30 });
    expect(preview.flipped).toBeGreaterThan(0);
    expect(preview.examples.some((e) => e.was === 'approved' && e.now === 'pending')).toBe(true);
    expect(preview.changes.reduce((sum, change) => sum + change.count, 0)).toBe(preview.flipped);
  });

  it('pages the audit trail with a keyset cursor and filters', async () => {
    const { call } = setup();
    const first = await call<AuditPage>('audit_page', { filter: { kind: 'request' }, limit: 10 });
    expect(first.entries.every((e) => e.kind === 'request')).toBe(true);
    const second = await call<AuditPage>('audit_page', { filter: { kind: 'request' }, before: first.next_before, limit: 10 });
    expect(second.entries[0].seq).toBeLessThan(first.entries[9].seq);
  });
});
