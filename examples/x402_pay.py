"""Pay for an x402 resource, but only after Purser approved the payment.

    PURSER_TOKEN=purser_... X402_PRIVATE_KEY=0x... \\
        python examples/x402_pay.py https://api.example.com/weather --purpose "Weather for the trip report"

1. GET the resource. Anything but 402 Payment Required is printed as it is.
2. Ask Purser: POST /v1/x402/authorize with the 402 answer (x402 v1 or v2) as a manual
   hold, waiting up to --wait seconds while the principal decides.
3. Not approved: print the decision and exit 3. Nothing is signed, nothing is sent.
4. Approved: sign exactly the payment requirement Purser priced (the official x402 SDK,
   EVM "exact" scheme) and retry the request with it.
5. The server accepted the payment: capture the hold (spent). It did not: void the hold
   (the budget is released) and exit 4.

Needs the x402 SDK with its EVM extra: pip install "x402[evm]".
"""

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request

from eth_account import Account
from x402 import x402ClientSync
from x402.http.utils import encode_payment_signature_header
from x402.mechanisms.evm import EthAccountSigner
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.schemas import PaymentRequired, PaymentRequiredV1


def http(method: str, url: str, headers: dict | None = None, body: dict | None = None):
    """(status, headers, body bytes) of one HTTP exchange; HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=150) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def payment_required_of(headers: dict, body: bytes) -> dict:
    """The 402 answer: v2 sends it base64-encoded in PAYMENT-REQUIRED, v1 as the body."""
    for name, value in headers.items():
        if name.lower() == "payment-required":
            return json.loads(base64.b64decode(value))
    return json.loads(body)


def purser(args, method: str, path: str, body: dict | None = None):
    status, _, answer = http(
        method,
        args.purser.rstrip("/") + path,
        {"Authorization": f"Bearer {os.environ['PURSER_TOKEN']}"},
        body,
    )
    return status, json.loads(answer) if answer else {}


def sign(required: dict, accept: int, private_key: str) -> tuple[str, str]:
    """(header name, value) carrying the signed payment for accepts[accept] only."""
    only = dict(required, accepts=[required["accepts"][accept]])
    client = x402ClientSync()
    scheme = ExactEvmClientScheme(signer=EthAccountSigner(Account.from_key(private_key)))
    if required.get("x402Version") == 1:
        client.register_v1(only["accepts"][0]["network"], scheme)
        payload = client.create_payment_payload(PaymentRequiredV1.model_validate(only))
        return "X-PAYMENT", encode_payment_signature_header(payload)
    client.register(only["accepts"][0]["network"], scheme)
    payload = client.create_payment_payload(PaymentRequired.model_validate(only))
    return "PAYMENT-SIGNATURE", encode_payment_signature_header(payload)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--purser", default=os.environ.get("PURSER_URL", "http://127.0.0.1:7402"))
    parser.add_argument("--request-id", help="Purser's idempotency key (default: derived from the URL)")
    parser.add_argument("--purpose", help="why, for the principal (default: the resource's description)")
    parser.add_argument("--accept", type=int, default=0, help="which of the 402's accepts to pay")
    parser.add_argument("--wait", type=int, default=60, help="seconds to wait for the principal (0-120)")
    args = parser.parse_args()

    status, headers, body = http("GET", args.url)
    if status != 402:
        sys.stdout.buffer.write(body)
        return 0 if status < 400 else 1
    required = payment_required_of(headers, body)

    ask = {"request_id": args.request_id or f"x402-{abs(hash(args.url)):x}",
           "payment_required": required, "accept": args.accept, "capture": "manual"}
    if args.purpose:
        ask["purpose"] = args.purpose
    status, decision = purser(args, "POST", f"/v1/x402/authorize?wait={args.wait}", ask)
    if status != 200 or decision.get("status") != "approved":
        print(json.dumps({"paid": False, "decision": decision}), file=sys.stderr)
        return 3

    header, value = sign(required, args.accept, os.environ["X402_PRIVATE_KEY"])
    status, _, body = http("GET", args.url, {header: value})
    if 200 <= status < 300:
        purser(args, "POST", f"/v1/authorizations/{decision['id']}/capture")
        sys.stdout.buffer.write(body)
        return 0
    purser(args, "POST", f"/v1/authorizations/{decision['id']}/void")
    print(json.dumps({"paid": False, "status": status, "authorization": decision["id"]}), file=sys.stderr)
    return 4


if __name__ == "__main__":
    sys.exit(main())
