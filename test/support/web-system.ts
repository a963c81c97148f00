/**
 * The whole system (`createSystem`: issuer, discharge service, approval pages) served for real
 * (@hono/node-server on 127.0.0.1, an ephemeral port), plus Debian's Chromium through
 * playwright-core: what the browser test (test/browser.test.ts) and the approval latency
 * benchmark (test/bench/approval-browser.ts) share.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { addDischargeCaveat } from '../../src/client/index.js';
import { hashPassword } from '../../src/discharge/web/index.js';
import { Macaroon } from '../../src/macaroon/macaroon.js';
import { createSystem, type System } from '../../src/server/index.js';
import { MasterKey, type Database } from '../../src/storage/index.js';
import type { LogOption } from '../../src/log.js';
import { TEST_SCRYPT } from './passwords.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Cheap password hashes for fixtures (the default cost is 2^15). */

export interface ServedSystem {
  /** `http://127.0.0.1:<port>`: the system's public URL and the pages' origin. */
  readonly baseUrl: string;
  readonly system: System;
  /** A token from the issuer with these first-party caveats and a third-party caveat `condition` for the discharger. */
  mint(condition: string, ...caveats: string[]): Promise<Macaroon>;
  addApprover(name: string, password: string, groups: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Listen on 127.0.0.1, an ephemeral port, and resolve to the server and its port. */
export function listen(fetch: (request: Request, env: unknown) => Response | Promise<Response>): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve({ server, port: info.port }));
  });
}

export function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    // Long-polls may still be open: do not wait for them.
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** `createSystem` over `database`, served on 127.0.0.1 (the port is known before the system is built). */
export async function serveApprovalSystem(database: Database, options: { readonly log?: LogOption } = {}): Promise<ServedSystem> {
  let system: System | undefined;
  const { server, port } = await listen((request, env) =>
    system === undefined ? new Response('starting', { status: 503 }) : system.app.fetch(request, env));
  const baseUrl = `http://127.0.0.1:${port}`;
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: baseUrl, log: options.log ?? (() => undefined), passwordHashing: TEST_SCRYPT });
  const built = system;
  return {
    baseUrl,
    system: built,
    async mint(condition, ...caveats) {
      const minted = await built.issuer.mint({ caveats, label: 'browser test' });
      return addDischargeCaveat(Macaroon.decode(minted.token), { location: baseUrl, publicKey: built.discharge.publicKey, condition });
    },
    async addApprover(name, password, groups) {
      await built.store.users.create({ name, passwordHash: await hashPassword(password, TEST_SCRYPT), groups });
    },
    async close() {
      await closeServer(server);
      await built.close();
    },
  };
}

export interface PendingDischarge {
  readonly approvalUrl: string;
  readonly pollUrl: string;
}

/** POST the token's (one) third-party caveat to /v1/discharge; expects 202. */
export async function requestDischarge(system: ServedSystem, token: Macaroon): Promise<{ status: number; body: PendingDischarge }> {
  const third = token.caveats.find((c) => c.location !== undefined);
  if (third === undefined) throw new Error('the token has no third-party caveat');
  const res = await fetch(`${system.baseUrl}/v1/discharge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: Buffer.from(third.identifier).toString('base64url'), caveats: token.caveats.filter((c) => c.location === undefined).map((c) => new TextDecoder().decode(c.identifier)) }),
  });
  return { status: res.status, body: (await res.json()) as PendingDischarge };
}

/** Long-poll until the request is decided (or `seconds` pass): the poll's status and JSON. */
export async function waitForDischarge(pollUrl: string, seconds = 30): Promise<{ status: number; body: Record<string, unknown> }> {
  for (;;) {
    const res = await fetch(`${pollUrl}?wait=${seconds}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 202) return { status: res.status, body };
  }
}

/** Debian's Chromium, headless, in a fresh temporary profile; undefined when it is not installed. */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) return undefined;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

let shared: Promise<Browser | undefined> | undefined;

/**
 * One Chromium for every browser test file a worker runs (files share their worker's modules):
 * launched on first use, never closed by a file (each test opens and closes its own context),
 * gone with the worker (playwright kills the browsers it launched when the process exits).
 */
export function sharedChromium(): Promise<Browser | undefined> {
  shared ??= launchChromium();
  return shared;
}

/** Fill in and submit the sign-in form the page is on. */
export async function signIn(page: Page, name: string, password: string): Promise<void> {
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login')), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
}
