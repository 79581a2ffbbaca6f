// Shared test data: a pending request and budget lines shaped like the daemon's.
import type { BudgetLine, PendingApproval } from '../types';

export function pending(id: string, created_at: string, extra: Partial<PendingApproval> = {}): PendingApproval {
  return {
    id,
    request_id: `req-${id}`,
    agent: 'research-bot',
    status: 'pending',
    amount: '49.00',
    currency: 'USD',
    merchant: 'api.perplexity.ai',
    reason: { code: 'over_approval_threshold', message: 'above 25.00 USD' },
    reasons: [{ code: 'over_approval_threshold', message: 'above 25.00 USD' }],
    decided_by: null,
    expires_at: '2026-05-04T12:10:00.000Z',
    created_at,
    decided_at: null,
    purpose: 'Pro month for research',
    context: { prompt: 'Write the report', url: 'https://example.com' },
    ...extra,
  };
}

export function line(window: BudgetLine['window'], limit: string, remaining: string, extra: Partial<BudgetLine> = {}): BudgetLine {
  return {
    scope: 'agent',
    window,
    currency: 'USD',
    limit,
    spent: '0.00',
    held: '0.00',
    remaining,
    on_exceed: 'deny',
    window_start: null,
    ...extra,
  };
}
