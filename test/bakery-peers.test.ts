/**
 * Macaroons as the peers write them, from test/fixtures/bakery/peers.json (made by the real Go
 * and Python libraries: test/fixtures/bakery/generate.sh). No peer library is needed here.
 */
import { describe, expect, it } from 'vitest';
import { Macaroon, verifySignature } from '../src/index.js';
import { peers } from './support/bakery-peers.js';

const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));

describe('V2 JSON as go-macaroon and pymacaroons write it', () => {
  for (const [peer, fixture] of [['go', peers.go], ['python', peers.python]] as const) {
    for (const m of fixture.macaroons) {
      it(`${peer}: ${m.name}, without "v", is the same macaroon as its binary form and verifies`, () => {
        expect(JSON.parse(m.json)).not.toHaveProperty('v');
        const fromJson = Macaroon.decode(m.json);
        expect(fromJson.toBytes()).toEqual(Macaroon.decode(m.v2).toBytes());
        if (fromJson.caveats.every((c) => c.text !== undefined)) {
          const [verified] = verifySignature(fromJson, bytes(m.rootKey));
          expect(verified?.conditions.length).toBe(fromJson.caveats.length);
        } else {
          // A binary condition fails closed, and only once the chain has verified.
          expect(() => verifySignature(fromJson, bytes(m.rootKey))).toThrow(/not valid UTF-8/);
          expect(() => verifySignature(fromJson, new Uint8Array(32))).toThrow(/signature does not verify/);
        }
        // With "v": 2 added it is the same macaroon; any other "v" fails closed.
        const withV = { v: 2, ...(JSON.parse(m.json) as object) };
        expect(Macaroon.decode(JSON.stringify(withV)).toBytes()).toEqual(fromJson.toBytes());
        expect(() => Macaroon.decode(JSON.stringify({ ...withV, v: 1 }))).toThrow(/"v" must be 2/);
      });
    }
    it(`${peer}: the macaroon inside a bakery v3 macaroon ("m") decodes, third-party caveat included`, () => {
      const bakery = fixture.bakery.find((b) => b.version === 3);
      const m = Macaroon.decode((JSON.parse(bakery?.bakeryJSON ?? '{}') as { m: object }).m as never);
      const third = m.caveats.find((c) => c.thirdParty);
      expect(third?.location).toBe(peers.discharger.location);
      expect(third?.identifier).toEqual(new Uint8Array([3, 0])); // v3: a short id, the ticket travels apart
    });
  }

  it('fails closed on ambiguous peer JSON: both spellings of a field, or unknown fields', () => {
    const m = JSON.parse(peers.python.macaroons[0]?.json ?? '{}') as Record<string, unknown>;
    expect(() => Macaroon.decode(JSON.stringify({ ...m, i64: 'eA' }))).toThrow(/both "i" and "i64"/);
    expect(() => Macaroon.decode(JSON.stringify({ ...m, identifier: 'x' }))).toThrow(/unknown field/);
    expect(() => Macaroon.decode(JSON.stringify({ ...m, c: [{ i: 'x', cid: 'y' }] }))).toThrow(/unknown field/);
  });
});
