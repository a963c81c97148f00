/**
 * Example: a scripted parent agent (an MCP client, no language model) and its sub-agent.
 *
 *   npx tsx examples/mcp/agent.ts
 *
 * Self-contained: it starts examples/mcp/server.ts in this process (Tessera + the MCP endpoint
 * on a free loopback port) and talks to it over HTTP with the official SDK client.
 *
 *  1. The parent holds a token for every tool and lists them.
 *  2. Offline, it delegates `tool search,read_file` + `resource /docs/**` + 15 minutes to a
 *     sub-agent, whose tools/list shows only those two tools.
 *  3. The sub-agent searches and reads under /docs; reading /secrets/prod.env is refused by the
 *     `resource` caveat, and the tool never runs.
 *  4. The parent calls `deploy`: the server answers discharge-required; tesseraFetch asks the
 *     discharge service, prints the approval URL and waits. A person in ops would open it and
 *     click Approve; here the script approves through the API the page calls, after printing
 *     what the page shows. The retried call runs, once.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { delegate, tesseraFetch, type TesseraFetchOptions } from '../../src/mcp/index.js';
import type { Macaroon } from '../../src/macaroon/macaroon.js';
import { startExample } from './server.js';

const APPROVER = { name: 'olivia', groups: ['ops'] };
const running = await startExample();

async function connect(name: string, token: Macaroon | string, extra: Partial<TesseraFetchOptions> = {}): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { fetch: tesseraFetch({ token, ...extra }) }));
  return client;
}

/** The first text of a tool result, on one line. */
const text = (result: Record<string, unknown>): string => ((result.content as { text?: string }[] | undefined)?.[0]?.text ?? '').split('\n').join(' | ');

async function attempt(label: string, run: () => Promise<Record<string, unknown>>): Promise<void> {
  try {
    console.log(`     ${label}: ${text(await run())}`);
  } catch (e) {
    if (!(e instanceof McpError)) throw e;
    const data = e.data as { caveat?: string; reason?: string } | undefined;
    console.log(`     ${label}: refused (${e.code}) by "${data?.caveat}": ${data?.reason}`);
  }
}

/** What a person in group ops does on the approval page, through the service API the page uses. */
async function approveAsAPerson(url: string): Promise<void> {
  const id = url.split('/').at(-1) as string;
  const view = await running.system.discharge.get(id, APPROVER);
  if (view === undefined) throw new Error('the approver cannot see the request');
  console.log(`     [approval page, signed in as ${APPROVER.name}] "${view.what}"`);
  const decided = await running.system.discharge.decide(id, APPROVER, { approve: true, validitySeconds: 300 });
  console.log(`     clicked Approve: ${decided.status} by ${decided.decidedBy}`);
}

try {
  const parent = await connect('parent-agent', running.agentToken, {
    waitSeconds: 10,
    onApprovalUrl: (url, { condition }) => {
      console.log(`     approval needed for "${condition}": ${url}`);
      setTimeout(() => void approveAsAPerson(url), 200); // a person takes a moment
    },
  });
  console.log(`1. Parent agent's tools/list: ${(await parent.listTools()).tools.map((t) => t.name).sort().join(', ')}`);

  const forSubAgent = delegate(running.agentToken, { tools: ['search', 'read_file'], resources: '/docs/**', ttl: 15 * 60 });
  console.log('2. Parent delegates offline to a sub-agent, adding:');
  for (const c of forSubAgent.caveats.slice(-3)) console.log(`     ${c.text}`);
  const sub = await connect('sub-agent', forSubAgent);
  console.log(`   Sub-agent's tools/list: ${(await sub.listTools()).tools.map((t) => t.name).sort().join(', ')}`);

  console.log('3. Sub-agent calls tools:');
  await attempt('search "deploy"', () => sub.callTool({ name: 'search', arguments: { query: 'deploy' } }));
  await attempt('read_file /docs/welcome.md', () => sub.callTool({ name: 'read_file', arguments: { path: '/docs/welcome.md' } }));
  await attempt('read_file /secrets/prod.env', () => sub.callTool({ name: 'read_file', arguments: { path: '/secrets/prod.env' } }));
  await attempt('deploy web', () => sub.callTool({ name: 'deploy', arguments: { app: 'web' } }));

  console.log('4. Parent calls deploy {"app":"web"}, which needs a person in ops:');
  await attempt('deploy web', () => parent.callTool({ name: 'deploy', arguments: { app: 'web' } }));
  console.log(`   Tool runs: search ${running.runs.search}, read_file ${running.runs.read_file}, deploy ${running.runs.deploy}`);
  await sub.close();
  await parent.close();
} finally {
  await running.close();
}
