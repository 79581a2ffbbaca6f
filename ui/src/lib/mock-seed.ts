// Seed data for the mock daemon (mock-ipc.ts): a small team's month of agent spending,
// generated deterministically from a fixed seed relative to "now", so the console can be
// viewed, exercised and screenshotted in a plain browser. Not used inside Tauri.

import { fromMicros, toMicros } from './money';
import { fromToml, type PolicyModel, profileOf } from './policy-model';
import type { AgentStatus, AuthorizationStatus, DecidedBy, Reason } from './types';

export const DEMO_POLICY = `# Purser policy for the demo workspace.
version = 1
timezone = "Europe/Berlin"
approval_timeout = "10m"
hold_ttl = "30m"

# Shared by every agent together.
[[limit]]
currency = "USD"
window = "month"
max = "5000.00"
on_exceed = "deny"

[[limit]]
currency = "EUR"
window = "month"
max = "3000.00"
on_exceed = "ask"

[profiles.default]
currencies = ["USD", "USDC"]
approve_above = { USD = "25.00", USDC = "5.00" }
blocked_merchants = ["*casino*", "*.bet"]
allowed_rails = ["card", "x402"]
velocity = { count = 30, window = "1h" }
hours = { days = "mon-fri", from = "07:00", to = "22:00" }

[[profiles.default.limit]]
currency = "USD"
window = "transaction"
max = "100.00"
on_exceed = "deny"

[[profiles.default.limit]]
currency = "USD"
window = "day"
max = "200.00"
on_exceed = "ask"

[[profiles.default.limit]]
currency = "USDC"
window = "day"
max = "20.00"
on_exceed = "deny"

[profiles.travel]
currencies = ["EUR", "USD"]
approve_above = { EUR = "250.00", USD = "250.00" }
allowed_categories = ["travel", "lodging"]
allowed_merchants = ["*.lufthansa.com", "booking.com", "*.hilton.com", "*.bahn.de"]

[[profiles.travel.limit]]
currency = "EUR"
window = "week"
max = "1500.00"
on_exceed = "ask"

[profiles.cloud]
currencies = ["USD"]
approve_above = { USD = "500.00" }
allowed_categories = ["cloud", "software"]
allowed_rails = ["card", "stripe"]

[[profiles.cloud.limit]]
currency = "USD"
window = "week"
max = "1000.00"
on_exceed = "ask"

[[profiles.cloud.limit]]
currency = "USD"
window = "month"
max = "3000.00"
on_exceed = "deny"

[agents]
travel-agent = "travel"
ops-cloud = "cloud"
`;

const DENY_ALL = `version = 1

[profiles.default]
currencies = []
`;

export interface SeedPolicyVersion {
  version: number;
  text: string;
  applied_at: string;
  applied_by: string;
}

export interface SeedAgent {
  name: string;
  profile: string;
  status: AgentStatus;
  created_at: string;
}

/** An authorization as the mock keeps it: the store's record, roughly. */
export interface SeedAuthorization {
  id: string;
  request_id: string;
  agent: string;
  status: AuthorizationStatus;
  amount: string;
  currency: string;
  merchant: string;
  category: string | null;
  rail: string | null;
  capture: 'auto' | 'manual';
  session_id: string | null;
  purpose: string;
  context: Record<string, unknown> | null;
  reasons: Reason[];
  decided_by: DecidedBy | null;
  policy_version: number;
  expires_at: string | null;
  created_at: string;
  decided_at: string | null;
  /** What the policy alone said at request time (for the what-if preview). */
  policy_status: AuthorizationStatus;
}

/** Something that happened, before audit sequence numbers are assigned. */
export interface SeedHappening {
  at: string;
  kind: string;
  agent: string | null;
  authorization_id: string | null;
  body: Record<string, unknown>;
}

export interface Seed {
  versions: SeedPolicyVersion[];
  agents: SeedAgent[];
  authorizations: SeedAuthorization[];
  happenings: SeedHappening[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** mulberry32: a tiny deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `auth_` + 26 Crockford base-32 characters, ordered by time like the daemon's ids. */
export function authorizationId(atMs: number, random: () => number): string {
  let time = '';
  let t = atMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[Math.floor(random() * 32)];
  return `auth_${time}${tail}`;
}

function glob(pattern: string, merchant: string): boolean {
  const escaped = pattern.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`).test(merchant.toLowerCase());
}

export interface MockRequest {
  agent: string;
  amount: string;
  currency: string;
  merchant: string;
  category: string | null;
  rail: string | null;
}

/** A much simplified engine for the demo (the real one lives in purser-core): currency,
 * rail, category and merchant rules, the per-transaction cap, the approval threshold. */
export function mockDecide(model: PolicyModel, request: MockRequest): { status: AuthorizationStatus; reasons: Reason[] } {
  const name = profileOf(model, request.agent);
  const profile = model.profiles.find((p) => p.name === name);
  const deny = (code: string, message: string) => ({ status: 'denied' as const, reasons: [{ code, message }] });
  if (!profile) return deny('agent_frozen', `No profile "${name}" governs ${request.agent}.`);
  if (!profile.currencies.includes(request.currency)) {
    return deny('currency_not_allowed', `Profile ${name} does not allow ${request.currency}.`);
  }
  if (profile.allowed_rails.length > 0 && !(request.rail && profile.allowed_rails.includes(request.rail))) {
    return deny('rail_not_allowed', `Rail ${request.rail ?? '(none)'} is not allowed for profile ${name}.`);
  }
  if (profile.allowed_categories.length > 0 && !(request.category && profile.allowed_categories.includes(request.category))) {
    return deny('category_not_allowed', `Category ${request.category ?? '(none)'} is not allowed for profile ${name}.`);
  }
  if (profile.blocked_merchants.some((pattern) => glob(pattern, request.merchant))) {
    return deny('merchant_blocked', `${request.merchant} matches a blocked merchant pattern.`);
  }
  const amount = toMicros(request.amount) ?? 0n;
  const cap = profile.limits.find((l) => l.window === 'transaction' && l.currency === request.currency);
  if (cap && amount > (toMicros(cap.max) ?? 0n)) {
    if (cap.on_exceed === 'deny') {
      return deny('over_transaction_limit', `${request.amount} ${request.currency} is above the per-transaction cap of ${cap.max}.`);
    }
  }
  const threshold = profile.approve_above.find((t) => t.currency === request.currency);
  if (threshold && amount > (toMicros(threshold.amount) ?? 0n)) {
    return {
      status: 'pending',
      reasons: [
        {
          code: 'over_approval_threshold',
          message: `${request.amount} ${request.currency} is above profile ${name}'s approval threshold of ${threshold.amount} ${request.currency}.`,
        },
      ],
    };
  }
  if (profile.allowed_merchants.length > 0 && !profile.allowed_merchants.some((p) => glob(p, request.merchant))) {
    return {
      status: 'pending',
      reasons: [{ code: 'merchant_not_listed', message: `${request.merchant} is not on profile ${name}'s merchant list.` }],
    };
  }
  return { status: 'approved', reasons: [{ code: 'within_policy', message: 'Within every limit of the policy.' }] };
}

interface Shop {
  merchant: string;
  currency: string;
  category: string;
  rail: string;
  /** In cents. */
  min: number;
  max: number;
  purposes: string[];
}

const SHOPS: Record<string, Shop[]> = {
  'research-bot': [
    { merchant: 'api.openai.com', currency: 'USD', category: 'software', rail: 'card', min: 50, max: 2400, purposes: ['Top up API credits for the literature summary batch', 'Embeddings for the Q3 competitor corpus'] },
    { merchant: 'api.perplexity.ai', currency: 'USD', category: 'software', rail: 'card', min: 500, max: 4900, purposes: ['Deep-research queries for the market sizing memo'] },
    { merchant: 'serpapi.com', currency: 'USD', category: 'data', rail: 'card', min: 300, max: 7500, purposes: ['Search API quota for the pricing scrape'] },
    { merchant: 'x402.weather-api.dev', currency: 'USDC', category: 'data', rail: 'x402', min: 1, max: 90, purposes: ['Hourly weather history for the demand model', 'Forecast lookups for the logistics notebook'] },
  ],
  'travel-agent': [
    { merchant: 'booking.com', currency: 'EUR', category: 'lodging', rail: 'card', min: 8900, max: 31000, purposes: ['Hotel in Lisbon for the offsite (2 nights)', 'Hotel near the Munich client site'] },
    { merchant: 'www.lufthansa.com', currency: 'EUR', category: 'travel', rail: 'card', min: 12000, max: 48000, purposes: ['Flight FRA → LIS for the offsite', 'Return flight MUC → BER'] },
    { merchant: 'www.bahn.de', currency: 'EUR', category: 'travel', rail: 'card', min: 1990, max: 12900, purposes: ['ICE Berlin → Hamburg, flexible fare', 'BahnCard 25 upgrade for the team trip'] },
  ],
  'ops-cloud': [
    { merchant: 'console.aws.amazon.com', currency: 'USD', category: 'cloud', rail: 'card', min: 2000, max: 42000, purposes: ['Scale the ingest cluster for the nightly backfill', 'Spot instances for the eval sweep'] },
    { merchant: 'vercel.com', currency: 'USD', category: 'software', rail: 'stripe', min: 2000, max: 2000, purposes: ['Vercel Pro seat for the preview environments'] },
    { merchant: 'cloud.hetzner.com', currency: 'EUR', category: 'cloud', rail: 'card', min: 450, max: 3900, purposes: ['Extra storage box for log archives'] },
  ],
  'scraper-07': [
    { merchant: 'proxy-pool.io', currency: 'USD', category: 'data', rail: 'card', min: 500, max: 3000, purposes: ['Residential proxy bandwidth for the price monitor'] },
    { merchant: 'lucky-casino.bet', currency: 'USD', category: 'entertainment', rail: 'card', min: 1000, max: 5000, purposes: ['Buy credits (agent misread the page)'] },
  ],
  'old-prototype': [
    { merchant: 'api.openai.com', currency: 'USD', category: 'software', rail: 'card', min: 100, max: 900, purposes: ['Prototype completions'] },
  ],
};

/** Where the calendar window containing `atMs` began (UTC in the demo); null for
 * windows that are not calendar windows. */
export function windowStart(window: string, atMs: number): number | null {
  const at = new Date(atMs);
  switch (window) {
    case 'hour':
      at.setUTCMinutes(0, 0, 0);
      return at.getTime();
    case 'day':
      at.setUTCHours(0, 0, 0, 0);
      return at.getTime();
    case 'week': {
      at.setUTCHours(0, 0, 0, 0);
      const sinceMonday = (at.getUTCDay() + 6) % 7;
      return at.getTime() - sinceMonday * DAY;
    }
    case 'month':
      at.setUTCHours(0, 0, 0, 0);
      at.setUTCDate(1);
      return at.getTime();
    case 'total':
      return 0;
    default:
      return null;
  }
}

/** The first budget a new approval of `request` at `atMs` would take past its limit. */
function exceeded(model: PolicyModel, request: MockRequest, atMs: number, approved: SeedAuthorization[]) {
  const profile = model.profiles.find((p) => p.name === profileOf(model, request.agent));
  const lines = [
    ...model.limits.map((limit) => ({ limit, shared: true })),
    ...(profile?.limits ?? []).map((limit) => ({ limit, shared: false })),
  ];
  const amount = toMicros(request.amount) ?? 0n;
  for (const { limit, shared } of lines) {
    if (limit.currency !== request.currency) continue;
    const start = windowStart(limit.window, atMs);
    if (start === null) continue;
    let used = 0n;
    for (const record of approved) {
      const at = Date.parse(record.created_at);
      if (record.currency === limit.currency && at >= start && at <= atMs && (shared || record.agent === request.agent)) {
        used += toMicros(record.amount) ?? 0n;
      }
    }
    if (used + amount > (toMicros(limit.max) ?? 0n)) return { limit, shared };
  }
  return null;
}

const ADJECTIVE: Record<string, string> = { hour: 'hourly', day: 'daily', week: 'weekly', month: 'monthly', total: 'total' };

const WEIGHTS: Record<string, number> = { 'research-bot': 48, 'ops-cloud': 24, 'travel-agent': 9, 'scraper-07': 12, 'old-prototype': 7 };

function weighted(names: string[], random: () => number): string {
  const total = names.reduce((sum, name) => sum + (WEIGHTS[name] ?? 1), 0);
  let roll = random() * total;
  for (const name of names) {
    roll -= WEIGHTS[name] ?? 1;
    if (roll < 0) return name;
  }
  return names[names.length - 1];
}

function pick<T>(items: T[], random: () => number): T {
  return items[Math.floor(random() * items.length)];
}

function cents(min: number, max: number, random: () => number): string {
  const value = min + Math.floor(random() * (max - min + 1));
  return fromMicros(BigInt(value) * 10_000n, 2);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const DENY_REASONS = ['Not this vendor, use the team account', 'Too expensive — find a cheaper fare', 'Duplicate of an earlier purchase'];

/** The demo's month, ending at `nowMs`. */
export function buildSeed(nowMs: number): Seed {
  const random = prng(0x5eed);
  const current = fromToml(DEMO_POLICY);
  if (!current.ok) throw new Error(`demo policy does not parse: ${current.error}`);
  const model = current.model;

  const versions: SeedPolicyVersion[] = [
    { version: 1, text: DENY_ALL, applied_at: iso(nowMs - 34 * DAY), applied_by: 'purser (first start)' },
    {
      version: 2,
      text: DEMO_POLICY.replace('USD = "25.00", USDC = "5.00"', 'USD = "10.00", USDC = "1.00"'),
      applied_at: iso(nowMs - 33 * DAY),
      applied_by: 'console',
    },
    {
      version: 3,
      text: DEMO_POLICY.replace('USD = "25.00", USDC = "5.00"', 'USD = "50.00", USDC = "5.00"'),
      applied_at: iso(nowMs - 12 * DAY),
      applied_by: 'cli',
    },
    { version: 4, text: DEMO_POLICY, applied_at: iso(nowMs - 2 * DAY - 5 * HOUR), applied_by: 'console' },
  ];

  const agents: SeedAgent[] = [
    { name: 'research-bot', profile: 'default', status: 'active', created_at: iso(nowMs - 33 * DAY) },
    { name: 'travel-agent', profile: 'travel', status: 'active', created_at: iso(nowMs - 31 * DAY) },
    { name: 'ops-cloud', profile: 'cloud', status: 'active', created_at: iso(nowMs - 26 * DAY) },
    { name: 'scraper-07', profile: 'default', status: 'frozen', created_at: iso(nowMs - 24 * DAY) },
    { name: 'old-prototype', profile: 'default', status: 'revoked', created_at: iso(nowMs - 33 * DAY) },
  ];
  const frozenAt = nowMs - 5 * DAY - 3 * HOUR;
  const revokedAt = nowMs - 20 * DAY;
  const killAt = nowMs - 3 * DAY - 6 * HOUR;
  const resumeAt = killAt + 29 * MINUTE;

  const happenings: SeedHappening[] = [];
  const authorizations: SeedAuthorization[] = [];
  for (const version of versions) {
    happenings.push({
      at: version.applied_at,
      kind: 'policy_change',
      agent: null,
      authorization_id: null,
      body: { version: version.version, applied_by: version.applied_by, text: version.text },
    });
  }
  for (const agent of agents) {
    happenings.push({
      at: agent.created_at,
      kind: 'agent_change',
      agent: agent.name,
      authorization_id: null,
      body: { action: 'add', agent: agent.name, profile: agent.profile, status: 'active' },
    });
  }
  happenings.push({ at: iso(frozenAt), kind: 'agent_change', agent: 'scraper-07', authorization_id: null, body: { action: 'freeze', agent: 'scraper-07', status: 'frozen' } });
  happenings.push({ at: iso(revokedAt), kind: 'agent_change', agent: 'old-prototype', authorization_id: null, body: { action: 'revoke', agent: 'old-prototype', status: 'revoked' } });
  happenings.push({ at: iso(killAt), kind: 'kill', agent: null, authorization_id: null, body: { engaged: true, reason: 'Unexpected spend spike from scraper-07' } });
  happenings.push({ at: iso(resumeAt), kind: 'resume', agent: null, authorization_id: null, body: { engaged: false } });

  let counter = 0;
  const active = (name: string, at: number) => {
    const agent = agents.find((a) => a.name === name);
    if (!agent || at < Date.parse(agent.created_at)) return false;
    if (name === 'old-prototype') return at < revokedAt;
    return true;
  };
  const startOfToday = new Date(nowMs);
  startOfToday.setUTCHours(0, 0, 0, 0);

  for (let day = 30; day >= 0; day--) {
    const base = startOfToday.getTime() - day * DAY;
    const count = day === 0 ? 9 : 5 + Math.floor(random() * 6);
    for (let n = 0; n < count; n++) {
      const at = base + 7 * HOUR + Math.floor(random() * 13 * HOUR);
      if (at > nowMs - 20 * MINUTE) continue;
      const candidates = Object.keys(SHOPS).filter((name) => active(name, at));
      const agent = weighted(candidates, random);
      const shop = pick(SHOPS[agent], random);
      if (shop.merchant === 'lucky-casino.bet' && random() < 0.7) continue;
      const amount = cents(shop.min, shop.max, random);
      const request: MockRequest = { agent, amount, currency: shop.currency, merchant: shop.merchant, category: shop.category, rail: shop.rail };
      let decision = mockDecide(model, request);
      let decidedBy: DecidedBy | null = 'policy';
      const approvedSoFar = authorizations.filter((a) => a.status === 'approved');
      const over = decision.status === 'denied' ? null : exceeded(model, request, at, approvedSoFar);
      if (over) {
        const what = `${over.shared ? 'shared' : `${agent}'s`} ${ADJECTIVE[over.limit.window] ?? over.limit.window} ${request.currency} budget of ${over.limit.max}`;
        decision =
          over.limit.on_exceed === 'deny'
            ? { status: 'denied', reasons: [{ code: 'over_budget', message: `Would exceed the ${what}.` }] }
            : { status: 'pending', reasons: [{ code: 'over_budget_needs_approval', message: `Would exceed the ${what} (on_exceed = "ask").` }] };
      }
      const frozen = agent === 'scraper-07' && at >= frozenAt;
      const killed = at >= killAt && at < resumeAt;
      if (killed) {
        decision = { status: 'denied', reasons: [{ code: 'kill_switch_engaged', message: 'The kill switch is engaged: all agent spending is stopped.' }] };
        decidedBy = 'kill_switch';
      } else if (frozen) {
        decision = { status: 'denied', reasons: [{ code: 'agent_frozen', message: 'scraper-07 is frozen by the principal.' }] };
      }
      const id = authorizationId(at, random);
      counter++;
      const policyVersion = versions.filter((v) => Date.parse(v.applied_at) <= at).at(-1)?.version ?? 1;
      const record: SeedAuthorization = {
        id,
        request_id: `${agent.split('-')[0]}-${String(counter).padStart(4, '0')}`,
        agent,
        status: decision.status,
        amount,
        currency: shop.currency,
        merchant: shop.merchant,
        category: shop.category,
        rail: shop.rail,
        capture: 'auto',
        session_id: `run-${Math.floor(at / (6 * HOUR)) % 1000}`,
        purpose: pick(shop.purposes, random),
        context: random() < 0.6 ? { prompt: `Task: ${pick(shop.purposes, random).toLowerCase()}.`, url: `https://${shop.merchant}/checkout` } : null,
        reasons: decision.reasons,
        decided_by: decision.status === 'pending' ? null : decidedBy,
        policy_version: policyVersion,
        expires_at: null,
        created_at: iso(at),
        decided_at: decision.status === 'pending' ? null : iso(at),
        policy_status: decision.status,
      };
      happenings.push({ at: record.created_at, kind: 'request', agent, authorization_id: id, body: { ...record } });
      if (decision.status === 'pending') {
        const roll = random();
        const decidedAt = at + (1 + Math.floor(random() * 7)) * MINUTE;
        record.expires_at = iso(at + 10 * MINUTE);
        const overBudget = decision.reasons[0]?.code === 'over_budget_needs_approval';
        if (roll < (overBudget ? 0.15 : 0.72)) {
          record.status = 'approved';
          record.decided_by = 'principal';
          record.reasons = [{ code: 'approved_by_principal', message: 'Approved once by the principal.' }, ...decision.reasons];
          record.decided_at = iso(decidedAt);
          happenings.push({ at: record.decided_at, kind: 'approval', agent, authorization_id: id, body: { ...record, grant: 'once' } });
        } else if (roll < 0.9) {
          const reason = pick(DENY_REASONS, random);
          record.status = 'denied';
          record.decided_by = 'principal';
          record.reasons = [{ code: 'denied_by_principal', message: reason }, ...decision.reasons];
          record.decided_at = iso(decidedAt);
          happenings.push({ at: record.decided_at, kind: 'denial', agent, authorization_id: id, body: { ...record, reason } });
        } else {
          record.status = 'expired';
          record.decided_by = 'timeout';
          record.reasons = [{ code: 'approval_expired', message: 'Nobody answered within 10m.' }, ...decision.reasons];
          record.decided_at = record.expires_at;
          happenings.push({ at: record.expires_at, kind: 'expiry', agent, authorization_id: id, body: { ...record } });
        }
      }
      authorizations.push(record);
    }
  }

  // The requests waiting for the principal right now.
  const waiting: Array<Omit<SeedAuthorization, 'id' | 'request_id' | 'decided_by' | 'decided_at' | 'policy_status' | 'policy_version' | 'expires_at' | 'created_at' | 'status' | 'capture'> & { ago: number }> = [
    {
      agent: 'ops-cloud',
      amount: '1250.00',
      currency: 'USD',
      merchant: 'console.aws.amazon.com',
      category: 'cloud',
      rail: 'card',
      session_id: 'finetune-0412',
      purpose: 'Reserve 2× g5.xlarge for 7 days for the fine-tuning run',
      context: {
        prompt: 'Kick off the fine-tuning run on the new support transcripts; use on-demand GPUs if spot capacity is gone.',
        url: 'https://console.aws.amazon.com/ec2/home?region=eu-central-1#LaunchInstances',
        ticket: 'OPS-2211',
      },
      reasons: [
        { code: 'over_budget_needs_approval', message: `Would exceed ops-cloud's weekly USD budget of 1000.00 (on_exceed = "ask").` },
        { code: 'over_approval_threshold', message: '1250.00 USD is above profile cloud\'s approval threshold of 500.00 USD.' },
      ],
      ago: 6 * MINUTE + 10_000,
    },
    {
      agent: 'travel-agent',
      amount: '186.00',
      currency: 'EUR',
      merchant: 'www.airbnb.com',
      category: 'lodging',
      rail: 'card',
      session_id: 'offsite-lisbon',
      purpose: 'Apartment in Lisbon for 2 nights (13–15 May) near the offsite venue',
      context: {
        prompt: 'Find a place to stay near LX Factory for the offsite, under 100 EUR a night.',
        url: 'https://www.airbnb.com/rooms/48213377?check_in=2026-05-13&check_out=2026-05-15',
      },
      reasons: [{ code: 'merchant_not_listed', message: "www.airbnb.com is not on profile travel's merchant list." }],
      ago: 3 * MINUTE + 40_000,
    },
    {
      agent: 'research-bot',
      amount: '49.00',
      currency: 'USD',
      merchant: 'api.perplexity.ai',
      category: 'software',
      rail: 'card',
      session_id: 'run-q3-report',
      purpose: 'Buy one month of Perplexity Pro for deep research on the Q3 competitor report',
      context: {
        prompt: 'Write the Q3 competitor report. Use paid research tools if the free tier rate-limits you.',
        url: 'https://www.perplexity.ai/pro?checkout=monthly',
      },
      reasons: [{ code: 'over_approval_threshold', message: '49.00 USD is above profile default\'s approval threshold of 25.00 USD.' }],
      ago: 95_000,
    },
    {
      agent: 'travel-agent',
      amount: '412.80',
      currency: 'EUR',
      merchant: 'www.lufthansa.com',
      category: 'travel',
      rail: 'card',
      session_id: 'offsite-lisbon',
      purpose: 'Book flight FRA → LIS on 14 May for Sam (offsite), economy light, LH1166',
      context: {
        prompt: 'Book me the cheapest direct flight to Lisbon for the offsite. Economy is fine, no checked bag.',
        url: 'https://www.lufthansa.com/de/en/flight-search?origin=FRA&destination=LIS&date=2026-05-14',
        traveller: 'Sam Okafor',
      },
      reasons: [{ code: 'over_approval_threshold', message: '412.80 EUR is above profile travel\'s approval threshold of 250.00 EUR.' }],
      ago: 25_000,
    },
  ];
  for (const item of waiting) {
    const at = nowMs - item.ago;
    counter++;
    const record: SeedAuthorization = {
      ...item,
      id: authorizationId(at, random),
      request_id: `${item.agent.split('-')[0]}-${String(counter).padStart(4, '0')}`,
      status: 'pending',
      capture: 'auto',
      decided_by: null,
      policy_version: 4,
      expires_at: iso(at + 10 * MINUTE),
      created_at: iso(at),
      decided_at: null,
      policy_status: 'pending',
    };
    authorizations.push(record);
    happenings.push({ at: record.created_at, kind: 'request', agent: record.agent, authorization_id: record.id, body: { ...record } });
  }

  happenings.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  authorizations.sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  return { versions, agents, authorizations, happenings };
}
