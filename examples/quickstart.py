"""Purser quickstart in Python (httpx): ask before paying.

    pip install httpx
    export PURSER_URL=http://127.0.0.1:7402      # the daemon (`purser serve` or the desktop app)
    export PURSER_TOKEN=purser_...               # from `purser agent add my-agent`
    python examples/quickstart.py

It walks through what an agent does with Purser, with the example policy's limits
(approve above 25.00 USD, at most 100.00 a transaction):

1. ask to spend 12.50 (approved) and retry safely with the same request_id;
2. ask for 42.00: pending until the principal answers `purser approve ID`, which the
   script waits for with a long-poll;
3. hold 20.00 (capture "manual"), pay 18.40, capture what was paid;
4. meter a small per-action cost (usage);
5. ask for 150.00: denied, and what not to do about it;
6. read what is left of the budget.

Fail closed: when Purser cannot answer, nothing was approved, so do not pay.
"""

import os
import sys
import time
import uuid

import httpx

PURSER_URL = os.environ.get("PURSER_URL", "http://127.0.0.1:7402")
TOKEN = os.environ["PURSER_TOKEN"]
# request_ids are idempotency keys: unique per payment, reused only to retry it.
RUN = os.environ.get("QUICKSTART_RUN") or uuid.uuid4().hex[:8]

client = httpx.Client(
    base_url=PURSER_URL,
    headers={"Authorization": f"Bearer {TOKEN}"},
    # A long-poll holds the answer up to `wait` seconds: read longer than that.
    timeout=httpx.Timeout(10.0, read=130.0),
)


class NotAuthorized(Exception):
    """Purser could not decide (an error answer, or unreachable): do not pay."""


def call(method, path, retries=3, **kwargs):
    """One agent API call. Retrying is safe: a POST carries the same request_id, so a
    retried payment is never decided (or spent) twice."""
    for attempt in range(retries):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            last = f"cannot reach Purser at {PURSER_URL}: {error}"
            time.sleep(0.5 * (attempt + 1))
            continue
        if response.status_code == 200:
            return response.json()
        error = response.json()["error"]
        last = f"{response.status_code} {error['code']}: {error['message']}"
        if response.status_code == 429:  # rate limited: wait as told, then retry
            time.sleep(int(response.headers.get("Retry-After", "1")))
        elif response.status_code == 503:  # could not record: nothing approved; retry later
            time.sleep(0.5 * (attempt + 1))
        else:  # 4xx: the request itself is wrong; retrying will not help
            raise NotAuthorized(last)
    raise NotAuthorized(last)


def authorize(payment, wait=0):
    """POST /v1/authorizations[?wait=S]: the decision (a denial is a normal answer)."""
    return call("POST", "/v1/authorizations", params={"wait": wait}, json=payment)


def wait_for_principal(decision, give_up_after=600):
    """Long-polls a pending decision until the principal (or the approval timeout)
    settles it."""
    deadline = time.monotonic() + give_up_after
    while decision["status"] == "pending" and time.monotonic() < deadline:
        decision = call("GET", f"/v1/authorizations/{decision['id']}", params={"wait": 60})
    return decision


def reason(decision):
    return f"{decision['reason']['code']}: {decision['reason']['message']}"


def payment(name, amount, purpose, **extra):
    return {
        "request_id": f"quickstart-{RUN}-{name}",
        "amount": amount,  # always a decimal string, never a float
        "currency": "USD",
        "merchant": "api.example.com",
        "purpose": purpose,
        **extra,
    }


def main():
    # 1. Ask, then retry with the same request_id: the same decision, spent once.
    credits = payment("credits", "12.50", "Buy API credits for the report task")
    first = authorize(credits)
    print(f"1. ask 12.50 USD: {first['status']} ({first['reason']['code']}) id={first['id']}")
    again = authorize(credits)
    same = "same decision, spent once" if again["id"] == first["id"] else "A DIFFERENT DECISION"
    print(f"   retry with the same request_id: {again['status']} id={again['id']} ({same})")

    # 2. Above the approval threshold: pending until the principal decides.
    upgrade = payment("upgrade", "42.00", "Upgrade to the team plan")
    decision = authorize(upgrade)
    print(f"2. ask 42.00 USD: {decision['status']} ({decision['reason']['code']})")
    if decision["status"] == "pending":
        print(f"   waiting for the principal: purser approve {decision['id']}", flush=True)
        decision = wait_for_principal(decision)
    print(f"   decided: {decision['status']} by {decision['decided_by']} ({decision['reason']['code']})")

    # 3. A hold: authorize 20.00, pay what the invoice says, capture that.
    hold = authorize(payment("invoice", "20.00", "Pay the usage invoice", capture="manual"))
    if hold["status"] == "approved":
        paid = "18.40"  # ... pay the merchant here, then record what it charged:
        captured = call("POST", f"/v1/authorizations/{hold['id']}/capture", json={"amount": paid})
        print(f"3. hold 20.00 USD: {hold['status']}; captured {captured['captured_amount']}: {captured['status']}")
    else:
        print(f"3. hold 20.00 USD: {hold['status']} ({reason(hold)}): not paying")

    # 4. A small per-action cost: metered against the same budgets, never pending.
    usage = call(
        "POST",
        "/v1/usage",
        json={
            "request_id": f"quickstart-{RUN}-search",
            "action": "web_search",
            "units": "3",
            "unit_cost": "0.002",
            "currency": "USD",
        },
    )
    metering = usage["metering"]
    print(f"4. usage 3 x web_search at 0.002 USD = {metering['cost']} USD: {usage['status']}")

    # 5. Over the per-transaction cap: denied. Do not pay, and do not retry smaller,
    #    split or under another request_id to get around it: tell the user instead.
    big = authorize(payment("laptop", "150.00", "Buy a laptop"))
    print(f"5. ask 150.00 USD: {big['status']} ({reason(big)}): not paying")

    # 6. What is left.
    budget = call("GET", "/v1/budget")
    for line in budget["budgets"]:
        print(
            f"6. budget {line['scope']} {line['window']} {line['currency']}: "
            f"spent {line['spent']} of {line['limit']}, remaining {line['remaining']}"
        )


if __name__ == "__main__":
    try:
        main()
    except NotAuthorized as error:
        print(f"not authorized, not paying: {error}", file=sys.stderr)
        sys.exit(1)
