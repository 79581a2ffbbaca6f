"""The server side of x402, from the official x402 Python SDK.

  x402_server.py requirements VERSION NETWORK PRICE PAY_TO RESOURCE
      Prints the JSON body of the 402 answer the SDK's resource server builds for a
      resource priced PRICE ("$0.01", or an atomic AssetAmount as JSON) on NETWORK.
      VERSION 2 is the SDK's own answer; VERSION 1 the same requirements in the SDK's
      x402 v1 models (legacy network name, maxAmountRequired, resource per accept).

  x402_server.py serve PORT NETWORK PRICE PAY_TO
      Serves GET /weather behind x402 v2 on 127.0.0.1:PORT: 402 with PAYMENT-REQUIRED
      until a PAYMENT-SIGNATURE header carries a payload the SDK verifies, then 200 with
      PAYMENT-RESPONSE. The facilitator is a local stand-in that accepts every
      well-formed payload and "settles" it (no chain is reachable here); GET /_payments
      says how many payments arrived. Prints "ready" once it listens.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from x402 import x402ResourceServerSync
from x402.http.utils import (
    decode_payment_signature_header,
    encode_payment_required_header,
    encode_payment_response_header,
)
from x402.mechanisms.evm.exact import ExactEvmServerScheme
from x402.mechanisms.evm.v1.constants import V1_NETWORK_CHAIN_IDS
from x402.schemas import ResourceConfig, ResourceInfo
from x402.schemas.responses import SettleResponse, SupportedKind, SupportedResponse, VerifyResponse
from x402.schemas.v1 import PaymentRequiredV1, PaymentRequirementsV1


class LocalFacilitator:
    """A facilitator for one network that accepts every payload the SDK could parse."""

    def __init__(self, network: str) -> None:
        self.network = network

    def get_supported(self) -> SupportedResponse:
        return SupportedResponse(kinds=[SupportedKind(x402_version=2, scheme="exact", network=self.network)])

    def verify(self, payload, requirements, *args, **kwargs) -> VerifyResponse:
        return VerifyResponse(is_valid=True, payer="0x" + "ab" * 20)

    def settle(self, payload, requirements, *args, **kwargs) -> SettleResponse:
        return SettleResponse(success=True, transaction="0x" + "cd" * 32, network=self.network, payer="0x" + "ab" * 20)


def resource_server(network: str) -> x402ResourceServerSync:
    server = x402ResourceServerSync(LocalFacilitator(network))
    server.register(network, ExactEvmServerScheme())
    server.initialize()
    return server


def price_of(text: str):
    return json.loads(text) if text.startswith("{") else text


def payment_required(version: int, network: str, price: str, pay_to: str, resource: str) -> dict:
    server = resource_server(network)
    requirements = server.build_payment_requirements(
        ResourceConfig(scheme="exact", pay_to=pay_to, price=price_of(price), network=network)
    )
    info = ResourceInfo(url=resource, description="Today's weather", mime_type="application/json")
    if version == 2:
        answer = server.create_payment_required_response(requirements, info)
        return answer.model_dump(by_alias=True, exclude_none=True)
    chain_id = int(network.split(":")[1])
    legacy = next(name for name, chain in V1_NETWORK_CHAIN_IDS.items() if chain == chain_id)
    accepts = [
        PaymentRequirementsV1(
            scheme=r.scheme,
            network=legacy,
            max_amount_required=r.amount,
            resource=resource,
            description=info.description,
            mime_type=info.mime_type,
            pay_to=r.pay_to,
            max_timeout_seconds=r.max_timeout_seconds,
            asset=r.asset,
            extra=r.extra,
        )
        for r in requirements
    ]
    return PaymentRequiredV1(accepts=accepts, error="X-PAYMENT header is required").model_dump(
        by_alias=True, exclude_none=True
    )


def serve(port: int, network: str, price: str, pay_to: str) -> None:
    server = resource_server(network)
    requirements = server.build_payment_requirements(
        ResourceConfig(scheme="exact", pay_to=pay_to, price=price_of(price), network=network)
    )
    lock = threading.Lock()
    payments = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, status: int, body: dict, headers: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/_payments":
                with lock:
                    self.answer(200, {"count": len(payments), "payments": payments}, {})
                return
            info = ResourceInfo(url=f"http://127.0.0.1:{port}{self.path}", description="Today's weather")
            signature = self.headers.get("PAYMENT-SIGNATURE")
            if signature:
                payload = decode_payment_signature_header(signature)
                verified = server.verify_payment(payload, requirements[0])
                if verified.is_valid:
                    settled = server.settle_payment(payload, requirements[0])
                    with lock:
                        payments.append(json.loads(payload.model_dump_json(by_alias=True)))
                    self.answer(
                        200,
                        {"weather": "sunny"},
                        {"PAYMENT-RESPONSE": encode_payment_response_header(settled)},
                    )
                    return
            required = server.create_payment_required_response(requirements, info)
            self.answer(
                402,
                required.model_dump(by_alias=True, exclude_none=True),
                {"PAYMENT-REQUIRED": encode_payment_required_header(required)},
            )

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    httpd.serve_forever()


def main() -> None:
    mode = sys.argv[1]
    if mode == "requirements":
        version, network, price, pay_to, resource = sys.argv[2:7]
        print(json.dumps(payment_required(int(version), network, price, pay_to, resource)))
    elif mode == "serve":
        port, network, price, pay_to = sys.argv[2:6]
        serve(int(port), network, price, pay_to)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
