/**
 * tessera/mcp against the official SDK client over real HTTP on loopback: the example server
 * (examples/mcp/server.ts: the whole Tessera system plus an MCP endpoint on one port, on
 * PGlite), its tool-run counters proving what never ran. The approval that a person gives in
 * Chromium is at the end (skipped, and said so, without Chromium).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { OAuthProtectedResourceMetadataSchema } from '@modelcontextprotocol/sdk/shared/auth.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Browser } from 'playwright-core';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { RequestContext } from '../caveats/index.js';
import { startExample, type RunningExample } from '../examples/mcp/server.js';
import { gatherDischarges } from '../src/client/index.js';
import { hashPassword } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { APPROVAL_HEADER, MCP_ERRORS, canonicalJson, delegate, protectMcp, tesseraFetch, type McpFetch, type TesseraFetchOptions, type ToolPolicy } from '../src/mcp/index.js';
import { pgliteBackend } from './support/databases.js';
import { CHROMIUM_PATH, sharedChromium, signIn } from './support/web-system.js';
import { TEST_SCRYPT } from './support/passwords.js';

const OPS = { name: 'olivia', groups: ['ops'] };
const PASSWORD = 'correct horse battery';

let ex: RunningExample;
let mcpUrl: string;
let subAgentToken: Macaroon;

beforeAll(async () => {
  // A migrated database from the test template (no initdb); the example's own in-memory one
  // is started by test/examples.test.ts.
  ex = await startExample({ database: await pgliteBackend.open() });
  mcpUrl = `${ex.url}/mcp`;
  await ex.system.store.users.create({ name: OPS.name, passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), groups: OPS.groups });
  subAgentToken = delegate(ex.agentToken, { tools: ['search', 'read_file'], resources: '/docs/**', ttl: 900 });
});
afterAll(async () => {
  await ex?.close();
});

async function connect(token: Macaroon | string, extra: Partial<TesseraFetchOptions> = {}): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: tesseraFetch({ token, ...extra }) }));
  return client;
}

/** One raw JSON-RPC POST: status, headers and parsed body. */
async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const bearer = (t: Macaroon | string): Record<string, string> => ({ authorization: `Bearer ${typeof t === 'string' ? t : t.encode()}` });
const call = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** What a person in ops does on the approval page, through the service API the page calls. */
async function approveAsOps(approvalUrl: string): Promise<void> {
  const id = approvalUrl.split('/').at(-1) as string;
  const decided = await ex.system.discharge.decide(id, OPS, { approve: true, validitySeconds: 300 });
  expect(decided.status).toBe('approved');
}

describe('tessera/mcp: tools behind Tessera, with the SDK client over HTTP', () => {
  it('delegate only appends caveats, offline', () => {
    const parent = Macaroon.decode(ex.agentToken);
    const conditions = subAgentToken.caveats.map((c) => new TextDecoder().decode(c.identifier));
    expect(conditions.slice(0, parent.caveats.length)).toEqual(parent.caveats.map((c) => new TextDecoder().decode(c.identifier)));
    expect(conditions.slice(parent.caveats.length, -1)).toEqual(['tool read_file,search', 'resource /docs/**']);
    expect(conditions.at(-1)).toMatch(/^time-before /);
    expect(() => delegate(ex.agentToken, {})).toThrow(/whole token/);
  });

  it('tools/list is narrowed to what the token could call', async () => {
    const parent = await connect(ex.agentToken);
    const sub = await connect(subAgentToken);
    try {
      expect((await parent.listTools()).tools.map((t) => t.name).sort()).toEqual(['deploy', 'read_file', 'search']);
      expect((await sub.listTools()).tools.map((t) => t.name).sort()).toEqual(['read_file', 'search']);
      // Narrower still: only read_file, and a token whose `ops` excludes read sees nothing.
      const onlyRead = await connect(delegate(subAgentToken, { tools: ['read_file'] }));
      expect((await onlyRead.listTools()).tools.map((t) => t.name)).toEqual(['read_file']);
      await onlyRead.close();
      const noRead = await connect(delegate(ex.agentToken, { operations: ['deploy'] }));
      expect((await noRead.listTools()).tools.map((t) => t.name)).toEqual(['deploy']);
      await noRead.close();
    } finally {
      await parent.close();
      await sub.close();
    }
  });

  it('resources and prompts: listed only when the token could read them, and refused otherwise', async () => {
    const { token: unrestricted } = await ex.system.issuer.mint({ label: 'no caveats' });
    const full = await connect(unrestricted);
    const docsOnly = await connect(delegate(unrestricted, { resources: '/docs/**' }));
    try {
      expect((await full.listResources()).resources.map((r) => r.uri).sort()).toEqual(['file:///docs/deploy-guide.md', 'file:///docs/welcome.md', 'file:///secrets/prod.env']);
      expect((await full.listPrompts()).prompts.map((p) => p.name)).toEqual(['summarise']);
      expect((await full.readResource({ uri: 'file:///secrets/prod.env' })).contents).toHaveLength(1);

      expect((await docsOnly.listResources()).resources.map((r) => r.uri).sort()).toEqual(['file:///docs/deploy-guide.md', 'file:///docs/welcome.md']);
      expect((await docsOnly.readResource({ uri: 'file:///docs/welcome.md' })).contents).toEqual([expect.objectContaining({ text: expect.stringContaining('# Welcome') })]);
      await expect(docsOnly.readResource({ uri: 'file:///secrets/prod.env' })).rejects.toMatchObject({ code: MCP_ERRORS.forbidden, data: { caveat: 'resource /docs/**' } });
      expect((await docsOnly.listPrompts()).prompts).toEqual([]);
      await expect(docsOnly.getPrompt({ name: 'summarise' })).rejects.toMatchObject({ code: MCP_ERRORS.forbidden, data: { caveat: 'resource /docs/**' } });
    } finally {
      await full.close();
      await docsOnly.close();
    }
  });

  it('a call a caveat refuses is a JSON-RPC error naming caveat and reason, and the tool never runs', async () => {
    const sub = await connect(subAgentToken);
    try {
      const before = { ...ex.runs };
      const ok = await sub.callTool({ name: 'read_file', arguments: { path: '/docs/welcome.md' } });
      expect(ok.content).toEqual([{ type: 'text', text: expect.stringContaining('# Welcome') }]);
      expect(ex.runs.read_file).toBe(before.read_file + 1);

      const refused = await sub.callTool({ name: 'read_file', arguments: { path: '/secrets/prod.env' } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(McpError);
      expect(refused).toMatchObject({ code: MCP_ERRORS.forbidden, data: { code: 'ERR_CAVEAT_FAILED', caveat: 'resource /docs/**', reason: 'resource not allowed' } });
      const deploy = await sub.callTool({ name: 'deploy', arguments: { app: 'web' } }).catch((e: unknown) => e);
      expect(deploy).toMatchObject({ code: MCP_ERRORS.forbidden, data: { caveat: 'tool read_file,search' } });
      expect(ex.runs.read_file).toBe(before.read_file + 1);
      expect(ex.runs.deploy).toBe(before.deploy);
    } finally {
      await sub.close();
    }
  });

  it('no token or a bad one: 401 with resource_metadata, and a valid RFC 9728 document', async () => {
    const none = await post({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(none.status).toBe(401);
    const metadataUrl = `${ex.url}/.well-known/oauth-protected-resource/mcp`;
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);
    expect(none.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: MCP_ERRORS.unauthenticated, data: { code: 'ERR_UNAUTHENTICATED' } } });

    const forged = Macaroon.decode(ex.agentToken).encode().slice(0, -4) + 'AAAA';
    const bad = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, bearer(forged));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer resource_metadata="${metadataUrl}", error="invalid_token", error_description="`));

    // Expired: 401 invalid_token naming the caveat (MCP clients then fetch a new token).
    const expired = delegate(ex.agentToken, { ttl: 1, clock: () => new Date(Date.now() - 60_000) });
    const late = await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, bearer(expired));
    expect(late.status).toBe(401);
    expect(late.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(late.body.error.data).toMatchObject({ code: 'ERR_UNAUTHENTICATED', caveat: expect.stringMatching(/^time-before /) });
    const lateCall = await post(call(1, 'search', { query: 'a' }), bearer(expired));
    expect(lateCall.status).toBe(401);
    expect(lateCall.body.error.data).toMatchObject({ code: 'ERR_UNAUTHENTICATED', caveat: expect.stringMatching(/^time-before /) });

    // A lone tools/call is verified once, in full: a bad token is still a 401, and nothing runs.
    const runs = ex.runs.search;
    const forgedCall = await post(call(1, 'search', { query: 'a' }), bearer(forged));
    expect(forgedCall.status).toBe(401);
    expect(forgedCall.body.error).toMatchObject({ code: MCP_ERRORS.unauthenticated, data: { code: 'ERR_SIGNATURE' } });
    expect(ex.runs.search).toBe(runs);

    const res = await fetch(metadataUrl);
    expect(res.status).toBe(200);
    const doc = OAuthProtectedResourceMetadataSchema.parse(await res.json());
    expect(doc.resource).toBe(mcpUrl);
    expect(doc.bearer_methods_supported).toEqual(['header']);

    // The SDK client without a token fails on the 401 rather than running anything.
    const client = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)))).rejects.toThrow(/401|token/);
  });

  it('a batch with one forbidden call: the others answer, the forbidden one is refused and never runs', async () => {
    const before = { ...ex.runs };
    const res = await post(
      [call(1, 'search', { query: 'deploy' }), call(2, 'read_file', { path: '/secrets/prod.env' }), { jsonrpc: '2.0', id: 3, method: 'ping' }, { jsonrpc: '2.0', id: 4, method: 'tools/list' }],
      bearer(subAgentToken),
    );
    expect(res.status).toBe(200);
    expect(res.body.map((r: { id: number }) => r.id)).toEqual([1, 2, 3, 4]);
    expect(res.body[0].result.content[0].text).toBe('/docs/deploy-guide.md');
    expect(res.body[1].error).toMatchObject({ code: MCP_ERRORS.forbidden, data: { caveat: 'resource /docs/**' } });
    expect(res.body[2]).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
    expect(res.body[3].result.tools.map((t: { name: string }) => t.name).sort()).toEqual(['read_file', 'search']);
    expect(ex.runs.search).toBe(before.search + 1);
    expect(ex.runs.read_file).toBe(before.read_file);
  });

  it('bad input gets clear JSON-RPC errors, never a tool run and never a 5xx', async () => {
    const before = { ...ex.runs };
    const auth = bearer(subAgentToken);
    const malformed = await post('{"jsonrpc":"2.0",', auth);
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: MCP_ERRORS.parse } } });
    const huge = await post(call(1, 'search', { query: 'x'.repeat(1024 * 1024 + 1) }), auth);
    expect(huge).toMatchObject({ status: 413, body: { error: { code: MCP_ERRORS.invalidRequest, data: { code: 'ERR_LIMIT' } } } });
    const unknown = await post({ jsonrpc: '2.0', id: 1, method: 'tools/destroy', params: {} }, auth);
    expect(unknown).toMatchObject({ status: 200, body: { id: 1, error: { code: MCP_ERRORS.methodNotFound } } });
    const inherited = await post([{ jsonrpc: '2.0', id: 1, method: 'constructor' }, { jsonrpc: '2.0', id: 2, method: '__proto__' }], auth);
    expect(inherited.body.map((r: { error: { code: number } }) => r.error.code)).toEqual([MCP_ERRORS.methodNotFound, MCP_ERRORS.methodNotFound]);
    const notString = await post(call(2, 'read_file', { path: ['/docs/welcome.md'] }), auth);
    expect(notString).toMatchObject({ status: 200, body: { id: 2, error: { code: MCP_ERRORS.invalidParams, message: 'argument path must be a non-empty string', data: { field: 'arguments.path' } } } });
    const notRpc = await post({ id: 3, method: 'tools/call' }, auth);
    expect(notRpc).toMatchObject({ status: 200, body: { error: { code: MCP_ERRORS.invalidRequest } } });
    const badArgs = await post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search', arguments: 'all' } }, auth);
    expect(badArgs.body).toMatchObject({ id: 4, error: { code: MCP_ERRORS.invalidParams } });
    // A tools/call sent as a notification (no id) would run with no answer: it is dropped.
    const sneaky = await post({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'search', arguments: { query: 'a' } } }, auth);
    expect(sneaky.status).toBe(202);
    const empty = await post([], auth);
    expect(empty).toMatchObject({ status: 400, body: { error: { code: MCP_ERRORS.invalidRequest } } });
    const badHeader = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { authorization: 'Bearer not a token' });
    expect(badHeader.status).toBe(401);
    expect(ex.runs).toEqual(before);
  });

  it('approval: discharge-required with a challenge; approved for {"app":"web"} it runs once; refused for {"app":"db"}; a replayed challenge is refused', async () => {
    const before = ex.runs.deploy;
    const auth = bearer(ex.agentToken);
    const first = await post(call(1, 'deploy', { app: 'web' }), auth);
    expect(first.body.error).toMatchObject({
      code: MCP_ERRORS.approvalRequired,
      message: 'approval required: approve group:ops call deploy {"app":"web"}',
      data: { code: 'ERR_DISCHARGE_MISSING', condition: 'approve group:ops call deploy {"app":"web"}', location: ex.url },
    });
    const challenge = Macaroon.decode(first.body.error.data.challenge);
    expect(challenge.caveats.filter((c) => c.thirdParty)).toHaveLength(1);
    expect(ex.runs.deploy).toBe(before);

    const bundle = await gatherDischarges(challenge, { waitSeconds: 5, onApprovalUrl: (url) => void approveAsOps(url) });
    const approval = { [APPROVAL_HEADER]: [bundle.token, ...bundle.discharges].map((m) => m.encode()).join(','), ...auth };

    const otherApp = await post(call(2, 'deploy', { app: 'db' }), approval);
    expect(otherApp.body.error).toMatchObject({ code: MCP_ERRORS.forbidden, data: { code: 'ERR_CAVEAT_FAILED', caveat: expect.stringMatching(/^mcp-call /) } });
    expect(ex.runs.deploy).toBe(before);

    const approved = await post(call(3, 'deploy', { app: 'web' }), approval);
    expect(approved.body).toMatchObject({ id: 3, result: { content: [{ type: 'text', text: 'deployed web to production' }] } });
    expect(ex.runs.deploy).toBe(before + 1);

    const replay = await post(call(4, 'deploy', { app: 'web' }), approval);
    expect(replay.body.error).toMatchObject({ code: MCP_ERRORS.forbidden, data: { code: 'ERR_USAGE_EXCEEDED' } });
    expect(ex.runs.deploy).toBe(before + 1);
  });

  it('tesseraFetch: the SDK client waits for the approval (onApprovalUrl) and retries once', async () => {
    const before = ex.runs.deploy;
    const seen: { url: string; condition: string }[] = [];
    const client = await connect(ex.agentToken, {
      waitSeconds: 5,
      onApprovalUrl: (url, { condition }) => {
        seen.push({ url, condition });
        void approveAsOps(url);
      },
    });
    try {
      const result = await client.callTool({ name: 'deploy', arguments: { app: 'web', replicas: 2 } });
      expect(result.content).toEqual([{ type: 'text', text: 'deployed web to production' }]);
      expect(seen).toEqual([{ url: expect.stringMatching(new RegExp(`^${ex.url}/approve/requests/`)), condition: 'approve group:ops call deploy {"app":"web","replicas":2}' }]);
      expect(ex.runs.deploy).toBe(before + 1);
    } finally {
      await client.close();
    }
  });

  it('tesseraFetch gives up at the approval timeout (ERR_PENDING) and the tool does not run', async () => {
    const before = ex.runs.deploy;
    const client = await connect(ex.agentToken, { approvalTimeoutMs: 300, waitSeconds: 0 });
    try {
      await expect(client.callTool({ name: 'deploy', arguments: { app: 'web' } })).rejects.toMatchObject({ code: 'ERR_PENDING' });
      expect(ex.runs.deploy).toBe(before);
    } finally {
      await client.close();
    }
  });

  it('configuration mistakes fail at construction, and the public API is typed', () => {
    const verifier = ex.system.verifier;
    const server = () => {
      throw new Error('not called');
    };
    expect(() => protectMcp({ verifier, server, tools: { deploy: { approval: 'group:ops' } } })).toThrow(/approvals/);
    expect(() => protectMcp({ verifier, server, tools: { deploy: { approval: 'group:Ops Team' } } })).toThrow(/not a user or group/);
    expect(() => protectMcp({ verifier, server, tools: { deploy: { approval: 'group:ops' } }, approvals: { discharger: { location: 'ftp://x', publicKey: new Uint8Array(32) } } })).toThrow(/http/);
    expect(() => protectMcp({ verifier, server, tools: { deploy: { approval: 'group:ops' } }, approvals: { discharger: { location: ex.url, publicKey: new Uint8Array(31) } } })).toThrow(/32 bytes/);
    expectTypeOf(protectMcp).returns.toEqualTypeOf<Hono>();
    expectTypeOf(delegate).returns.toEqualTypeOf<Macaroon>();
    expectTypeOf(tesseraFetch).returns.toEqualTypeOf<McpFetch>();
    expectTypeOf<ToolPolicy['context']>().toEqualTypeOf<((args: Readonly<Record<string, unknown>>) => RequestContext) | undefined>();
  });

  it('canonicalJson: one spelling per value, ASCII only', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'é'] })).toBe('{"a":[true,null,"\\u00e9"],"b":1}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/number/);
  });
});

const browser: Browser | undefined = await sharedChromium();
if (browser === undefined) console.warn(`MCP browser test not run: Chromium not found at ${CHROMIUM_PATH}`);

describe.runIf(browser !== undefined)('tessera/mcp: a person approves a deploy in Chromium', () => {
  it('the approval page names the tool and its arguments; after Approve the waiting call runs once', async () => {
    const before = ex.runs.deploy;
    let approvalUrl: (url: string) => void = () => undefined;
    const urlKnown = new Promise<string>((r) => (approvalUrl = r));
    const client = await connect(ex.agentToken, { waitSeconds: 10, onApprovalUrl: (url) => approvalUrl(url) });
    const context = await (browser as Browser).newContext();
    try {
      const result = client.callTool({ name: 'deploy', arguments: { app: 'web' } });
      const url = await urlKnown;
      const page = await context.newPage();
      await page.goto(url);
      await signIn(page, OPS.name, PASSWORD);
      expect(page.url()).toBe(url);
      const text = await page.locator('main').innerText();
      expect(text).toContain('approve group:ops call deploy {"app":"web"}');
      expect(ex.runs.deploy).toBe(before);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(url);
      expect(await page.locator('.decision').innerText()).toMatch(/^Approved by olivia at /);
      expect((await result).content).toEqual([{ type: 'text', text: 'deployed web to production' }]);
      expect(ex.runs.deploy).toBe(before + 1);
    } finally {
      await context.close();
      await client.close();
    }
  });
});
