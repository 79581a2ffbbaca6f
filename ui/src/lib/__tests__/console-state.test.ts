// The shared console state: what the header, inbox and dashboard show stays true as
// daemon events arrive, and an unreachable daemon is reported rather than hidden.
import { describe, expect, it, vi } from 'vitest';
import { ConsoleState } from '../console.svelte';
import { relativeTime, reasonLabel, windowLabel } from '../format';
import { useBackend, type IpcBackend } from '../ipc';
import { createMockBackend } from '../mock-ipc';

async function started() {
  const backend = createMockBackend({ live: false });
  useBackend(backend);
  const state = new ConsoleState();
  await state.start();
  return { backend, state };
}

describe('console state', () => {
  it('the kill switch turns waiting lines of the recent decisions into cancelled ones', async () => {
    const { state, backend } = await started();
    const waiting = state.pending.map((p) => p.id);
    expect(waiting.length).toBeGreaterThan(0);
    // The dashboard may list them as waiting (from the pending events or today's audit rows).
    state.recent = waiting.map((id, i) => ({
      key: id,
      at: `2026-11-26T10:00:0${i}Z`,
      agent: 'research-bot',
      amount: '60.00',
      currency: 'USD',
      merchant: 'api.example.com',
      outcome: 'pending' as const,
      reason: null,
      by: null,
    }));
    const deniedBefore = state.today.denied;
    backend.daemon.engageKill('stop');
    for (const id of waiting) {
      const line = state.recent.find((item) => item.key === id);
      expect(line?.outcome).toBe('denied');
      expect(line?.by).toBe('kill_switch');
      expect(line?.reason?.code).toBe('kill_switch_engaged');
    }
    expect(state.today.denied).toBe(deniedBefore + waiting.length);
  });

  it('loads the status and the inbox, newest first', async () => {
    const { state, backend } = await started();
    const pending = backend.daemon.authorizations.filter((a) => a.status === 'pending');
    expect(state.ready).toBe(true);
    expect(state.pending).toHaveLength(pending.length);
    expect(state.status?.pending).toBe(pending.length);
    expect(state.pending[0].created_at >= state.pending[1].created_at).toBe(true);
  });

  it('keeps the pending count, kill state and today counts current from events', async () => {
    const { state, backend } = await started();
    const before = state.today;
    const [first, second] = state.pending;
    backend.daemon.approve(first.id, 'once');
    backend.daemon.deny(second.id, 'no');
    expect(state.pending.map((p) => p.id)).not.toContain(first.id);
    expect(state.status?.pending).toBe(state.pending.length);
    expect(state.today.approved).toBe(before.approved + 1);
    expect(state.today.denied).toBe(before.denied + 1);
    expect(state.recent[0].key).toBe(second.id);

    backend.daemon.engageKill('stop');
    expect(state.killed).toBe(true);
    expect(state.pending).toEqual([]);
    backend.daemon.resume();
    expect(state.killed).toBe(false);
  });

  it('tells listeners about every event and stops when asked', async () => {
    const { state, backend } = await started();
    const seen: string[] = [];
    const off = state.on((event) => seen.push(event.event));
    backend.daemon.setAgentStatus('research-bot', 'frozen');
    off();
    backend.daemon.setAgentStatus('research-bot', 'active');
    expect(seen).toEqual(['agent_changed']);
  });

  it('shows why the embedded daemon did not start instead of empty views', async () => {
    const backend = createMockBackend({ live: false });
    backend.daemon.startupFailure = { ok: false, code: 'data_dir_locked', message: 'in use', pid: 4242 };
    useBackend(backend);
    const state = new ConsoleState();
    await state.start();
    expect(state.startup).toMatchObject({ code: 'data_dir_locked', pid: 4242 });
    expect(state.ready).toBe(false);
    backend.daemon.startupFailure = null;
    await state.start();
    expect(state.startup).toBeNull();
    expect(state.ready).toBe(true);
  });

  it('reloads everything after missing events (lagged)', async () => {
    const { state, backend } = await started();
    const [first] = state.pending;
    // Decided while the console was not listening: no event reaches it.
    backend.daemon.authorizations.find((a) => a.id === first.id)!.status = 'denied';
    state.handle({ event: 'lagged', data: { missed: 3 } });
    await vi.waitFor(() => expect(state.pending.map((p) => p.id)).not.toContain(first.id));
  });

  it('reports a daemon that does not answer', async () => {
    const down: IpcBackend = {
      mock: false,
      invoke: async () => {
        throw { code: 'unavailable', message: 'another Purser (pid 4242) holds the data dir' };
      },
      listen: async () => () => undefined,
      saveDialog: async () => null,
    };
    useBackend(down);
    const state = new ConsoleState();
    await state.start();
    expect(state.ready).toBe(false);
    expect(state.error).toBe('another Purser (pid 4242) holds the data dir');
  });
});

describe('display formatting', () => {
  it('says how long ago, tolerating a little clock skew', () => {
    const now = Date.parse('2026-05-04T12:00:00Z');
    expect(relativeTime('2026-05-04T11:59:50Z', now)).toBe('just now');
    expect(relativeTime('2026-05-04T12:00:10Z', now)).toBe('just now');
    expect(relativeTime('2026-05-04T11:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-05-04T09:00:00Z', now)).toBe('3 h ago');
    expect(relativeTime('2026-05-02T12:00:00Z', now)).toBe('2 d ago');
    expect(relativeTime('2026-05-04T12:10:00Z', now)).toBe('in 10 min');
    expect(relativeTime(null, now)).toBe('never');
  });

  it('names reasons and windows in words', () => {
    expect(reasonLabel('over_approval_threshold')).toBe('Above approval threshold');
    expect(reasonLabel('something_new')).toBe('Something new');
    expect(windowLabel('day')).toBe('per day');
    expect(windowLabel('total')).toBe('in total');
  });
});

describe('the inbox against late answers', () => {
  /** The mock daemon, with `approvals` answers held until `release()`: the list is read
   * when asked, and arrives after whatever happens meanwhile. */
  async function startedWithSlowApprovals() {
    const backend = createMockBackend({ live: false });
    let held: Array<() => void> = [];
    const slow: IpcBackend = {
      mock: false,
      invoke: async (command, args) => {
        const answer = await backend.invoke(command, args);
        if (command === 'approvals' && holding) await new Promise<void>((resolve) => held.push(resolve));
        return answer;
      },
      listen: (handler) => backend.listen(handler),
      saveDialog: (options) => backend.saveDialog(options),
    };
    let holding = false;
    useBackend(slow);
    const state = new ConsoleState();
    await state.start();
    return {
      backend,
      state,
      hold: () => (holding = true),
      release: () => {
        holding = false;
        for (const resolve of held) resolve();
        held = [];
      },
    };
  }

  it('does not bring back a request decided while the list was on its way', async () => {
    const { backend, state, hold, release } = await startedWithSlowApprovals();
    const [first] = state.pending;
    hold();
    state.handle({ event: 'lagged', data: { missed: 1 } }); // reads the list: held
    await new Promise((resolve) => setTimeout(resolve, 0));
    backend.daemon.deny(first.id, 'decided elsewhere'); // its event arrives first
    expect(state.pending.map((p) => p.id)).not.toContain(first.id);
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(state.pending.map((p) => p.id)).not.toContain(first.id);
  });

  it('does not bring back requests the kill switch cancelled while the list was on its way', async () => {
    const { backend, state, hold, release } = await startedWithSlowApprovals();
    expect(state.pending.length).toBeGreaterThan(0);
    hold();
    state.handle({ event: 'lagged', data: { missed: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 0));
    backend.daemon.engageKill('stop');
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(state.pending).toEqual([]);
  });
});
