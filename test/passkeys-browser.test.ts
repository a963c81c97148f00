/**
 * Passkeys in a real browser (#11 "Done when"): Debian's Chromium, driven by playwright-core,
 * with the DevTools virtual authenticator (CDP `WebAuthn.enable` / `addVirtualAuthenticator`:
 * CTAP2, internal, resident keys, user verification) against the whole system served on
 * loopback, reached as http://localhost:<port> (WebAuthn needs a domain for its RP ID, not an
 * IP address; localhost is a secure context).
 *
 * alice is in `ops`, a passkey-only group. Her password lets her in once, to register a
 * passkey, and that password session cannot approve the request addressed to `ops`. She
 * registers a passkey, logs out, signs in with it, approves, and the waiting client gets its
 * discharge. Afterwards her password is refused. The pages' script runs under their CSP with
 * no violation reported.
 *
 * Without Chromium at CHROMIUM_PATH (default /usr/bin/chromium) nothing runs, and it says so.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { hashPassword } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey } from '../src/storage/index.js';
import { testBackends } from './support/databases.js';
import { CHROMIUM_PATH, closeServer, launchChromium, listen, requestDischarge, signIn, waitForDischarge, type ServedSystem } from './support/web-system.js';

const browser: Browser | undefined = await launchChromium();
if (browser === undefined) console.warn(`passkey browser tests not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);
afterAll(async () => {
  await browser?.close();
});

const PASSWORD = 'correct horse battery';

/** The system on 127.0.0.1, its public URL http://localhost:<port> (the browser's origin and the RP ID). */
async function serveOnLocalhost(database: Awaited<ReturnType<ReturnType<typeof testBackends>[number]['open']>>): Promise<{ served: ServedSystem; publicUrl: string }> {
  let system: System | undefined;
  const { server, port } = await listen((request, env) => (system === undefined ? new Response('starting', { status: 503 }) : system.app.fetch(request, env)));
  const publicUrl = `http://localhost:${port}`;
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl, log: () => undefined });
  const built = system;
  const served: ServedSystem = {
    baseUrl: `http://127.0.0.1:${port}`, // what this process fetches (no IPv6 guess for "localhost")
    system: built,
    async mint(condition, ...caveats) {
      const minted = await built.issuer.mint({ caveats, label: 'passkey browser test' });
      return addDischargeCaveat(Macaroon.decode(minted.token), { location: publicUrl, publicKey: built.discharge.publicKey, condition });
    },
    async addApprover(name, password, groups) {
      await built.store.users.create({ name, passwordHash: await hashPassword(password, { N: 2 ** 10, r: 8, p: 1 }), groups });
    },
    async close() {
      await closeServer(server);
      await built.close();
    },
  };
  return { served, publicUrl };
}

/** Every CSP violation Chromium reports on the page. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Trusted Type/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

describe.runIf(browser !== undefined).each(testBackends('passkeys-browser'))('passkeys in Chromium on $name', (backend) => {
  let served: ServedSystem;
  let publicUrl: string;
  let context: BrowserContext;

  beforeAll(async () => {
    ({ served, publicUrl } = await serveOnLocalhost(await backend.open()));
    await served.addApprover('alice', PASSWORD, ['ops']);
    await served.system.store.passkeys.setGroupRequirement('ops', true);
    context = await (browser as Browser).newContext();
    return async () => {
      await context?.close();
      await served?.close();
    };
  });

  // A dozen page loads and two ceremonies: more than the default 20 s on a loaded machine.
  it('register a passkey with the virtual authenticator, sign out, sign in with it, approve', { timeout: 60_000 }, async () => {
    const token = await served.mint('approve group:ops deploy the web app', 'ops deploy');
    const asked = await requestDischarge(served, token);
    expect(asked.status).toBe(202);
    const requestPath = new URL(asked.body.approvalUrl).pathname;
    const pollUrl = new URL(new URL(asked.body.pollUrl).pathname, served.baseUrl).href;
    const waiting = waitForDischarge(pollUrl);
    waiting.catch(() => undefined); // awaited below; a failure before that must not go unhandled

    const page = await context.newPage();
    const violations = cspViolations(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    // The password lets alice in only to register a passkey...
    await page.goto(`${publicUrl}/approve/login`);
    await signIn(page, 'alice', PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/approve/passkeys');
    expect(await page.locator('main').innerText()).toContain('signs in and approves only with a passkey');
    // ...and that password session cannot approve for the passkey-only group.
    await page.goto(`${publicUrl}${requestPath}`);
    const refused = page.waitForResponse((r) => r.url().endsWith(`${requestPath}/approve`));
    await page.getByRole('button', { name: 'Approve' }).click();
    expect((await refused).status()).toBe(403);
    await page.waitForLoadState();
    expect(await page.locator('main').innerText()).toContain('only after signing in with a passkey');

    await page.goto(`${publicUrl}/approve/passkeys`);
    const register = page.getByRole('button', { name: 'Register a passkey' });
    await register.waitFor({ state: 'visible' }); // the script shows it when the browser can
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/approve/passkeys/register') && r.status() === 200), register.click()]);
    await page.locator('main table').waitFor();
    const stored = await served.system.store.passkeys.listForUser('alice');
    expect(stored).toHaveLength(1);
    expect(await page.locator('main table').innerText()).toContain(stored[0]!.id.slice(0, 16));
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname === '/approve/login');
    await page.goto(`${publicUrl}/approve/login?next=${encodeURIComponent(requestPath)}`);
    const passkeyButton = page.getByRole('button', { name: 'Sign in with a passkey' });
    await passkeyButton.waitFor({ state: 'visible' });
    await Promise.all([page.waitForURL((u) => u.pathname === requestPath), passkeyButton.click()]);
    expect(await page.locator('header').innerText()).toContain('Signed in as alice');
    expect((await served.system.store.passkeys.get(stored[0]!.id))?.lastUsedAt).toBeInstanceOf(Date);

    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((u) => u.pathname === requestPath);
    expect(await page.locator('.decision').innerText()).toMatch(/^Approved by alice at /);
    const result = await waiting;
    expect(result.status).toBe(200);
    const discharge = Macaroon.decode(String(result.body.discharge));
    const verified = await served.system.verifier.verify(token, { discharges: [token.bindForRequest(discharge)], context: { operation: 'deploy' } });
    expect(verified.declared.get('approved-by')).toBe('alice');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('a password sign-in for the passkey-only user is refused now that she has a passkey', async () => {
    const other = await (browser as Browser).newContext();
    try {
      const page = await other.newPage();
      await page.goto(`${publicUrl}/approve/login`);
      await page.getByLabel('User name').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      const answer = page.waitForResponse((r) => r.url().endsWith('/approve/login') && r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect((await answer).status()).toBe(403);
      await page.waitForLoadState();
      expect(await page.getByRole('alert').first().innerText()).toContain('Your account signs in only with a passkey');
      expect(new URL(page.url()).pathname).toBe('/approve/login');
      await page.goto(`${publicUrl}/approve/`);
      expect(new URL(page.url()).pathname).toBe('/approve/login'); // no session was made
    } finally {
      await other.close();
    }
  });
});
