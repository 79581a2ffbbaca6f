import { describe, expect, it } from 'vitest';
import { budgetRows } from '../budgets';
import { countDecisions, decisionFromEntry, mergeRecent } from '../recent';
import type { AuditEntry, Budget } from '../types';
import { line } from './fixtures';

function entry(seq: number, kind: AuditEntry['kind'], body: Record<string, unknown>, at = `2026-05-04T10:00:${String(seq).padStart(2, '0')}.000Z`): AuditEntry {
  return { seq, at, kind, agent: 'research-bot', authorization_id: `auth_${seq}`, body, hash: 'h' };
}

describe('spend vs budget rows', () => {
  it('shows shared limits once, each agent its own, grouped by currency, without transaction caps', () => {
    const budgets: Budget[] = [
      {
        agent: 'a',
        session_id: null,
        budgets: [
          line('month', '2000.00', '1500.00', { scope: 'shared', spent: '500.00' }),
          line('day', '200.00', '150.00', { spent: '40.00', held: '10.00' }),
          line('transaction', '100.00', '100.00'),
          line('week', '1000.00', '1000.00', { currency: 'EUR' }),
        ],
      },
      { agent: 'b', session_id: null, budgets: [line('month', '2000.00', '1500.00', { scope: 'shared', spent: '500.00' }), line('day', '50.00', '0.00', { spent: '50.00' })] },
    ];
    const groups = budgetRows(budgets);
    expect(groups.map((g) => g.currency)).toEqual(['EUR', 'USD']);
    const usd = groups[1].rows;
    expect(usd.map((r) => `${r.owner}/${r.line.window}`)).toEqual(['Shared/month', 'a/day', 'b/day']);
    expect(usd[1].committed).toBe('50.00');
    expect(usd[1].spentPercent).toBe(20);
    expect(usd[1].committedPercent).toBe(25);
    expect(usd[2].committedPercent).toBe(100);
  });
});

describe("today's decisions from the audit trail", () => {
  it('counts approvals and denials, including principal decisions, expiries and cancellations', () => {
    const rows = [
      entry(1, 'request', { status: 'approved' }),
      entry(2, 'request', { status: 'pending' }),
      entry(3, 'approval', { status: 'approved' }),
      entry(4, 'request', { status: 'denied' }),
      entry(5, 'expiry', { status: 'expired' }),
      entry(6, 'cancel', { status: 'cancelled' }),
      entry(7, 'policy_change', { version: 2 }),
      entry(8, 'usage', { status: 'approved' }),
    ];
    expect(countDecisions(rows, false)).toEqual({ approved: 3, denied: 3, capped: false });
    expect(countDecisions([], true).capped).toBe(true);
  });

  it('keeps one line per authorization with its latest outcome, newest first', () => {
    const asked = decisionFromEntry(entry(2, 'request', { status: 'pending', amount: '49.00', currency: 'USD', merchant: 'm' }, '2026-05-04T10:00:00.000Z'));
    const approved = decisionFromEntry({ ...entry(3, 'approval', { status: 'approved', amount: '49.00', currency: 'USD', merchant: 'm' }, '2026-05-04T10:05:00.000Z'), authorization_id: 'auth_2' });
    const other = decisionFromEntry(entry(4, 'request', { status: 'denied' }, '2026-05-04T10:01:00.000Z'));
    const merged = mergeRecent([], [asked!, other!, approved!]);
    expect(merged.map((d) => [d.key, d.outcome])).toEqual([
      ['auth_2', 'approved'],
      ['auth_4', 'denied'],
    ]);
    expect(decisionFromEntry(entry(9, 'kill', { engaged: true }))).toBeNull();
  });

  it('two decisions in the same millisecond: the later arrival is listed first', () => {
    const line = (key: string) => ({
      key,
      at: '2026-11-26T10:00:00.000Z',
      agent: 'a',
      amount: '1.00',
      currency: 'USD',
      merchant: 'm',
      outcome: 'approved' as const,
      reason: null,
      by: null,
    });
    let recent = mergeRecent([], [line('first')]);
    recent = mergeRecent(recent, [line('second')]);
    recent = mergeRecent(recent, [line('third')]);
    expect(recent.map((item) => item.key)).toEqual(['third', 'second', 'first']);
  });
});
