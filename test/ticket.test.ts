import { readFileSync } from 'node:fs';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { bytesToHex, hexToBytes, u32, u8 } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TesseraError, isTesseraError, type ErrorCode } from '../src/errors.js';
import { box, boxBeforenm, boxOpen } from '../src/tickets/box.js';
import {
  TICKET_MAX_BYTES,
  decodeTicket,
  encodeTicket,
  generateDischargerKeyPair,
  type DecodedTicket,
} from '../src/tickets/ticket.js';
import { runs } from './support/property.js';

interface BakeryVectors {
  thirdPartyPrivateKey: string;
  thirdPartyPublicKey: string;
  firstPartyPrivateKey: string;
  firstPartyPublicKey: string;
  ids: { version: 2 | 3; id: string; rootKeyBase64: string; condition: string; namespace?: string }[];
}
const vectors = (
  JSON.parse(readFileSync(new URL('./fixtures/macaroons.json', import.meta.url), 'utf8')) as { bakeryCaveatIds: BakeryVectors }
).bakeryCaveatIds;

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const b64url = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64url'));
const tpSk = b64(vectors.thirdPartyPrivateKey);
const tpPk = b64(vectors.thirdPartyPublicKey);
const fpSk = b64(vectors.firstPartyPrivateKey);
const fpPk = b64(vectors.firstPartyPublicKey);

/** Run `f` and return the TesseraError code it throws; fail if it throws anything else or nothing. */
function errorCode(f: () => unknown): ErrorCode {
  try {
    f();
  } catch (e) {
    if (e instanceof TesseraError) return e.code;
    throw new Error(`threw a non-TesseraError: ${String(e)}`);
  }
  throw new Error('did not throw');
}

describe('NaCl crypto_box', () => {
  // RFC 7748 §6.1 key pairs, as used by the NaCl / libsodium box tests.
  const aliceSk = hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePk = hexToBytes('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const bobSk = hexToBytes('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPk = hexToBytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const nonce = hexToBytes('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
  // libsodium test/default/box.c message (after its 32 zero bytes) and box.exp ciphertext
  // (after its 16 zero bytes): tag(16) | ciphertext(131).
  const m = hexToBytes(
    'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c6129' +
      '6cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde' +
      '048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
  );
  const c = hexToBytes(
    'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186a' +
      'c0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae' +
      '90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5',
  );

  it('beforenm matches NaCl firstkey from both sides', () => {
    const expected = '1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389';
    expect(bytesToHex(boxBeforenm(bobPk, aliceSk))).toBe(expected);
    expect(bytesToHex(boxBeforenm(alicePk, bobSk))).toBe(expected);
  });

  it('seals the libsodium box.c vector exactly and opens it from the other side', () => {
    expect(bytesToHex(box(m, nonce, bobPk, aliceSk))).toBe(bytesToHex(c));
    expect(bytesToHex(boxOpen(c, nonce, alicePk, bobSk))).toBe(bytesToHex(m));
  });

  it('rejects a low-order public key like libsodium (small_order_p)', () => {
    const smallOrder = hexToBytes('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    expect(errorCode(() => box(m, nonce, smallOrder, aliceSk))).toBe('ERR_MALFORMED');
  });

  it('refuses altered, truncated or wrongly keyed boxes', () => {
    const altered = c.slice();
    altered[100] = (altered[100] ?? 0) ^ 1;
    expect(errorCode(() => boxOpen(altered, nonce, alicePk, bobSk))).toBe('ERR_MALFORMED');
    expect(errorCode(() => boxOpen(c.subarray(0, 15), nonce, alicePk, bobSk))).toBe('ERR_MALFORMED');
    expect(errorCode(() => boxOpen(c, nonce, bobPk, bobSk))).toBe('ERR_MALFORMED');
    expect(errorCode(() => boxOpen(c, nonce.subarray(1), alicePk, bobSk))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('bakery vectors', () => {
  it('the fixture key pairs are consistent', () => {
    expect(bytesToHex(x25519.getPublicKey(tpSk))).toBe(bytesToHex(tpPk));
    expect(bytesToHex(x25519.getPublicKey(fpSk))).toBe(bytesToHex(fpPk));
  });

  for (const v of vectors.ids) {
    describe(`version ${v.version}`, () => {
      const id = b64url(v.id);

      it('has the bakery header layout', () => {
        expect(id[0]).toBe(v.version);
        expect(bytesToHex(id.subarray(1, 5))).toBe(bytesToHex(tpPk.subarray(0, 4)));
        expect(bytesToHex(id.subarray(5, 37))).toBe(bytesToHex(fpPk));
      });

      it('decodes exactly, with and without the public key given', () => {
        const expected: DecodedTicket = {
          version: v.version,
          caveatKey: b64(v.rootKeyBase64),
          condition: v.condition,
          ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
          senderPublicKey: fpPk,
        };
        expect(decodeTicket(id, tpSk)).toEqual(expected);
        expect(decodeTicket(id, tpSk, tpPk)).toEqual(expected);
        expect(decodeTicket(id, tpSk).caveatKey).toHaveLength(24);
        if (v.version === 2) expect('namespace' in decodeTicket(id, tpSk)).toBe(false);
      });

      it('is reproduced byte for byte from the sender key and the nonce it carries', () => {
        const again = encodeTicket(
          {
            caveatKey: b64(v.rootKeyBase64),
            condition: v.condition,
            thirdPartyPublicKey: tpPk,
            version: v.version,
            ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
          },
          { senderPrivateKey: fpSk, nonce: id.slice(37, 61) },
        );
        expect(Buffer.from(again).toString('base64url')).toBe(v.id);
      });

      it('is refused by another discharger', () => {
        const other = generateDischargerKeyPair();
        expect(errorCode(() => decodeTicket(id, other.privateKey))).toBe('ERR_MALFORMED');
        // Same 4-byte prefix but the wrong private key: the box does not open.
        const samePrefix = Uint8Array.from([...tpPk.subarray(0, 4), ...other.publicKey.subarray(4)]);
        expect(errorCode(() => decodeTicket(id, other.privateKey, samePrefix))).toBe('ERR_MALFORMED');
      });
    });
  }
});

describe('encode / decode', () => {
  const discharger = generateDischargerKeyPair();

  it('generates X25519 key pairs', () => {
    expect(discharger.publicKey).toHaveLength(32);
    expect(discharger.privateKey).toHaveLength(32);
    expect(bytesToHex(x25519.getPublicKey(discharger.privateKey))).toBe(bytesToHex(discharger.publicKey));
    expect(bytesToHex(generateDischargerKeyPair().privateKey)).not.toBe(bytesToHex(discharger.privateKey));
  });

  it('round-trips v2 and v3 with random keys and any condition', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.constantFrom<2 | 3>(2, 3),
        fc.string({ maxLength: 40 }),
        (caveatKey, condition, version, ns) => {
          const namespace = version === 3 ? ns : undefined;
          const id = encodeTicket({
            caveatKey,
            condition,
            thirdPartyPublicKey: discharger.publicKey,
            version,
            ...(namespace === undefined ? {} : { namespace }),
          });
          const got = decodeTicket(id, discharger.privateKey);
          expect(got.version).toBe(version);
          expect(bytesToHex(got.caveatKey)).toBe(bytesToHex(caveatKey));
          expect(got.condition).toBe(condition);
          expect(got.namespace).toBe(namespace);
          expect(bytesToHex(got.senderPublicKey)).toBe(bytesToHex(id.subarray(5, 37)));
        },
      ),
      runs(60),
    );
  });

  it('keeps a leading BOM and NUL bytes in the condition', () => {
    const condition = '\uFEFFtime-before \u0000 2030';
    const id = encodeTicket({ caveatKey: new Uint8Array(32).fill(7), condition, thirdPartyPublicKey: discharger.publicKey });
    expect(decodeTicket(id, discharger.privateKey).condition).toBe(condition);
  });

  it('defaults to v2 and an empty v3 namespace', () => {
    const fields = { caveatKey: new Uint8Array(32), condition: 'c', thirdPartyPublicKey: discharger.publicKey };
    expect(encodeTicket(fields)[0]).toBe(2);
    expect(decodeTicket(encodeTicket({ ...fields, version: 3 }), discharger.privateKey).namespace).toBe('');
  });

  it('uses a fresh sender key and nonce for every ticket', () => {
    const fields = { caveatKey: new Uint8Array(32), condition: 'c', thirdPartyPublicKey: discharger.publicKey };
    const a = encodeTicket(fields);
    const b = encodeTicket(fields);
    expect(bytesToHex(a.subarray(5, 37))).not.toBe(bytesToHex(b.subarray(5, 37)));
    expect(bytesToHex(a.subarray(37, 61))).not.toBe(bytesToHex(b.subarray(37, 61)));
  });

  it('refuses bad arguments with ERR_INVALID_ARGUMENT', () => {
    const ok = { caveatKey: new Uint8Array(32), condition: 'c', thirdPartyPublicKey: discharger.publicKey };
    const bad: Parameters<typeof encodeTicket>[0][] = [
      { ...ok, caveatKey: new Uint8Array(15) },
      { ...ok, caveatKey: new Uint8Array(65) },
      { ...ok, thirdPartyPublicKey: new Uint8Array(31) },
      { ...ok, thirdPartyPublicKey: new Uint8Array(32) }, // low-order point: all-zero shared key
      { ...ok, condition: 'lone \uD800 surrogate' },
      { ...ok, namespace: 'std:' }, // v2 cannot carry a namespace
      { ...ok, version: 4 as 2 },
    ];
    for (const fields of bad) expect(errorCode(() => encodeTicket(fields))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCode(() => encodeTicket(ok, { nonce: new Uint8Array(23) }))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCode(() => encodeTicket(ok, { senderPrivateKey: new Uint8Array(16) }))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCode(() => decodeTicket('AvD-' as unknown as Uint8Array, discharger.privateKey))).toBe('ERR_INVALID_ARGUMENT');
    expect(errorCode(() => decodeTicket(new Uint8Array(100), new Uint8Array(31)))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('bounds the ticket size at encode and decode', () => {
    const ok = { caveatKey: new Uint8Array(32), thirdPartyPublicKey: discharger.publicKey };
    expect(errorCode(() => encodeTicket({ ...ok, condition: 'x'.repeat(TICKET_MAX_BYTES) }))).toBe('ERR_LIMIT');
    const largest = encodeTicket({ ...ok, condition: 'x'.repeat(TICKET_MAX_BYTES - 61 - 16 - 1 - 1 - 32) });
    expect(largest).toHaveLength(TICKET_MAX_BYTES);
    expect(decodeTicket(largest, discharger.privateKey).condition).toHaveLength(TICKET_MAX_BYTES - 111);
    const tooLarge = new Uint8Array(TICKET_MAX_BYTES + 1);
    tooLarge.set(largest);
    expect(errorCode(() => decodeTicket(tooLarge, discharger.privateKey))).toBe('ERR_LIMIT');
  });
});

describe('hostile tickets', () => {
  const discharger = generateDischargerKeyPair();
  const valid = encodeTicket({
    caveatKey: new Uint8Array(32).fill(9),
    condition: 'is-human',
    thirdPartyPublicKey: discharger.publicKey,
    version: 3,
    namespace: 'std:',
  });

  /** Seal an arbitrary secret part in a well-formed envelope, to reach the inner parser. */
  function sealSecret(secret: Uint8Array, version = 2): Uint8Array {
    const sender = generateDischargerKeyPair();
    const nonce = new Uint8Array(24).fill(1);
    return Uint8Array.from([
      version,
      ...discharger.publicKey.subarray(0, 4),
      ...sender.publicKey,
      ...nonce,
      ...box(secret, nonce, discharger.publicKey, sender.privateKey),
    ]);
  }
  const key = new Array<number>(32).fill(5);
  const decode = (id: Uint8Array) => () => decodeTicket(id, discharger.privateKey, discharger.publicKey);

  it('rejects empty, unknown-version and truncated tickets', () => {
    expect(errorCode(decode(new Uint8Array(0)))).toBe('ERR_MALFORMED');
    for (const version of [0, 1, 4, 0x65 /* 'e': bakery v1 JSON, not supported */, 255]) {
      const id = valid.slice();
      id[0] = version;
      expect(errorCode(decode(id))).toBe('ERR_MALFORMED');
    }
    for (const length of [1, 5, 37, 61, 77, 78, valid.length - 1]) {
      expect(errorCode(decode(valid.subarray(0, length)))).toBe('ERR_MALFORMED');
    }
  });

  it('rejects a public-key prefix for another discharger before opening anything', () => {
    const id = valid.slice();
    id[1] = (id[1] ?? 0) ^ 0x80;
    try {
      decode(id)();
      expect.unreachable();
    } catch (e) {
      expect(isTesseraError(e, 'ERR_MALFORMED')).toBe(true);
      expect((e as TesseraError).details.field).toBe('thirdPartyPublicKey');
    }
  });

  it('rejects trailing bytes (the box no longer authenticates)', () => {
    expect(errorCode(decode(Uint8Array.from([...valid, 0])))).toBe('ERR_MALFORMED');
  });

  it('accepts a hand-sealed well-formed secret (the harness below is sound)', () => {
    const id = sealSecret(Uint8Array.from([2, 32, ...key, ...Buffer.from('ok')]));
    expect(decodeTicket(id, discharger.privateKey).condition).toBe('ok');
    const id3 = sealSecret(Uint8Array.from([3, 32, ...key, 4, ...Buffer.from('std:ok')]), 3);
    expect(decodeTicket(id3, discharger.privateKey)).toMatchObject({ namespace: 'std:', condition: 'ok' });
  });

  it('rejects malformed secret parts inside an authentic box', () => {
    const cases: [string, Uint8Array, number?][] = [
      ['inner version differs from header', Uint8Array.from([3, 32, ...key, 0]), 2],
      ['inner version differs (v3 header)', Uint8Array.from([2, 32, ...key, 0]), 3],
      ['only a version byte', Uint8Array.from([2])],
      ['uvarint truncated', Uint8Array.from([2, 0x80])],
      ['uvarint over 32 bits', Uint8Array.from([2, 0x80, 0x80, 0x80, 0x80, 0x10, ...key])],
      ['uvarint longer than 5 bytes', Uint8Array.from([2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, ...key])],
      ['uvarint not minimal', Uint8Array.from([2, 0xa0, 0x00, ...key])],
      ['key length beyond the remaining bytes', Uint8Array.from([2, 33, ...key])],
      ['huge key length', Uint8Array.from([2, 0xff, 0xff, 0xff, 0xff, 0x0f, ...key])],
      ['key too short', Uint8Array.from([2, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x63])],
      ['empty key', Uint8Array.from([2, 0, 0x63])],
      ['condition not UTF-8', Uint8Array.from([2, 32, ...key, 0x63, 0xff])],
      ['condition overlong UTF-8', Uint8Array.from([2, 32, ...key, 0xc0, 0xaf])],
      ['condition is a UTF-8 surrogate', Uint8Array.from([2, 32, ...key, 0xed, 0xa0, 0x80])],
      ['v3 namespace length missing', Uint8Array.from([3, 32, ...key]), 3],
      ['v3 namespace beyond the end', Uint8Array.from([3, 32, ...key, 9, 0x73]), 3],
      ['v3 namespace not UTF-8', Uint8Array.from([3, 32, ...key, 1, 0xfe, 0x63]), 3],
    ];
    for (const [name, secret, version] of cases) {
      expect(errorCode(decode(sealSecret(secret, version ?? 2))), name).toBe('ERR_MALFORMED');
    }
  });

  it('rejects non-canonical spellings of the sender key that would still open', () => {
    const topBit = valid.slice();
    topBit[36] = (topBit[36] ?? 0) | 0x80; // x25519 ignores it: same shared key
    expect(errorCode(decode(topBit))).toBe('ERR_MALFORMED');
  });

  it('rejects an unreduced sender key (u + p) that would still open', () => {
    // With sender u = 9 (the base point), the discharger's shared secret is its own public key,
    // so a box can be sealed for that "sender" without knowing any sender private key.
    const sealFromBasePoint = (senderU: Uint8Array): Uint8Array => {
      const nonce = new Uint8Array(24).fill(3);
      const k = new Uint32Array(8);
      hsalsa(u32(Uint8Array.from(new TextEncoder().encode('expand 32-byte k'))), u32(Uint8Array.from(discharger.publicKey)), new Uint32Array(4), k);
      const sealed = xsalsa20poly1305(u8(k), nonce).encrypt(Uint8Array.from([2, 32, ...key, 0x63]));
      return Uint8Array.from([2, ...discharger.publicKey.subarray(0, 4), ...senderU, ...nonce, ...sealed]);
    };
    const nine = new Uint8Array(32);
    nine[0] = 9;
    expect(decodeTicket(sealFromBasePoint(nine), discharger.privateKey).condition).toBe('c');
    const ninePlusP = Uint8Array.from([9 + 0xed, ...new Array<number>(30).fill(0xff), 0x7f]);
    expect(errorCode(decode(sealFromBasePoint(ninePlusP)))).toBe('ERR_MALFORMED');
  });

  it('rejects a low-order sender key', () => {
    const id = valid.slice();
    id.fill(0, 5, 37);
    expect(errorCode(decode(id))).toBe('ERR_MALFORMED');
  });

  it('random bytes only ever raise TesseraError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(2, 3, undefined),
        fc.boolean(),
        (bytes, version, ownPrefix) => {
          const id = bytes.slice();
          if (version !== undefined && id.length > 0) id[0] = version;
          if (ownPrefix && id.length >= 5) id.set(discharger.publicKey.subarray(0, 4), 1);
          try {
            decode(id)();
            return false; // random bytes must never authenticate
          } catch (e) {
            return isTesseraError(e, 'ERR_MALFORMED');
          }
        },
      ),
      runs(500),
    );
  });

  it('single-byte mutations of a valid ticket never decode', () => {
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const id = valid.slice();
        id[index] = (id[index] ?? 0) ^ xor;
        try {
          decode(id)();
          return false; // every byte is covered by the header checks or the box tag
        } catch (e) {
          return isTesseraError(e, 'ERR_MALFORMED');
        }
      }),
      runs(200),
    );
    // And the unmutated ticket still decodes, so the property above is not vacuous.
    expect(decodeTicket(valid, discharger.privateKey).condition).toBe('is-human');
  });
});
