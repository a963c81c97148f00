/**
 * The MCP examples run as a newcomer runs them (test/support/example.ts): examples/mcp/agent.ts
 * to completion, examples/mcp/server.ts until Ctrl-C. Each starts the whole system in its
 * process, on a scratch PostgreSQL database when the tests have a server (DATABASE_URL; the
 * embedded database's first start is most of an example's cost), else on the in-memory PGlite a
 * newcomer gets. test/mcp.test.ts and test/mcp-elicitation.test.ts run the same server on PGlite.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { tesseraFetch } from '../src/mcp/index.js';
import { exampleDatabaseEnv, runExample, startService } from './support/example.js';

/** The MCP examples start the whole system: slower to start than the others (initdb without PostgreSQL). */
const MCP_TIMEOUT_MS = 180_000; // 80 s seen on a loaded 2-core machine

describe('examples/mcp', () => {
  it('agent.ts: narrowed tools/list, a refused read outside /docs, and a deploy that waits for approval and runs once', async () => {
    const { code, stdout, stderr } = await runExample('mcp/agent.ts', [], MCP_TIMEOUT_MS, await exampleDatabaseEnv());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain("1. Parent agent's tools/list: deploy, read_file, search\n");
    expect(stdout).toMatch(/adding:\n {5}tool read_file,search\n {5}resource \/docs\/\*\*\n {5}time-before \S+\n/);
    expect(stdout).toContain("Sub-agent's tools/list: read_file, search\n");
    expect(stdout).toContain('read_file /docs/welcome.md: # Welcome');
    expect(stdout).toContain('read_file /secrets/prod.env: refused (-32031) by "resource /docs/**": resource not allowed\n');
    expect(stdout).toContain('deploy web: refused (-32031) by "tool read_file,search"');
    expect(stdout).toMatch(/approval needed for "approve group:ops call deploy \{"app":"web"\}": http:\/\/127\.0\.0\.1:\d+\/approve\/requests\/dr_/);
    expect(stdout).toContain('clicked Approve: approved by olivia\n     deploy web: deployed web to production\n');
    expect(stdout).toContain('Tool runs: search 1, read_file 1, deploy 1\n');
  }, 2 * MCP_TIMEOUT_MS);

  it('server.ts: serves MCP on PORT with the printed agent token, and stops cleanly on Ctrl-C', async () => {
    const service = await startService('mcp/server.ts', /one hour\):\n([A-Za-z0-9_-]+)\n/, MCP_TIMEOUT_MS, await exampleDatabaseEnv());
    let stopped = false;
    try {
      expect(service.output()).toMatch(/Approver for deploys: olivia \/ \S+ at http/);
      const client = new Client({ name: 'examples-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${service.url}/mcp`), { fetch: tesseraFetch({ token: service.token }) }));
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['deploy', 'read_file', 'search']);
      const read = await client.callTool({ name: 'read_file', arguments: { path: '/docs/welcome.md' } });
      expect(read.content).toEqual([{ type: 'text', text: expect.stringContaining('# Welcome') }]);
      await client.close();
      expect((await fetch(`${service.url}/mcp`, { method: 'POST' })).status).toBe(401);
      await service.stop();
      stopped = true;
      expect(service.output()).toMatch(/Ctrl-C to stop\.\nstopped\n$/);
    } finally {
      if (!stopped) await service.stop();
    }
  }, 2 * MCP_TIMEOUT_MS);
});
