import { describe, expect, it } from 'vitest';
import { parseEvent, killSwitchOf, outcomeOf, settledId } from '../events';
import { applyEvent, budgetImpact, formatCountdown, inboxKey, initialKeys, keepSelection, sortNewestFirst, urgency } from '../inbox';
import type { DaemonEvent } from '../types';
import { line, pending } from './fixtures';

const a = pending('auth_A', '2026-05-04T11:00:00.000Z');
const b = pending('auth_B', '2026-05-04T11:05:00.000Z', { agent: 'travel-agent' });
const c = pending('auth_C', '2026-05-04T11:02:00.000Z');

function event(kind: string, data: Record<string, unknown>): DaemonEvent {
  return { event: kind, data };
}

describe('inbox order', () => {
  it('puts the newest request on top', () => {
    expect(sortNewestFirst([a, b, c]).map((x) => x.id)).toEqual(['auth_B', 'auth_C', 'auth_A']);
  });
});

describe('daemon events and the inbox', () => {
  const inbox = sortNewestFirst([a, b, c]);

  it('removes a request decided elsewhere (CLI, notification)', () => {
    const next = applyEvent(inbox, event('approval_decided', { authorization: { ...c, status: 'approved' } }));
    expect(next.map((x) => x.id)).toEqual(['auth_B', 'auth_A']);
  });

  it('removes a request that expired, was withdrawn, or got a final decision', () => {
    expect(applyEvent(inbox, event('expired', { authorization: { id: 'auth_A', status: 'expired' } })).map((x) => x.id)).toEqual(['auth_B', 'auth_C']);
    expect(applyEvent(inbox, event('void', { authorization_id: 'auth_B' })).map((x) => x.id)).toEqual(['auth_C', 'auth_A']);
    expect(applyEvent(inbox, event('decision', { id: 'auth_A', status: 'denied' })).map((x) => x.id)).toEqual(['auth_B', 'auth_C']);
  });

  it('keeps everything on a decision that is still pending or about another request', () => {
    expect(applyEvent(inbox, event('decision', { id: 'auth_A', status: 'pending' }))).toBe(inbox);
    expect(applyEvent(inbox, event('approval_decided', { authorization: { id: 'auth_Z', status: 'approved' } }))).toEqual(inbox);
  });

  it('empties the inbox when the kill switch is engaged (pending requests are cancelled)', () => {
    expect(applyEvent(inbox, event('kill_switch', { engaged: true, reason: 'spike' }))).toEqual([]);
    expect(applyEvent(inbox, event('kill_switch', { engaged: false }))).toBe(inbox);
  });

  it('adds a new pending request on top, once', () => {
    const d = pending('auth_D', '2026-05-04T11:30:00.000Z');
    const next = applyEvent(inbox, event('pending', { authorization: d }));
    expect(next.map((x) => x.id)).toEqual(['auth_D', 'auth_B', 'auth_C', 'auth_A']);
    expect(applyEvent(next, event('pending', { authorization: d }))).toHaveLength(4);
  });

  it('reads payloads whose data is JSON text or an object', () => {
    expect(parseEvent({ event: 'expired', data: '{"authorization":{"id":"auth_A"}}' })).toEqual({
      event: 'expired',
      data: { authorization: { id: 'auth_A' } },
    });
    expect(parseEvent({ event: 'kill_switch', data: { engaged: true } })?.data).toEqual({ engaged: true });
    expect(parseEvent({ data: {} })).toBeNull();
    expect(parseEvent('nonsense')).toBeNull();
    expect(parseEvent({ event: 'usage', data: 'not json' })?.data).toEqual({ text: 'not json' });
  });

  it('knows which events settle a request, stop spending, or count as decisions', () => {
    expect(settledId(event('capture', { authorization: { id: 'auth_A', status: 'captured' } }))).toBe('auth_A');
    expect(settledId(event('pending', { authorization: { id: 'auth_A', status: 'pending' } }))).toBeNull();
    expect(killSwitchOf(event('kill_switch', { engaged: true, reason: 'x', changed_at: 't' }))).toEqual({ engaged: true, reason: 'x', changed_at: 't' });
    expect(killSwitchOf(event('policy_applied', { version: 3 }))).toBeNull();
    expect(outcomeOf(event('decision', { authorization: { id: 'x', status: 'approved' } }))).toBe('approved');
    expect(outcomeOf(event('expired', { authorization: { id: 'x' } }))).toBe('denied');
    expect(outcomeOf(event('decision', { authorization: { id: 'x', status: 'pending' } }))).toBeNull();
  });
});

describe('inbox keyboard', () => {
  const ids = ['auth_B', 'auth_C', 'auth_A'];

  it('j and k move the selection, clamped to the list', () => {
    let state = { ...initialKeys };
    state = inboxKey(state, 'j', ids).state;
    expect(state.selected).toBe('auth_C');
    state = inboxKey(state, 'j', ids).state;
    state = inboxKey(state, 'j', ids).state;
    expect(state.selected).toBe('auth_A');
    state = inboxKey(state, 'k', ids).state;
    expect(state.selected).toBe('auth_C');
    expect(inboxKey({ ...initialKeys, selected: 'auth_B' }, 'k', ids).state.selected).toBe('auth_B');
  });

  it('a arms approve-once on the selection; Enter confirms it', () => {
    const armed = inboxKey({ ...initialKeys, selected: 'auth_C' }, 'a', ids);
    expect(armed.command).toEqual({ type: 'none' });
    expect(armed.state.armed).toBe(true);
    const confirmed = inboxKey(armed.state, 'Enter', ids);
    expect(confirmed.command).toEqual({ type: 'approve-once', id: 'auth_C' });
    expect(confirmed.state.armed).toBe(false);
  });

  it('Enter without arming approves nothing; Escape or moving disarms', () => {
    expect(inboxKey({ ...initialKeys, selected: 'auth_C' }, 'Enter', ids).command).toEqual({ type: 'none' });
    const armed = inboxKey({ ...initialKeys, selected: 'auth_C' }, 'a', ids).state;
    expect(inboxKey(armed, 'Escape', ids).state.armed).toBe(false);
    const moved = inboxKey(armed, 'j', ids).state;
    expect(moved.armed).toBe(false);
    expect(inboxKey(moved, 'Enter', ids).command.type).toBe('none');
  });

  it('d opens the reason box; Enter there denies; Escape closes it', () => {
    const open = inboxKey({ ...initialKeys, selected: 'auth_A' }, 'd', ids);
    expect(open.command).toEqual({ type: 'focus-reason', id: 'auth_A' });
    expect(open.state.denying).toBe(true);
    // Letters typed into the reason are text, not commands.
    expect(inboxKey(open.state, 'a', ids, true)).toEqual({ state: open.state, command: { type: 'none' } });
    const denied = inboxKey(open.state, 'Enter', ids, true);
    expect(denied.command).toEqual({ type: 'deny', id: 'auth_A' });
    expect(denied.state.denying).toBe(false);
    expect(inboxKey(open.state, 'Escape', ids, true).state.denying).toBe(false);
  });

  it('selects the top request when nothing is selected and does nothing on an empty inbox', () => {
    expect(inboxKey(initialKeys, 'a', ids).state.selected).toBe('auth_B');
    expect(inboxKey(initialKeys, 'a', [])).toEqual({ state: initialKeys, command: { type: 'none' } });
  });

  it('after a request leaves, the selection moves to the one in its place', () => {
    expect(keepSelection('auth_C', ids, ['auth_B', 'auth_A'])).toBe('auth_A');
    expect(keepSelection('auth_A', ids, ['auth_B', 'auth_C'])).toBe('auth_C');
    expect(keepSelection('auth_B', ids, ['auth_D', 'auth_B'])).toBe('auth_B');
    expect(keepSelection('auth_B', ids, [])).toBeNull();
    expect(keepSelection(null, [], ['auth_X'])).toBe('auth_X');
  });
});

describe('expiry countdown', () => {
  it('formats the time left and flags urgency', () => {
    expect(formatCountdown(9 * 60_000 + 5_000)).toBe('9:05');
    expect(formatCountdown(3_723_000)).toBe('1:02:03');
    expect(formatCountdown(400)).toBe('0:01');
    expect(formatCountdown(0)).toBe('expired');
    expect(formatCountdown(-5)).toBe('expired');
    expect(urgency(10 * 60_000)).toBe('calm');
    expect(urgency(90_000)).toBe('soon');
    expect(urgency(0)).toBe('expired');
  });
});

describe('budget left before and after approving', () => {
  it('subtracts exactly, tightest budget first, and flags an overdraw', () => {
    const lines = [
      line('day', '200.00', '151.00'),
      line('month', '2000.00', '20.50', { scope: 'shared' }),
      line('transaction', '100.00', '100.00'),
      line('day', '50.00', '50.00', { currency: 'EUR' }),
    ];
    const impact = budgetImpact(lines, '49.00', 'USD');
    expect(impact.map((i) => [i.line.window, i.before, i.after, i.exceeds])).toEqual([
      ['month', '20.50', '-28.50', true],
      ['transaction', '100.00', '51.00', false],
      ['day', '151.00', '102.00', false],
    ]);
  });
});
