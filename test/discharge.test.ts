/**
 * The discharge service and its HTTP protocol: conditions, tickets, approvals, long-polling,
 * replay, denial, expiry, groups, restarts. Database tests run on PGlite (in memory, or in a
 * temporary directory to restart) and again on PostgreSQL when DATABASE_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caveat } from '../caveats/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { addDischargeCaveat } from '../src/client/index.js';
import {
  approveCondition,
  dischargeRoutes,
  encodeTicket,
  generateDischargerKeyPair,
  loginCondition,
  parseDischargeCondition,
  type DischargeService,
} from '../src/discharge/index.js';
import { MasterKey, openDatabase, type Database } from '../src/storage/index.js';
import { seedDataDir, testBackends, type TestBackend } from './support/databases.js';
import { ALICE, BOB, CAROL, LOCATION, dischargeFixture, type DischargeFixture } from './support/discharge.js';
import { expectCode } from './support/expect-code.js';


const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** A raw ticket for `condition`, sealed to `service` (bypassing the client's own check). */
function ticketFor(service: DischargeService, condition: string, version: 2 | 3 = 2, namespace?: string): Uint8Array {
  return encodeTicket({
    caveatKey: new Uint8Array(32).fill(7),
    condition,
    thirdPartyPublicKey: service.publicKey,
    version,
    ...(namespace !== undefined ? { namespace } : {}),
  });
}

const thirdPartyId = (m: Macaroon): Uint8Array => {
  const c = m.caveats.find((x) => x.thirdParty);
  if (c === undefined) throw new Error('no third-party caveat');
  return c.identifier;
};

async function rows(database: Database, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const r: unknown = await database.db.execute(query);
  return (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<string, unknown>[];
}

describe('conditions', () => {
  it('parse approve and login, with users and groups', () => {
    expect(parseDischargeCondition('approve group:ops deploy web to production')).toEqual({
      kind: 'approve',
      who: 'group:ops',
      principal: { kind: 'group', name: 'ops' },
      what: 'deploy web to production',
    });
    expect(parseDischargeCondition('approve alice.b-1 read the "secrets" vault (once)')).toMatchObject({
      principal: { kind: 'user', name: 'alice.b-1' },
      what: 'read the "secrets" vault (once)',
    });
    expect(parseDischargeCondition('login alice')).toMatchObject({ kind: 'login', who: 'alice', what: 'log in as alice' });
    expect(parseDischargeCondition('login group:ops')).toMatchObject({ principal: { kind: 'group', name: 'ops' } });
    expect(approveCondition('group:ops', 'deploy web')).toBe('approve group:ops deploy web');
    expect(loginCondition('bob')).toBe('login bob');
  });

  it('refuse unknown verbs (ERR_CAVEAT_UNKNOWN) and everything malformed (ERR_CAVEAT_MALFORMED)', async () => {
    for (const text of ['', 'time-before 2030-01-01T00:00:00Z', 'approved-by alice', 'Approve alice x', 'deny alice x', ' approve alice x']) {
      await expectCode(() => parseDischargeCondition(text), 'ERR_CAVEAT_UNKNOWN');
    }
    const malformed = [
      'approve',
      'approve alice',
      'approve alice ',
      'approve  alice deploy',
      'approve Alice deploy',
      'approve group: deploy',
      'approve group:Ops deploy',
      'approve _alice deploy',
      `approve ${'a'.repeat(65)} deploy`,
      'approve alice  deploy',
      'approve alice deploy ',
      'approve alice deploy  now',
      'approve alice deploy\nnow',
      'approve alice deploy\u202enow',
      'approve alice deploy\u200bnow',
      'approve alice deploy\u00a0now',
      `approve alice ${'x'.repeat(513)}`,
      'login',
      'login ',
      'login alice bob',
      'login alice ',
      'login group:',
      'login ALICE',
    ];
    for (const text of malformed) await expectCode(() => parseDischargeCondition(text), 'ERR_CAVEAT_MALFORMED');
    expect(() => parseDischargeCondition(`approve alice ${'x'.repeat(512)}`)).not.toThrow();
  });

  it('builders refuse parts that would not round-trip', async () => {
    await expectCode(() => approveCondition('alice bob', 'x'), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => approveCondition('alice', ''), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => loginCondition('group:ops x'), 'ERR_INVALID_ARGUMENT');
  });

  it('unknown-verb errors echo only a short printable verb, never the rest', async () => {
    const e = (await expectCode(() => parseDischargeCondition('steal the-secret-text'), 'ERR_CAVEAT_UNKNOWN')) as unknown as { details: object };
    expect(JSON.stringify(e.details)).not.toContain('the-secret-text');
  });
});

const backends = testBackends('discharge');

describe.each(backends)('discharge service on $name', (backend: TestBackend) => {
  let fx: DischargeFixture;
  let database: Database;
  let now = new Date();
  const clock = (): Date => now;

  beforeAll(async () => {
    // This describe's own database; a test below that needs an empty one takes the shared one.
    database = await backend.open();
    fx = await dischargeFixture(database, { clock: () => clock(), now: () => clock(), recheckMs: 50 });
  });

  /** A primary with an `approve`/`login` third-party caveat for our service. */
  const primaryWith = (condition: string, ...first: string[]): Macaroon =>
    addDischargeCaveat(fx.mint(...first), { location: LOCATION, publicKey: fx.service.publicKey, condition });

  const post = async (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
    fx.app.request('/v1/discharge', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

  const requestFor = async (token: Macaroon, caveats?: string[]): Promise<{ approvalUrl: string; pollUrl: string; id: string; secret: string }> => {
    const res = await post({ id: b64(thirdPartyId(token)), ...(caveats ? { caveats } : {}) });
    expect(res.status).toBe(202);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { approvalUrl: string; pollUrl: string };
    const id = /\/approve\/requests\/(dr_[A-Za-z0-9_-]{22})$/.exec(body.approvalUrl)?.[1];
    const secret = /\/v1\/discharge\/poll\/([A-Za-z0-9_-]{43})$/.exec(body.pollUrl)?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    return { ...body, id: id as string, secret: secret as string };
  };

  const poll = async (secret: string, wait = 0): Promise<Response> => fx.app.request(`/v1/discharge/poll/${secret}?wait=${wait}`);

  it('publishes its location and X25519 public key', async () => {
    const res = await fx.app.request('/.well-known/tessera/discharger');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ location: LOCATION, publicKey: b64(fx.service.publicKey), version: 2 });
    expect(fx.service.publicKey).toHaveLength(32);
  });

  it('approve: pending → approved → one discharge that verifies once (uses 1), declaring the approver', async () => {
    const token = primaryWith('approve group:ops deploy web to production', 'tool deploy', 'resource /apps/web/**');
    const { id, secret, approvalUrl, pollUrl } = await requestFor(token, ['tool deploy', 'resource /apps/web/**']);
    expect(approvalUrl).toBe(`${LOCATION}/approve/requests/${id}`);
    expect(pollUrl).toBe(`${LOCATION}/v1/discharge/poll/${secret}`);

    const pending = await poll(secret);
    expect(pending.status).toBe(202);
    expect(await pending.json()).toMatchObject({ status: 'pending', approvalUrl });

    const listed = await fx.service.listPending(ALICE);
    const view = listed.find((v) => v.id === id);
    expect(view).toMatchObject({
      kind: 'approve',
      condition: 'approve group:ops deploy web to production',
      who: 'group:ops',
      what: 'deploy web to production',
      otherCaveats: ['tool deploy', 'resource /apps/web/**'],
      status: 'pending',
    });
    expect(view?.requester).not.toHaveProperty('otherCaveats');
    // Without a discharge the token is refused.
    await expectCode(fx.verifier.verify(token, { context: { tool: 'deploy', resource: '/apps/web/index' } }), 'ERR_DISCHARGE_MISSING');

    const decided = await fx.service.decide(id, ALICE, { approve: true, validitySeconds: 120 });
    expect(decided).toMatchObject({ status: 'approved', decidedBy: 'alice', validitySeconds: 120 });

    const res = await poll(secret);
    expect(res.status).toBe(200);
    const discharge = Macaroon.decode(((await res.json()) as { discharge: string }).discharge);
    expect(discharge.identifier).toEqual(thirdPartyId(token));
    expect(discharge.location).toBe(LOCATION);
    const conditions = discharge.caveats.map((c) => c.text);
    expect(conditions).toEqual([caveat.timeBefore(new Date(now.getTime() + 120_000)), 'declared approved-by alice', 'uses 1']);

    const request = { discharges: [token.bindForRequest(discharge)], context: { tool: 'deploy', resource: '/apps/web/index' } };
    const verified = await fx.verifier.verify(token, request);
    expect(verified.declared.get('approved-by')).toBe('alice');
    await expectCode(fx.verifier.verify(token, request), 'ERR_USAGE_EXCEEDED');
    // Unbound, it does not verify.
    await expectCode(fx.verifier.verify(token, { ...request, discharges: [discharge] }), 'ERR_SIGNATURE');

    // Retry-safe: within the window the same poll secret collects the very same discharge again
    // (a client whose answer was lost), and its `uses 1` was already spent above.
    const again = await poll(secret);
    expect(again.status).toBe(200);
    const repeated = Macaroon.decode(((await again.json()) as { discharge: string }).discharge);
    expect(repeated.encode()).toBe(discharge.encode());
    await expectCode(fx.verifier.verify(token, { ...request, discharges: [token.bindForRequest(repeated)] }), 'ERR_USAGE_EXCEEDED');
    expect((await fx.service.get(id, ALICE))?.collectedAt).toEqual(now);

    // Past the window the poll URL is spent, and nothing usable stays in the database.
    const saved = now;
    now = new Date(now.getTime() + 60_001);
    try {
      const late = await poll(secret);
      expect(late.status).toBe(403);
      expect(await late.json()).toMatchObject({ error: { code: 'ERR_FORBIDDEN', details: { status: 'collected' } } });
      await expectCode(fx.service.poll(secret), 'ERR_FORBIDDEN');
    } finally {
      now = saved;
    }
    // No discharge column exists at all (migration 6): discharges are minted, never stored.
    const [row] = await rows(database, sql`select * from discharge_requests where id = ${id}`);
    expect(row).toMatchObject({ caveat_id: null, status: 'collected' });
    expect(row).not.toHaveProperty('discharge');
    const dump = JSON.stringify(await rows(database, sql`select row_to_json(t) as r from discharge_requests t`));
    expect(dump).not.toContain(secret);

    const audit = await fx.store.audit.list({ subject: id, newestFirst: false });
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['discharge-request', 'requester'],
      ['approve', 'alice'],
      ['discharge', 'requester'],
      ['discharge-again', 'requester'],
    ]);
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect((await fx.service.history(CAROL)).map((v) => v.id)).toContain(id);
  });

  it('long-poll: a waiting poll answers as soon as the request is decided', async () => {
    const token = primaryWith('approve alice ship it');
    const { id, secret } = await requestFor(token);
    const started = Date.now();
    const waiting = poll(secret, 10);
    await new Promise((r) => setTimeout(r, 200));
    await fx.service.decide(id, ALICE, { approve: true });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    // A poll with nothing to wait for times out as pending after its wait.
    const other = await requestFor(primaryWith('approve alice something else'));
    const t0 = Date.now();
    expect((await poll(other.secret, 1)).status).toBe(202);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('polls racing after approval: one collects, the others get the same discharge, one action goes through', async () => {
    const token = primaryWith('approve alice race');
    const { id, secret } = await requestFor(token);
    await fx.service.decide(id, ALICE, { approve: true });
    const answers = await Promise.all([poll(secret), poll(secret), poll(secret)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const encoded = await Promise.all(answers.map(async (r) => ((await r.json()) as { discharge: string }).discharge));
    expect(new Set(encoded).size).toBe(1);
    expect((await fx.store.audit.list({ subject: id, action: 'discharge' })).length).toBe(1);
    const uses = await Promise.all(encoded.map((d) => fx.verifier.verify(token, { discharges: [token.bindForRequest(Macaroon.decode(d))] }).then(() => 'ok', (e: { code?: string }) => e.code)));
    expect(uses.sort()).toEqual(['ERR_USAGE_EXCEEDED', 'ERR_USAGE_EXCEEDED', 'ok']);
  });

  it('a decision made by another service instance (another process) reaches a waiting poll', async () => {
    const { database: first, another } = await backend.empty();
    const masterKey = MasterKey.generate();
    const a = await dischargeFixture(first, { recheckMs: 100, masterKey });
    const b = await dischargeFixture(await another(), { recheckMs: 100, masterKey });
    const pending = await a.service.request(ticketFor(a.service, 'approve alice cross-process'));
    if (pending.status !== 'pending') throw new Error('expected pending');
    const waiting = a.service.poll(pending.pollUrl.split('/').pop() as string, 10_000);
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    await b.service.decide(pending.id, ALICE, { approve: true });
    expect((await waiting).status).toBe('discharged');
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('denied → 403 ERR_DENIED with the reason; the decision is final and audited', async () => {
    const { id, secret } = await requestFor(primaryWith('approve bob drop the database'));
    await expectCode(fx.service.decide(id, BOB, { approve: false, reason: '' }), 'ERR_INVALID_ARGUMENT');
    const denied = await fx.service.decide(id, BOB, { approve: false, reason: 'not today' });
    expect(denied).toMatchObject({ status: 'denied', decidedBy: 'bob', reason: 'not today' });
    const res = await poll(secret);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'denied', reason: 'not today', decidedBy: 'bob' } } });
    await expectCode(fx.service.decide(id, BOB, { approve: true }), 'ERR_CONFLICT');
    const audit = await fx.store.audit.list({ subject: id, action: 'deny' });
    expect(audit[0]?.details).toMatchObject({ reason: 'not today' });
  });

  it('expired → 403 ERR_DENIED (status expired); it can no longer be approved', async () => {
    const { id, secret } = await requestFor(primaryWith('approve alice late thing'));
    const saved = now;
    now = new Date(now.getTime() + 901_000);
    try {
      const res = await poll(secret);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'expired' } } });
      await expectCode(fx.service.decide(id, ALICE, { approve: true }), 'ERR_CONFLICT');
      expect((await fx.service.get(id, ALICE))?.status).toBe('expired');
    } finally {
      now = saved;
    }
  });

  it('an approval that lapses before collection yields no discharge and is recorded as lapsed, never collected', async () => {
    const { id, secret } = await requestFor(primaryWith('approve alice slow client'));
    await fx.service.decide(id, ALICE, { approve: true, validitySeconds: 60 });
    const saved = now;
    now = new Date(now.getTime() + 61_000);
    try {
      expect((await fx.service.get(id, ALICE))?.status).toBe('lapsed');
      const res = await poll(secret);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'lapsed' } } });
      const [row] = await rows(database, sql`select status, caveat_id, collected_at from discharge_requests where id = ${id}`);
      expect(row).toMatchObject({ status: 'lapsed', caveat_id: null, collected_at: null });
      await expectCode(fx.service.withdraw(id, ALICE), 'ERR_CONFLICT');
      expect((await fx.store.audit.list({ subject: id, action: 'discharge' })).length).toBe(0);
    } finally {
      now = saved;
    }
  });

  it('an approver withdraws an approval not yet collected: the poll answers ERR_DENIED withdrawn', async () => {
    const token = primaryWith('approve group:ops restart the cache');
    const { id, secret } = await requestFor(token);
    await expectCode(fx.service.withdraw(id, ALICE), 'ERR_CONFLICT'); // still pending: nothing to withdraw
    await fx.service.decide(id, ALICE, { approve: true });
    await expectCode(fx.service.withdraw(id, BOB), 'ERR_FORBIDDEN');
    const withdrawn = await fx.service.withdraw(id, CAROL);
    expect(withdrawn).toMatchObject({ status: 'withdrawn', decidedBy: 'carol' });
    const res = await poll(secret);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'ERR_DENIED', details: { status: 'withdrawn', decidedBy: 'carol' } } });
    await expectCode(fx.service.withdraw(id, ALICE), 'ERR_CONFLICT');
    const [row] = await rows(database, sql`select caveat_id from discharge_requests where id = ${id}`);
    expect(row).toMatchObject({ caveat_id: null });
    expect((await fx.store.audit.list({ subject: id, action: 'withdraw' }))[0]).toMatchObject({ actor: 'carol', details: { approvedBy: 'alice' } });

    // A collected approval cannot be withdrawn.
    const other = await requestFor(primaryWith('approve alice collected already'));
    await fx.service.decide(other.id, ALICE, { approve: true });
    expect((await poll(other.secret)).status).toBe(200);
    await expectCode(fx.service.withdraw(other.id, ALICE), 'ERR_CONFLICT');
  });

  it('groups: only the named user or group members see, get and decide a request', async () => {
    const { id } = await requestFor(primaryWith('approve group:ops restart the cache'));
    expect((await fx.service.listPending(BOB)).map((v) => v.id)).not.toContain(id);
    expect(await fx.service.get(id, BOB)).toBeUndefined();
    expect((await fx.service.get(id, CAROL))?.id).toBe(id);
    await expectCode(fx.service.decide(id, BOB, { approve: true }), 'ERR_FORBIDDEN');
    // A user named like the group is not in it.
    await expectCode(fx.service.decide(id, { name: 'ops', groups: [] }, { approve: true }), 'ERR_FORBIDDEN');
    await expectCode(fx.service.decide(id, CAROL, { approve: true, validitySeconds: 3601 }), 'ERR_INVALID_ARGUMENT');
    await expectCode(fx.service.decide(id, CAROL, { approve: true, validitySeconds: 0 }), 'ERR_INVALID_ARGUMENT');
    await expectCode(fx.service.decide('dr_AAAAAAAAAAAAAAAAAAAAAA', CAROL, { approve: true }), 'ERR_NOT_FOUND');
    await expectCode(fx.service.decide(id, { name: 'x' } as never, { approve: true }), 'ERR_INVALID_ARGUMENT');
    expect((await fx.service.decide(id, CAROL, { approve: true })).decidedBy).toBe('carol');
    // A request for one user is not visible to a group member.
    const { id: forBob } = await requestFor(primaryWith('approve bob look'));
    expect(await fx.service.get(forBob, CAROL)).toBeUndefined();
    await expectCode(fx.service.decide(forBob, CAROL, { approve: true }), 'ERR_FORBIDDEN');
  });

  it('login <who>: the person who decides is declared as the user', async () => {
    const token = primaryWith('login alice', 'tool read');
    const { id, secret } = await requestFor(token);
    expect((await fx.service.get(id, ALICE))?.what).toBe('log in as alice');
    await expectCode(fx.service.decide(id, CAROL, { approve: true }), 'ERR_FORBIDDEN');
    await fx.service.decide(id, ALICE, { approve: true });
    const res = await poll(secret);
    const discharge = Macaroon.decode(((await res.json()) as { discharge: string }).discharge);
    expect(discharge.caveats.map((c) => c.text)).toEqual([caveat.timeBefore(new Date(now.getTime() + 300_000)), 'declared user alice']);
    const verified = await fx.verifier.verify(token, { discharges: [token.bindForRequest(discharge)], context: { tool: 'read' } });
    expect(verified.declared.get('user')).toBe('alice');
  });

  it('refuses unknown and malformed conditions, tickets for another service, and bad requests', async () => {
    const unknown = await post({ id: b64(ticketFor(fx.service, 'time-before 2099-01-01T00:00:00Z')) });
    expect(unknown.status).toBe(403);
    expect(await unknown.json()).toMatchObject({ error: { code: 'ERR_CAVEAT_UNKNOWN' } });
    const bad = await post({ id: b64(ticketFor(fx.service, 'approve Alice deploy')) });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ error: { code: 'ERR_CAVEAT_MALFORMED' } });

    const elsewhere = encodeTicket({ caveatKey: new Uint8Array(32), condition: 'approve alice x', thirdPartyPublicKey: generateDischargerKeyPair().publicKey });
    const foreign = await post({ id: b64(elsewhere) });
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toMatchObject({ error: { code: 'ERR_MALFORMED' } });

    const tampered = ticketFor(fx.service, 'approve alice x');
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect((await post({ id: b64(tampered) })).status).toBe(400);

    expect((await post({ id: 'not base64!' })).status).toBe(400);
    expect((await post({})).status).toBe(400);
    expect((await post({ id: 'AAAA', extra: 1 })).status).toBe(400);
    expect((await post('{"id":', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post({ id: 'AAAA' }, { 'content-type': 'text/plain' })).status).toBe(400);
    expect((await post({ id: b64(ticketFor(fx.service, 'approve alice x')), caveats: ['ok', 'bad\u0000'] })).status).toBe(400);
    expect((await post({ id: 'A'.repeat(200_000) })).status).toBe(400);

    expect((await poll('A'.repeat(43))).status).toBe(404);
    expect((await poll('short')).status).toBe(404);
    expect((await fx.app.request(`/v1/discharge/poll/${'A'.repeat(43)}?wait=soon`)).status).toBe(400);
    expect(await (await poll('A'.repeat(43))).json()).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
  });

  it('reads bakery version 3 tickets too', async () => {
    const res = await post({ id: b64(ticketFor(fx.service, 'approve alice v3 thing', 3, 'std:')) });
    expect(res.status).toBe(202);
  });

  it('bounds how many requests wait for one approver', async () => {
    const { database: db } = await backend.empty();
    const small = await dischargeFixture(db, { maxPendingPerPrincipal: 2 });
    const ask = (): Promise<unknown> => small.service.request(ticketFor(small.service, 'approve dave spam'));
    await ask();
    await ask();
    await expectCode(ask(), 'ERR_RATE_LIMITED');
    expect((await small.service.request(ticketFor(small.service, 'approve erin fine'))).status).toBe('pending');
  });

  it('close() wakes waiting polls', async () => {
    const { database: db } = await backend.empty();
    const other = await dischargeFixture(db, {});
    const pending = await other.service.request(ticketFor(other.service, 'approve alice x'));
    if (pending.status !== 'pending') throw new Error('expected pending');
    const secret = pending.pollUrl.split('/').pop() as string;
    const t0 = Date.now();
    const waiting = other.service.poll(secret, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    other.service.close();
    expect((await waiting).status).toBe('pending');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe('discharge requests are throttled per client IP', () => {
  it('answers 429 ERR_RATE_LIMITED with Retry-After past the window\'s budget, and again after it', async () => {
    const fx = await dischargeFixture((await backends[0]!.empty()).database);
    let now = 0;
    const app = new Hono().route('/', dischargeRoutes(fx.service, { requestsPerIp: { max: 3, windowSeconds: 60 }, now: () => now }));
    const token = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice look' });
    const id = Buffer.from(token.caveats[0]!.identifier).toString('base64url');
    const post = (): Promise<Response> =>
      Promise.resolve(app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) }));
    for (let i = 0; i < 3; i++) expect((await post()).status).toBe(202);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(await refused.json()).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } });
    now += 60_000;
    expect((await post()).status).toBe(202);
    fx.service.close();
  });

  it('keys the throttle on the configured client IP source (a proxy\'s X-Forwarded-For), not one shared address', async () => {
    const fx = await dischargeFixture((await backends[0]!.empty()).database);
    const app = new Hono().route('/', dischargeRoutes(fx.service, { requestsPerIp: { max: 1, windowSeconds: 60 }, clientIp: { from: 'x-forwarded-for', trustedProxies: 1 } }));
    const token = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice look' });
    const id = Buffer.from(token.caveats[0]!.identifier).toString('base64url');
    const post = (ip: string): Promise<Response> =>
      Promise.resolve(app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: JSON.stringify({ id }) }));
    expect((await post('10.0.0.1')).status).toBe(202);
    expect((await post('10.0.0.1')).status).toBe(429);
    expect((await post('10.0.0.2')).status).toBe(202);
    const pending = await fx.service.listPending(ALICE);
    expect(pending.map((p) => p.requester.ip).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    fx.service.close();
  });

  it('throttles polls too, and refuses a chunked body past the bound without reading it all', async () => {
    const fx = await dischargeFixture((await backends[0]!.empty()).database);
    const app = new Hono().route('/', dischargeRoutes(fx.service, { pollsPerIp: { max: 2, windowSeconds: 60 } }));
    const poll = (): Promise<Response> => Promise.resolve(app.request(`/v1/discharge/poll/${'A'.repeat(43)}`));
    expect((await poll()).status).toBe(404);
    expect((await poll()).status).toBe(404);
    expect((await poll()).status).toBe(429);

    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const res = await app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: endless, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'ERR_LIMIT' } });
    expect(pulled).toBeLessThan(10);
    fx.service.close();
  });
});

// Two opens of an on-disk PGlite: seconds each on a loaded machine.
describe.each(backends)('restarts on $name', { timeout: 60_000 }, (backend: TestBackend) => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('a request pending before a restart is approved and collected after it, with the same key', async () => {
    const masterKey = MasterKey.generate();
    let open: () => Promise<Database>;
    if (backend.name === 'pglite') {
      const dir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-discharge-')));
      dirs.push(dir);
      open = () => openDatabase({ dataDir: dir });
    } else {
      const url = await (backend.url as () => Promise<string>)();
      open = () => openDatabase({ url, maxConnections: 2 });
    }
    const rootKey = new Uint8Array(32).fill(9);
    let database = await open();
    let fx = await dischargeFixture(database, { masterKey, rootKey });
    const publicKey = fx.service.publicKey;
    const token = addDischargeCaveat(fx.mint('tool deploy'), { location: LOCATION, publicKey, condition: 'approve group:ops deploy' });
    const pending = await fx.service.request(thirdPartyId(token));
    if (pending.status !== 'pending') throw new Error('expected pending');
    fx.service.close();
    await database.close();

    database = await open();
    try {
      fx = await dischargeFixture(database, { masterKey, rootKey });
      expect(fx.service.publicKey).toEqual(publicKey);
      expect((await fx.service.listPending(ALICE)).map((v) => v.id)).toEqual([pending.id]);
      await fx.service.decide(pending.id, ALICE, { approve: true });
      const got = await fx.service.poll(pending.pollUrl.split('/').pop() as string);
      if (got.status !== 'discharged') throw new Error('expected a discharge');
      const verified = await fx.verifier.verify(token, { discharges: [token.bindForRequest(got.discharge)], context: { tool: 'deploy' } });
      expect(verified.declared.get('approved-by')).toBe('alice');
      // The audit trail survived the restart as well.
      expect((await fx.store.audit.list({ subject: pending.id, newestFirst: false })).map((a) => a.action)).toEqual(['discharge-request', 'approve', 'discharge']);
    } finally {
      fx.service.close();
      await database.close();
    }
  });
});

describe('mounted in the system (createSystem)', () => {
  it('serves the well-known key and the protocol next to the issuer API, one key across restarts of the system', async () => {
    const { createSystem } = await import('../src/server/system.js');
    const { database } = await backends[0]!.empty();
    const masterKey = MasterKey.generate();
    const system = await createSystem({ database, masterKey, publicUrl: 'http://tessera.test' });
    try {
      const info = (await (await system.app.request('/.well-known/tessera/discharger')).json()) as { location: string; publicKey: string };
      expect(info).toEqual({ location: 'http://tessera.test', publicKey: b64(system.discharge.publicKey), version: 2 });
      const token = addDischargeCaveat(Macaroon.mint({ rootKey: 'k', identifier: 'x' }), {
        location: info.location,
        publicKey: info.publicKey,
        condition: 'approve group:ops deploy',
      });
      const res = await system.app.request('/v1/discharge', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: b64(thirdPartyId(token)) }),
      });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { approvalUrl: string }).approvalUrl).toMatch(/^http:\/\/tessera\.test\/approve\/requests\/dr_/);
      expect((await system.app.request('/healthz')).status).toBe(200);
      const again = await createSystem({ database, masterKey, publicUrl: 'http://tessera.test' });
      expect(again.discharge.publicKey).toEqual(system.discharge.publicKey);
      await again.close();
    } finally {
      await system.close();
    }
  });
});
