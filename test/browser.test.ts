/**
 * The approval pages in a real browser: Debian's Chromium driven by playwright-core against
 * the whole system (`createSystem`) served on 127.0.0.1, on PostgreSQL when DATABASE_URL is set,
 * else PGlite: one backend, as the pages' storage is tested on both in storage.test (and the
 * approval loop, the MCP approval and the passkey flows drive Chromium on PGlite).
 *
 *   1. a client asks for a discharge (202) and long-polls; a person signs in, sees the request,
 *      approves it; the client receives the discharge, it verifies once, and a second use is
 *      refused (`uses 1`);
 *   2. a person denies with a reason; the waiting client gets 403 ERR_DENIED with that reason;
 *   3. a page on another origin auto-submits a form to the approve URL while the person is
 *      signed in: refused (403), and the request stays pending.
 *
 * Without Chromium at CHROMIUM_PATH (default /usr/bin/chromium) nothing runs, and it says so.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { oneBackend } from './support/databases.js';
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
if (browser === undefined) console.warn(`browser tests not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);

const PASSWORD = 'correct horse battery';

describe.runIf(browser !== undefined).each(oneBackend('browser', 'postgres'))('approval pages in Chromium on $name', (backend) => {
  let system: ServedSystem;
  let context: BrowserContext;

  beforeAll(async () => {
    system = await serveApprovalSystem(await backend.open());
    await system.addApprover('alice', PASSWORD, ['ops']);
  });
  afterAll(async () => {
    await system?.close();
  });
  beforeEach(async () => {
    context = await (browser as Browser).newContext(); // a fresh cookie jar per case
  });
  afterEach(async () => {
    await context.close();
  });

  it('approve: sign in, see the pending request, approve; the waiting client gets a discharge that verifies', async () => {
    const token = await system.mint('approve group:ops deploy the web app', 'ops deploy');
    const asked = await requestDischarge(system, token);
    expect(asked.status).toBe(202);
    expect(asked.body.approvalUrl).toMatch(new RegExp(`^${system.baseUrl}/approve/requests/dr_`));
    const waiting = waitForDischarge(asked.body.pollUrl);

    const page = await context.newPage();
    await page.goto(`${system.baseUrl}/approve/`);
    expect(new URL(page.url()).pathname).toBe('/approve/login');
    await signIn(page, 'alice', PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/approve/');
    await expect(page.getByRole('heading', { name: 'Pending requests' }).count()).resolves.toBe(1);
    const link = page.getByRole('link', { name: 'deploy the web app' });
    await expect(link.count()).resolves.toBe(1);
    await link.click();
    expect(page.url()).toBe(asked.body.approvalUrl);
    const text = await page.locator('main').innerText();
    expect(text).toContain('approve group:ops deploy the web app');
    expect(text).toContain('only operations: deploy'); // the claimed caveats, in words
    await page.getByLabel(/Valid for/).fill('2');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(asked.body.approvalUrl);
    expect(await page.locator('.decision').innerText()).toMatch(/^Approved by alice at /);

    const result = await waiting;
    expect(result.status).toBe(200);
    const discharge = Macaroon.decode(String(result.body.discharge));
    const verified = await system.system.verifier.verify(token, { discharges: [token.bindForRequest(discharge)], context: { operation: 'deploy' } });
    expect(verified.declared.get('approved-by')).toBe('alice');
    // One approval authorises one action: the discharge carries `uses 1`.
    await expect(
      system.system.verifier.verify(token, { discharges: [token.bindForRequest(discharge)], context: { operation: 'deploy' } }),
    ).rejects.toMatchObject({ code: 'ERR_USAGE_EXCEEDED' });
    const limit = discharge.caveats.map((c) => new TextDecoder().decode(c.identifier)).find((c) => c.startsWith('time-before '));
    const expiresIn = Date.parse(String(limit?.slice('time-before '.length))) - Date.now();
    expect(expiresIn).toBeGreaterThan(60_000);
    expect(expiresIn).toBeLessThanOrEqual(120_000); // the shorter validity chosen on the page

    await page.getByRole('link', { name: 'History' }).click();
    expect(await page.locator('main').innerText()).toMatch(/deploy the web app\s+approved \(discharge collected\)\s+alice/);
  });

  it('deny: the person gives a reason, the waiting client is refused with it', async () => {
    const token = await system.mint('approve alice drop the production database');
    const asked = await requestDischarge(system, token);
    expect(asked.status).toBe(202);
    const waiting = waitForDischarge(asked.body.pollUrl);

    const page = await context.newPage();
    await page.goto(asked.body.approvalUrl); // the link the client was given: sign in, come back
    expect(new URL(page.url()).pathname).toBe('/approve/login');
    await signIn(page, 'alice', PASSWORD);
    expect(page.url()).toBe(asked.body.approvalUrl);
    await page.getByLabel('Reason').fill('not on a Friday');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(asked.body.approvalUrl);
    expect(await page.locator('.decision').innerText()).toMatch(/^Denied by alice at .*not on a Friday/);

    const result = await waiting;
    expect(result.status).toBe(403);
    expect(result.body).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'denied', reason: 'not on a Friday' } } });
  });

  it('a cross-site form post to the approve URL is refused and the request stays pending', async () => {
    const token = await system.mint('approve group:ops rotate the signing keys');
    const asked = await requestDischarge(system, token);
    expect(asked.status).toBe(202);
    const id = asked.body.approvalUrl.split('/').at(-1) as string;

    const page = await context.newPage();
    await page.goto(asked.body.approvalUrl);
    await signIn(page, 'alice', PASSWORD);
    expect(page.url()).toBe(asked.body.approvalUrl);

    // The attacker's page, on another origin: same site (127.0.0.1, so the SameSite=Strict
    // cookie IS sent and only the CSRF defences stand in the way) and another site (localhost).
    const attack = `<!doctype html><form id="f" method="post" action="${asked.body.approvalUrl}/approve">
<input name="validityMinutes" value="60"><input name="csrf" value="${'A'.repeat(43)}"></form>
<script>document.getElementById('f').submit()</script>`;
    const evil = await listen(() => new Response(attack, { headers: { 'content-type': 'text/html' } }));
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const refused = page.waitForResponse((r) => r.url() === `${asked.body.approvalUrl}/approve`);
        await page.goto(`http://${host}:${evil.port}/`);
        const res = await refused;
        expect(res.status(), host).toBe(403);
        await page.waitForLoadState();
        expect(await page.locator('main').innerText()).toContain('ERR_CSRF');
        const view = await system.system.discharge.get(id, { name: 'alice', groups: ['ops'] });
        expect(view?.status).toBe('pending');
      }
    } finally {
      await closeServer(evil.server);
    }
    // Still pending for the client too, and still decidable by the real page.
    const poll = await fetch(`${asked.body.pollUrl}?wait=0`);
    expect(poll.status).toBe(202);
    await page.goto(asked.body.approvalUrl);
    await expect(page.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(1);
  });
});
