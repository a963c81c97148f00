/**
 * The examples run as a newcomer runs them, as real child processes with a timeout: node on
 * this run's compiled example (test/support/example.ts), as `npx tsx examples/<file>.ts` runs it.
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createApp, mintDemoToken } from '../examples/service.js';
import { attenuateThirdParty, gatherDischarges } from '../src/client/index.js';
import { tesseraFetch } from '../src/mcp/index.js';
import { nodeArgs } from './support/child-build.js';
import { pgliteBackend } from './support/databases.js';
import { ALICE, LOCATION, dischargeFixture, type DischargeFixture } from './support/discharge.js';
import { ROOT, runExample } from './support/example.js';

const TIMEOUT_MS = 30_000;

/** True while any process of the group still runs. */
const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Start a serving example (default examples/service.ts) on an ephemeral port, in its own process
 * group so that `stop()` can do what Ctrl-C in a terminal does: SIGINT to the whole group.
 * Resolves once the banner (URL, token) is printed; `stop()` resolves when every process of the
 * group is gone.
 */
function startService(
  file = 'service.ts',
  tokenLine = /valid for one hour\):\n([A-Za-z0-9_-]+)\n/,
  timeoutMs = TIMEOUT_MS,
): Promise<{ url: string; token: string; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, nodeArgs(`examples/${file}`), { cwd: ROOT, detached: true, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid as number;
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => groupAlive(pgid) && process.kill(-pgid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = tokenLine.exec(out)?.[1];
      if (url !== undefined && token !== undefined && /Ctrl-C to stop\.?\n/.test(out)) {
        resolve({
          url,
          token,
          output: () => out,
          stop: async () => {
            if (groupAlive(pgid)) process.kill(-pgid, 'SIGINT');
            await exited;
            while (groupAlive(pgid)) await new Promise((r) => setTimeout(r, 50));
            clearTimeout(killer);
          },
        });
      }
    });
    void exited.then(() => reject(new Error(`service exited early: ${out}`)));
  });
}

describe('examples/service.ts', () => {
  it('createApp() serves documents to the demo token and refuses without one', async () => {
    const app = createApp();
    const token = mintDemoToken();
    const ok = await app.request('/docs/welcome.md', { headers: { Authorization: `Macaroon ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('# Welcome');
    const none = await app.request('/docs/welcome.md');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Macaroon realm="tessera-demo"');
    expect((await app.request('/')).status).toBe(200);
  });

  it('starts on PORT, prints a working demo token, serves HTTP, and stops cleanly on Ctrl-C (SIGINT)', async () => {
    const service = await startService();
    let stopped = false;
    try {
      const auth = { Authorization: `Macaroon ${service.token}` };
      const res = await fetch(`${service.url}/docs/guide.md`, { headers: auth });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# Guide');
      const put = await fetch(`${service.url}/docs/new.md`, { method: 'PUT', headers: auth, body: 'hello' });
      expect(await put.json()).toMatchObject({ saved: 'new.md' });
      expect(await (await fetch(`${service.url}/docs/new.md`, { headers: auth })).text()).toBe('hello');
      const denied = await fetch(`${service.url}/docs/guide.md`, { headers: { Authorization: 'Macaroon AAAA' } });
      expect(denied.status).toBe(401);
      // The attenuation example accepts the token the service printed.
      const attenuated = await runExample('attenuate.ts', [service.token]);
      expect(attenuated.code).toBe(0);
      expect(attenuated.stdout).toContain('Token from the command line: 2 caveats');
      await service.stop();
      stopped = true;
      // "stopped" is printed by the close callback just before process.exit(0).
      expect(service.output()).toMatch(/Ctrl-C to stop\.\nstopped\n$/);
    } finally {
      if (!stopped) await service.stop();
    }
  }, 2 * TIMEOUT_MS);
});

describe('examples/service.ts with an approved discharge', () => {
  let discharger: DischargeFixture;
  beforeAll(async () => {
    discharger = await dischargeFixture(await pgliteBackend.open());
  });

  it('accepts the demo token with a discharge from a Tessera discharge service: once, then ERR_USAGE_EXCEEDED', async () => {
    const app = createApp();
    const condition = 'approve group:ops edit the guide';
    // What `tessera attenuate --third-party` does: fetch the service's public key, seal the ticket offline.
    const token = await attenuateThirdParty(mintDemoToken(), LOCATION, condition, { fetch: discharger.fetch });
    const get = (authorization: string): Promise<Response> => Promise.resolve(app.request('/docs/guide.md', { headers: { Authorization: authorization } }));

    const undischarged = await get(`Macaroon ${token.encode()}`);
    expect(undischarged.status).toBe(401);
    expect(await undischarged.json()).toMatchObject({ error: { code: 'ERR_DISCHARGE_MISSING' } });

    // What `tessera discharge` does; alice (in ops) approves on the approval page's decide path.
    let decided: Promise<unknown> | undefined;
    const bundle = await gatherDischarges(token, {
      fetch: discharger.fetch,
      waitSeconds: 5,
      onApprovalUrl: (url) => {
        decided = discharger.service.decide(url.split('/').pop() as string, ALICE, { approve: true });
      },
    });
    await decided;
    expect(bundle.authorization).toMatch(/^Macaroon [A-Za-z0-9_-]+,[A-Za-z0-9_-]+$/);

    const first = await get(bundle.authorization);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('# Guide');
    const second = await get(bundle.authorization);
    expect(second.status).toBe(403);
    expect(await second.json()).toMatchObject({ error: { code: 'ERR_USAGE_EXCEEDED', details: { caveat: 'uses 1' } } });
  });
});

describe('examples/attenuate.ts', () => {
  it('prints which requests pass and which are refused, and why', async () => {
    const { code, stdout, stderr } = await runExample('attenuate.ts');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const rows = stdout.split('\n').filter((l) => /^(GET|PUT) /.test(l)).map((l) => l.split(/\s{2,}/));
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ['GET /docs/guide.md', 'original', 'now', '200'],
      ['PUT /docs/notes.md', 'original', 'now', '200'],
      ['GET /admin/stats', 'original', 'now', '200'],
      ['GET /docs/guide.md', 'attenuated', 'now', '200'],
      ['PUT /docs/notes.md', 'attenuated', 'now', '403'],
      ['GET /admin/stats', 'attenuated', 'now', '403'],
      ['GET /docs/guide.md', 'attenuated', '+6 min', '403'],
      ['GET /docs/guide.md', 'original', '+6 min', '200'],
      ['GET /docs/guide.md', 'widened', 'now', '401'],
      ['GET /docs/guide.md', 'none', 'now', '401'],
    ]);
    expect(rows[4]?.[4]).toBe('refused by "ops read": operation "write" not allowed');
    expect(rows[5]?.[4]).toBe('refused by "resource /docs/**": resource not allowed');
    expect(rows[6]?.[4]).toMatch(/^refused by "time-before \S+": /);
    expect(rows[8]?.[4]).toMatch(/^ERR_SIGNATURE: /);
    expect(stdout).toMatch(/Attenuated offline, 3 caveats added:\n {2}time-before \S+\n {2}ops read\n {2}resource \/docs\/\*\*\n/);
  }, 2 * TIMEOUT_MS);

  it('refuses an argument that is not a macaroon, with exit code 1', async () => {
    const { code, stderr, stdout } = await runExample('attenuate.ts', ['not-a-token']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('That is not a macaroon (ERR_MALFORMED)');
  }, 2 * TIMEOUT_MS);
});

/** The MCP examples start the whole system on PGlite: slower to start than the others. */
const MCP_TIMEOUT_MS = 180_000; // 80 s seen on a loaded 2-core machine

describe('examples/mcp', () => {
  it('agent.ts: narrowed tools/list, a refused read outside /docs, and a deploy that waits for approval and runs once', async () => {
    const { code, stdout, stderr } = await runExample('mcp/agent.ts', [], MCP_TIMEOUT_MS);
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
    const service = await startService('mcp/server.ts', /one hour\):\n([A-Za-z0-9_-]+)\n/, MCP_TIMEOUT_MS);
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
