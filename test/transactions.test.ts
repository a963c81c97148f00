/**
 * One transaction per state change: `store.transaction`, and every service write that comes
 * with an audit row (mint, revoke + NOTIFY, key creation and rotation, discharge request,
 * decision, collection and withdrawal). A failure injected between the two writes (an audit
 * log that throws) must leave neither; the discharge pending cap must hold under concurrent
 * requests. PGlite always, and
 * PostgreSQL when DATABASE_URL is set (real concurrency: several connections, two handles).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeTicket, createDischargeService, generateDischargerKeyPair, type DischargeService } from '../src/discharge/index.js';
import { TesseraError } from '../src/errors.js';
import { Issuer, Keyring } from '../src/issuer/index.js';
import { MasterKey, createStore, type Database, type Store } from '../src/storage/index.js';
import { testBackends } from './support/databases.js';
import { LOCATION } from './support/discharge.js';
import { expectCode } from './support/expect-code.js';

vi.setConfig({ testTimeout: 60_000 });

/** `s` with an audit log that always fails, inside its transactions too. */
function failingAudit(s: Store): Store {
  return {
    ...s,
    audit: {
      ...s.audit,
      append: async () => {
        throw new TesseraError('ERR_STORAGE', 'injected audit failure');
      },
    },
    transaction: (fn) => s.transaction((tx) => fn(failingAudit(tx))),
  };
}

const INJECTED = 'injected audit failure';

describe.each(testBackends('transactions'))('one transaction per state change on $name', (backend) => {
  let database: Database;
  let another: () => Promise<Database>;
  let masterKey: MasterKey;
  let store: Store;
  let keyring: Keyring;
  const added: string[] = [];
  let issuer: Issuer;

  beforeAll(async () => {
    ({ database, another } = await backend.fresh());
    masterKey = MasterKey.generate();
    store = createStore(database, masterKey);
    keyring = new Keyring(store, { refreshMs: 0 });
    issuer = new Issuer({ store, keyring, revocations: { add: (id) => void added.push(id) } });
    await issuer.mint(); // creates the first key
  });

  const lastAuditId = async (): Promise<number> => (await store.audit.list({ limit: 1 }))[0]?.id ?? 0;
  const failingIssuer = (): Issuer => new Issuer({ store: failingAudit(store), keyring, revocations: { add: (id) => void added.push(id) } });

  it('store.transaction commits what fn wrote when it resolves, and nothing when it throws (rethrowing its error)', async () => {
    const [key] = await store.keys.list();
    const rootKeyId = key?.id as string;
    const value = await store.transaction(async (tx) => {
      await tx.tokens.record({ identifier: 'tx-committed', rootKeyId });
      expect(await tx.tokens.get('tx-committed')).toBeDefined(); // visible inside
      return 42;
    });
    expect(value).toBe(42);
    expect(await store.tokens.get('tx-committed')).toBeDefined();

    const boom = new TypeError('not a storage error');
    await expect(
      store.transaction(async (tx) => {
        await tx.tokens.record({ identifier: 'tx-rolled-back', rootKeyId });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await store.tokens.get('tx-rolled-back')).toBeUndefined();

    // A nested transaction is a savepoint: its failure rolls back only its own writes.
    await store.transaction(async (tx) => {
      await tx.tokens.record({ identifier: 'tx-outer', rootKeyId });
      await expectCode(
        tx.transaction(async (inner) => {
          await inner.tokens.record({ identifier: 'tx-inner', rootKeyId });
          await inner.tokens.record({ identifier: 'tx-outer', rootKeyId }); // duplicate
        }),
        'ERR_CONFLICT',
      );
    });
    expect(await store.tokens.get('tx-outer')).toBeDefined();
    expect(await store.tokens.get('tx-inner')).toBeUndefined();
  });

  it('mint: when the audit row fails, no token is recorded', async () => {
    const tokensBefore = await store.tokens.list({ limit: 1000 });
    const auditBefore = await lastAuditId();
    const e = await expectCode(failingIssuer().mint({ label: 'never' }), 'ERR_STORAGE');
    expect(e.message).toBe(INJECTED);
    expect(await store.tokens.list({ limit: 1000 })).toEqual(tokensBefore);
    expect(await lastAuditId()).toBe(auditBefore);

    const minted = await issuer.mint({ label: 'kept' });
    expect(await store.tokens.get(minted.identifier)).toMatchObject({ label: 'kept' });
    expect((await store.audit.list({ limit: 1 }))[0]).toMatchObject({ action: 'mint', subject: minted.identifier });
  });

  it('revoke: when the audit row fails, nothing is revoked, stamped or announced', async () => {
    const victim = await issuer.mint();
    const replacement = await issuer.mint({ replaces: victim.identifier });
    const control = await issuer.mint();
    const heard: string[] = [];
    let heardControl: () => void = () => undefined;
    const controlHeard = new Promise<void>((resolve) => (heardControl = resolve));
    const unlisten = await database.listenRevocations((id) => {
      heard.push(id);
      if (id === control.identifier) heardControl();
    });
    try {
      const seqBefore = await store.revocations.latestSeq();
      const auditBefore = await lastAuditId();
      added.length = 0;
      await expectCode(failingIssuer().revoke({ identifier: victim.identifier, reason: 'test' }), 'ERR_STORAGE');
      expect(await store.revocations.isRevoked(victim.identifier)).toBe(false);
      expect(await store.revocations.isRevoked(replacement.identifier)).toBe(false);
      expect((await store.tokens.get(victim.identifier))?.revokedAt).toBeNull();
      expect(await store.revocations.latestSeq()).toBe(seqBefore);
      expect(await lastAuditId()).toBe(auditBefore);
      expect(added).toEqual([]); // this process does not refuse it either

      // Notifications arrive in commit order: once the control's is heard, the rolled-back
      // revocation's would have been heard before it.
      await issuer.revoke({ identifier: control.identifier });
      await controlHeard;
      expect(heard).toEqual([control.identifier]);
      expect(added).toEqual([control.identifier]);
    } finally {
      await unlisten();
    }

    // Revoking for real covers the replacement too, each with its audit row.
    added.length = 0;
    await issuer.revoke({ identifier: victim.identifier });
    expect(added).toEqual([victim.identifier, replacement.identifier]);
    const audit = await store.audit.list({ action: 'revoke', limit: 2 });
    expect(audit.map((a) => a.subject).sort()).toEqual([victim.identifier, replacement.identifier].sort());
  });

  it('key rotation: when the audit row fails, no key is created and no old key expires or retires', async () => {
    const failing = new Keyring(failingAudit(store), { refreshMs: 0 });
    const before = await store.keys.list();
    await expectCode(failing.rotate({ graceSeconds: 60 }), 'ERR_STORAGE');
    await expectCode(failing.rotate({ retireOld: true }), 'ERR_STORAGE');
    expect(await store.keys.list()).toEqual(before);
    failing.close();
  });

  it('key rotation: concurrent rotations (also from another handle) leave exactly one key without an expiry', async () => {
    const other = createStore(await another(), masterKey);
    const rings = [new Keyring(store, { refreshMs: 0 }), new Keyring(other, { refreshMs: 0 })];
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => rings[i % 2]?.rotate({ graceSeconds: 3600 }, `rotator-${i}`)));
    const live = (await store.keys.list()).filter((k) => k.retiredAt === null && k.expiresAt === null);
    expect(live).toHaveLength(1);
    expect(results.map((r) => r?.current.id)).toContain(live[0]?.id);
    for (const r of rings) r.close();
  });

  describe('discharge service', () => {
    const keyPair = generateDischargerKeyPair();
    let service: DischargeService;
    let failing: DischargeService;
    let n = 0;
    /** A ticket sealed to the service for `condition`. */
    const ticket = (condition: string): Uint8Array =>
      encodeTicket({ caveatKey: new Uint8Array(32).fill(++n), condition, thirdPartyPublicKey: keyPair.publicKey, version: 2 });

    beforeAll(async () => {
      service = await createDischargeService({ store, location: LOCATION, keyPair, maxPendingPerPrincipal: 3 });
      failing = await createDischargeService({ store: failingAudit(store), location: LOCATION, keyPair, maxPendingPerPrincipal: 3 });
    });

    it('request: when the audit row fails, no request is stored', async () => {
      const auditBefore = await lastAuditId();
      await expectCode(failing.request(ticket('approve group:tx-audit deploy')), 'ERR_STORAGE');
      expect(await store.discharges.countPending('group:tx-audit')).toBe(0);
      expect(await lastAuditId()).toBe(auditBefore);
      expect((await service.request(ticket('approve group:tx-audit deploy'))).status).toBe('pending');
      expect(await store.discharges.countPending('group:tx-audit')).toBe(1);
    });

    it('decide: when the audit row fails, the request stays pending', async () => {
      const asked = await service.request(ticket('approve group:tx-decide deploy'));
      if (asked.status !== 'pending') throw new Error('expected a pending request');
      const approver = { name: 'alice', groups: ['tx-decide'] };
      await expectCode(failing.decide(asked.id, approver, { approve: true }), 'ERR_STORAGE');
      await expectCode(failing.decide(asked.id, approver, { approve: false, reason: 'no' }), 'ERR_STORAGE');
      expect(await store.discharges.get(asked.id)).toMatchObject({ status: 'pending', decidedBy: null, decidedAt: null });
      expect((await service.decide(asked.id, approver, { approve: true })).status).toBe('approved');
      expect((await store.audit.list({ subject: asked.id, limit: 10 })).map((a) => a.action)).toEqual(['approve', 'discharge-request']);
    });

    /** An approved request for `group`; its id and poll secret. */
    const approved = async (group: string): Promise<{ id: string; secret: string }> => {
      const asked = await service.request(ticket(`approve group:${group} deploy`));
      if (asked.status !== 'pending') throw new Error('expected a pending request');
      await service.decide(asked.id, { name: 'alice', groups: [group] }, { approve: true });
      return { id: asked.id, secret: asked.pollUrl.split('/').pop() as string };
    };

    it('collect: when the audit row fails, nothing is collected and the approval stays collectable', async () => {
      const { id, secret } = await approved('tx-collect');
      const auditBefore = await lastAuditId();
      const e = await expectCode(failing.poll(secret), 'ERR_STORAGE');
      expect(e.message).toBe(INJECTED);
      expect(await store.discharges.get(id)).toMatchObject({ status: 'approved', collectedAt: null, caveatId: expect.any(Uint8Array) });
      expect(await lastAuditId()).toBe(auditBefore);
      expect((await service.poll(secret)).status).toBe('discharged');
      expect(await store.discharges.get(id)).toMatchObject({ status: 'collected' });
      expect((await store.audit.list({ subject: id, limit: 10 })).map((a) => a.action)).toEqual(['discharge', 'approve', 'discharge-request']);
    });

    it('withdraw: when the audit row fails, the approval stays', async () => {
      const { id, secret } = await approved('tx-withdraw');
      await expectCode(failing.withdraw(id, { name: 'alice', groups: ['tx-withdraw'] }), 'ERR_STORAGE');
      expect(await store.discharges.get(id)).toMatchObject({ status: 'approved', caveatId: expect.any(Uint8Array) });
      expect((await service.poll(secret)).status).toBe('discharged');
    });

    it('the pending cap holds under concurrent requests (counted under a lock on the addressee)', async () => {
      const other = await createDischargeService({ store: createStore(await another(), masterKey), location: LOCATION, keyPair, maxPendingPerPrincipal: 3 });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? service : other).request(ticket('approve group:tx-cap deploy'))),
      );
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
      expect(refused).toHaveLength(9);
      for (const o of refused) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_RATE_LIMITED' });
      expect(await store.discharges.countPending('group:tx-cap')).toBe(3);
      // Other addressees are not affected.
      expect((await service.request(ticket('approve group:tx-other deploy'))).status).toBe('pending');
      other.close();
    });
  });
});
