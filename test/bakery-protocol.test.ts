/**
 * Bakery interop without the peer libraries: the Go and Python bakeries' own macaroons (from
 * test/fixtures/bakery/peers.json) with v3 third-party caveats addressed to Tessera, discharged
 * through Tessera's protocol ({ id, ticket }) and through the bakery's own HTTP protocol, in its
 * wire format: interaction required → wait for the token → re-POST → { Macaroon }, denial as
 * permission denied with the person's reason, and bad input (fuzzed) never answered with a 5xx.
 */
import { Hono } from 'hono';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Macaroon, verifySignature } from '../src/index.js';
import {
  BAKERY_TOKEN_KIND,
  bakeryRoutes,
  createDischargeService,
  dischargeRoutes,
  encodeTicket,
  parseDischargeCondition,
  type DischargeService,
} from '../src/discharge/index.js';
import { expectCode } from './support/expect-code.js';
import { MasterKey, createStore, type Database } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { ALICE } from './support/discharge.js';
import { peers } from './support/bakery-peers.js';

const LOCATION = peers.discharger.location;
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

interface PeerCaveat {
  readonly peer: string;
  readonly primary: Macaroon;
  readonly rootKey: Uint8Array;
  readonly id: Uint8Array;
  readonly ticket: Uint8Array;
}

/** The peer's v3 bakery macaroon, its third-party caveat id and the ticket carried in cdata. */
function peerCaveat(peer: 'go' | 'python'): PeerCaveat {
  const fixture = peers[peer].bakery.find((b) => b.version === 3);
  if (fixture === undefined) throw new Error('no v3 fixture');
  const json = JSON.parse(fixture.bakeryJSON) as { m: object; v: number; cdata: Record<string, string>; ns: string };
  const primary = Macaroon.decode(json.m as never);
  const third = primary.caveats.find((c) => c.thirdParty);
  if (third === undefined) throw new Error('no third-party caveat');
  const entry = Object.entries(json.cdata).find(([k]) => Buffer.from(bytes(k)).equals(Buffer.from(third.identifier)));
  if (entry === undefined) throw new Error('no cdata for the caveat');
  return { peer, primary, rootKey: bytes(fixture.rootKey), id: third.identifier, ticket: bytes(entry[1]) };
}
const caveats = [peerCaveat('go'), peerCaveat('python')];

let database: Database;
let service: DischargeService;
let app: Hono;

beforeAll(async () => {
  database = await incidentalBackend.open();
  service = await createDischargeService({
    store: createStore(database, MasterKey.generate()),
    location: LOCATION,
    keyPair: { privateKey: bytes(peers.discharger.privateKey), publicKey: bytes(peers.discharger.publicKey) },
    maxWaitSeconds: 2,
    recheckMs: 20,
  });
  app = new Hono().route('/', dischargeRoutes(service, { requestsPerIp: { max: 10_000, windowSeconds: 60 } })).route('/', bakeryRoutes(service, { requestsPerIp: { max: 10_000, windowSeconds: 60 } }));
});
afterAll(async () => {
  service.close();
});

/** The discharge request id from an approval URL. */
const requestId = (approvalUrl: string): string => approvalUrl.slice(approvalUrl.lastIndexOf('/') + 1);
const path = (url: string): string => url.slice(LOCATION.length);

/** Go's httprequest: the form in the URL query, an empty body, protocol version 3. */
function goPost(fields: Record<string, string>, version = '3'): Promise<Response> {
  return Promise.resolve(app.request(`/discharge?${new URLSearchParams(fields).toString()}`, { method: 'POST', headers: version === '' ? {} : { 'Bakery-Protocol-Version': version } }));
}
/** Python's requests: an urlencoded body. */
function pyPost(fields: Record<string, string>): Promise<Response> {
  return Promise.resolve(
    app.request('/discharge', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'Bakery-Protocol-Version': '3' },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

interface InteractionRequired {
  Code: string;
  Message: string;
  Info: { InteractionMethods: { 'browser-window': { VisitURL: string; WaitTokenURL: string } }; VisitURL: string; WaitURL: string };
}

describe('need-declared, as the bakery writes it', () => {
  it('wraps an approve or login condition and lists the keys to declare', () => {
    expect(parseDischargeCondition('need-declared approved-by,group approve group:ops deploy web')).toEqual({
      kind: 'approve',
      who: 'group:ops',
      principal: { kind: 'group', name: 'ops' },
      what: 'deploy web',
      needDeclared: ['approved-by', 'group'],
    });
    expect(parseDischargeCondition('need-declared user login alice').needDeclared).toEqual(['user']);
  });

  it('fails closed on anything else', async () => {
    for (const text of ['need-declared', 'need-declared user', 'need-declared  login alice', 'need-declared a,,b login alice', 'need-declared a,a login alice', 'need-declared a need-declared b login alice', `need-declared ${Array.from({ length: 17 }, (_, i) => `k${i}`).join(',')} login alice`]) {
      await expectCode(() => parseDischargeCondition(text), 'ERR_CAVEAT_MALFORMED');
    }
    await expectCode(() => parseDischargeCondition('need-declared user is-admin'), 'ERR_CAVEAT_UNKNOWN');
  });
});

describe('v3 caveats from the Go and Python bakeries, through POST /v1/discharge { id, ticket }', () => {
  for (const cav of caveats) {
    it(`${cav.peer}: the discharge is minted under the caveat id the token holds and verifies with the token`, async () => {
      expect(cav.id.length).toBeLessThan(8); // the short v3 id; the ticket travels apart
      const res = await app.request('/v1/discharge', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: b64url(cav.id), ticket: b64url(cav.ticket) }),
      });
      expect(res.status).toBe(202);
      const pending = (await res.json()) as { approvalUrl: string; pollUrl: string };
      await service.decide(requestId(pending.approvalUrl), ALICE, { approve: true });
      const polled = await app.request(path(pending.pollUrl));
      expect(polled.status).toBe(200);
      const discharge = Macaroon.decode(((await polled.json()) as { discharge: string }).discharge);
      expect(discharge.identifier).toEqual(cav.id);
      const verified = verifySignature(cav.primary, cav.rootKey, [cav.primary.bindForRequest(discharge)]);
      const conditions = verified[1]?.conditions ?? [];
      expect(conditions).toContain('declared approved-by alice');
      // need-declared approved-by,group: the unknown key is declared empty, as the bakery does.
      expect(conditions).toContain('declared group ');
      expect(conditions).toContain('uses 1'); // Tessera's own protocol: single use
    });
  }

  it('keeps the mint instructions out of sight and out of the requester\'s reach', async () => {
    const [go] = caveats;
    if (go === undefined) throw new Error('no caveat');
    await expectCode(service.request(go.id, { mint: { id: 'AQ' } }, [], { ticket: go.ticket }), 'ERR_INVALID_ARGUMENT');
    await expectCode(service.request(new Uint8Array(1025), {}, [], { ticket: go.ticket }), 'ERR_LIMIT');
    await expectCode(service.request(go.id, {}, [], { ticket: go.ticket, format: 'other' as never }), 'ERR_INVALID_ARGUMENT');
    const pending = await service.request(go.id, { userAgent: 'test' }, [], { ticket: go.ticket, format: 'bakery' });
    if (pending.status !== 'pending') throw new Error('expected pending');
    const view = await service.get(pending.id, ALICE);
    expect(view?.requester).toEqual({ userAgent: 'test' });
    expect(view?.what).toBe('deploy web');
  });

  it('posting only the short v3 caveat id (no ticket) is refused as malformed', async () => {
    const [go] = caveats;
    const res = await app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: b64url(go?.id ?? new Uint8Array()) }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_MALFORMED');
  });
});

describe("the bakery's HTTP discharge protocol", () => {
  it('publishes /discharge/info and /publickey as the bakery does (standard base64, version 3)', async () => {
    const info = (await (await app.request('/discharge/info')).json()) as { PublicKey: string; Version: number };
    expect(info).toEqual({ PublicKey: peers.discharger.publicKey, Version: 3 });
    expect(await (await app.request('/publickey')).json()).toEqual({ PublicKey: peers.discharger.publicKey });
  });

  for (const [client, post] of [['Go (query form)', goPost], ['Python (body form)', pyPost]] as const) {
    for (const cav of caveats) {
      it(`${client}, ${cav.peer} caveat: interaction required → wait token → re-POST → { Macaroon } that verifies`, async () => {
        const fields = { id64: b64url(cav.id), caveat64: b64url(cav.ticket) };
        const first = await post(fields);
        expect(first.status).toBe(401);
        expect(first.headers.get('WWW-Authenticate')).toBe('Macaroon');
        const ir = (await first.json()) as InteractionRequired;
        expect(ir.Code).toBe('interaction required');
        const method = ir.Info.InteractionMethods['browser-window'];
        expect(method.VisitURL).toMatch(new RegExp(`^${LOCATION}/approve/requests/dr_`));
        expect(ir.Info.VisitURL).toBe(method.VisitURL);
        expect(ir.Info.WaitURL).toMatch(/\/discharge\/wait\//);

        const waiting = Promise.resolve(app.request(path(method.WaitTokenURL)));
        await service.decide(requestId(method.VisitURL), ALICE, { approve: true });
        const waited = await waiting;
        expect(waited.status).toBe(200);
        const token = (await waited.json()) as { kind: string; token64: string };
        expect(token.kind).toBe(BAKERY_TOKEN_KIND);
        expect(token.token64).toMatch(/^[A-Za-z0-9+/]+=*$/); // standard, padded: what Python's b64decode reads

        const again = await post({ ...fields, token64: token.token64, 'token-kind': token.kind });
        expect(again.status).toBe(200);
        const { Macaroon: wire } = (await again.json()) as { Macaroon: { m: Record<string, unknown>; v: number; ns: string } };
        expect(wire.v).toBe(3);
        expect(wire.ns).toBe('std:');
        expect(wire.m).not.toHaveProperty('v'); // as go-macaroon writes it
        const discharge = Macaroon.decode(wire.m as never);
        expect(discharge.identifier).toEqual(cav.id);
        const verified = verifySignature(cav.primary, cav.rootKey, [cav.primary.bindForRequest(discharge)]);
        const conditions = verified[1]?.conditions ?? [];
        expect(conditions).toContain('declared approved-by alice');
        expect(conditions).toContain('declared group ');
        expect(conditions.some((c) => c.startsWith('time-before '))).toBe(true);
        expect(conditions.some((c) => c.startsWith('uses'))).toBe(false); // a bakery would refuse it
      });
    }
  }

  it('a denial answers permission denied with the person\'s reason; the legacy WaitURL too', async () => {
    const [cav] = caveats;
    if (cav === undefined) throw new Error('no caveat');
    const fields = { id64: b64url(cav.id), caveat64: b64url(cav.ticket) };
    const ir = (await (await goPost(fields)).json()) as InteractionRequired;
    const waiting = Promise.resolve(app.request(path(ir.Info.WaitURL)));
    await service.decide(requestId(ir.Info.VisitURL), ALICE, { approve: false, reason: 'not during the freeze' });
    const res = await waiting;
    expect(res.status).toBe(401);
    const body = (await res.json()) as { Code: string; Message: string };
    expect(body.Code).toBe('permission denied');
    expect(body.Message).toContain('not during the freeze');
  });

  it('the legacy WaitURL returns { Macaroon } directly once approved', async () => {
    const [, cav] = caveats;
    if (cav === undefined) throw new Error('no caveat');
    const ir = (await (await pyPost({ id64: b64url(cav.id), caveat64: b64url(cav.ticket) })).json()) as InteractionRequired;
    const waiting = Promise.resolve(app.request(path(ir.Info.WaitURL)));
    await service.decide(requestId(ir.Info.VisitURL), ALICE, { approve: true });
    const res = await waiting;
    expect(res.status).toBe(200);
    const { Macaroon: wire } = (await res.json()) as { Macaroon: { m: object } };
    expect(Macaroon.decode(wire.m as never).identifier).toEqual(cav.id);
  });

  it('protocol version 0 (no header) gets 407, as the Go bakery answers it', async () => {
    const [cav] = caveats;
    const res = await goPost({ id64: b64url(cav?.id ?? new Uint8Array()), caveat64: b64url(cav?.ticket ?? new Uint8Array()) }, '');
    expect(res.status).toBe(407);
    expect(((await res.json()) as { Code: string }).Code).toBe('interaction required');
  });

  it('refuses tokens that are not this caveat\'s discharge, and ambiguous or unknown fields, in the bakery error shape', async () => {
    const [go, py] = caveats;
    if (go === undefined || py === undefined) throw new Error('no caveats');
    const fields = { id64: b64url(go.id), caveat64: b64url(go.ticket) };
    // A discharge the client made itself (it does not know the caveat key).
    const forged = b64url(Macaroon.mint({ rootKey: new Uint8Array(32), identifier: go.id }).toBytes());
    const cases: [Record<string, string>, number, string][] = [
      [{ ...fields, token64: forged, 'token-kind': BAKERY_TOKEN_KIND }, 401, 'permission denied'],
      [{ ...fields, token64: forged }, 400, 'bad request'],
      [{ ...fields, token64: forged, 'token-kind': 'agent' }, 400, 'bad request'],
      [{ ...fields, token64: forged, token: 'x', 'token-kind': BAKERY_TOKEN_KIND }, 400, 'bad request'],
      [{ ...fields, token: 'not a macaroon', 'token-kind': BAKERY_TOKEN_KIND }, 400, 'bad request'],
      [{ ...fields, id: 'x' }, 400, 'bad request'],
      [{ ...fields, extra: '1' }, 400, 'bad request'],
      [{ caveat64: b64url(go.ticket) }, 400, 'bad request'],
      [{ id64: b64url(go.id), caveat64: 'AAAA' }, 400, 'bad request'],
      [{ id64: b64url(go.id), caveat64: '!!' }, 400, 'bad request'],
    ];
    for (const [form, status, code] of cases) {
      const res = await pyPost(form);
      expect(res.status, JSON.stringify(form).slice(0, 80)).toBe(status);
      const body = (await res.json()) as { Code: string; Message: string };
      expect(body.Code).toBe(code);
      expect(body.Message).not.toBe('');
    }
    // A genuine discharge for the python caveat does not pass as the go caveat's token.
    const ir = (await (await pyPost({ id64: b64url(py.id), caveat64: b64url(py.ticket) })).json()) as InteractionRequired;
    const waiting = Promise.resolve(app.request(path(ir.Info.InteractionMethods['browser-window'].WaitTokenURL)));
    await service.decide(requestId(ir.Info.VisitURL), ALICE, { approve: true });
    const { token64 } = (await (await waiting).json()) as { token64: string };
    const res = await pyPost({ ...fields, token64, 'token-kind': BAKERY_TOKEN_KIND });
    expect(res.status).toBe(401);
    // Collecting is retry-safe (a client whose answer was lost asks again): the wait-token URL
    // yields the same token again within the collection window, never a second one.
    const reused = await app.request(path(ir.Info.InteractionMethods['browser-window'].WaitTokenURL));
    expect(reused.status).toBe(200);
    expect(((await reused.json()) as { token64: string }).token64).toBe(token64);
  });

  it('throttles requests and waits per client IP: 429 too many requests with Retry-After', async () => {
    const [go] = caveats;
    if (go === undefined) throw new Error('no caveat');
    const strict = new Hono().route('/', bakeryRoutes(service, { requestsPerIp: { max: 1, windowSeconds: 60 }, waitsPerIp: { max: 1, windowSeconds: 60 } }));
    const post = (): Promise<Response> => Promise.resolve(strict.request(`/discharge?id64=${b64url(go.id)}&caveat64=${b64url(go.ticket)}`, { method: 'POST', headers: { 'Bakery-Protocol-Version': '3' } }));
    expect((await post()).status).toBe(401);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toMatch(/^\d+$/);
    expect(((await refused.json()) as { Code: string }).Code).toBe('too many requests');
    expect((await strict.request('/discharge/wait/x')).status).toBe(404);
    expect((await strict.request('/discharge/wait/x')).status).toBe(429);
  });

  it('an unknown condition is refused in the bakery error shape, naming it', async () => {
    const ticket = encodeTicket({ caveatKey: new Uint8Array(24).fill(1), condition: 'is-admin', thirdPartyPublicKey: service.publicKey, version: 3, namespace: 'std:' });
    const res = await pyPost({ id64: b64url(new Uint8Array([3, 9])), caveat64: b64url(ticket) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { Code: string; Message: string };
    expect(body.Code).toBe('bad request');
    expect(body.Message).toMatch(/unknown third-party condition/);
  });

  it('fuzz: random forms, caveat64 and token64 values never get a 5xx, and always the bakery error shape', async () => {
    const [go] = caveats;
    if (go === undefined) throw new Error('no caveat');
    const field = fc.constantFrom('id', 'id64', 'caveat64', 'token', 'token64', 'token-kind', 'location', 'x', '%ZZ', '');
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 200 }).map(b64url),
      fc.constant(b64url(go.ticket)),
      fc.constant(b64url(go.id)),
      fc.constant(BAKERY_TOKEN_KIND),
      fc.uint8Array({ maxLength: 120 }).map((b) => b64url(Uint8Array.from([...go.ticket.subarray(0, 80), ...b]))),
      fc.constant('%E0%80'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(field, value), { maxLength: 6 }), fc.boolean(), async (pairs, inQuery) => {
        const encoded = pairs.map(([k, v]) => `${k.startsWith('%') ? k : encodeURIComponent(k)}=${v.startsWith('%') ? v : encodeURIComponent(v)}`).join('&');
        const res = await app.request(inQuery ? `/discharge?${encoded}` : '/discharge', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'Bakery-Protocol-Version': '3' },
          ...(inQuery ? {} : { body: encoded }),
        });
        expect(res.status).toBeLessThan(500);
        const body = (await res.json()) as { Code?: unknown; Message?: unknown };
        if (res.status !== 200) {
          expect(typeof body.Code).toBe('string');
          expect(typeof body.Message).toBe('string');
        }
      }),
      { numRuns: 300 },
    );
    // Tessera's own protocol with a ticket apart: the same never-5xx property.
    await fc.assert(
      fc.asyncProperty(value, value, async (id, ticket) => {
        const res = await app.request('/v1/discharge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, ticket }) });
        expect([202, 400]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
    // An oversized body is refused before it is read whole.
    const big = await pyPost({ id64: 'A'.repeat(400_000) });
    expect(big.status).toBe(400);
  });
});
