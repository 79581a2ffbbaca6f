// Purser quickstart in TypeScript (fetch): ask before paying.
//
//   export PURSER_URL=http://127.0.0.1:7402      # the daemon (`purser serve` or the desktop app)
//   export PURSER_TOKEN=purser_...               # from `purser agent add my-agent`
//   node examples/quickstart.ts                  # Node 22.18+ runs TypeScript as is;
//   # Node 20: npx -p typescript tsc --target es2022 --module commonjs --types node \
//   #   --outDir /tmp/qs examples/quickstart.ts && node /tmp/qs/quickstart.js
//
// The same walk-through as quickstart.py, with the example policy's limits: an approved
// request and a safe retry with the same request_id; a pending one the principal answers
// (`purser approve ID`) while the script long-polls; a manual hold captured for what was
// paid; a metered usage; a denial; the budget. Fail closed: when Purser cannot answer,
// nothing was approved, so do not pay.

const PURSER_URL = process.env.PURSER_URL ?? "http://127.0.0.1:7402";
const TOKEN = process.env.PURSER_TOKEN ?? "";
// request_ids are idempotency keys: unique per payment, reused only to retry it.
const RUN = process.env.QUICKSTART_RUN || Math.random().toString(16).slice(2, 10);

type Reason = { code: string; message: string };
type Decision = {
  id: string;
  status: "approved" | "denied" | "pending" | "expired" | "cancelled" | "captured" | "voided";
  amount: string;
  currency: string;
  reason: Reason;
  decided_by: string | null;
  captured_amount: string | null;
};
type UsageReceipt = { status: string; reason: Reason; metering: { cost: string; currency: string } };
type BudgetLine = { scope: string; window: string; currency: string; limit: string; spent: string; remaining: string };
type Budget = { budgets: BudgetLine[] };

/** Purser could not decide (an error answer, or unreachable): do not pay. */
class NotAuthorized extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One agent API call. Retrying is safe: a POST carries the same request_id, so a
 *  retried payment is never decided (or spent) twice. */
async function call<T>(method: "GET" | "POST", path: string, body?: unknown, retries = 3): Promise<T> {
  let last = "";
  for (let attempt = 0; attempt < retries; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${PURSER_URL}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      last = `cannot reach Purser at ${PURSER_URL}: ${error}`;
      await sleep(500 * (attempt + 1));
      continue;
    }
    if (response.status === 200) return (await response.json()) as T;
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    last = `${response.status} ${error.code}: ${error.message}`;
    if (response.status === 429) {
      await sleep(1000 * Number(response.headers.get("Retry-After") ?? "1")); // wait as told
    } else if (response.status === 503) {
      await sleep(500 * (attempt + 1)); // could not record: nothing approved; retry later
    } else {
      throw new NotAuthorized(last); // 4xx: the request itself is wrong
    }
  }
  throw new NotAuthorized(last);
}

/** POST /v1/authorizations[?wait=S]: the decision (a denial is a normal answer). */
const authorize = (payment: object, wait = 0) =>
  call<Decision>("POST", `/v1/authorizations?wait=${wait}`, payment);

/** Long-polls a pending decision until the principal (or the approval timeout) settles it. */
async function waitForPrincipal(decision: Decision, giveUpAfterMs = 600_000): Promise<Decision> {
  const deadline = Date.now() + giveUpAfterMs;
  while (decision.status === "pending" && Date.now() < deadline) {
    decision = await call<Decision>("GET", `/v1/authorizations/${decision.id}?wait=60`);
  }
  return decision;
}

const payment = (name: string, amount: string, purpose: string, extra: object = {}) => ({
  request_id: `quickstart-${RUN}-${name}`,
  amount, // always a decimal string, never a number
  currency: "USD",
  merchant: "api.example.com",
  purpose,
  ...extra,
});

async function main(): Promise<void> {
  // 1. Ask, then retry with the same request_id: the same decision, spent once.
  const credits = payment("credits", "12.50", "Buy API credits for the report task");
  const first = await authorize(credits);
  console.log(`1. ask 12.50 USD: ${first.status} (${first.reason.code}) id=${first.id}`);
  const again = await authorize(credits);
  const same = again.id === first.id ? "same decision, spent once" : "A DIFFERENT DECISION";
  console.log(`   retry with the same request_id: ${again.status} id=${again.id} (${same})`);

  // 2. Above the approval threshold: pending until the principal decides.
  let decision = await authorize(payment("upgrade", "42.00", "Upgrade to the team plan"));
  console.log(`2. ask 42.00 USD: ${decision.status} (${decision.reason.code})`);
  if (decision.status === "pending") {
    console.log(`   waiting for the principal: purser approve ${decision.id}`);
    decision = await waitForPrincipal(decision);
  }
  console.log(`   decided: ${decision.status} by ${decision.decided_by} (${decision.reason.code})`);

  // 3. A hold: authorize 20.00, pay what the invoice says, capture that.
  const hold = await authorize(payment("invoice", "20.00", "Pay the usage invoice", { capture: "manual" }));
  if (hold.status === "approved") {
    const paid = "18.40"; // ... pay the merchant here, then record what it charged:
    const captured = await call<Decision>("POST", `/v1/authorizations/${hold.id}/capture`, { amount: paid });
    console.log(`3. hold 20.00 USD: ${hold.status}; captured ${captured.captured_amount}: ${captured.status}`);
  } else {
    console.log(`3. hold 20.00 USD: ${hold.status} (${hold.reason.code}): not paying`);
  }

  // 4. A small per-action cost: metered against the same budgets, never pending.
  const usage = await call<UsageReceipt>("POST", "/v1/usage", {
    request_id: `quickstart-${RUN}-search`,
    action: "web_search",
    units: "3",
    unit_cost: "0.002",
    currency: "USD",
  });
  console.log(`4. usage 3 x web_search at 0.002 USD = ${usage.metering.cost} USD: ${usage.status}`);

  // 5. Over the per-transaction cap: denied. Do not pay, and do not retry smaller,
  //    split or under another request_id to get around it: tell the user instead.
  const big = await authorize(payment("laptop", "150.00", "Buy a laptop"));
  console.log(`5. ask 150.00 USD: ${big.status} (${big.reason.code}: ${big.reason.message}): not paying`);

  // 6. What is left.
  const budget = await call<Budget>("GET", "/v1/budget");
  for (const line of budget.budgets) {
    console.log(
      `6. budget ${line.scope} ${line.window} ${line.currency}: spent ${line.spent} of ${line.limit}, remaining ${line.remaining}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(`not authorized, not paying: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
