"""A real MCP client (the official Python SDK, `mcp` on PyPI) against Purser.

Run by tests/tests/mcp_clients.rs, which asserts on what this prints: one JSON object
on stdout. It only reports what the server answered; the Rust test judges it.

    python mcp_client.py TRANSPORT SCENARIO

TRANSPORT: `stdio` (starts `$PURSER_BIN mcp`, the token in its environment) or `http`
(`$PURSER_URL/mcp` with `Authorization: Bearer $PURSER_TOKEN`).

SCENARIO:
- `decisions`: list the tools; an approved request; a pending one (no wait), then
  get_authorization waiting while the principal approves it through the admin API;
  a denied one; an amount sent as a JSON number.
- `missing-token`: connect without the token.
- `foreign-origin` (http only): connect with the token and `Origin: https://evil.example`.

Environment: PURSER_URL, PURSER_TOKEN, PURSER_BIN, PURSER_PREFIX (request_id prefix).
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["PURSER_URL"]
TOKEN = os.environ.get("PURSER_TOKEN", "")
PREFIX = os.environ.get("PURSER_PREFIX", "py")


def transport(kind, token, origin=None, statuses=None):
    """The client's transport: a `Transport` or the stdio server's parameters."""
    if kind == "stdio":
        env = {"PURSER_URL": URL}
        if token:
            env["PURSER_TOKEN"] = token
        return StdioServerParameters(command=os.environ["PURSER_BIN"], args=["mcp"], env=env)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if origin:
        headers["Origin"] = origin

    async def record(response):
        if statuses is not None:
            statuses.append(response.status_code)

    client = httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(30.0, read=150.0),
        event_hooks={"response": [record]},
    )
    return streamable_http_client(f"{URL}/mcp", http_client=client)


def result(call):
    """What a tools/call answered, as the wire has it (camelCase)."""
    dumped = call.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {
        "isError": dumped.get("isError", False),
        "structuredContent": dumped.get("structuredContent"),
        "text": [c.get("text") for c in dumped.get("content", []) if c.get("type") == "text"],
    }


async def decisions(kind):
    report = {}
    async with Client(transport(kind, TOKEN), read_timeout_seconds=150) as client:
        tools = await client.list_tools()
        report["tools"] = sorted(tool.name for tool in tools.tools)
        report["descriptions"] = {tool.name: tool.description for tool in tools.tools}
        report["approved"] = result(
            await client.call_tool(
                "request_payment_authorization",
                {
                    "request_id": f"{PREFIX}-small",
                    "amount": "12.50",
                    "currency": "USD",
                    "merchant": "api.example.com",
                    "purpose": "Buy API credits for the report task",
                },
            )
        )
        pending = result(
            await client.call_tool(
                "request_payment_authorization",
                {
                    "request_id": f"{PREFIX}-big",
                    "amount": "42.00",
                    "currency": "USD",
                    "merchant": "api.example.com",
                    "purpose": "Upgrade to the team plan",
                    "wait_seconds": 0,
                },
            )
        )
        report["pending"] = pending
        # Tell the test which request to approve, then wait for the principal.
        print(json.dumps({"waiting_for": f"{PREFIX}-big"}), file=sys.stderr, flush=True)
        report["after_wait"] = result(
            await client.call_tool(
                "get_authorization",
                {"id": pending["structuredContent"]["id"], "wait_seconds": 60},
            )
        )
        report["denied"] = result(
            await client.call_tool(
                "request_payment_authorization",
                {
                    "request_id": f"{PREFIX}-casino",
                    "amount": "5.00",
                    "currency": "USD",
                    "merchant": "royal-casino.example",
                    "purpose": "Buy chips",
                },
            )
        )
        report["number_amount"] = result(
            await client.call_tool(
                "request_payment_authorization",
                {
                    "request_id": f"{PREFIX}-float",
                    "amount": 12.5,
                    "currency": "USD",
                    "merchant": "api.example.com",
                    "purpose": "Money as a float",
                },
            )
        )
        report["budget"] = result(await client.call_tool("get_budget", {}))
    return report


async def refused(kind, token, origin=None):
    """Tries to connect and list the tools; reports whether and how it was refused."""
    statuses = []
    try:
        async with Client(transport(kind, token, origin, statuses), read_timeout_seconds=20) as client:
            tools = await client.list_tools()
            return {"refused": False, "tools": [tool.name for tool in tools.tools], "statuses": statuses}
    except BaseException as error:  # the SDK raises MCPError, or an exception group
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return {"refused": True, "error": f"{type(error).__name__}: {error}"[:500], "statuses": statuses}


async def main():
    kind, scenario = sys.argv[1], sys.argv[2]
    if scenario == "decisions":
        report = await decisions(kind)
    elif scenario == "missing-token":
        report = await refused(kind, "")
    elif scenario == "foreign-origin":
        report = await refused(kind, TOKEN, origin="https://evil.example")
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
