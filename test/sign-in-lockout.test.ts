/**
 * Sign-in throttles and lockouts shared through the database (#11, #12): five wrong passwords
 * for an account from one address lock that address out of that account, not the owner at
 * another address; the page says how long to wait; the counts hold across instances on one
 * database; the counting itself is one atomic statement (no lost increments under concurrency).
 */
import type { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/discharge/web/index.js';
import { addressGroup } from '../src/discharge/web/throttle.js';
import { createSystem, type System } from '../src/server/index.js';
import { createStore, MasterKey, type Database } from '../src/storage/index.js';
import { testBackends } from './support/databases.js';
import { PageClient } from './support/page-client.js';
import { TEST_SCRYPT } from './support/passwords.js';

const PASSWORD = 'correct horse battery staple';
const systems: System[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
});

async function system(database: Database, masterKey: MasterKey): Promise<System> {
  const s = await createSystem({ database, masterKey, publicUrl: 'http://localhost', log: () => undefined, clientIp: (c) => c.req.header('x-test-ip') });
  systems.push(s);
  return s;
}

const from = (app: Hono, ip: string): PageClient => new PageClient(app, { 'x-test-ip': ip });

describe('addressGroup', () => {
  it('counts IPv4 per address, IPv6 per /64 (mapped IPv4 as IPv4), anything else by its text', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('2001:db8::1')).toBe(addressGroup('2001:db8:0:0:ffff::2'));
    expect(addressGroup('2001:db8::1')).not.toBe(addressGroup('2001:db8:0:1::1'));
    expect(addressGroup(undefined)).toBe('unknown');
    expect(addressGroup('not an address')).toBe('raw:not an address');
  });
});

describe.each(testBackends('sign-in-lockout'))('sign-in lockout on $name', { timeout: 120_000 }, (backend) => {
  it('five wrong passwords from one address lock that address out of the account; the owner elsewhere signs in; the page says how long to wait', async () => {
    const database = await backend.open();
    const s = await system(database, MasterKey.generate());
    await s.store.users.create({ name: 'alice', passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), groups: ['ops'] });
    await s.store.users.create({ name: 'bob', passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), groups: ['ops'] });

    const guesser = from(s.app, '203.0.113.7');
    for (let i = 0; i < 5; i++) expect((await guesser.login('alice', `guess ${i}`)).status).toBe(401);
    const locked = await guesser.login('alice', PASSWORD);
    expect(locked.status).toBe(429);
    const wait = Number(locked.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(14 * 60);
    expect(wait).toBeLessThanOrEqual(15 * 60);
    const page = await locked.text();
    expect(page).toContain('ERR_RATE_LIMITED');
    expect(page).toMatch(/Try again in 1[45] minutes/);
    expect(guesser.cookies.has('tessera_session')).toBe(false);

    // The owner, from another address, is not locked out; nor is another account from the guesser's.
    expect((await from(s.app, '198.51.100.20').login('alice', PASSWORD)).status).toBe(303);
    expect((await from(s.app, '203.0.113.7').login('bob', PASSWORD)).status).toBe(303);
    // The guesser still is.
    expect((await guesser.login('alice', PASSWORD)).status).toBe(429);

    // IPv6 counts per /64: another host of the guesser's /64 is locked too, another /64 is not.
    const v6 = from(s.app, '2001:db8::1');
    for (let i = 0; i < 5; i++) expect((await v6.login('bob', `guess ${i}`)).status).toBe(401);
    expect((await from(s.app, '2001:db8::2').login('bob', PASSWORD)).status).toBe(429);
    expect((await from(s.app, '2001:db8:0:1::1').login('bob', PASSWORD)).status).toBe(303);
  });

  it('counts atomically (concurrent failures all land), restarts a window that ended, and prunes ended windows', async () => {
    const { database, another } = await backend.fresh();
    const masterKey = MasterKey.generate();
    const s = await system(database, masterKey);
    const other = await another();
    const stores = [s.store, createStore(other, masterKey)];
    const now = new Date('2026-12-01T10:00:00Z');
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 2]!.rateLimits.count([{ key: 'k', windowSeconds: 60 }, { key: `k${i % 4}`, windowSeconds: 600 }], now)));
    const counts = await s.store.rateLimits.read(['k', 'k0', 'k3'], now);
    expect(Object.fromEntries(counts.map((c) => [c.key, c.events]))).toEqual({ k: 40, k0: 10, k3: 10 });
    expect(counts.find((c) => c.key === 'k')?.resetAt.toISOString()).toBe('2026-12-01T10:01:00.000Z');

    // One minute later k's window has ended: it reads as nothing and a new event starts at 1.
    const later = new Date(now.getTime() + 60_000);
    expect(await s.store.rateLimits.read(['k'], later)).toEqual([]);
    const [restarted] = await s.store.rateLimits.count([{ key: 'k', windowSeconds: 60 }], later);
    expect(restarted).toMatchObject({ key: 'k', events: 1 });
    expect(restarted?.resetAt.toISOString()).toBe('2026-12-01T10:02:00.000Z');

    // Pruning at 10:10 deletes only windows ended by then (k, not k0…k3).
    expect(await s.store.rateLimits.prune(new Date(now.getTime() + 600_000 - 1))).toBe(1);
    expect((await s.store.rateLimits.read(['k0', 'k1', 'k2', 'k3'], now)).length).toBe(4);
    await s.store.rateLimits.reset(['k0', 'k1']);
    expect((await s.store.rateLimits.read(['k0', 'k1', 'k2', 'k3'], now)).map((c) => c.key).sort()).toEqual(['k2', 'k3']);
  });

  if (backend.name === 'postgres') {
    it('holds across instances on one database: failures spread over three lock the guessing address on all', async () => {
      const { database, another } = await backend.fresh();
      const masterKey = MasterKey.generate();
      const instances = [await system(database, masterKey), await system(await another(), masterKey), await system(await another(), masterKey)];
      await instances[0]!.store.users.create({ name: 'alice', passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), groups: ['ops'] });
      for (let i = 0; i < 5; i++) expect((await from(instances[i % 3]!.app, '203.0.113.9').login('alice', `guess ${i}`)).status).toBe(401);
      for (const s of instances) expect((await from(s.app, '203.0.113.9').login('alice', PASSWORD)).status).toBe(429);
      expect((await from(instances[2]!.app, '198.51.100.21').login('alice', PASSWORD)).status).toBe(303);
    });
  }
});
