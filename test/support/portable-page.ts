/**
 * What test/portable.test.ts runs inside a browser page: bundled by esbuild for `platform:
 * 'browser'` from the portable entry points only (tessera, /caveats, /verifier, /client, /hono,
 * /tickets, /errors), it exercises them with Web APIs alone and reports plain JSON for the test
 * to judge. Nothing here may import Node: the bundle would not build.
 */
import { Hono } from 'hono';
import { caveat } from '../../caveats/index.js';
import { addDischargeCaveat, authorizationHeader } from '../../src/client/index.js';
import { isTesseraError } from '../../src/errors.js';
import { macaroonAuth } from '../../src/hono/index.js';
import { Macaroon, verifySignature } from '../../src/index.js';
import { decodeTicket, generateDischargerKeyPair } from '../../src/tickets/index.js';
import { Verifier } from '../../src/verifier/index.js';
import type { Vectors } from './vectors.js';

export interface VectorResult {
  readonly signature: string;
  readonly v1: string;
  readonly v2: string;
  /** The V2 text decoded and encoded again, and the conditions verifySignature returned. */
  readonly decodedV2: string;
  readonly verifiedConditions: readonly string[];
}

export interface PortableReport {
  /** Facts about the page itself, so the test can tell it really ran in a browser. */
  readonly userAgent: string;
  readonly hasProcess: boolean;
  readonly hasBuffer: boolean;
  readonly vectors: readonly VectorResult[];
  readonly boundDischarge: { readonly signature: string; readonly v2: string; readonly verified: readonly (readonly string[])[] };
  readonly attenuation: { readonly allowed: readonly string[]; readonly refused: { readonly code: string; readonly caveat: unknown } };
  readonly thirdParty: { readonly condition: string; readonly declared: Record<string, string>; readonly caveats: readonly string[]; readonly withoutDischarge: string };
  readonly hono: readonly { readonly status: number; readonly body: string; readonly wwwAuthenticate: string | null }[];
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function errorCode(run: () => Promise<unknown>): Promise<{ code: string; caveat: unknown }> {
  try {
    await run();
    return { code: 'none', caveat: undefined };
  } catch (e) {
    return isTesseraError(e) ? { code: e.code, caveat: e.details.caveat } : { code: `not a TesseraError: ${String(e)}`, caveat: undefined };
  }
}

export async function runPortableChecks(vectors: Vectors): Promise<PortableReport> {
  // 1. The published vectors: mint, attenuate, encode, decode, verify.
  const vectorResults = vectors.firstParty.map((v): VectorResult => {
    const minted = v.caveats.reduce((m, c) => m.addFirstPartyCaveat(c), Macaroon.mint({ rootKey: v.rootKey, identifier: v.identifier, location: v.location }));
    const decoded = Macaroon.decode(v.v2);
    return {
      signature: hex(minted.signature),
      v1: minted.encode('v1'),
      v2: minted.encode('v2'),
      decodedV2: decoded.encode(),
      verifiedConditions: verifySignature(decoded, v.rootKey)[0]?.conditions ?? [],
    };
  });
  const tp = vectors.thirdParty[0]!;
  const bound = Macaroon.decode(tp.v2).bindForRequest(Macaroon.decode(tp.discharge.v2));
  const boundDischarge = {
    signature: hex(bound.signature),
    v2: bound.encode(),
    verified: verifySignature(Macaroon.decode(tp.v2), tp.rootKey, [bound]).map((m) => m.conditions),
  };

  // 2. Attenuation offline, then a full Verifier.verify with caveats.
  const rootKey = { raw: crypto.getRandomValues(new Uint8Array(32)) };
  const token = Macaroon.mint({ rootKey, identifier: 'browser-1', location: 'https://docs.example' })
    .addFirstPartyCaveat(caveat.timeBefore(new Date(Date.now() + 30 * 60_000)))
    .addFirstPartyCaveat(caveat.ops(['read']))
    .addFirstPartyCaveat(caveat.resource('/docs/**'))
    .addFirstPartyCaveat(caveat.clientIp(['10.0.0.0/8']));
  const verifier = new Verifier({ rootKeyFor: (id) => (new TextDecoder().decode(id) === 'browser-1' ? rootKey : undefined) });
  const encoded = token.encode();
  const ok = await verifier.verify(encoded, { context: { operation: 'read', resource: '/docs/a.md', ip: '10.1.2.3' } });
  const refused = await errorCode(() => verifier.verify(encoded, { context: { operation: 'write', resource: '/docs/a.md', ip: '10.1.2.3' } }));

  // 3. A third-party caveat sealed for the discharger's public key; the discharger opens it and
  //    mints the discharge; the holder binds it; the verifier checks both chains.
  const discharger = generateDischargerKeyPair();
  const withThirdParty = addDischargeCaveat(token, { location: 'https://discharger.example', publicKey: discharger.publicKey, condition: 'approve group:ops read the docs' });
  const ticket = withThirdParty.caveats.find((c) => c.thirdParty)!.identifier;
  const opened = decodeTicket(ticket, discharger.privateKey);
  const discharge = Macaroon.mint({ rootKey: opened.caveatKey, identifier: ticket, location: 'https://discharger.example' })
    .addFirstPartyCaveat(caveat.declared('approved-by', 'alice'));
  const boundToken = withThirdParty.bindForRequest(discharge);
  const context = { operation: 'read', resource: '/docs/a.md', ip: '10.1.2.3' };
  const approved = await verifier.verify(withThirdParty.encode(), { discharges: [boundToken.encode()], context });
  const withoutDischarge = await errorCode(() => verifier.verify(withThirdParty.encode(), { context }));

  // 4. A hono app behind macaroonAuth, answering through app.fetch in this page.
  const app = new Hono();
  app.use('/docs/*', macaroonAuth({ verifier, clientIp: (c) => c.req.header('x-test-ip'), context: (c) => ({ operation: c.req.method === 'GET' ? 'read' : 'write' }) }));
  app.get('/docs/*', (c) => c.text(`hello ${c.get('tessera').identifierText ?? ''}`));
  const ask = async (path: string, headers: Record<string, string>, method = 'GET') => {
    const res = await app.fetch(new Request(`https://docs.example${path}`, { method, headers }));
    return { status: res.status, body: await res.text(), wwwAuthenticate: res.headers.get('www-authenticate') };
  };
  const hono = [
    await ask('/docs/a.md', { authorization: authorizationHeader(withThirdParty, [boundToken]), 'x-test-ip': '10.0.0.1' }),
    await ask('/docs/a.md', { authorization: `Macaroon ${encoded}`, 'x-test-ip': '192.168.0.1' }),
    await ask('/docs/a.md', {}),
    await ask('/docs/a.md', { authorization: `Macaroon ${encoded}`, 'x-test-ip': '10.0.0.1' }, 'DELETE'),
  ];

  return {
    userAgent: navigator.userAgent,
    hasProcess: typeof (globalThis as { process?: unknown }).process !== 'undefined',
    hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== 'undefined',
    vectors: vectorResults,
    boundDischarge,
    attenuation: { allowed: ok.caveats, refused },
    thirdParty: { condition: opened.condition, declared: Object.fromEntries(approved.declared), caveats: approved.caveats, withoutDischarge: withoutDischarge.code },
    hono,
  };
}

// Exposed for the page: the test calls it with page.evaluate.
(globalThis as { runPortableChecks?: typeof runPortableChecks }).runPortableChecks = runPortableChecks;
