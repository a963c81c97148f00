/**
 * GET /metrics: Prometheus text behind the `metrics:read` admin op, one registry per system
 * (two systems in one process count apart), with verifications by result, verify latency,
 * revocation propagation, revoked-set size, pending approvals and (PostgreSQL) connections.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { addWebhook } from '../src/webhooks/endpoints.js';
import { testBackends } from './support/databases.js';

const systems: System[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
});

async function system(database: Database, masterKey: MasterKey): Promise<System> {
  const s = await createSystem({ database, masterKey, publicUrl: 'http://localhost', log: () => undefined });
  systems.push(s);
  return s;
}

/** One sample of the Prometheus text format: `name{label="v",…} value`. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parse the text exposition format (0.0.4): HELP/TYPE comments, then one sample a line. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1] as string, type[2] as string);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const value = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

async function scrape(s: System, token: string): Promise<{ samples: Sample[]; types: Map<string, string> }> {
  const res = await s.app.request('/metrics', { headers: { authorization: `Macaroon ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe.each(testBackends('metrics'))('GET /metrics on $name', { timeout: 120_000 }, (backend) => {
  it('needs metrics:read; counts verifications by result, latency, propagation, revoked set, pending approvals; one registry per system', async () => {
    const { database, another } = await backend.fresh();
    const masterKey = MasterKey.generate();
    const s = await system(database, masterKey);
    const admin = (await s.mintAdminToken()).token;

    expect((await s.app.request('/metrics')).status).toBe(401);
    const verifyOnly = Macaroon.decode(admin).addFirstPartyCaveat('ops verify').encode();
    expect((await s.app.request('/metrics', { headers: { authorization: `Macaroon ${verifyOnly}` } })).status).toBe(403);
    const metricsOnly = Macaroon.decode(admin).addFirstPartyCaveat('ops metrics:read').encode();

    const minted = await s.issuer.mint({ caveats: ['ops read'] });
    const verify = async (token: string): Promise<unknown> => {
      const res = await s.app.request('/v1/verify', {
        method: 'POST',
        headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ token, context: { operation: 'read' } }),
      });
      return ((await res.json()) as { allowed: boolean }).allowed;
    };
    expect(await verify(minted.token)).toBe(true);
    expect(await verify(minted.token)).toBe(true);
    expect(await verify(Macaroon.decode(minted.token).addFirstPartyCaveat('ops write').encode())).toBe(false);
    await s.issuer.revoke({ identifier: minted.identifier, actor: 'test' });
    expect(await verify(minted.token)).toBe(false);

    // A pending approval request, announced to a receiver that keeps failing (503): its event
    // waits in the outbox for a retry.
    const receiver = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    await addWebhook(s.store, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }, 'test');
    const app = await s.issuer.mint({ caveats: ['ops read'] });
    const withCaveat = addDischargeCaveat(Macaroon.decode(app.token), { location: 'http://localhost', publicKey: s.discharge.publicKey, condition: 'approve group:ops deploy' });
    const third = withCaveat.caveats.find((c) => c.location !== undefined);
    const requested = await s.app.request('/v1/discharge', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: Buffer.from(third?.identifier as Uint8Array).toString('base64url'), caveats: ['ops read'] }),
    });
    expect(requested.status).toBe(202);

    // The propagation of this instance's own revocation is measured off the request path.
    let scraped = await scrape(s, metricsOnly);
    for (let i = 0; i < 50 && value(scraped.samples, 'tessera_revocation_propagation_seconds_count') !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      scraped = await scrape(s, metricsOnly);
    }
    const { samples, types } = scraped;
    expect(value(samples, 'tessera_verifications_total', { result: 'allowed' })).toBe(2);
    expect(value(samples, 'tessera_verifications_total', { result: 'ERR_CAVEAT_FAILED' })).toBe(1);
    expect(value(samples, 'tessera_verifications_total', { result: 'ERR_REVOKED' })).toBe(1);
    expect(types.get('tessera_verify_duration_seconds')).toBe('histogram');
    expect(value(samples, 'tessera_verify_duration_seconds_count')).toBe(4);
    expect(value(samples, 'tessera_verify_duration_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(value(samples, 'tessera_verify_duration_seconds_sum')).toBeGreaterThan(0);
    expect(value(samples, 'tessera_revocation_propagation_seconds_count')).toBe(1);
    expect(value(samples, 'tessera_revocation_propagation_seconds_sum')).toBeLessThan(5);
    expect(value(samples, 'tessera_revoked_set_size')).toBe(1);
    expect(value(samples, 'tessera_revocation_log_position')).toBeGreaterThanOrEqual(0);
    expect(value(samples, 'tessera_pending_approvals')).toBe(1);
    expect(value(samples, 'tessera_webhook_backlog')).toBe(1);
    receiver.close();
    if (backend.name === 'postgres') {
      const connections = samples.filter((x) => x.name === 'tessera_database_connections');
      expect(connections.reduce((n, x) => n + x.value, 0)).toBeGreaterThan(0);
    } else {
      expect(types.has('tessera_database_connections')).toBe(false);
    }

    // A second system in this process (on the same database) has its own registry: it counted
    // no verification, and holds the revocation like any other instance.
    const t = await system(await another(), masterKey);
    await t.revocations.resync();
    const other = (await scrape(t, metricsOnly)).samples;
    expect(value(other, 'tessera_verifications_total', { result: 'allowed' })).toBeUndefined();
    expect(value(other, 'tessera_verify_duration_seconds_count')).toBe(0);
    expect(value(other, 'tessera_revoked_set_size')).toBe(1);
    expect(value((await scrape(s, metricsOnly)).samples, 'tessera_verifications_total', { result: 'allowed' })).toBe(2);
  });
});
