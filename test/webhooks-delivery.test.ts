/**
 * Webhook endpoints managed with the CLI against a running server, and what each delivery does:
 * Slack's body, the addressee filter, withdrawn and expired events (each once), and receivers
 * that redirect, hang or answer a huge body, none of which stalls the others.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { addWebhook, checkWebhookUrl } from '../src/webhooks/index.js';
import { runCli } from './support/cli.js';
import { incidentalBackend } from './support/databases.js';
import { expectCode } from './support/expect-code.js';
import { closeServer, listen } from './support/web-system.js';
import { startReceiver, type Receiver } from './support/webhook-receiver.js';

const ALICE = { name: 'alice', groups: ['ops'] };
/** Generous: an embedded database's queries run on this thread too, and a busy machine delays the first fetch. */
const TIMEOUT_MS = 4000;

let database: Database;
let system: System;
let server: ServerType;
let baseUrl: string;
let adminToken: string;
let receiver: Receiver;
/** How far the system's clock is ahead of the real one (to expire requests). */
let skewMs = 0;

beforeAll(async () => {
  database = await incidentalBackend.open();
  let app: System | undefined;
  const served = await listen((request, env) => (app === undefined ? new Response('starting', { status: 503 }) : app.app.fetch(request, env)));
  server = served.server;
  baseUrl = `http://127.0.0.1:${served.port}`;
  system = await createSystem({
    database,
    masterKey: MasterKey.generate(),
    publicUrl: baseUrl,
    log: () => undefined,
    clock: () => new Date(Date.now() + skewMs),
    webhooks: { timeoutMs: TIMEOUT_MS, retryBaseMs: 60_000, pollMs: 100, expirySweepMs: 3_600_000 },
  });
  app = system;
  adminToken = (await system.mintAdminToken('webhook cli test')).token;
  receiver = await startReceiver();
});
afterAll(async () => {
  await closeServer(server);
  await system?.close();
  await receiver?.stop();
});

const cli = (...args: string[]) => runCli(['webhooks', ...args, '--url', baseUrl, '--token', adminToken]);

/** A pending request for `condition`; resolves to its id. */
async function ask(condition: string): Promise<string> {
  const minted = await system.issuer.mint({ caveats: ['ops deploy'], label: 'delivery test' });
  const token = addDischargeCaveat(Macaroon.decode(minted.token), { location: baseUrl, publicKey: system.discharge.publicKey, condition });
  const third = token.caveats.find((c) => c.location !== undefined);
  const asked = await system.discharge.request(third!.identifier, { label: 'claimed-bot' });
  if (asked.status !== 'pending') throw new Error('expected pending');
  return asked.id;
}

/** The attempts of endpoint `id` once `accept` holds (the worker records right after sending). */
async function attemptsOf(id: string, accept: (n: number) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const attempts = await system.store.webhooks.attempts(id, 50);
    if (accept(attempts.length) || Date.now() > deadline) return attempts;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tessera webhooks against a running server', () => {
  it('add prints the secret once; list never shows it; test reaches the receiver; remove deletes it', async () => {
    const added = await cli('add', receiver.url, '--group', 'ops');
    expect(added.code).toBe(0);
    const secret = /^(whsec_[A-Za-z0-9+/=]+)$/m.exec(added.stdout)?.[1];
    expect(secret).toBeDefined();
    const id = /webhook (wh_[A-Za-z0-9_-]{16}) added: group ops → /.exec(added.stdout)?.[1] as string;
    expect(id).toBeDefined();
    receiver.secret = secret;

    const listed = await cli('list');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('group ops');
    const json = await cli('list', '--json');
    expect(json.stdout).not.toContain(secret!.slice(6));
    expect(json.stdout).not.toMatch(/whsec_/);
    const stored = await system.store.webhooks.list();
    expect(JSON.stringify(stored)).not.toContain(secret!.slice(6));

    const tested = await cli('test', id);
    expect(tested.stdout).toMatch(/^test event msg_\S+: delivered \(HTTP 204\) in \d+ ms$/m);
    expect(tested.code).toBe(0);
    expect(receiver.received.at(-1)?.type).toBe('webhook.test');
    // The audit trail names the endpoint, never its secret.
    const audit = await system.store.audit.list({ limit: 20 });
    expect(audit.filter((e) => e.subject === id).map((e) => e.action)).toEqual(expect.arrayContaining(['webhook-add', 'webhook-test']));
    expect(JSON.stringify(audit)).not.toContain(secret!.slice(6));

    expect((await cli('remove', id)).stdout).toBe(`webhook ${id} removed\n`);
    expect((await cli('list')).stdout).toMatch(/^no webhooks/);
    const again = await cli('remove', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ERR_NOT_FOUND');
  });

  it('refuses what is not an http(s) URL, and a command line that does not make sense', async () => {
    for (const url of ['ftp://example.com/hook', 'javascript:alert(1)', 'file:///etc/passwd', 'hooks.example.com', 'https://user:pw@example.com/']) {
      const r = await cli('add', url);
      expect(r.code, url).toBe(1);
      expect(r.stderr, url).toContain('ERR_INVALID_ARGUMENT');
    }
    expect((await cli('add', receiver.url, '--group', 'ops', '--user', 'alice')).code).toBe(2);
    expect((await cli('add', receiver.url, '--format', 'teams')).code).toBe(2);
    expect((await cli('add', receiver.url, '--group', 'Not A Name')).stderr).toContain('ERR_INVALID_ARGUMENT');
    expect((await cli('test', 'nope')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    await expectCode(() => checkWebhookUrl('http://'), 'ERR_INVALID_ARGUMENT');
    expect(checkWebhookUrl('https://hooks.example.com/t')).toBe('https://hooks.example.com/t');
  });
});

describe('deliveries', () => {
  it("a Slack endpoint gets { text } with the approval link; requests to others do not reach it", async () => {
    const slack = await startReceiver();
    try {
      const { endpoint, secret } = await addWebhook(system.store, { url: slack.url, addressee: { user: 'alice' }, format: 'slack' }, 'test');
      slack.secret = secret;
      await ask('approve group:dev restart the cache'); // addressed to another: not for this endpoint
      const id = await ask('approve alice deploy web to production');
      await slack.until((got) => got.length >= 1);
      const [first] = slack.received;
      expect(Object.keys(first!.body)).toEqual(['text']);
      expect(first!.body.text).toBe(`Approval needed from alice: deploy web to production\nAsked by claimed-bot (unverified)\nReview it: <${baseUrl}/approve/requests/${id}|${id}>`);
      await attemptsOf(endpoint.id, (n) => n >= 1);
      expect(await system.store.webhooks.counts(endpoint.id)).toEqual({ pending: 0, delivered: 1, failed: 0 });
    } finally {
      await slack.stop();
    }
  });

  it('withdrawn and expired requests are announced, each expiry once whichever path marked it', async () => {
    const all = await startReceiver();
    try {
      const { secret } = await addWebhook(system.store, { url: all.url }, 'test');
      all.secret = secret;
      const withdrawn = await ask('approve group:ops open the firewall');
      await system.discharge.decide(withdrawn, ALICE, { approve: true });
      await system.discharge.withdraw(withdrawn, ALICE);
      // Per webhook-id, as a receiver dedupes (a delivery in flight when the clock jumps is sent again).
      const types = (id: string): string[] =>
        [...new Map(all.received.filter((r) => (r.body.data as { id?: string } | undefined)?.id === id).map((r) => [r.id, r.type])).values()];
      await all.until(() => types(withdrawn).length === 3);
      expect(types(withdrawn)).toEqual(['request.created', 'request.approved', 'request.withdrawn']);

      const swept = await ask('approve group:ops drop the old tables');
      const polled = await ask('approve group:ops rotate the tls certificate');
      await all.until(() => types(swept).length === 1 && types(polled).length === 1);
      skewMs = 901_000; // both are past their 900 s
      // One is marked expired on another path first (a decision that came too late); the sweep announces both, once.
      await expectCode(system.store.discharges.decide(polled, { status: 'approved', decidedBy: 'alice' }, new Date(Date.now() + skewMs)), 'ERR_CONFLICT');
      expect((await system.store.discharges.get(polled))?.status).toBe('expired');
      expect(await system.discharge.announceExpired()).toBeGreaterThanOrEqual(2); // and the earlier tests' requests
      expect(await system.discharge.announceExpired()).toBe(0);
      await all.until(() => types(swept).length === 2 && types(polled).length === 2);
      expect(types(swept)).toEqual(['request.created', 'request.expired']);
      expect(types(polled)).toEqual(['request.created', 'request.expired']);
    } finally {
      skewMs = 0;
      await all.stop();
    }
  });

  it('redirects, silence and huge bodies are failed attempts, recorded, and stall no other endpoint', async () => {
    const hostile: Server[] = [];
    const serve = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
      const s = createServer(handler);
      hostile.push(s);
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`;
    };
    const redirect = await serve((_req, res) => res.writeHead(302, { location: receiver.url }).end());
    const silent = await serve(() => undefined); // never answers
    const huge = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      pump();
    });
    const fine = await startReceiver();
    try {
      const add = async (url: string) => (await addWebhook(system.store, { url, addressee: { group: 'qa' } }, 'test')).endpoint.id;
      const ids = { redirect: await add(redirect), silent: await add(silent), huge: await add(huge) };
      const good = await addWebhook(system.store, { url: fine.url, addressee: { group: 'qa' } }, 'test');
      fine.secret = good.secret;
      await ask('approve group:qa run the load test');
      // The good endpoint is served while the silent one is still waiting for its timeout.
      await fine.until((got) => got.length === 1);
      expect(await system.store.webhooks.attempts(ids.silent)).toEqual([]);

      const [redirected] = await attemptsOf(ids.redirect, (n) => n >= 1);
      expect(redirected).toMatchObject({ ok: false, statusCode: 302, error: 'redirect (HTTP 302) not followed' });
      const [timedOut] = await attemptsOf(ids.silent, (n) => n >= 1);
      expect(timedOut).toMatchObject({ ok: false, statusCode: null, error: `no answer within ${TIMEOUT_MS} ms` });
      expect(timedOut!.latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      const [flooded] = await attemptsOf(ids.huge, (n) => n >= 1);
      expect(flooded).toMatchObject({ ok: false, statusCode: 500, error: 'HTTP 500' });
      expect(flooded!.latencyMs).toBeLessThan(TIMEOUT_MS);
      // Retries are scheduled (retryBaseMs is a minute here), not lost.
      for (const id of Object.values(ids)) expect(await system.store.webhooks.counts(id)).toEqual({ pending: 1, delivered: 0, failed: 0 });
      // The receiver behind the redirect never heard of it.
      expect(receiver.received.filter((r) => r.type === 'request.created' && (r.body.data as { who?: string }).who === 'group:qa')).toEqual([]);
    } finally {
      for (const s of hostile) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      await fine.stop();
    }
  });
});
