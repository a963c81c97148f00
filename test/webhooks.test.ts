/**
 * Webhook notifications (#11): a real receiver on loopback verifying Standard Webhooks
 * signatures gets every event of requests made while it was down, across a restart of the
 * server, exactly once per `webhook-id` and in order per request.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { presentationFor } from '../src/tickets/presentation.js';
import type { WebhookWorkerOptions } from '../src/webhooks/index.js';
import { testBackends } from './support/databases.js';
import { startReceiver, type Received, type Receiver } from './support/webhook-receiver.js';

const PUBLIC_URL = 'http://tessera.test';
const ALICE = { name: 'alice', groups: ['ops'] };
/** Fast retries, so a receiver that comes back is reached within a fraction of a second. */
const FAST: WebhookWorkerOptions = { retryBaseMs: 40, retryMaxMs: 300, pollMs: 200, timeoutMs: 5000 };

async function startSystem(database: Database, masterKey: MasterKey, webhooks: WebhookWorkerOptions = FAST): Promise<System> {
  return createSystem({ database, masterKey, publicUrl: PUBLIC_URL, log: () => undefined, webhooks });
}

/** Call the admin API in-process with a fresh admin token. */
async function admin(system: System, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const { token } = await system.mintAdminToken('webhook test');
  const res = await system.app.request(path, {
    method,
    headers: { authorization: `Macaroon ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A pending request for `condition`, asked with a presentation of a token labelled `label`. */
async function ask(system: System, condition: string, label: string): Promise<string> {
  const minted = await system.issuer.mint({ caveats: ['ops deploy'], label, subject: `agent:${label}` });
  const token = addDischargeCaveat(Macaroon.decode(minted.token), { location: PUBLIC_URL, publicKey: system.discharge.publicKey, condition });
  const third = token.caveats.find((c) => c.location !== undefined);
  if (third === undefined) throw new Error('no third-party caveat');
  const asked = await system.discharge.request(third.identifier, {}, [], { presentation: presentationFor(token, PUBLIC_URL), reason: `${label} ships the release` });
  if (asked.status !== 'pending') throw new Error('expected a pending request');
  return asked.id;
}

/** Re-check `read` until `accept` holds (for database state that trails a delivery by one write). */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const idsOf = (received: readonly Received[]): Set<string> => new Set(received.map((r) => r.id));
const dataOf = (r: Received): Record<string, unknown> => r.body.data as Record<string, unknown>;

describe.each(testBackends('webhooks'))('webhooks on $name', (backend) => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it('a receiver down while two requests are asked and approved, and a server restart between: every event arrives once per webhook-id, in order per request', async () => {
    const { database, another } = await backend.fresh();
    const masterKey = MasterKey.generate();
    let system = await startSystem(database, masterKey);
    const added = await admin(system, 'POST', '/v1/webhooks', { url: receiver.url, group: 'ops' });
    expect(added.status).toBe(201);
    expect(added.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    receiver.secret = added.json.secret as string;
    const endpointId = added.json.id as string;

    await receiver.stop();
    const first = await ask(system, 'approve group:ops deploy web to production', 'release-bot');
    const second = await ask(system, 'approve group:ops rotate the database password', 'ops-bot');
    await system.discharge.decide(first, ALICE, { approve: true });
    await system.discharge.decide(second, ALICE, { approve: false, reason: 'not during the freeze' });
    // Attempts fail and are recorded while the receiver is down.
    const failed = await eventually(() => system.store.webhooks.attempts(endpointId, 50), (a) => a.length >= 2);
    expect(failed.every((a) => !a.ok && a.statusCode === null && a.error !== null)).toBe(true);
    expect(failed.some((a) => /^connection failed/.test(a.error ?? ''))).toBe(true);
    // Only the first event of each request is tried: the decision waits behind it.
    expect(new Set(failed.map((a) => a.type))).toEqual(new Set(['request.created']));

    // The server restarts on the same database (and, on PostgreSQL, new connections)...
    await system.close();
    system = await startSystem(await another(), masterKey);
    // ...then the receiver comes back.
    await receiver.start();
    await receiver.until((got) => idsOf(got).size >= 4);
    const counts = await eventually(() => system.store.webhooks.counts(endpointId), (c) => c.delivered === 4);
    expect(counts).toEqual({ pending: 0, delivered: 4, failed: 0 });
    await system.close();

    expect(receiver.rejected).toBe(0);
    // Duplicates, if any, repeat an id with the same body.
    const byId = new Map<string, string>();
    for (const r of receiver.received) {
      const body = JSON.stringify(r.body);
      expect(byId.get(r.id) ?? body).toBe(body);
      byId.set(r.id, body);
    }
    expect(byId.size).toBe(4);
    const firstArrivals = [...new Map(receiver.received.map((r) => [r.id, r])).values()].sort((a, b) => a.at - b.at);
    const typesFor = (id: string): string[] => firstArrivals.filter((r) => dataOf(r).id === id).map((r) => r.type);
    expect(typesFor(first)).toEqual(['request.created', 'request.approved']);
    expect(typesFor(second)).toEqual(['request.created', 'request.denied']);

    const created = firstArrivals.find((r) => r.type === 'request.created' && dataOf(r).id === first) as Received;
    expect(dataOf(created)).toMatchObject({
      id: first,
      status: 'pending',
      approvalUrl: `${PUBLIC_URL}/approve/requests/${first}`,
      condition: 'approve group:ops deploy web to production',
      who: 'group:ops',
      requester: { verified: true, label: 'release-bot', subject: 'agent:release-bot' },
      reason: 'release-bot ships the release',
      decision: null,
    });
    const denied = firstArrivals.find((r) => r.type === 'request.denied') as Received;
    expect(dataOf(denied)).toMatchObject({ id: second, status: 'denied', decision: { by: 'alice', reason: 'not during the freeze' } });
    // Nothing secret travels: no poll URL, no ticket.
    expect(JSON.stringify(receiver.received.map((r) => r.body))).not.toMatch(/poll|caveatId|ticket/i);
  }, 60_000);

  it('closing the system aborts a delivery in flight and gives its row back unattempted', async () => {
    const { database } = await backend.fresh();
    let arrived: () => void = () => undefined;
    const hanging = createServer(() => arrived()); // never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
    const system = await startSystem(database, MasterKey.generate(), { ...FAST, timeoutMs: 30_000 });
    try {
      const added = await admin(system, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/` });
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      await ask(system, 'approve group:ops deploy while the receiver hangs', 'hang-bot');
      await reached;
      const started = performance.now();
      await system.close();
      expect(performance.now() - started).toBeLessThan(5_000);
      const counts = await system.store.webhooks.counts(added.json.id as string);
      expect(counts).toEqual({ pending: 1, delivered: 0, failed: 0 });
      expect(await system.store.webhooks.attempts(added.json.id as string)).toEqual([]);
      const [row] = await system.store.webhooks.claim({ limit: 10, perEndpoint: 4, leaseMs: 1000 });
      expect(row?.attempts).toBe(1); // due at once, the aborted attempt not counted
    } finally {
      await system.close();
      hanging.closeAllConnections();
      await new Promise((r) => hanging.close(r));
    }
  }, 60_000);

  it('two instances on one database deliver each event once (rows are claimed with SKIP LOCKED under a lease)', async () => {
    const { database, another } = await backend.fresh();
    const masterKey = MasterKey.generate();
    const systems = [await startSystem(database, masterKey), await startSystem(await another(), masterKey)];
    const collector = await startReceiver();
    try {
      const added = await admin(systems[0]!, 'POST', '/v1/webhooks', { url: collector.url });
      collector.secret = added.json.secret as string;
      const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(systems[i % 2]!, `approve group:ops task number ${i}`, `bot-${i}`)));
      await collector.until((got) => idsOf(got).size >= 8);
      const attempts = await eventually(() => systems[1]!.store.webhooks.attempts(added.json.id as string, 100), (a) => a.length >= 8);
      expect(attempts.filter((a) => a.ok)).toHaveLength(8);
      expect(collector.received).toHaveLength(8);
      expect(new Set(collector.received.map((r) => dataOf(r).id))).toEqual(new Set(ids));
    } finally {
      await Promise.all(systems.map((s) => s.close()));
      await collector.stop();
    }
  }, 60_000);
});
