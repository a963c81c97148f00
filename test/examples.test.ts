/**
 * The examples run as a newcomer runs them, as real child processes with a timeout: node on
 * this run's compiled example (test/support/example.ts), as `npx tsx examples/<file>.ts` runs it.
 * The MCP examples are in examples-mcp.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, mintDemoToken } from '../examples/service.js';
import { attenuateThirdParty, gatherDischarges } from '../src/client/index.js';
import { incidentalBackend } from './support/databases.js';
import { ALICE, LOCATION, dischargeFixture, type DischargeFixture } from './support/discharge.js';
import { runExample, startService } from './support/example.js';

const TIMEOUT_MS = 30_000;

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
    discharger = await dischargeFixture(await incidentalBackend.open());
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
