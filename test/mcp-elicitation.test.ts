/**
 * URL-mode elicitation: an MCP client that is not Tessera-aware, but declared
 * `capabilities.elicitation.url`, is shown the approval page's URL for a call that needs a
 * person (error -32042, as the SDK's UrlElicitationRequiredError); the server requests the
 * discharge itself, and the client's retry after the decision runs the tool once. The example
 * server (examples/mcp/server.ts) over real HTTP on loopback, the official SDK client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from '../examples/mcp/server.js';
import { MCP_ERRORS, tesseraFetch } from '../src/mcp/index.js';
import { incidentalBackend } from './support/databases.js';

const OPS = { name: 'olivia', groups: ['ops'] };

let ex: RunningExample;
const clients: Client[] = [];
beforeAll(async () => {
  ex = await startExample({ database: await incidentalBackend.open() });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await ex?.close();
});

/** A plain SDK client sending the token as a bearer header, optionally declaring URL elicitation. */
async function plainClient(urlElicitation: boolean): Promise<Client> {
  const client = new Client({ name: 'generic-agent', version: '1.0.0' }, { capabilities: urlElicitation ? { elicitation: { url: {} } } : {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${ex.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ex.agentToken}` } } }));
  clients.push(client);
  return client;
}

/** The call's rejection, which must be a URL elicitation; its one elicitation. */
async function elicitation(client: Client, args: Record<string, unknown>): Promise<{ elicitationId: string; url: string; message: string }> {
  const error = await client.callTool({ name: 'deploy', arguments: args }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UrlElicitationRequiredError);
  const e = error as UrlElicitationRequiredError;
  expect(e.code).toBe(ErrorCode.UrlElicitationRequired);
  expect(e.elicitations).toHaveLength(1);
  const [first] = e.elicitations;
  expect(first).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${ex.url}/approve/requests/`)) });
  return first as { elicitationId: string; url: string; message: string };
}

const requestId = (url: string): string => url.split('/').at(-1) as string;
const pendingRequests = async (): Promise<number> => (await ex.system.discharge.listPending(OPS)).length;

describe('URL-mode elicitation for calls that need a person', () => {
  it('shows the approval URL, keeps one request across retries, and runs the tool once after the approval', async () => {
    const client = await plainClient(true);
    const before = ex.runs.deploy;
    const pendingBefore = await pendingRequests();

    const first = await elicitation(client, { app: 'web' });
    expect(first.message).toContain('approve group:ops call deploy {"app":"web"}');
    expect(ex.runs.deploy).toBe(before);
    // Retried before anyone decided: the same elicitation, no second request for the person.
    const again = await elicitation(client, { app: 'web' });
    expect(again).toEqual(first);
    expect(await pendingRequests()).toBe(pendingBefore + 1);

    const decided = await ex.system.discharge.decide(requestId(first.url), OPS, { approve: true, validitySeconds: 300 });
    expect(decided.status).toBe('approved');
    const result = await client.callTool({ name: 'deploy', arguments: { app: 'web' } });
    expect(result.content).toEqual([{ type: 'text', text: 'deployed web to production' }]);
    expect(ex.runs.deploy).toBe(before + 1);

    // The approval was for one call: the next one asks afresh.
    const next = await elicitation(client, { app: 'web' });
    expect(next.elicitationId).not.toBe(first.elicitationId);
    expect(ex.runs.deploy).toBe(before + 1);
  });

  it('a denial is the retry\'s answer (caveat and reason named), and the tool never runs', async () => {
    const client = await plainClient(true);
    const before = ex.runs.deploy;
    const asked = await elicitation(client, { app: 'db' });
    await ex.system.discharge.decide(requestId(asked.url), OPS, { approve: false, reason: 'not during the freeze' });
    const refused = await client.callTool({ name: 'deploy', arguments: { app: 'db' } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: MCP_ERRORS.forbidden, message: expect.stringMatching(/approval refused: .*denied: not during the freeze$/), data: { code: 'ERR_DENIED', decidedBy: 'olivia' } });
    expect(ex.runs.deploy).toBe(before);
  });

  it('clients that did not declare URL elicitation, and tesseraFetch (which gathers itself), get the challenge', async () => {
    const plain = await plainClient(false);
    await expect(plain.callTool({ name: 'deploy', arguments: { app: 'web' } })).rejects.toMatchObject({ code: MCP_ERRORS.approvalRequired, data: { challenge: expect.any(String) } });

    const client = new Client({ name: 'tessera-agent', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
    let challengeSeen = false;
    const fetchSpy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.headers.get('content-type')?.startsWith('application/json') === true) {
        const body = await res.clone().text();
        if (body.includes(`"code":${MCP_ERRORS.approvalRequired}`)) challengeSeen = true;
      }
      return res;
    };
    const timeout = tesseraFetch({ token: ex.agentToken, approvalTimeoutMs: 200, waitSeconds: 0, fetch: fetchSpy });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${ex.url}/mcp`), { fetch: timeout }));
    clients.push(client);
    await expect(client.callTool({ name: 'deploy', arguments: { app: 'api' } })).rejects.toMatchObject({ code: 'ERR_PENDING' });
    expect(challengeSeen).toBe(true);
  });
});
