import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import {
  canonicalToml,
  emptyProfile,
  formatDays,
  fromToml,
  parseDays,
  profileOf,
  removeProfile,
  renameProfile,
  toToml,
  unusedProfileName,
  type PolicyModel,
} from '../policy-model';
import { DEMO_POLICY } from '../mock-seed';
// The contract's example policy (docs/agent-api.md §2), as shipped in examples/.
import EXAMPLE from '../../../../examples/policy.toml?raw';

function read(text: string): PolicyModel {
  const result = fromToml(text);
  if (!result.ok) throw new Error(result.error);
  return result.model;
}

describe('policy TOML → editor model', () => {
  it('reads the contract example with every value exactly as written', () => {
    const model = read(EXAMPLE);
    expect(model.timezone).toBe('UTC');
    expect(model.approval_timeout).toBe('10m');
    expect(model.limits).toEqual([{ currency: 'USD', window: 'month', max: '2000.00', on_exceed: 'deny' }]);
    const profile = model.profiles[0];
    expect(profile.name).toBe('default');
    expect(profile.approve_above).toEqual([{ currency: 'USD', amount: '25.00' }]);
    expect(profile.blocked_merchants).toEqual(['*casino*']);
    expect(profile.velocity).toEqual({ count: 30, window: '1h' });
    expect(profile.hours).toEqual({ days: 'mon-fri', from: '08:00', to: '20:00' });
    expect(profile.limits.map((l) => l.max)).toEqual(['100.00', '200.00']);
    expect(model.agents).toEqual([{ agent: 'research-bot', profile: 'default' }]);
  });

  it('fills the documented defaults for optional top-level keys', () => {
    const model = read('version = 1\n[profiles.default]\ncurrencies = []\n');
    expect(model).toMatchObject({ timezone: 'UTC', approval_timeout: '10m', hold_ttl: '30m', limits: [], agents: [] });
  });

  it('refuses what it cannot show faithfully instead of dropping it', () => {
    const unknown = fromToml('version = 1\nsurprise = true\n');
    expect(unknown).toMatchObject({ ok: false });
    expect(!unknown.ok && unknown.error).toMatch(/unknown key `surprise`/);

    const float = fromToml('version = 1\n[[limit]]\ncurrency = "USD"\nwindow = "day"\nmax = 25.00\non_exceed = "deny"\n');
    expect(!float.ok && float.error).toMatch(/max must be a string.*the number 25/);

    const syntax = fromToml('version = 1\n[profiles.default\n');
    expect(syntax.ok).toBe(false);
    expect(!syntax.ok && syntax.line).toBe(2);
  });
});

describe('editor model → TOML → model', () => {
  it('round-trips the contract example and the demo policy exactly', () => {
    for (const source of [EXAMPLE, DEMO_POLICY]) {
      const model = read(source);
      const written = toToml(model);
      expect(read(written)).toEqual(model);
      // Idempotent: writing what was read from our own output changes nothing.
      expect(toToml(read(written))).toBe(written);
    }
  });

  it('keeps amounts as the exact strings the user typed', () => {
    const model = read(EXAMPLE);
    model.profiles[0].limits[1].max = '250.50';
    model.profiles[0].approve_above[0].amount = '25.000001';
    model.limits[0].max = '2000';
    const written = toToml(model);
    expect(written).toContain('max = "250.50"');
    expect(written).toContain('approve_above = { USD = "25.000001" }');
    expect(written).toContain('max = "2000"\n');
    const back = read(written);
    expect(back.profiles[0].limits[1].max).toBe('250.50');
    expect(back.profiles[0].limits[0].max).toBe('100.00');
    expect(back.limits[0].max).toBe('2000');
  });

  it('writes valid TOML with the layout of the contract', () => {
    const model = read(DEMO_POLICY);
    const written = toToml(model);
    expect(() => parse(written)).not.toThrow();
    expect(written).toMatch(/^version = 1\ntimezone = "Europe\/Berlin"\n/);
    expect(written).toContain('[[profiles.default.limit]]\ncurrency = "USD"\nwindow = "transaction"\nmax = "100.00"\non_exceed = "deny"');
    expect(written).toContain('velocity = { count = 30, window = "1h" }');
    expect(written).toContain('hours = { days = "mon-fri", from = "07:00", to = "22:00" }');
    expect(written).toContain('[agents]\ntravel-agent = "travel"\nops-cloud = "cloud"');
  });

  it('quotes names that are not bare keys and escapes strings', () => {
    const model = read(EXAMPLE);
    model.profiles.push({ ...emptyProfile('night shift'), blocked_merchants: ['say "hi"\\now'] });
    model.agents.push({ agent: 'bot one', profile: 'night shift' });
    const written = toToml(model);
    expect(written).toContain('[profiles."night shift"]');
    expect(written).toContain('"bot one" = "night shift"');
    expect(read(written)).toEqual(model);
  });

  it('compares policies by meaning: comments and layout do not count', () => {
    const commented = EXAMPLE;
    const plain = toToml(read(EXAMPLE));
    expect(commented).not.toBe(plain);
    expect(canonicalToml(commented)).toBe(canonicalToml(plain));
    expect(canonicalToml('not [ toml')).toBe('not [ toml');
  });
});

describe('editing helpers', () => {
  it('renaming a profile moves its agents with it', () => {
    const model = read(DEMO_POLICY);
    renameProfile(model, 'travel', 'trips');
    expect(model.profiles.map((p) => p.name)).toContain('trips');
    expect(profileOf(model, 'travel-agent')).toBe('trips');
    expect(read(toToml(model))).toEqual(model);
  });

  it('removing a profile sends its agents back to default', () => {
    const model = read(DEMO_POLICY);
    removeProfile(model, 'cloud');
    expect(model.profiles.some((p) => p.name === 'cloud')).toBe(false);
    expect(profileOf(model, 'ops-cloud')).toBe('default');
  });

  it('names new profiles without clashing', () => {
    const model = read(EXAMPLE);
    expect(unusedProfileName(model)).toBe('profile-2');
    model.profiles.push(emptyProfile('profile-2'));
    expect(unusedProfileName(model)).toBe('profile-3');
  });

  it('reads and writes schedule days like the engine', () => {
    expect(parseDays('mon-fri')).toEqual([true, true, true, true, true, false, false]);
    expect(parseDays('mon,wed,fri')).toEqual([true, false, true, false, true, false, false]);
    expect(parseDays('mon-tue, thu-fri')).toEqual([true, true, false, true, true, false, false]);
    for (const bad of ['', 'fri-mon', 'monday', 'mon-tue-wed']) expect(parseDays(bad), bad).toBeNull();
    expect(formatDays([true, true, true, true, true, false, false])).toBe('mon-fri');
    expect(formatDays([true, false, true, false, true, false, false])).toBe('mon,wed,fri');
    expect(formatDays([true, true, false, false, false, true, true])).toBe('mon,tue,sat,sun');
    expect(formatDays([false, true, true, true, false, false, true])).toBe('tue-thu,sun');
    for (const text of ['mon-fri', 'sat,sun', 'mon-wed,fri']) expect(formatDays(parseDays(text) as boolean[])).toBe(text);
  });
});
