/**
 * The whole approval loop with the real pieces (#14): the system served on 127.0.0.1, a
 * standalone hono service with a default `new Verifier({ rootKeyFor })` behind `macaroonAuth`,
 * the `tessera` CLI run as a user runs it (`attenuate --third-party`, `discharge --reason`), and
 * a person deciding in Chromium. Allowed once, then ERR_USAGE_EXCEEDED; a denial's reason
 * printed by the CLI; an approval withdrawn on the page before anyone collects it.
 *
 * Without Chromium at CHROMIUM_PATH (default /usr/bin/chromium) nothing runs, and it says so.
 */
import type { ChildProcess } from 'node:child_process';
import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macaroonAuth } from '../src/hono/index.js';
import { Verifier } from '../src/verifier/index.js';
import { runCli, spawnCli } from './support/cli.js';
import { pgliteBackend } from './support/databases.js';
import {
  CHROMIUM_PATH,
  closeServer,
  sharedChromium,
  listen,
  requestDischarge,
  serveApprovalSystem,
  signIn,
  waitForDischarge,
  type ServedSystem,
} from './support/web-system.js';

const browser: Browser | undefined = await sharedChromium();
if (browser === undefined) console.warn(`approval loop test not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);

const PASSWORD = 'correct horse battery';

/** The first approval URL a running `tessera discharge` prints on stderr. */
function approvalUrlOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (d: Buffer) => {
      seen += d.toString();
      const m = /approval needed: (\S+)/.exec(seen);
      if (m !== null) resolve(m[1] as string);
    });
    child.once('close', () => reject(new Error(`discharge ended without an approval URL: ${seen}`)));
  });
}

/** Everything a child writes, and its exit code. */
function finished(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe.runIf(browser !== undefined)('the approval loop, end to end', () => {
  let served: ServedSystem;
  let service: { server: Parameters<typeof closeServer>[0]; port: number };
  let page: Page;
  let token: string;

  beforeAll(async () => {
    served = await serveApprovalSystem(await pgliteBackend.open());
    await served.addApprover('alice', PASSWORD, ['ops']);
    // A service of its own: a default Verifier (no database, no shared counter) and the issuer's keys.
    const keyring = served.system.keyring;
    const verifier = new Verifier({ rootKeyFor: (id) => keyring.rootKeyFor(id) });
    const app = new Hono();
    app.use('/apps/*', macaroonAuth({ verifier, context: (c) => ({ operation: 'deploy', resource: c.req.path }) }));
    app.post('/apps/:name/deploy', (c) => c.json({ deployed: c.req.param('name'), approvedBy: c.get('tessera').declared.get('approved-by') }));
    service = await listen(app.fetch);
    token = (await served.system.issuer.mint({ caveats: ['ops deploy', 'resource /apps/web/**'], label: 'release agent', subject: 'agent:release-bot' })).token;
    page = await (browser as Browser).newPage();
  });
  afterAll(async () => {
    await page?.close();
    if (service !== undefined) await closeServer(service.server);
    await served?.close();
  });

  it('attenuate, discharge --reason, approve in Chromium (verified who, stated why), allowed once, then ERR_USAGE_EXCEEDED; a denial reason reaches the CLI', async () => {
    const base = served.baseUrl;
    const attenuated = await runCli(['attenuate', token, '--third-party', base, '--condition', 'approve group:ops deploy web to production']);
    expect(attenuated.stderr).toBe('');
    expect(attenuated.code).toBe(0);
    const narrowed = attenuated.stdout.trim();

    const discharging = spawnCli(['discharge', narrowed, '--reason', 'release 1.4 passed CI']);
    const [approvalUrl, result] = [approvalUrlOf(discharging), finished(discharging)];
    discharging.stdin?.end();
    await page.goto(await approvalUrl);
    await signIn(page, 'alice', PASSWORD);
    expect(page.url()).toBe(await approvalUrl);
    const verified = await page.locator('section.verified').innerText();
    expect(verified).toContain('release agent');
    expect(verified).toContain('agent:release-bot');
    expect(verified).toMatch(/only operations: deploy/);
    expect(await page.locator('blockquote.requester-words').innerText()).toBe('release 1.4 passed CI');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(await approvalUrl);

    const done = await result;
    expect(done.code, done.stderr).toBe(0);
    const authorization = done.stdout.trim();
    expect(authorization).toMatch(/^Macaroon [A-Za-z0-9_-]+,[A-Za-z0-9_-]+$/);

    const deploy = (): Promise<Response> => fetch(`http://127.0.0.1:${service.port}/apps/web/deploy`, { method: 'POST', headers: { authorization } });
    const first = await deploy();
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ deployed: 'web', approvedBy: 'alice' });
    const second = await deploy();
    expect(second.status).toBe(403);
    expect(await second.json()).toMatchObject({ error: { code: 'ERR_USAGE_EXCEEDED' } });

    // The decided page: what was granted, single use, and when it was collected.
    await page.reload();
    const grant = await page.locator('dl.grant').innerText();
    expect(grant).toMatch(/one discharge valid for 5 minutes, until .*single use/);
    expect(grant).toMatch(/Collected by the requester at \d{4}-\d\d-\d\d/);

    // A denial: the person's reason is what the CLI prints, exit 1.
    const denying = spawnCli(['discharge', narrowed, '--reason', 'one more deploy']);
    const [deniedUrl, deniedResult] = [approvalUrlOf(denying), finished(denying)];
    denying.stdin?.end();
    await page.goto(await deniedUrl);
    await page.getByLabel('Reason').fill('not on a Friday');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(await deniedUrl);
    const denied = await deniedResult;
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toContain('error: denied by alice: not on a Friday (ERR_DENIED)');
  }, 180_000); // two CLI processes and a person's clicks, on a loaded machine

  it('an approval withdrawn on the page before collection: the poll answers ERR_DENIED withdrawn', async () => {
    const minted = await served.mint('approve group:ops rotate the signing keys', 'ops deploy');
    const asked = await requestDischarge(served, minted);
    expect(asked.status).toBe(202);
    await page.goto(asked.body.approvalUrl);
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(asked.body.approvalUrl);
    expect(await page.locator('dl.grant').innerText()).toContain('Not collected yet.');
    await page.getByRole('button', { name: 'Withdraw the approval' }).click();
    await page.waitForURL(asked.body.approvalUrl);
    expect(await page.locator('.decision').innerText()).toMatch(/^The approval was withdrawn by alice at /);
    const poll = await waitForDischarge(asked.body.pollUrl, 0);
    expect(poll.status).toBe(403);
    expect(poll.body).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'withdrawn', decidedBy: 'alice' } } });
  });
});
