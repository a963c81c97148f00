/**
 * `tessera/client` against the real discharge service (hono app as injected fetch) and small
 * fake dischargers: adding caveats offline, gathering (nested) discharges, long-polling,
 * binding, and the whole flow through the Verifier, including `uses 1`.
 */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { parseAuthorization } from '../src/hono/authorization.js';
import {
  addDischargeCaveat,
  attenuateThirdParty,
  authorizationHeader,
  fetchDischargerInfo,
  gatherDischarges,
  type FetchLike,
} from '../src/client/index.js';
import { decodeTicket, generateDischargerKeyPair, type Approver } from '../src/discharge/index.js';
import { incidentalBackend } from './support/databases.js';
import { ALICE, BOB, LOCATION, dischargeFixture, type DischargeFixture } from './support/discharge.js';
import { expectCode } from './support/expect-code.js';


const OTHER = 'https://other.test';

/** Route requests by origin: our service, plus extra hono apps. */
function router(routes: Record<string, Hono>): FetchLike {
  return async (url, init) => {
    const app = routes[new URL(url).origin];
    if (app === undefined) throw new TypeError('fetch failed'); // like an unreachable host
    return app.request(url, init);
  };
}

let fx: DischargeFixture;
beforeAll(async () => {
  fx = await dischargeFixture(await incidentalBackend.open(), { recheckMs: 50 });
});

/** Approve (as `approver`) whatever approval URL the client reports. */
const approving = (approver: Approver = ALICE) => (url: string): void => {
  const id = url.split('/').pop() as string;
  setTimeout(() => void fx.service.decide(id, approver, { approve: true }).catch(() => undefined), 20);
};

describe('adding third-party caveats offline', () => {
  it('seals a fresh caveat key and the condition to the service key (bakery v2 ticket)', () => {
    const base = fx.mint('tool deploy');
    const opts = { location: `${LOCATION}/`, publicKey: fx.service.publicKey, condition: 'approve group:ops deploy web' };
    const a = addDischargeCaveat(base, opts);
    const b = addDischargeCaveat(base.encode(), { ...opts, publicKey: Buffer.from(fx.service.publicKey).toString('base64') });
    const [ca, cb] = [a, b].map((m) => m.caveats.find((c) => c.thirdParty));
    expect(ca?.location).toBe(LOCATION);
    expect(ca?.identifier[0]).toBe(2);
    expect(Buffer.from(ca?.identifier ?? []).equals(Buffer.from(cb?.identifier ?? []))).toBe(false);
    expect(base.caveats).toHaveLength(1); // immutable
  });

  it('refuses bad conditions, keys and locations before anything is sealed', async () => {
    const base = fx.mint();
    const ok = { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice x' };
    await expectCode(() => addDischargeCaveat(base, { ...ok, condition: 'approve Alice x' }), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => addDischargeCaveat(base, { ...ok, condition: 'please alice' }), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => addDischargeCaveat(base, { ...ok, publicKey: new Uint8Array(31) }), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => addDischargeCaveat(base, { ...ok, location: 'ftp://x.test' }), 'ERR_INVALID_ARGUMENT');
    await expectCode(() => addDischargeCaveat(base, { ...ok, location: 'https://x.test/?q=1' }), 'ERR_INVALID_ARGUMENT');
  });

  it('attenuateThirdParty fetches the public key from the well-known URL once', async () => {
    let calls = 0;
    const fetch: FetchLike = async (url, init) => {
      calls++;
      expect(url).toBe(`${LOCATION}/.well-known/tessera/discharger`);
      return fx.app.request(url, init);
    };
    const info = await fetchDischargerInfo(LOCATION, { fetch });
    expect(info.publicKey).toEqual(fx.service.publicKey);
    const token = await attenuateThirdParty(fx.mint(), LOCATION, 'approve alice deploy', { fetch });
    expect(calls).toBe(2);
    const id = token.caveats.find((c) => c.thirdParty)?.identifier as Uint8Array;
    await expectCode(attenuateThirdParty(fx.mint(), LOCATION, 'nope', { fetch }), 'ERR_INVALID_ARGUMENT');
    expect(calls).toBe(2); // checked before fetching
    // Only the service can open it.
    const junk = new Hono().get('*', (c) => c.json({ location: LOCATION, publicKey: 'short' }));
    await expectCode(fetchDischargerInfo(LOCATION, { fetch: router({ [LOCATION]: junk }) }), 'ERR_THIRD_PARTY');
    await expectCode(fetchDischargerInfo(LOCATION, { fetch: router({}) }), 'ERR_THIRD_PARTY');
    expect(id[0]).toBe(2);
  });
});

describe('gathering discharges', () => {
  it('end to end: refused without approval, approved, verified once (uses 1), second use refused', async () => {
    const token = addDischargeCaveat(fx.mint('tool deploy', 'resource /apps/web/**'), {
      location: LOCATION,
      publicKey: fx.service.publicKey,
      condition: 'approve group:ops deploy web to production',
    });
    const context = { tool: 'deploy', resource: '/apps/web/index.html' };
    await expectCode(fx.verifier.verify(token, { context }), 'ERR_DISCHARGE_MISSING');

    const urls: string[] = [];
    const bundle = await gatherDischarges(token.encode(), {
      fetch: fx.fetch,
      waitSeconds: 5,
      onApprovalUrl: (url, info) => {
        urls.push(url);
        expect(info.location).toBe(LOCATION);
        approving()(url);
      },
    });
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatch(/^https:\/\/tessera\.test\/approve\/requests\/dr_/);
    expect(bundle.discharges).toHaveLength(1);
    expect(bundle.authorization).toBe(authorizationHeader(bundle.token, bundle.discharges));

    // What a server does with the header.
    const credential = parseAuthorization(bundle.authorization, { maxHeaderLength: 16_384, maxDischarges: 32 });
    const verified = await fx.verifier.verify(credential.token, { discharges: credential.discharges, context });
    expect(verified.declared.get('approved-by')).toBe('alice');
    await expectCode(fx.verifier.verify(credential.token, { discharges: credential.discharges, context }), 'ERR_USAGE_EXCEEDED');
    // The approver saw the token's first-party caveats (as the requester's claim).
    const history = await fx.service.history(ALICE, 10);
    expect(history.find((v) => urls[0]?.endsWith(v.id))?.otherCaveats).toEqual(['tool deploy', 'resource /apps/web/**']);
  });

  it('nested: a discharge that carries a third-party caveat of its own is discharged too', async () => {
    // A fake discharger at OTHER answers at once (200) with a discharge that itself needs our
    // service's approval.
    const caveatKey = new Uint8Array(randomBytes(32));
    const identifier = `other-${randomBytes(4).toString('hex')}`;
    const other = new Hono().post('/v1/discharge', async (c) => {
      const { id } = (await c.req.json()) as { id: string };
      expect(Buffer.from(id, 'base64url').toString()).toBe(identifier);
      const d = addDischargeCaveat(Macaroon.mint({ rootKey: caveatKey, identifier, location: OTHER }).addFirstPartyCaveat('declared team web'), {
        location: LOCATION,
        publicKey: fx.service.publicKey,
        condition: 'approve bob nested check',
      });
      return c.json({ discharge: d.encode() });
    });
    const token = fx.mint('tool read').addThirdPartyCaveat({ caveatKey, identifier, location: OTHER });
    await expectCode(gatherDischarges(token, { fetch: router({ [LOCATION]: fx.app, [OTHER]: other }), maxDepth: 1, onApprovalUrl: approving(BOB) }), 'ERR_LIMIT');
    const bundle = await gatherDischarges(token, { fetch: router({ [LOCATION]: fx.app, [OTHER]: other }), onApprovalUrl: approving(BOB), waitSeconds: 5 });
    expect(bundle.discharges).toHaveLength(2);
    const verified = await fx.verifier.verify(token, { discharges: bundle.discharges, context: { tool: 'read' } });
    expect(verified.declared.get('team')).toBe('web');
    expect(verified.declared.get('approved-by')).toBe('bob');
  });

  it('a token without third-party caveats needs nothing', async () => {
    const token = fx.mint('tool read');
    const bundle = await gatherDischarges(token, { fetch: router({}) });
    expect(bundle.discharges).toEqual([]);
    expect(bundle.authorization).toBe(`Macaroon ${token.encode()}`);
  });

  it('denied → ERR_DENIED; timeout → ERR_PENDING naming the approval URL', async () => {
    const denied = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice risky' });
    await expectCode(
      gatherDischarges(denied, {
        fetch: fx.fetch,
        waitSeconds: 5,
        onApprovalUrl: (url) => void fx.service.decide(url.split('/').pop() as string, ALICE, { approve: false, reason: 'no' }),
      }),
      'ERR_DENIED',
    );
    const slow = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice later' });
    const e = (await expectCode(gatherDischarges(slow, { fetch: fx.fetch, timeoutMs: 1200, waitSeconds: 1 }), 'ERR_PENDING')) as unknown as { details: { approvalUrls: string[] } };
    expect(e.details.approvalUrls[0]).toMatch(/\/approve\/requests\/dr_/);
  });

  it('refuses dischargers that misbehave, and retries ones that fail for a moment', async () => {
    const token = fx.mint().addThirdPartyCaveat({ caveatKey: 'k', identifier: 'wanted', location: OTHER });
    const answering = (handler: (c: import('hono').Context) => Response | Promise<Response>): FetchLike =>
      router({ [OTHER]: new Hono().all('*', handler) });
    // A discharge for another caveat.
    const wrong = Macaroon.mint({ rootKey: 'k', identifier: 'something-else' });
    await expectCode(gatherDischarges(token, { fetch: answering((c) => c.json({ discharge: wrong.encode() })) }), 'ERR_THIRD_PARTY');
    // Not a macaroon, not JSON, an error.
    await expectCode(gatherDischarges(token, { fetch: answering((c) => c.json({ discharge: 'garbage' })) }), 'ERR_THIRD_PARTY');
    await expectCode(gatherDischarges(token, { fetch: answering((c) => c.text('hello')) }), 'ERR_THIRD_PARTY');
    const refused = await expectCode(
      gatherDischarges(token, { fetch: answering((c) => c.json({ error: { code: 'ERR_CAVEAT_UNKNOWN', message: 'unknown third-party condition' } }, 403)) }),
      'ERR_THIRD_PARTY',
    );
    expect((refused as unknown as { details: object }).details).toMatchObject({ remoteCode: 'ERR_CAVEAT_UNKNOWN', httpStatus: 403 });
    // An endless answer is cut at the bound, not buffered whole.
    let pulled = 0;
    const endless = (): Response =>
      new Response(new ReadableStream<Uint8Array>({ pull: (ctl) => void (pulled++, ctl.enqueue(new Uint8Array(64 * 1024).fill(0x20))) }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    const huge = await expectCode(gatherDischarges(token, { fetch: async () => endless() }), 'ERR_THIRD_PARTY');
    expect(huge.message).toContain('too large');
    expect(pulled).toBeLessThan(10);
    // A poll URL on another origin is never followed.
    await expectCode(
      gatherDischarges(token, { fetch: answering((c) => c.json({ approvalUrl: `${OTHER}/a`, pollUrl: 'https://evil.test/poll' }, 202)) }),
      'ERR_THIRD_PARTY',
    );
    // Unreachable until the deadline.
    await expectCode(gatherDischarges(token, { fetch: router({}), timeoutMs: 600 }), 'ERR_THIRD_PARTY');
    // Two 503s, then the discharge: retried with backoff.
    let attempts = 0;
    const right = Macaroon.mint({ rootKey: 'k', identifier: 'wanted' });
    const flaky = answering((c) => (++attempts <= 2 ? c.json({}, 503) : c.json({ discharge: right.encode() })));
    const bundle = await gatherDischarges(token, { fetch: flaky, timeoutMs: 10_000 });
    expect(attempts).toBe(3);
    expect(bundle.discharges).toHaveLength(1);
  });

  it('the ticket the client seals opens with the service key, to the exact condition (v2 layout)', () => {
    const keys = generateDischargerKeyPair();
    const token = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: keys.publicKey, condition: 'login alice' });
    const id = token.caveats.find((c) => c.thirdParty)?.identifier as Uint8Array;
    const ticket = decodeTicket(id, keys.privateKey);
    expect(ticket).toMatchObject({ version: 2, condition: 'login alice' });
    expect(ticket.caveatKey).toHaveLength(32);
    expect(() => decodeTicket(id, generateDischargerKeyPair().privateKey)).toThrow();
  });
});
