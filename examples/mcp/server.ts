/**
 * Example: MCP tools behind Tessera.
 *
 *   npx tsx examples/mcp/server.ts          (PORT=0 for any free port)
 *
 * One process, one port: the whole Tessera system (issuer, discharge service, approval pages)
 * on an in-memory PGlite (your PostgreSQL when DATABASE_URL is set), and an MCP server (official SDK) at /mcp with three tools:
 *   search     read    finds documents under /docs           (resource /docs)
 *   read_file  read    returns a file                        (resource = the `path` argument)
 *   deploy     deploy  deploys an app: a person in group ops approves each call
 * plus each file as a resource (file:///docs/welcome.md…) and a prompt `summarise`.
 * It prints a token for an agent, and an approver account to approve deploys with in a browser.
 * examples/mcp/agent.ts runs the same server in-process and drives it as a scripted agent.
 */
import { serve } from '@hono/node-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { hashPassword } from '../../src/discharge/web/index.js';
import { argumentResource, protectMcp, stringArgument, type ToolPolicy } from '../../src/mcp/index.js';
import { createSystem, type System } from '../../src/server/index.js';
import { MasterKey, openDatabase, type Database } from '../../src/storage/index.js';

export const FILES: Readonly<Record<string, string>> = {
  '/docs/welcome.md': '# Welcome\nTessera tokens narrow offline.',
  '/docs/deploy-guide.md': '# Deploy guide\nDeploys need an approval from ops.',
  '/secrets/prod.env': 'DATABASE_PASSWORD=hunter2',
};

/** How often each tool actually ran (a refused call never gets here). */
export interface ToolRuns {
  search: number;
  read_file: number;
  deploy: number;
}

/** How each tool's calls look to the verifier. */
export const TOOL_POLICIES: Readonly<Record<string, ToolPolicy>> = {
  search: { operation: 'read', context: () => ({ resource: '/docs' }) },
  read_file: { operation: 'read', context: argumentResource('path') },
  deploy: { operation: 'deploy', approval: 'group:ops', context: (args) => ({ resource: `/apps/${stringArgument(args, 'app')}` }) },
};

/** A fresh MCP server with the three tools (the endpoint is stateless: one per request). */
export function buildMcpServer(runs: ToolRuns): McpServer {
  const server = new McpServer({ name: 'tessera-mcp-example', version: '1.0.0' });
  server.registerTool('search', { description: 'Search the documents under /docs', inputSchema: { query: z.string() } }, ({ query }) => {
    runs.search++;
    const hits = Object.keys(FILES).filter((p) => p.startsWith('/docs/') && (FILES[p] as string).toLowerCase().includes(query.toLowerCase()));
    return { content: [{ type: 'text', text: hits.join('\n') || '(no match)' }] };
  });
  server.registerTool('read_file', { description: 'Read a file', inputSchema: { path: z.string() } }, ({ path }) => {
    runs.read_file++;
    const text = FILES[path];
    return text === undefined ? { content: [{ type: 'text', text: `no such file: ${path}` }], isError: true } : { content: [{ type: 'text', text }] };
  });
  // Every file is also a resource (file:///docs/welcome.md is resource /docs/welcome.md), and
  // one prompt (resource /prompts/summarise, operation prompt).
  for (const [path, text] of Object.entries(FILES)) {
    server.registerResource(path, `file://${path}`, { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text }] }));
  }
  server.registerPrompt('summarise', { description: 'Summarise a document' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'Summarise the document in three lines.' } }],
  }));
  server.registerTool('deploy', { description: 'Deploy an app to production (needs approval by ops)', inputSchema: { app: z.string() } }, ({ app }) => {
    runs.deploy++;
    return { content: [{ type: 'text', text: `deployed ${app} to production` }] };
  });
  return server;
}

export interface RunningExample {
  /** `http://127.0.0.1:<port>`: the Tessera system; the MCP endpoint is `${url}/mcp`. */
  readonly url: string;
  readonly system: System;
  readonly runs: ToolRuns;
  /** A token for an agent: every tool, one hour. */
  readonly agentToken: string;
  close(): Promise<void>;
}

/** Listen on 127.0.0.1:`port` and serve the system and the MCP endpoint on it. */
export async function startExample(options: { readonly port?: number; readonly database?: Database } = {}): Promise<RunningExample> {
  const database = options.database ?? (await openDatabase({ url: process.env.DATABASE_URL, memory: true }));
  let app: Hono | undefined;
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: (req, env) => (app === undefined ? new Response('starting', { status: 503 }) : app.fetch(req, env)), hostname: '127.0.0.1', port: options.port ?? 0 }, () => resolve(s as Server));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: url, log: () => undefined });
  const runs: ToolRuns = { search: 0, read_file: 0, deploy: 0 };
  const mcp = protectMcp({
    verifier: system.verifier,
    server: () => buildMcpServer(runs),
    tools: TOOL_POLICIES,
    approvals: { discharger: { location: url, publicKey: system.discharge.publicKey } },
    resourceName: 'Tessera MCP example',
  });
  const combined = new Hono();
  combined.route('/', mcp);
  combined.route('/', system.app);
  app = combined;
  const minted = await system.issuer.mint({ label: 'mcp agent', caveats: ['tool search,read_file,deploy'], ttlSeconds: 3600 });
  return {
    url,
    system,
    runs,
    agentToken: minted.token,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await system.close();
      if (options.database === undefined) await database.close();
    },
  };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8471);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const running = await startExample({ port });
  const password = randomBytes(9).toString('base64url');
  await running.system.store.users.create({ name: 'olivia', passwordHash: await hashPassword(password), groups: ['ops'] });
  console.log(`Tessera MCP example listening on ${running.url} (MCP endpoint ${running.url}/mcp)`);
  console.log(`Agent token (tool search,read_file,deploy; one hour):\n${running.agentToken}\n`);
  console.log(`Approver for deploys: olivia / ${password} at ${running.url}/approve/`);
  console.log('Press Ctrl-C to stop.');
  const stop = (): void => {
    void running.close().then(() => {
      console.log('stopped');
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
