/**
 * Property tests (fast-check): every format round-trips arbitrary tokens; no single-bit or
 * single-byte change of a token's V2 or V1 binary form yields a token that still verifies; and
 * arbitrary or mutated input to Macaroon.decode only ever raises TesseraError.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha256, hmacSha256OfPair } from '../src/crypto/hmac.js';
import { Macaroon, TesseraError, verifySignature, type EncodedMacaroon, type Format, type KeyInput } from '../src/index.js';
import { expectTesseraError, outcome } from './support/macaroon-test-utils.js';
import { runs } from './support/property.js';

/** Any text UTF-8 can carry (lone surrogates are refused at mint time, see the last block). */
const text = (minLength = 0) => fc.string({ unit: 'binary', minLength, maxLength: 24 }).filter((s) => s.isWellFormed());
const bytesOrText = (minLength: number) => fc.oneof(fc.uint8Array({ minLength, maxLength: 40 }), text(minLength));
/** Text with at least one unpaired surrogate (fast-check's string units never produce one). */
const illFormed = fc
  .tuple(text(), fc.integer({ min: 0xd800, max: 0xdfff }), text())
  .map(([a, unit, b]) => a + String.fromCharCode(unit) + b)
  .filter((s) => !s.isWellFormed());
const key: fc.Arbitrary<KeyInput> = fc.oneof(text(), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((raw) => ({ raw })));

type CaveatSpec = { kind: 'first'; condition: string | Uint8Array } | { kind: 'third'; caveatKey: KeyInput; identifier: string | Uint8Array; location: string };
interface TokenSpec {
  rootKey: KeyInput;
  identifier: string | Uint8Array;
  location: string | undefined;
  caveats: CaveatSpec[];
}
const caveatSpec: fc.Arbitrary<CaveatSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('first' as const), condition: bytesOrText(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('third' as const), caveatKey: key, identifier: bytesOrText(1), location: text() }) },
);
/**
 * Tokens from arbitrary specs. `withLocations: false` leaves out every location (they are hints
 * outside the chain); `textConditions` keeps first-party conditions UTF-8, the only kind
 * verifySignature accepts (a binary condition fails closed with ERR_MALFORMED).
 */
const tokenSpec = ({ withLocations, textConditions }: { withLocations: boolean; textConditions: boolean }): fc.Arbitrary<TokenSpec> =>
  fc.record({
    rootKey: key,
    identifier: bytesOrText(0),
    location: withLocations ? fc.option(text(), { nil: undefined }) : fc.constant(undefined),
    caveats: fc.array(
      caveatSpec
        .map((c) => (c.kind === 'third' && !withLocations ? { ...c, location: '' } : c))
        .filter((c) => !textConditions || c.kind === 'third' || typeof c.condition === 'string'),
      { maxLength: 6 },
    ),
  });
const isText = (b: Uint8Array): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

/** The token, and every discharge it needs, bound to it (discharges carry a caveat of their own). */
function build(spec: TokenSpec): { primary: Macaroon; discharges: Macaroon[] } {
  let primary = Macaroon.mint({ rootKey: spec.rootKey, identifier: spec.identifier, ...(spec.location !== undefined ? { location: spec.location } : {}) });
  const raw: Macaroon[] = [];
  spec.caveats.forEach((c, i) => {
    if (c.kind === 'first') {
      primary = primary.addFirstPartyCaveat(c.condition);
      return;
    }
    // Caveat ids must be distinct for discharges to be told apart: prefix the index.
    const identifier = typeof c.identifier === 'string' ? `${i}:${c.identifier}` : Uint8Array.of(i, ...c.identifier);
    primary = primary.addThirdPartyCaveat({ caveatKey: c.caveatKey, identifier, location: c.location });
    raw.push(Macaroon.mint({ rootKey: c.caveatKey, identifier }).addFirstPartyCaveat(`discharged ${i}`));
  });
  const p = primary;
  return { primary: p, discharges: raw.map((d) => p.bindForRequest(d)) };
}

const same = (a: Macaroon, b: Macaroon): void => {
  expect(Buffer.from(b.identifier)).toEqual(Buffer.from(a.identifier));
  expect(Buffer.from(b.signature)).toEqual(Buffer.from(a.signature));
  expect(b.location).toBe(a.location);
  expect(b.caveats.length).toBe(a.caveats.length);
  a.caveats.forEach((c, i) => {
    const d = b.caveats[i]!;
    expect(Buffer.from(d.identifier)).toEqual(Buffer.from(c.identifier));
    expect(d.thirdParty).toBe(c.thirdParty);
    expect(d.verificationId === undefined ? undefined : Buffer.from(d.verificationId)).toEqual(c.verificationId === undefined ? undefined : Buffer.from(c.verificationId));
    expect(d.location).toBe(c.location);
  });
};

/** Decode, then check the chain: anything but success must be a TesseraError. */
function decodesAndVerifies(input: EncodedMacaroon, rootKey: KeyInput, discharges: readonly Macaroon[]): boolean {
  let m: Macaroon;
  try {
    m = Macaroon.decode(input);
  } catch (e) {
    if (e instanceof TesseraError) return false;
    throw e;
  }
  try {
    verifySignature(m, rootKey, discharges);
    return true;
  } catch (e) {
    if (e instanceof TesseraError) return false;
    throw e;
  }
}

describe('the chain primitive', () => {
  it('hmacSha256 and hmacSha256OfPair equal @noble/hashes hmac for any key and message length', () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    const noble = (k: Uint8Array, m: Uint8Array): Uint8Array => hmac(sha256, k, m);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 80 }), (k, a, b) => {
        expect(hex(hmacSha256(k, a))).toBe(hex(noble(k, a)));
        const out = new Uint8Array(40).fill(9);
        hmacSha256(k, a, out.subarray(4, 36));
        expect(hex(out.subarray(4, 36))).toBe(hex(noble(k, a)));
        expect(out[3]).toBe(9);
        expect(out[36]).toBe(9);
        const pair = new Uint8Array(64);
        pair.set(noble(k, a), 0);
        pair.set(noble(k, b), 32);
        expect(hex(hmacSha256OfPair(k, a, b))).toBe(hex(noble(k, pair)));
      }),
      runs(200),
    );
    // Every length around the block and padding boundaries, for 32-byte and long keys.
    for (const k of [new Uint8Array(32).fill(7), new Uint8Array(64).fill(8), new Uint8Array(65).fill(9)]) {
      for (let n = 0; n <= 130; n++) {
        const m = Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff);
        expect(hex(hmacSha256(k, m))).toBe(hex(noble(k, m)));
      }
    }
  });
});

describe('round trips', () => {
  for (const format of ['v2', 'v1', 'json'] as const satisfies readonly Format[]) {
    it(`${format}: decode(encode(m)) is m, verifies, and re-encodes identically`, () => {
      fc.assert(
        fc.property(tokenSpec({ withLocations: true, textConditions: false }), (spec) => {
          const { primary, discharges } = build(spec);
          const encoded = primary.encode(format);
          const back = Macaroon.decode(encoded);
          same(primary, back);
          expect(back.encode(format)).toBe(encoded);
          expect(back.encode('v2')).toBe(primary.encode('v2'));
          const conditions = back.caveats.filter((c) => !c.thirdParty);
          if (conditions.every((c) => isText(c.identifier))) {
            const verified = verifySignature(back, spec.rootKey, discharges);
            expect(verified).toHaveLength(1 + discharges.length);
            expect(verified[0]!.conditions).toEqual(conditions.map((c) => c.text));
          } else {
            expect(outcome(() => verifySignature(back, spec.rootKey, discharges))).toBe('ERR_MALFORMED');
          }
        }),
        runs(100),
      );
    });
  }

  it('binary, base64 in both alphabets (padded or not) and the JSON object all decode to the same token', () => {
    fc.assert(
      fc.property(tokenSpec({ withLocations: true, textConditions: false }), (spec) => {
        const { primary } = build(spec);
        const bytes = primary.toBytes();
        const std = Buffer.from(bytes).toString('base64');
        for (const input of [bytes, std, std.replace(/=+$/, ''), primary.encode('v2'), primary.toJSONObject(), JSON.parse(primary.encode('json')) as EncodedMacaroon]) {
          expect(Macaroon.decode(input).encode()).toBe(primary.encode());
        }
      }),
      runs(100),
    );
  });
});

describe('no single change to the binary form still verifies', () => {
  // Locations are hints outside the HMAC chain (as in every macaroon library), so these tokens
  // have none: then every byte of the encoding is either structure or signed content.
  const fixed = build({
    rootKey: 'mutation root key',
    identifier: 'mutation-id',
    location: undefined,
    caveats: [
      { kind: 'first', condition: 'a = 1' },
      { kind: 'third', caveatKey: 'ck', identifier: 'tp', location: '' },
      { kind: 'first', condition: 'b = \n\u0000 2' },
    ],
  });
  const forms = {
    v2: fixed.primary.toBytes(),
    v1: new Uint8Array(Buffer.from(fixed.primary.encode('v1'), 'base64url')),
  };

  for (const [format, bytes] of Object.entries(forms)) {
    it(`${format}: the untouched form verifies; each of its ${bytes.length * 8} single-bit flips does not`, () => {
      expect(decodesAndVerifies(bytes, 'mutation root key', fixed.discharges)).toBe(true);
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const mutated = bytes.slice();
          mutated[i] = (mutated[i] as number) ^ (1 << bit);
          if (decodesAndVerifies(mutated, 'mutation root key', fixed.discharges)) throw new Error(`${format}: flipping bit ${bit} of byte ${i} still verifies`);
        }
      }
    });
  }

  for (const format of ['v2', 'v1'] as const) {
    it(`${format}: any byte replaced by any other value, in arbitrary tokens, never verifies`, () => {
      fc.assert(
        fc.property(tokenSpec({ withLocations: false, textConditions: true }), fc.nat(), fc.integer({ min: 1, max: 255 }), (spec, at, delta) => {
          const { primary, discharges } = build(spec);
          const bytes = format === 'v2' ? primary.toBytes() : new Uint8Array(Buffer.from(primary.encode('v1'), 'base64url'));
          expect(decodesAndVerifies(bytes, spec.rootKey, discharges)).toBe(true);
          const mutated = bytes.slice();
          const i = at % bytes.length;
          mutated[i] = ((mutated[i] as number) + delta) & 0xff;
          expect(decodesAndVerifies(mutated, spec.rootKey, discharges)).toBe(false);
          expect(decodesAndVerifies(Buffer.from(mutated).toString('base64url'), spec.rootKey, discharges)).toBe(false);
        }),
        runs(300),
      );
    });
  }
});

describe('hostile input only ever raises TesseraError', () => {
  /** decode must return a Macaroon or throw a TesseraError, never anything else. */
  const decodeOrTesseraError = (input: unknown): void => {
    try {
      expect(Macaroon.decode(input as EncodedMacaroon)).toBeInstanceOf(Macaroon);
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
    }
  };
  const valid = build({
    rootKey: 'k',
    identifier: 'hostile-id',
    location: 'https://loc.example',
    caveats: [
      { kind: 'first', condition: 'x = 1' },
      { kind: 'third', caveatKey: 'ck', identifier: 'tp', location: 'https://tp.example' },
    ],
  }).primary;

  it('random bytes, with and without a V2 or V1 lead byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom([], [2], [2, 2], [0x30, 0x30], [0x7b]), (bytes, lead) => {
        decodeOrTesseraError(Uint8Array.of(...lead, ...bytes));
      }),
      runs(1000),
    );
  });

  it('valid binary with random splices, insertions and deletions', () => {
    const forms = [valid.toBytes(), new Uint8Array(Buffer.from(valid.encode('v1'), 'base64url')), new TextEncoder().encode(valid.encode('json'))];
    fc.assert(
      fc.property(fc.constantFrom(...forms), fc.nat(), fc.nat({ max: 20 }), fc.uint8Array({ maxLength: 12 }), (form, at, drop, insert) => {
        const i = at % (form.length + 1);
        decodeOrTesseraError(Uint8Array.of(...form.subarray(0, i), ...insert, ...form.subarray(Math.min(form.length, i + drop))));
      }),
      runs(1000),
    );
  });

  it('random strings and mutated base64 / JSON text', () => {
    const texts = [valid.encode('v2'), valid.encode('v1'), valid.encode('json'), Buffer.from(valid.toBytes()).toString('base64')];
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => decodeOrTesseraError(s)),
      runs(500),
    );
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: 'binary-ascii', maxLength: 6 }), (t, at, drop, insert) => {
        const i = at % (t.length + 1);
        decodeOrTesseraError(t.slice(0, i) + insert + t.slice(i + drop));
      }),
      runs(1000),
    );
  });

  it('random JSON values, as objects and as text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        decodeOrTesseraError(value);
        decodeOrTesseraError(JSON.stringify(value) ?? '');
      }),
      runs(500),
    );
  });

  it('objects shaped almost like macaroon JSON', () => {
    const b64 = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url'));
    const field = fc.oneof(fc.jsonValue(), b64, fc.constant(2), fc.string({ unit: 'binary', maxLength: 8 }));
    const keys = fc.constantFrom('v', 'i', 'i64', 's', 's64', 'l', 'c', 'v64', 'x');
    const caveat = fc.dictionary(keys, field, { maxKeys: 4 });
    const obj = fc.record({
      v: fc.constantFrom(2, 1, '2', undefined),
      rest: fc.dictionary(keys, field, { maxKeys: 5 }),
      c: fc.option(fc.array(fc.oneof(caveat, fc.jsonValue()), { maxLength: 4 }), { nil: undefined }),
      s64: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')), { nil: undefined }),
    });
    fc.assert(
      fc.property(obj, ({ v, rest, c, s64 }) => {
        const candidate = { ...rest, ...(v !== undefined ? { v } : {}), ...(c !== undefined ? { c } : {}), ...(s64 !== undefined ? { s64 } : {}) };
        decodeOrTesseraError(candidate);
        decodeOrTesseraError(JSON.stringify(candidate));
      }),
      runs(1000),
    );
  });

  it('any JavaScript value at all (sparse arrays, null prototypes, typed arrays, boxed values…)', () => {
    const anything = fc.anything({
      withSparseArray: true,
      withNullPrototype: true,
      withMap: true,
      withSet: true,
      withBoxedValues: true,
      withTypedArray: true,
      withBigInt: true,
      withDate: true,
      withObjectString: true,
      stringUnit: 'binary',
    });
    fc.assert(fc.property(anything, (value) => decodeOrTesseraError(value)), runs(500));
  });

  it('pathological but bounded inputs finish quickly', () => {
    const start = performance.now();
    const half = 8000;
    const cases: unknown[] = [
      `{"a":${'['.repeat(half)}${']'.repeat(half)}}`,
      `{"v":2,"c":[${Array.from({ length: 3000 }, () => '{}').join(',')}]}`,
      `{${Array.from({ length: 2500 }, (_, i) => `"k${i}":1`).join(',')}}`,
      'A'.repeat(21000),
      `${'='.repeat(20000)}`,
      Uint8Array.of(2, ...new Array<number>(16000).fill(0x80)),
      new Uint8Array(16384).fill(0x30),
    ];
    for (const c of cases) decodeOrTesseraError(c);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('minting refuses text that UTF-8 cannot carry', () => {
  it('lone surrogates in identifiers, conditions and locations are ERR_INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(illFormed, (bad) => {
        expectTesseraError(() => Macaroon.mint({ rootKey: 'k', identifier: bad }), 'ERR_INVALID_ARGUMENT');
        expectTesseraError(() => Macaroon.mint({ rootKey: 'k', identifier: 'id', location: bad }), 'ERR_INVALID_ARGUMENT');
        const m = Macaroon.mint({ rootKey: 'k', identifier: 'id' });
        expectTesseraError(() => m.addFirstPartyCaveat(bad), 'ERR_INVALID_ARGUMENT');
        expectTesseraError(() => m.addThirdPartyCaveat({ caveatKey: 'c', identifier: bad, location: 'l' }), 'ERR_INVALID_ARGUMENT');
        expectTesseraError(() => m.addThirdPartyCaveat({ caveatKey: 'c', identifier: 'tp', location: bad }), 'ERR_INVALID_ARGUMENT');
      }),
      runs(100),
    );
    // Everything well formed is accepted and survives every format.
    expect(outcome(() => Macaroon.decode(Macaroon.mint({ rootKey: 'k', identifier: '\u{1F600}', location: '\uFFFD' }).encode('json')))).toBe('ok');
  });
});
