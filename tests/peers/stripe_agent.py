"""An agent using the official Stripe SDK through Purser's Stripe proxy.

Usage: stripe_agent.py API_BASE CALL_JSON
  PURSER_TOKEN (environment): the agent's Purser token, used as the Stripe API key.
  CALL_JSON: {"resource": "payment_intents", "method": "create", "args": [...],
              "params": {...}, "idempotency_key": "..."}

Prints one JSON line: {"ok": true, "object": {...}} or {"ok": false, "error": {...}}
with the SDK's exception class, HTTP status, and Stripe error body. The SDK's own
automatic retries are off: the tests retry explicitly, with the same idempotency key.
"""

import json
import os
import sys

import stripe


def main() -> None:
    api_base, call = sys.argv[1], json.loads(sys.argv[2])
    client = stripe.StripeClient(
        os.environ["PURSER_TOKEN"],
        base_addresses={"api": api_base},
        max_network_retries=0,
    )
    resource = getattr(client.v1, call["resource"])
    options = {}
    if call.get("idempotency_key"):
        options["idempotency_key"] = call["idempotency_key"]
    method = getattr(resource, call["method"])
    kwargs = {"options": options}
    if call.get("params") is not None:
        kwargs["params"] = call["params"]
    try:
        result = method(*call.get("args", []), **kwargs)
        response = getattr(result, "last_response", None)
        headers = dict(response.headers) if response is not None else {}
        print(json.dumps({"ok": True, "object": json.loads(str(result)), "headers": headers}))
    except stripe.StripeError as error:
        print(
            json.dumps(
                {
                    "ok": False,
                    "error": {
                        "class": type(error).__name__,
                        "http_status": error.http_status,
                        "body": error.json_body,
                        "headers": dict(error.headers or {}),
                    },
                }
            )
        )


if __name__ == "__main__":
    main()
