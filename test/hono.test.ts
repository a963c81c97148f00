/** The hono middleware: real apps through `app.request()`, asserting status, body, headers, and that the handler did not run. */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AddressInfo } from 'node:net';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { caveat } from '../caveats/index.js';
import { TesseraError, type ErrorCode } from '../src/errors.js';
import { challenge, macaroonAuth, parseAuthorization, quote, type MacaroonAuthOptions } from '../src/hono/index.js';
import { Macaroon } from '../src/index.js';
import { Verifier, type Verified } from '../src/verifier/index.js';
import { macaroonAuth as nodeMacaroonAuth, nodeClientIp } from '../src/hono/node.js';

const rootKey = { raw: new Uint8Array(32).fill(7) };
const now = new Date('2026-06-01T12:00:00Z');
const revoked = new Set<string>();
const verifier = new Verifier({
  rootKeyFor: (id) => (new TextDecoder().decode(id).startsWith('tok-') ? rootKey : undefined),
  clock: () => now,
  revocations: { isRevoked: (id) => revoked.has(new TextDecoder().decode(id)) },
});
const mint = (id = 'tok-1'): Macaroon => Macaroon.mint({ rootKey, identifier: id, location: 'https://docs.example' });
const readDocs = mint()
  .addFirstPartyCaveat(caveat.timeBefore(new Date('2026-06-01T13:00:00Z')))
  .addFirstPartyCaveat(caveat.ops(['read']))
  .addFirstPartyCaveat(caveat.resource('/docs/**'));
const TOKEN = readDocs.encode();

/** An app with one protected route family; `ran` counts handler runs. */
function app(extra: Partial<MacaroonAuthOptions> = {}) {
  const state = { ran: 0, seen: undefined as Verified | undefined };
  const a = new Hono();
  a.use(
    '/docs/*',
    macaroonAuth({
      verifier,
      realm: 'docs',
      context: async (c) => ({ operation: c.req.header('x-op') ?? (c.req.method === 'GET' ? 'read' : 'write') }),
      ...extra,
    }),
  );
  a.all('/docs/*', (c) => {
    state.ran++;
    state.seen = c.get('tessera');
    return c.json({ ok: true, id: c.get('tessera').identifierText });
  });
  return { app: a, state };
}

/** The auth-params of a `Macaroon` challenge, unquoting each quoted-string (RFC 9110 §5.6.4); fails on anything else. */
function params(res: Response): Record<string, string> {
  const header = res.headers.get('www-authenticate') ?? '';
  const m = /^Macaroon ((?:[a-z_]+="(?:[^"\\]|\\.)*"(?:, |$))+)$/.exec(header);
  expect(m, header).not.toBeNull();
  const out: Record<string, string> = {};
  for (const [, k, v] of (m?.[1] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) out[k as string] = (v as string).replace(/\\(.)/g, '$1');
  return out;
}

const auth = (value: string): Record<string, string> => ({ Authorization: value });

async function refused(res: Response, status: number, code: ErrorCode, ran: number, token = TOKEN): Promise<{ error: { code: string; message: string; details?: Record<string, unknown> } }> {
  expect(res.status).toBe(status);
  expect(ran).toBe(0);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const text = await res.text();
  expect(text).not.toContain(token);
  expect(res.headers.get('www-authenticate') ?? '').not.toContain(token);
  const body = JSON.parse(text) as { error: { code: string; message: string; details?: Record<string, unknown> } };
  expect(body.error.code).toBe(code);
  return body;
}

describe('macaroonAuth: admitted requests', () => {
  it('runs the handler with the verified result on c.get("tessera")', async () => {
    const { app: a, state } = app();
    const res = await a.request('/docs/guide.md', { headers: auth(`Macaroon ${TOKEN}`) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, id: 'tok-1' });
    expect(state.ran).toBe(1);
    expect(state.seen?.caveats).toHaveLength(3);
  });

  it('accepts Bearer with the same content, and the scheme in any case', async () => {
    const { app: a, state } = app();
    for (const scheme of ['Bearer', 'bearer', 'MACAROON', 'macaroon', 'MaCaRoOn']) {
      expect((await a.request('/docs/a', { headers: auth(`${scheme} ${TOKEN}`) })).status).toBe(200);
    }
    expect(state.ran).toBe(5);
  });

  it('verifies discharges listed after the primary, and exposes declared facts', async () => {
    const caveatKey = new Uint8Array(32).fill(3);
    const primary = readDocs.addThirdPartyCaveat({ caveatKey, identifier: 'ticket-1', location: 'https://login.example' });
    const discharge = Macaroon.mint({ rootKey: caveatKey, identifier: 'ticket-1' }).addFirstPartyCaveat(caveat.declared('user', 'alice'));
    const { app: a, state } = app();
    const res = await a.request('/docs/a', { headers: auth(`Macaroon ${primary.encode()},${primary.bindForRequest(discharge).encode()}`) });
    expect(res.status).toBe(200);
    expect(state.seen?.declared.get('user')).toBe('alice');
    const missing = await a.request('/docs/a', { headers: auth(`Macaroon ${primary.encode()}`) });
    await refused(missing, 401, 'ERR_DISCHARGE_MISSING', state.ran - 1, primary.encode());
  });

  it('matches resource caveats against the raw (percent-encoded) path, and merges the async context', async () => {
    const t = mint().addFirstPartyCaveat(caveat.resource('/docs/a%20b.md')).addFirstPartyCaveat(caveat.tool(['search']));
    const { app: a, state } = app({ context: async (c) => ({ tool: c.req.query('tool') }) });
    expect((await a.request('/docs/a%20b.md?tool=search', { headers: auth(`Macaroon ${t.encode()}`) })).status).toBe(200);
    expect((await a.request('/docs/a%20b.md?tool=delete', { headers: auth(`Macaroon ${t.encode()}`) })).status).toBe(403);
    expect((await a.request('/docs/other.md?tool=search', { headers: auth(`Macaroon ${t.encode()}`) })).status).toBe(403);
    expect(state.ran).toBe(1);
  });

  it('fills method from the request and now from the clock option when given', async () => {
    const t = readDocs.addFirstPartyCaveat(caveat.method(['GET']));
    const { app: a, state } = app();
    expect((await a.request('/docs/a', { headers: auth(`Macaroon ${t.encode()}`) })).status).toBe(200);
    const post = await a.request('/docs/a', { method: 'POST', headers: { ...auth(`Macaroon ${t.encode()}`), 'x-op': 'read' } });
    const body = await refused(post, 403, 'ERR_CAVEAT_FAILED', state.ran - 1, t.encode());
    expect(body.error.details).toEqual({ caveat: 'method GET', reason: 'method "POST" not allowed' });
    const late = app({ clock: () => new Date('2026-06-01T13:00:01Z') });
    const res = await late.app.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) });
    expect((await refused(res, 403, 'ERR_CAVEAT_FAILED', late.state.ran)).error.details?.caveat).toMatch(/^time-before /);
  });
});

describe('macaroonAuth: refusals', () => {
  it('401 without a token, with a bare challenge and no error parameter', async () => {
    const { app: a, state } = app();
    const res = await a.request('/docs/a');
    await refused(res, 401, 'ERR_UNAUTHENTICATED', state.ran);
    expect(res.headers.get('www-authenticate')).toBe('Macaroon realm="docs"');
  });

  const malformedHeaders: readonly [string, string][] = [
    ['empty', ''],
    ['scheme only', 'Macaroon'],
    ['two spaces', `Macaroon  ${TOKEN}`],
    ['another scheme', `Basic ${TOKEN}`],
    ['no space', `Macaroon${TOKEN}`],
    ['empty item', `Macaroon ${TOKEN},,${TOKEN}`],
    ['trailing comma', `Macaroon ${TOKEN},`],
    ['leading comma', `Macaroon ,${TOKEN}`],
    ['space after comma', `Macaroon ${TOKEN}, ${TOKEN}`],
    ['two credentials', `Macaroon ${TOKEN} ${TOKEN}`],
    ['JSON token', `Macaroon ${readDocs.encode('json')}`],
    ['two schemes', `Macaroon ${TOKEN}, Macaroon ${TOKEN}`],
    ['non-base64 character', `Macaroon ${TOKEN};x`],
  ];
  for (const [name, value] of malformedHeaders) {
    it(`400 for a malformed Authorization header: ${name}`, async () => {
      const { app: a, state } = app();
      const res = await a.request('/docs/a', { headers: auth(value) });
      const body = await refused(res, 400, 'ERR_INVALID_ARGUMENT', state.ran);
      expect(params(res)).toEqual({ realm: 'docs', error: 'invalid_request', error_description: body.error.message });
    });
  }

  it('400 ERR_LIMIT for an oversized header or too many discharges', async () => {
    const { app: a, state } = app({ maxHeaderLength: 1000, maxDischarges: 2 });
    await refused(await a.request('/docs/a', { headers: auth(`Macaroon ${'A'.repeat(1000)}`) }), 400, 'ERR_LIMIT', state.ran);
    await refused(await a.request('/docs/a', { headers: auth(`Macaroon ${TOKEN},${TOKEN},${TOKEN},${TOKEN}`) }), 400, 'ERR_LIMIT', state.ran);
    expect((await a.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) })).status).toBe(200);
  });

  const badTokens: readonly [string, () => string, ErrorCode][] = [
    ['forged signature', () => Macaroon.mint({ rootKey: { raw: new Uint8Array(32) }, identifier: 'tok-1' }).encode(), 'ERR_SIGNATURE'],
    ['altered caveat', () => TOKEN.slice(0, -8) + (TOKEN.endsWith('AAAAAAAA') ? 'BBBBBBBB' : 'AAAAAAAA'), 'ERR_SIGNATURE'],
    ['unknown key', () => mint('other').encode(), 'ERR_KEY_UNKNOWN'],
    ['not a macaroon', () => 'AAAA', 'ERR_UNAUTHENTICATED'],
    ['not canonical base64', () => 'QR', 'ERR_UNAUTHENTICATED'],
    ['unused discharge', () => `${TOKEN},${mint('tok-2').encode()}`, 'ERR_DISCHARGE_UNUSED'],
  ];
  for (const [name, token, code] of badTokens) {
    it(`401 invalid_token for a bad token: ${name}`, async () => {
      const { app: a, state } = app();
      const t = token();
      const res = await a.request('/docs/a', { headers: auth(`Macaroon ${t}`) });
      const body = await refused(res, 401, code, state.ran, t);
      expect(params(res)).toEqual({ realm: 'docs', error: 'invalid_token', error_description: body.error.message });
    });
  }

  it('401 for a revoked token', async () => {
    const t = mint('tok-revoked').encode();
    const { app: a, state } = app({ context: () => ({}) });
    expect((await a.request('/docs/a', { headers: auth(`Macaroon ${t}`) })).status).toBe(200);
    revoked.add('tok-revoked');
    await refused(await a.request('/docs/a', { headers: auth(`Macaroon ${t}`) }), 401, 'ERR_REVOKED', state.ran - 1, t);
  });

  it('403 with the failing caveat and its reason when a caveat is not met', async () => {
    const { app: a, state } = app();
    const res = await a.request('/docs/a', { method: 'PUT', headers: auth(`Macaroon ${TOKEN}`) });
    const body = await refused(res, 403, 'ERR_CAVEAT_FAILED', state.ran);
    expect(body).toEqual({
      error: { code: 'ERR_CAVEAT_FAILED', message: 'caveat not satisfied: operation "write" not allowed', details: { caveat: 'ops read', reason: 'operation "write" not allowed' } },
    });
    // The quotes in the reason are escaped inside the quoted-string.
    expect(res.headers.get('www-authenticate')).toBe(
      'Macaroon realm="docs", error="insufficient_scope", error_description="caveat not satisfied: operation \\"write\\" not allowed"',
    );
    const unknown = await a.request('/docs/a', { headers: auth(`Macaroon ${readDocs.addFirstPartyCaveat('frobnicate yes').encode()}`) });
    expect((await refused(unknown, 403, 'ERR_CAVEAT_UNKNOWN', state.ran, '-')).error.details?.caveat).toBe('frobnicate yes');
  });

  it('keeps the challenge a valid header when a reason carries request bytes', async () => {
    const { app: a, state } = app();
    const res = await a.request('/docs/a', { headers: { ...auth(`Macaroon ${TOKEN}`), 'x-op': 'wr\u00e9te\\"' } });
    const body = await refused(res, 403, 'ERR_CAVEAT_FAILED', state.ran);
    expect(body.error.message).toBe('caveat not satisfied: operation "wr\u00e9te\\\\\\"" not allowed');
    expect(params(res).error_description).toBe('caveat not satisfied: operation "wr?te\\\\\\"" not allowed');
    expect(quote('a"b\\c\r\nd\u2028')).toBe('"a\\"b\\\\c??d?"');
    expect(challenge({})).toBe('Macaroon');
  });

  it('refuses with the status of a TesseraError thrown by context(c), sync or async, before verifying', async () => {
    for (const context of [
      () => { throw new TesseraError('ERR_FORBIDDEN', 'no operation for this route'); },
      async () => { throw new TesseraError('ERR_FORBIDDEN', 'no operation for this route'); },
    ]) {
      const { app: a, state } = app({ context });
      await refused(await a.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) }), 403, 'ERR_FORBIDDEN', state.ran);
    }
  });

  it('accepts a synchronous context(c) and a thenable one', async () => {
    const thenable = { then: (resolve: (v: { operation: string }) => void) => resolve({ operation: 'read' }) };
    for (const context of [() => ({ operation: 'read' }), () => thenable as never]) {
      const { app: a, state } = app({ context });
      expect((await a.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) })).status).toBe(200);
      expect(state.ran).toBe(1);
    }
  });

  it("leaves other failures to the app's error handler, as HTTPException with the TesseraError as cause", async () => {
    const boom = new Verifier({ rootKeyFor: () => { throw new Error('database down'); } });
    const { app: a, state } = app({ verifier: boom });
    const causes: unknown[] = [];
    a.onError((err, c) => {
      causes.push(err instanceof HTTPException ? err.cause : err);
      return err instanceof HTTPException ? err.getResponse() : c.text('oops', 500);
    });
    expect((await a.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) })).status).toBe(500);
    expect((await a.request('/docs/a')).status).toBe(401);
    expect(state.ran).toBe(0);
    expect((causes[0] as Error).message).toBe('database down');
    expect(causes[1]).toBeInstanceOf(TesseraError);
    const { app: b } = app({ context: () => [] as never });
    b.onError((_err, c) => c.text('server error', 500));
    expect((await b.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) })).status).toBe(500);
    // A misconfigured key store is the server's fault, not the client's: not a 400.
    const { app: d, state: ds } = app({ verifier: new Verifier({ rootKeyFor: () => ({ raw: new Uint8Array(5) }) }) });
    d.onError((err, c) => c.text(err instanceof TesseraError ? err.code : 'other', 500));
    const res = await d.request('/docs/a', { headers: auth(`Macaroon ${TOKEN}`) });
    expect([res.status, await res.text(), ds.ran]).toEqual([500, 'ERR_INVALID_ARGUMENT', 0]);
  });
});

describe('macaroonAuth: client IP', () => {
  const onlyTen = readDocs.addFirstPartyCaveat(caveat.clientIp(['10.0.0.0/8'])).encode();
  const headers = (xff: string) => ({ ...auth(`Macaroon ${onlyTen}`), 'x-forwarded-for': xff });

  it('has no client IP by default (the portable middleware knows no socket): client-ip fails closed', async () => {
    const { app: a, state } = app();
    const body = await refused(await a.request('/docs/a', { headers: headers('10.0.0.1') }), 403, 'ERR_CAVEAT_FAILED', state.ran, onlyTen);
    expect(body.error.details?.reason).toBe('request has no client IP');
  });

  it('takes the address the trusted proxy saw, never the client-supplied entries', async () => {
    const { app: a, state } = app({ clientIp: { from: 'x-forwarded-for', trustedProxies: 1 } });
    expect((await a.request('/docs/a', { headers: headers('192.168.0.9, 10.0.0.1') })).status).toBe(200);
    expect((await a.request('/docs/a', { headers: headers('10.0.0.1, 192.168.0.9') })).status).toBe(403);
    expect((await a.request('/docs/a', { headers: headers('10.0.0.1, not-an-ip') })).status).toBe(403);
    expect(state.ran).toBe(1);
    const two = app({ clientIp: { from: 'x-forwarded-for', trustedProxies: 2 } });
    expect((await two.app.request('/docs/a', { headers: headers('10.0.0.1, 192.168.0.9') })).status).toBe(200);
    expect((await two.app.request('/docs/a', { headers: headers('10.0.0.1') })).status).toBe(403);
  });

  it('uses an injected source', async () => {
    const { app: a } = app({ clientIp: () => '10.9.9.9' });
    expect((await a.request('/docs/a', { headers: auth(`Macaroon ${onlyTen}`) })).status).toBe(200);
  });

  it('reads the TCP peer through @hono/node-server on a real socket (nodeClientIp; the default of tessera/hono/node)', async () => {
    const loopbackOnly = readDocs.addFirstPartyCaveat(caveat.clientIp(['127.0.0.0/8'])).encode();
    const { app: viaOption, state } = app({ clientIp: nodeClientIp });
    const viaDefault = new Hono().use('/docs/*', nodeMacaroonAuth({ verifier, context: () => ({ operation: 'read' }) })).get('/docs/*', (c) => c.text('ok'));
    const viaDefaultNoIp = new Hono().use('/docs/*', nodeMacaroonAuth({ verifier, context: () => ({ operation: 'read' }), clientIp: () => undefined })).get('/docs/*', (c) => c.text('ok'));
    const servers = [viaOption, viaDefault, viaDefaultNoIp].map((a) => serve({ fetch: a.fetch, hostname: '127.0.0.1', port: 0 }));
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.once('listening', resolve))));
    try {
      const [option, byDefault, none] = servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      expect((await fetch(`${option}/docs/a`, { headers: auth(`Macaroon ${loopbackOnly}`) })).status).toBe(200);
      expect((await fetch(`${option}/docs/a`, { headers: headers('10.0.0.1') })).status).toBe(403);
      expect(state.ran).toBe(1);
      expect((await fetch(`${byDefault}/docs/a`, { headers: auth(`Macaroon ${loopbackOnly}`) })).status).toBe(200);
      expect((await fetch(`${none}/docs/a`, { headers: auth(`Macaroon ${loopbackOnly}`) })).status).toBe(403);
    } finally {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});

describe('macaroonAuth: options and types', () => {
  it('validates options once, in the factory', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { verifier: {} },
      { verifier, context: 'x' },
      { verifier, maxDischarges: 0 },
      { verifier, maxHeaderLength: 1.5 },
      { verifier, clientIp: { from: 'x-forwarded-for', trustedProxies: 0 } },
      { verifier, clientIp: { from: 'header' } },
      { verifier, clientIp: { from: 'socket' } },
      { verifier, realm: 3 },
    ];
    for (const options of bad) {
      expect(() => macaroonAuth(options as MacaroonAuthOptions)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
    expect(macaroonAuth({ verifier }).name).toBe('macaroonAuth');
  });

  it('types c.get("tessera") as Verified, and parses headers without hono', () => {
    new Hono().get('/', (c) => {
      expectTypeOf(c.get('tessera')).toEqualTypeOf<Verified>();
      return c.text('');
    });
    expect(parseAuthorization('bearer a,b', { maxHeaderLength: 10, maxDischarges: 1 })).toEqual({ token: 'a', discharges: ['b'] });
    const bounds = { maxHeaderLength: 20, maxDischarges: 2 };
    expect(parseAuthorization('Macaroon a,b,c', bounds).discharges).toEqual(['b', 'c']);
    expect(() => parseAuthorization('Macaroon a,b,c,d', bounds)).toThrow(expect.objectContaining({ code: 'ERR_LIMIT' }));
    expect(parseAuthorization(`Macaroon ${'a'.repeat(11)}`, bounds).token).toHaveLength(11);
    expect(() => parseAuthorization(`Macaroon ${'a'.repeat(12)}`, bounds)).toThrow(expect.objectContaining({ code: 'ERR_LIMIT' }));
  });
});
