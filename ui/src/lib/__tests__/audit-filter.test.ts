import { describe, expect, it } from 'vitest';
import { activeFilterCount, emptyFilterForm, toAuditFilter } from '../audit-filter';

const NOW = new Date('2026-05-04T12:00:00.000Z');

describe('audit filter form → admin API query', () => {
  it('an empty form narrows nothing', () => {
    const { filter, problems } = toAuditFilter(emptyFilterForm(), NOW);
    expect(filter).toEqual({});
    expect(problems).toEqual([]);
    expect(activeFilterCount(filter)).toBe(0);
  });

  it('maps every field to its query parameter, trimmed', () => {
    const form = {
      ...emptyFilterForm(),
      agent: ' research-bot ',
      kind: 'request',
      status: 'denied',
      merchant: ' api.openai.com',
      currency: 'usd',
      text: '  casino ',
    };
    const { filter } = toAuditFilter(form, NOW);
    expect(filter).toEqual({
      agent: 'research-bot',
      kind: 'request',
      status: 'denied',
      merchant: 'api.openai.com',
      currency: 'USD',
      q: 'casino',
    });
    expect(activeFilterCount(filter)).toBe(6);
  });

  it('turns relative ranges into a UTC since', () => {
    expect(toAuditFilter({ ...emptyFilterForm(), range: '24h' }, NOW).filter).toEqual({ since: '2026-05-03T12:00:00.000Z' });
    expect(toAuditFilter({ ...emptyFilterForm(), range: '7d' }, NOW).filter).toEqual({ since: '2026-04-27T12:00:00.000Z' });
    expect(toAuditFilter({ ...emptyFilterForm(), range: '1h' }, NOW).filter.until).toBeUndefined();
  });

  it('a custom range gives since and until and flags a reversed range', () => {
    const from = '2026-05-01T08:00';
    const to = '2026-05-02T08:00';
    const ok = toAuditFilter({ ...emptyFilterForm(), range: 'custom', from, to }, NOW);
    expect(ok.filter.since).toBe(new Date(from).toISOString());
    expect(ok.filter.until).toBe(new Date(to).toISOString());
    expect(ok.problems).toEqual([]);
    const reversed = toAuditFilter({ ...emptyFilterForm(), range: 'custom', from: to, to: from }, NOW);
    expect(reversed.problems).toHaveLength(1);
  });

  it('leaves out values the daemon would refuse, and says why', () => {
    const { filter, problems } = toAuditFilter({ ...emptyFilterForm(), currency: 'US DOLLARS', kind: 'nonsense' }, NOW);
    expect(filter).toEqual({});
    expect(problems[0]).toMatch(/Currency/);
  });
});
