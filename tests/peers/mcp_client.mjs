// A real MCP client (the official TypeScript SDK, @modelcontextprotocol/sdk on npm)
// against Purser: the twin of mcp_client.py, run by tests/tests/mcp_clients.rs, which
// asserts on the one JSON object this prints. It only reports what the server answered.
//
//   node mcp_client.mjs TRANSPORT SCENARIO
//
// TRANSPORT: `stdio` (starts `$PURSER_BIN mcp`, the token in its environment) or `http`
// (`$PURSER_URL/mcp` with `Authorization: Bearer $PURSER_TOKEN`).
// SCENARIO: `decisions`, `missing-token`, `foreign-origin` (see mcp_client.py).
// Environment: PURSER_URL, PURSER_TOKEN, PURSER_BIN, PURSER_PREFIX.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const URL_BASE = process.env.PURSER_URL;
const TOKEN = process.env.PURSER_TOKEN ?? "";
const PREFIX = process.env.PURSER_PREFIX ?? "ts";
// Long enough for a tool that waits up to 60 s for the principal.
const CALL = { timeout: 150_000 };

function transport(kind, token, { origin, statuses } = {}) {
  if (kind === "stdio") {
    const env = { ...getDefaultEnvironment(), PURSER_URL: URL_BASE };
    if (token) env.PURSER_TOKEN = token;
    return new StdioClientTransport({ command: process.env.PURSER_BIN, args: ["mcp"], env, stderr: "inherit" });
  }
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (origin) headers.Origin = origin;
  const recording = async (url, init) => {
    const response = await fetch(url, init);
    statuses?.push(response.status);
    return response;
  };
  return new StreamableHTTPClientTransport(new URL(`${URL_BASE}/mcp`), {
    requestInit: { headers },
    fetch: recording,
  });
}

function result(call) {
  return {
    isError: call.isError ?? false,
    structuredContent: call.structuredContent ?? null,
    text: (call.content ?? []).filter((c) => c.type === "text").map((c) => c.text),
  };
}

async function decisions(kind) {
  const client = new Client({ name: "purser-test-ts", version: "1.0.0" });
  await client.connect(transport(kind, TOKEN));
  const report = {};
  const tools = (await client.listTools()).tools;
  report.tools = tools.map((t) => t.name).sort();
  report.descriptions = Object.fromEntries(tools.map((t) => [t.name, t.description]));
  const call = async (name, args) => result(await client.callTool({ name, arguments: args }, undefined, CALL));
  report.approved = await call("request_payment_authorization", {
    request_id: `${PREFIX}-small`,
    amount: "12.50",
    currency: "USD",
    merchant: "api.example.com",
    purpose: "Buy API credits for the report task",
  });
  report.pending = await call("request_payment_authorization", {
    request_id: `${PREFIX}-big`,
    amount: "42.00",
    currency: "USD",
    merchant: "api.example.com",
    purpose: "Upgrade to the team plan",
    wait_seconds: 0,
  });
  console.error(JSON.stringify({ waiting_for: `${PREFIX}-big` }));
  report.after_wait = await call("get_authorization", { id: report.pending.structuredContent.id, wait_seconds: 60 });
  report.denied = await call("request_payment_authorization", {
    request_id: `${PREFIX}-casino`,
    amount: "5.00",
    currency: "USD",
    merchant: "royal-casino.example",
    purpose: "Buy chips",
  });
  report.number_amount = await call("request_payment_authorization", {
    request_id: `${PREFIX}-float`,
    amount: 12.5,
    currency: "USD",
    merchant: "api.example.com",
    purpose: "Money as a float",
  });
  report.budget = await call("get_budget", {});
  await client.close();
  return report;
}

async function refused(kind, token, origin) {
  const statuses = [];
  const client = new Client({ name: "purser-test-ts", version: "1.0.0" });
  try {
    await client.connect(transport(kind, token, { origin, statuses }), { timeout: 20_000 });
    const tools = (await client.listTools(undefined, { timeout: 20_000 })).tools;
    await client.close();
    return { refused: false, tools: tools.map((t) => t.name), statuses };
  } catch (error) {
    await client.close().catch(() => {});
    return { refused: true, error: String(error).slice(0, 500), statuses };
  }
}

const [kind, scenario] = process.argv.slice(2);
let report;
if (scenario === "decisions") report = await decisions(kind);
else if (scenario === "missing-token") report = await refused(kind, "");
else if (scenario === "foreign-origin") report = await refused(kind, TOKEN, "https://evil.example");
else throw new Error(`unknown scenario ${scenario}`);
console.log(JSON.stringify(report));
process.exit(0);
