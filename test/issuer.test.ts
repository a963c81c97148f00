/**
 * Issuer service tests: identifiers, minting, revocation (immediate, durable, across verifiers
 * on one database), key rotation and retirement, admin/application token separation, and
 * atomic `uses` counting. Run on PGlite in memory, and on PostgreSQL when DATABASE_URL is set,
 * where revocation propagation and the `uses 1` race are also tested across real processes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { caveat } from '../caveats/index.js';
import { isTesseraError, type ErrorCode } from '../src/errors.js';
import { Macaroon } from '../src/index.js';
import {
  RevocationSet,
  checkConditions,
  createVerifier,
  isIdentifier,
  newIdentifier,
  parseIdentifier,
} from '../src/issuer/index.js';
import { createSystem, type System } from '../src/server/system.js';
import { MasterKey, createStore, type Database } from '../src/storage/index.js';
import { POSTGRES_URL, testBackends } from './support/databases.js';
import { measurePropagation, percentile, raceUses } from './support/multiprocess.js';

// Busy machines: systems start and stop in every test.
vi.setConfig({ testTimeout: 60_000 });

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode | 'ok'> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    if (isTesseraError(e)) return e.code;
    throw e;
  }
}

describe('identifiers', () => {
  it('are tsr1/tsa1.<key id>.<16-byte nonce>, fresh each time, and parse back', () => {
    const a = newIdentifier('rk_abc');
    const b = newIdentifier('rk_abc');
    expect(a).toMatch(/^tsr1\.rk_abc\.[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
    expect(parseIdentifier(a)).toEqual({ purpose: 'token', keyId: 'rk_abc', nonce: a.split('.')[2] });
    expect(parseIdentifier(newIdentifier('k', 'admin')).purpose).toBe('admin');
  });

  it('refuse anything else with ERR_MALFORMED', async () => {
    const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    for (const bad of [
      '',
      'tsr1.rk.', // empty nonce
      `tsr2.rk.${nonce}`, // unknown version
      `tsr1..${nonce}`, // empty key id
      `tsr1.rk.${nonce}.x`, // extra part
      `tsr1.r.k.${nonce}`,
      `tsr1.rk.${nonce.slice(1)}`, // 21 characters
      `tsr1.rk.${nonce.slice(1)}B`, // non-canonical last character (stray bits)
      `tsr1.rk.${nonce.slice(1)}=`,
      `tsr1.${'k'.repeat(65)}.${nonce}`,
      `TSR1.rk.${nonce}`,
      `tsr1.rk/x.${nonce}`,
    ]) {
      expect(await codeOf(() => parseIdentifier(bad)), bad).toBe('ERR_MALFORMED');
      expect(isIdentifier(bad)).toBe(false);
    }
    expect(isIdentifier(`tsr1.rk.${nonce}`)).toBe(true);
  });
});

describe('checkConditions', () => {
  it('accepts standard caveats and names the field and caveat of a bad one', () => {
    expect(checkConditions(['ops read', 'uses 3'])).toEqual(['ops read', 'uses 3']);
    let err: unknown;
    try {
      checkConditions(['ops read', 'time-before tomorrow']);
    } catch (e) {
      err = e;
    }
    expect(isTesseraError(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    const e = err as { message: string; details: Record<string, unknown> };
    expect(e.details).toMatchObject({ field: 'caveats[1]', caveat: 'time-before tomorrow', caveatError: 'ERR_CAVEAT_MALFORMED' });
    expect(e.message).toContain('caveats[1] is malformed');
    try {
      checkConditions(['colour blue']);
    } catch (x) {
      err = x;
    }
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({ field: 'caveats[0]', caveatError: 'ERR_CAVEAT_UNKNOWN' });
  });
});

describe.each(testBackends('issuer'))('issuer on $name', (backend) => {
  const systems: System[] = [];
  afterEach(async () => {
    await Promise.all(systems.splice(0).map((s) => s.close()));
  });

  let now = new Date('2030-01-01T00:00:00Z');
  const clock = (): Date => new Date(now);

  async function system(database?: Database, masterKey = MasterKey.generate(), extra: { resyncMs?: number; keyRefreshMs?: number } = {}): Promise<System> {
    const s = await createSystem({ database: database ?? (await backend.empty()).database, masterKey, publicUrl: 'http://tessera.test', clock, ...extra });
    systems.push(s);
    return s;
  }

  it('mints a recorded, audited token that verifies; ttl becomes a time-before caveat', async () => {
    now = new Date('2030-01-01T00:00:00.700Z');
    const s = await system();
    const minted = await s.issuer.mint({ caveats: ['ops read'], label: 'ci', ttlSeconds: 3600 });
    expect(minted.caveats).toEqual(['ops read', 'time-before 2030-01-01T01:00:00.000Z']);
    expect(minted.expiresAt?.toISOString()).toBe('2030-01-01T01:00:00.000Z');
    const token = Macaroon.decode(minted.token);
    expect(token.identifierText).toBe(minted.identifier);
    expect(token.location).toBe('http://tessera.test');
    expect(parseIdentifier(minted.identifier).keyId).toBe(minted.keyId);

    const record = await s.store.tokens.get(minted.identifier);
    expect(record).toMatchObject({ rootKeyId: minted.keyId, label: 'ci' });
    const audit = await s.store.audit.list({ action: 'mint', subject: minted.identifier });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(minted.token);

    const ok = await s.verifier.verify(minted.token, { context: { operation: 'read' } });
    expect(ok.identifierText).toBe(minted.identifier);
    expect(await codeOf(s.verifier.verify(minted.token, { context: { operation: 'write' } }))).toBe('ERR_CAVEAT_FAILED');
    now = new Date('2030-01-01T01:00:01Z');
    expect(await codeOf(s.verifier.verify(minted.token, { context: { operation: 'read' } }))).toBe('ERR_CAVEAT_FAILED');

    const status = await s.issuer.status(minted.identifier);
    expect(status).toMatchObject({ identifier: minted.identifier, keyState: 'current', revoked: false, active: false, label: 'ci' });
  });

  it('refuses bad mint input naming the field', async () => {
    const s = await system();
    expect(await codeOf(s.issuer.mint({ caveats: ['ops read', 'uses zero'] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(s.issuer.mint({ ttlSeconds: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(s.issuer.mint({ ttlSeconds: 1.5 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(s.issuer.mint({ label: 'x'.repeat(257) }))).toBe('ERR_LIMIT');
    expect(await codeOf(s.issuer.mint({ caveats: Array.from({ length: 65 }, () => 'ops read') }))).toBe('ERR_LIMIT');
    expect(await s.store.tokens.list()).toHaveLength(0);
  });

  it('revocation kills the token and every attenuation at once, even when cached, and is durable', async () => {
    const s = await system();
    const minted = await s.issuer.mint({ caveats: ['ops read,write'] });
    const narrowed = Macaroon.decode(minted.token).addFirstPartyCaveat('ops read').encode();
    const ctx = { context: { operation: 'read' } };
    await s.verifier.verify(minted.token, ctx);
    await s.verifier.verify(narrowed, ctx); // both now in the verification cache

    const revoked = await s.issuer.revoke({ token: narrowed, reason: 'lost laptop', actor: 'test' });
    expect(revoked).toMatchObject({ identifier: minted.identifier, created: true });
    // Immediately, in this process: no waiting for a notification.
    expect(await codeOf(s.verifier.verify(minted.token, ctx))).toBe('ERR_REVOKED');
    expect(await codeOf(s.verifier.verify(narrowed, ctx))).toBe('ERR_REVOKED');
    // Durable: in the database before revoke() resolved.
    expect(await s.store.revocations.isRevoked(minted.identifier)).toBe(true);
    expect(await s.issuer.status(minted.identifier)).toMatchObject({ revoked: true, active: false, revocationReason: 'lost laptop' });
    // Idempotent.
    expect((await s.issuer.revoke({ identifier: minted.identifier })).created).toBe(false);
    expect(await codeOf(s.issuer.revoke({ identifier: newIdentifier('rk_nope') }))).toBe('ERR_NOT_FOUND');
    expect(await codeOf(s.issuer.revoke({ identifier: 'nope' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(s.issuer.revoke({}))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(s.issuer.revoke({ token: 'not a token' }))).toBe('ERR_INVALID_ARGUMENT');
    // Other tokens are untouched.
    const other = await s.issuer.mint({ caveats: ['ops read'] });
    await expect(s.verifier.verify(other.token, ctx)).resolves.toBeDefined();
  });

  it('a second verifier on the same database learns of a revocation by NOTIFY', async () => {
    const masterKey = MasterKey.generate();
    const { database, another } = await backend.empty();
    const a = await system(database, masterKey, { resyncMs: 0 });
    // As another process would: its own system (on PostgreSQL, with its own connections).
    const b = await system(await another(), masterKey, { resyncMs: 0 });
    const minted = await a.issuer.mint({ caveats: ['ops read'] });
    const ctx = { context: { operation: 'read' } };
    await b.verifier.verify(minted.token, ctx);
    await a.issuer.revoke({ identifier: minted.identifier });
    const t0 = performance.now(); // from the acknowledged revoke, as the issue measures it
    while (b.revocations.has(minted.identifier) === false && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 2));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await codeOf(b.verifier.verify(minted.token, ctx))).toBe('ERR_REVOKED');
  });

  it('a second process learns of a retired key by NOTIFY, long before its periodic refresh', async () => {
    const masterKey = MasterKey.generate();
    const { database, another } = await backend.empty();
    const a = await system(database, masterKey, { keyRefreshMs: 600_000 });
    const b = await system(await another(), masterKey, { keyRefreshMs: 600_000 });
    const minted = await a.issuer.mint({ caveats: ['ops read'] });
    const ctx = { context: { operation: 'read' } };
    await b.verifier.verify(minted.token, ctx);
    await a.keyring.rotate({ retireOld: true });
    const t0 = performance.now();
    let code = await codeOf(b.verifier.verify(minted.token, ctx));
    while (code !== 'ERR_KEY_RETIRED' && performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 5));
      code = await codeOf(b.verifier.verify(minted.token, ctx));
    }
    expect(code).toBe('ERR_KEY_RETIRED');
    expect(performance.now() - t0).toBeLessThan(1000);
    // And the new current key's tokens verify there.
    await expect(b.verifier.verify((await a.issuer.mint({ caveats: ['ops read'] })).token, ctx)).resolves.toBeDefined();
  });

  it('resync catches revocations whose notification was lost', async () => {
    const { database } = await backend.empty();
    const masterKey = MasterKey.generate();
    const s = await system(database, masterKey);
    const deaf = { listenRevocations: async () => async () => undefined };
    const set = await RevocationSet.start(deaf, createStore(database, masterKey), { resyncMs: 0 });
    const minted = await s.issuer.mint();
    const id = new TextEncoder().encode(minted.identifier);
    expect(set.isRevoked(id)).toBe(false);
    await s.issuer.revoke({ identifier: minted.identifier });
    expect(set.isRevoked(id)).toBe(false); // deaf: no notification
    await set.resync();
    expect(set.isRevoked(id)).toBe(true);
    expect(set.lastSeq).toBeGreaterThan(0);
    // A fresh set loads the whole log at start.
    const fresh = await RevocationSet.start(deaf, createStore(database, masterKey), { resyncMs: 0 });
    expect(fresh.has(minted.identifier)).toBe(true);
    await Promise.all([set.close(), fresh.close()]);
  });

  it('resyncs when the listening connection reconnects, and periodically', async () => {
    const { database } = await backend.empty();
    const masterKey = MasterKey.generate();
    const s = await system(database, masterKey);
    let reconnected: (() => void) | undefined;
    const flaky = {
      listenRevocations: async (_: unknown, options?: { onReconnect?: () => void }) => {
        reconnected = options?.onReconnect;
        return async () => undefined;
      },
    };
    const onReconnect = await RevocationSet.start(flaky, createStore(database, masterKey), { resyncMs: 0 });
    const periodic = await RevocationSet.start({ listenRevocations: async () => async () => undefined }, createStore(database, masterKey), { resyncMs: 50 });
    const a = await s.issuer.mint();
    await s.issuer.revoke({ identifier: a.identifier });
    expect(onReconnect.has(a.identifier)).toBe(false);
    reconnected?.();
    const t0 = Date.now();
    while ((!onReconnect.has(a.identifier) || !periodic.has(a.identifier)) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(onReconnect.has(a.identifier)).toBe(true);
    expect(periodic.has(a.identifier)).toBe(true);
    await Promise.all([onReconnect.close(), periodic.close()]);
  });

  it('rotation: new tokens use the new key, old ones verify during the grace period, then ERR_KEY_RETIRED', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const s = await system();
    const old = await s.issuer.mint({ caveats: ['ops read'] });
    const ctx = { context: { operation: 'read' } };
    const rotated = await s.issuer.rotateKey({ graceSeconds: 3600 }, 'test');
    expect(rotated.current.state).toBe('current');
    expect(rotated.previous.map((k) => [k.id, k.state])).toEqual([[old.keyId, 'verifying']]);
    const fresh = await s.issuer.mint({ caveats: ['ops read'] });
    expect(fresh.keyId).toBe(rotated.current.id);
    expect(fresh.keyId).not.toBe(old.keyId);
    await s.verifier.verify(old.token, ctx);
    now = new Date('2030-01-01T01:00:00Z');
    expect(await codeOf(s.verifier.verify(old.token, ctx))).toBe('ERR_KEY_RETIRED');
    await s.verifier.verify(fresh.token, ctx);
    expect(await s.keyring.retireExpired('test')).toEqual([old.keyId]);
    expect((await s.issuer.listKeys()).map((k) => k.state)).toEqual(['current', 'retired']);
    expect((await s.issuer.status(old.identifier)).keyState).toBe('retired');
    expect((await s.store.audit.list({ action: 'key-rotate' })).length).toBe(1);
  });

  it('rotation with retireOld kills old tokens at once; unknown keys are ERR_KEY_UNKNOWN', async () => {
    now = new Date('2030-01-01T00:00:00Z');
    const s = await system();
    const old = await s.issuer.mint();
    await s.issuer.rotateKey({ retireOld: true });
    expect(await codeOf(s.verifier.verify(old.token))).toBe('ERR_KEY_RETIRED');
    const forged = Macaroon.mint({ rootKey: { raw: new Uint8Array(32).fill(7) }, identifier: newIdentifier('rk_unknownkey0000') }).encode();
    expect(await codeOf(s.verifier.verify(forged))).toBe('ERR_KEY_UNKNOWN');
    const foreign = Macaroon.mint({ rootKey: 'secret', identifier: 'some other issuer' }).encode();
    expect(await codeOf(s.verifier.verify(foreign))).toBe('ERR_KEY_UNKNOWN');
    // A token signed with a known key id but another key fails its signature.
    const keyId = (await s.issuer.listKeys())[0]!.id;
    const wrongKey = Macaroon.mint({ rootKey: { raw: new Uint8Array(32).fill(7) }, identifier: newIdentifier(keyId) }).encode();
    expect(await codeOf(s.verifier.verify(wrongKey))).toBe('ERR_SIGNATURE');
  });

  it('a key created by another process is found on first use', async () => {
    const { database, another } = await backend.empty();
    const masterKey = MasterKey.generate();
    const a = await system(database, masterKey);
    const b = await system(await another(), masterKey);
    await a.issuer.rotateKey({ graceSeconds: 60 });
    const minted = await a.issuer.mint({ caveats: ['ops read'] });
    await expect(b.verifier.verify(minted.token, { context: { operation: 'read' } })).resolves.toBeDefined();
  });

  it('admin and application tokens never pass for each other', async () => {
    const s = await system();
    const app = await s.issuer.mint(); // no caveats at all: the most powerful application token
    const admin = await s.mintAdminToken();
    expect(admin.identifier.startsWith('tsa1.')).toBe(true);
    const adminCtx = { context: { operation: 'tokens:mint' } };
    expect(await codeOf(s.adminVerifier.verify(app.token, adminCtx))).toBe('ERR_KEY_UNKNOWN');
    await expect(s.adminVerifier.verify(admin.token, adminCtx)).resolves.toBeDefined();
    expect(await codeOf(s.verifier.verify(admin.token, adminCtx))).toBe('ERR_KEY_UNKNOWN');
    // Same identifier text with the other prefix: the signature no longer matches either.
    const swapped = Macaroon.mint({ rootKey: 'x', identifier: admin.identifier.replace('tsa1.', 'tsr1.') }).encode();
    expect(await codeOf(s.verifier.verify(swapped))).toBe('ERR_SIGNATURE');
  });

  it('revoking a token also revokes tokens reissued to replace it', async () => {
    const s = await system();
    const first = await s.mintAdminToken();
    const second = await s.issuer.mint({ purpose: 'admin', caveats: first.caveats, replaces: first.identifier });
    const third = await s.issuer.mint({ purpose: 'admin', caveats: first.caveats, replaces: second.identifier });
    const unrelated = await s.mintAdminToken();
    await s.issuer.revoke({ identifier: first.identifier });
    for (const t of [first, second, third]) expect(s.revocations.has(t.identifier)).toBe(true);
    expect(s.revocations.has(unrelated.identifier)).toBe(false);
  });

  it('uses 1: of many concurrent verifications exactly one succeeds', async () => {
    const s = await system();
    const minted = await s.issuer.mint({ caveats: [caveat.uses(1)] });
    const results = await Promise.all(Array.from({ length: 12 }, () => codeOf(s.verifier.verify(minted.token))));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'ERR_USAGE_EXCEEDED')).toHaveLength(11);
    // An attenuation shares the counter: it cannot reset it.
    const narrowed = Macaroon.decode(minted.token).addFirstPartyCaveat('ops read').encode();
    expect(await codeOf(s.verifier.verify(narrowed, { context: { operation: 'read' } }))).toBe('ERR_USAGE_EXCEEDED');
  });

  it('createVerifier works with any keyring and revocation check', async () => {
    const s = await system();
    const minted = await s.issuer.mint();
    const revoked = new Set<string>();
    const v = createVerifier({
      keyring: s.keyring,
      revocations: { isRevoked: (id) => revoked.has(new TextDecoder().decode(id)) },
      store: s.store,
    });
    await v.verify(minted.token);
    revoked.add(minted.identifier);
    expect(await codeOf(v.verify(minted.token))).toBe('ERR_REVOKED');
  });
});

if (POSTGRES_URL === undefined) {
  console.warn('issuer: multi-process tests (revocation propagation, uses 1 race) not run: DATABASE_URL not set');
} else {
  const url = POSTGRES_URL;
  describe('across processes on PostgreSQL', { timeout: 300_000 }, () => {
    it('a revocation reaches another verifier process at once (by the time the revoke answer arrives)', async () => {
      const { samples, fromRequest } = await measurePropagation(url, { rounds: 8 });
      const counted = samples.slice(1); // the first round warms up
      expect(percentile(counted, 50)).toBeLessThan(250);
      expect(Math.max(...fromRequest.slice(1))).toBeLessThan(2000);
    });

    it('uses 1: of many concurrent verifications in several processes exactly one succeeds', async () => {
      const rounds = await raceUses(url, { processes: 2, concurrency: 12, rounds: 3 });
      expect(rounds).toHaveLength(3);
      for (const r of rounds) {
        expect(r.ok).toBe(1);
        expect(r.exceeded).toBe(23);
        expect(r.other).toEqual({});
      }
    });
  });
}
