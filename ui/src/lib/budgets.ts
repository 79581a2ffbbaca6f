// The dashboard's "spend vs budget": every budget line of every agent, shared limits
// once, grouped by currency. Amounts stay exact strings; percentages are for drawing.

import { addAmounts, ratio } from './money';
import type { Budget, BudgetLine } from './types';

const WINDOW_ORDER = ['hour', 'day', 'week', 'month', 'total', 'session', 'transaction'];

export interface BudgetRow {
  key: string;
  /** "Shared" or the agent's name. */
  owner: string;
  line: BudgetLine;
  /** spent + held, exact. */
  committed: string;
  spentPercent: number;
  committedPercent: number;
}

export interface CurrencyBudgets {
  currency: string;
  rows: BudgetRow[];
}

/** Shared lines once (from the first agent that reports them), then each agent's own
 * lines; per-transaction caps are left out (they are not spent over time). */
export function budgetRows(budgets: Budget[]): CurrencyBudgets[] {
  const rows: BudgetRow[] = [];
  const sharedSeen = new Set<string>();
  for (const budget of budgets) {
    for (const line of budget.budgets) {
      if (line.window === 'transaction' || line.scope === 'session') continue;
      const shared = line.scope === 'shared';
      const key = shared ? `shared/${line.currency}/${line.window}` : `${budget.agent}/${line.currency}/${line.window}`;
      if (shared && sharedSeen.has(key)) continue;
      if (shared) sharedSeen.add(key);
      const committed = addAmounts(line.spent, line.held);
      rows.push({
        key,
        owner: shared ? 'Shared' : budget.agent,
        line,
        committed,
        spentPercent: ratio(line.spent, line.limit) * 100,
        committedPercent: ratio(committed, line.limit) * 100,
      });
    }
  }
  const byCurrency = new Map<string, BudgetRow[]>();
  for (const row of rows) {
    const list = byCurrency.get(row.line.currency) ?? [];
    list.push(row);
    byCurrency.set(row.line.currency, list);
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, list]) => ({
      currency,
      rows: list.sort(
        (a, b) =>
          Number(b.owner === 'Shared') - Number(a.owner === 'Shared') ||
          a.owner.localeCompare(b.owner) ||
          WINDOW_ORDER.indexOf(a.line.window) - WINDOW_ORDER.indexOf(b.line.window),
      ),
    }));
}
