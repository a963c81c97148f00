/**
 * Published vectors from libmacaroons, go-macaroon and js-macaroon (test/fixtures/macaroons.json):
 * every signature and every encoding must reproduce byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { Macaroon, TesseraError, bindSignature, verifySignature } from '../src/index.js';
import { addThirdPartyCaveatWithNonce } from '../src/macaroon/macaroon.js';
import { fromHex, hex, vectors } from './support/vectors.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('first-party vectors', () => {
  for (const [i, v] of vectors.firstParty.entries()) {
    describe(`#${i} ${v.source} (${v.caveats.length} caveats)`, () => {
      const minted = v.caveats.reduce(
        (m, c) => m.addFirstPartyCaveat(c),
        Macaroon.mint({ rootKey: v.rootKey, identifier: v.identifier, location: v.location }),
      );

      it('reproduces the signature', () => expect(hex(minted.signature)).toBe(v.signature));
      it('encodes V1 exactly', () => expect(minted.encode('v1')).toBe(v.v1));
      it('encodes V2 exactly (the default)', () => {
        expect(minted.encode('v2')).toBe(v.v2);
        expect(minted.encode()).toBe(v.v2);
      });

      for (const [format, text] of [['v1', v.v1], ['v2', v.v2]] as const) {
        it(`decodes ${format} back to the same macaroon`, () => {
          const m = Macaroon.decode(text);
          expect(m.location).toBe(v.location);
          expect(m.identifierText).toBe(v.identifier);
          expect(m.caveats.map((c) => c.text)).toEqual(v.caveats);
          expect(hex(m.signature)).toBe(v.signature);
          expect(m.encode('v2')).toBe(v.v2);
          expect(m.encode('v1')).toBe(v.v1);
        });
      }

      it('decodes the padded standard-alphabet spelling too', () => {
        const std = Buffer.from(v.v2, 'base64url').toString('base64');
        expect(Macaroon.decode(std).encode()).toBe(v.v2);
      });

      it('round-trips through V2 JSON and verifies with its key', () => {
        const m = Macaroon.decode(minted.encode('json'));
        expect(m.encode()).toBe(v.v2);
        const [primary] = verifySignature(m, v.rootKey);
        expect(primary?.conditions).toEqual(v.caveats);
      });
    });
  }
});

describe('verifier outcomes (libmacaroons satisfy_exact)', () => {
  for (const v of vectors.verifierOutcomes) {
    it(`${v.macaroon} with key "${v.rootKey}" satisfying [${v.satisfy.join('; ')}] -> ${v.authorized ? 'authorized' : 'refused'}`, () => {
      const authorized = (() => {
        try {
          const verified = verifySignature(Macaroon.decode(v.v2), v.rootKey);
          return verified.every((m) => m.conditions.every((c) => v.satisfy.includes(c)));
        } catch (e) {
          expect(e).toBeInstanceOf(TesseraError);
          expect((e as TesseraError).code).toBe('ERR_SIGNATURE');
          return false;
        }
      })();
      expect(authorized).toBe(v.authorized);
    });
  }
});

describe('third-party vector', () => {
  const v = vectors.thirdParty[0]!;
  const tp = v.thirdPartyCaveat;
  const afterFirst = Macaroon.mint({ rootKey: v.rootKey, identifier: v.identifier, location: v.location }).addFirstPartyCaveat(v.firstPartyCaveat);
  const withThird = addThirdPartyCaveatWithNonce(afterFirst, { caveatKey: tp.caveatKey, identifier: tp.caveatId, location: tp.location }, fromHex(tp.nonceHex));
  const discharge = Macaroon.mint({ rootKey: v.discharge.rootKey, identifier: v.discharge.identifier, location: v.discharge.location }).addFirstPartyCaveat(v.discharge.caveats[0]!);

  it('reproduces the signature after the first-party caveat', () => expect(hex(afterFirst.signature)).toBe(v.signatureAfterFirstParty));
  it('reproduces the vid with the zero nonce', () => expect(Buffer.from(withThird.caveats[1]!.verificationId!).toString('base64url')).toBe(tp.vid));
  it('reproduces the signature and both encodings', () => {
    expect(hex(withThird.signature)).toBe(v.signature);
    expect(withThird.encode('v1')).toBe(v.v1);
    expect(withThird.encode('v2')).toBe(v.v2);
  });
  it('reproduces the discharge and its binding', () => {
    expect(hex(discharge.signature)).toBe(v.discharge.signature);
    expect(discharge.encode()).toBe(v.discharge.v2);
    const bound = withThird.bindForRequest(discharge);
    expect(hex(bound.signature)).toBe(v.discharge.boundSignature);
    expect(bound.encode()).toBe(v.discharge.boundV2);
  });
  it('decodes the third-party caveat from V1 and V2', () => {
    for (const text of [v.v1, v.v2]) {
      const c = Macaroon.decode(text).caveats[1]!;
      expect(c.thirdParty).toBe(true);
      expect(c.location).toBe(tp.location);
      expect(c.text).toBe(tp.caveatId);
      expect(Buffer.from(c.verificationId!).toString('base64url')).toBe(tp.vid);
    }
  });
  it('verifies with the bound discharge and returns both sets of conditions', () => {
    const verified = verifySignature(Macaroon.decode(v.v2), v.rootKey, [Macaroon.decode(v.discharge.boundV2)]);
    expect(verified.map((m) => [m.discharge, m.conditions])).toEqual([
      [false, [v.firstPartyCaveat]],
      [true, v.discharge.caveats],
    ]);
  });
  it('refuses the unbound discharge', () => {
    expect(() => verifySignature(withThird, v.rootKey, [discharge])).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE' }));
  });
});

describe('binding vector (js-macaroon)', () => {
  for (const v of vectors.bind) {
    it(v.source, () => {
      expect(hex(bindSignature(utf8(v.rootSignatureUtf8), fromHex(v.dischargeSignature)))).toBe(v.bound);
    });
  }
});
