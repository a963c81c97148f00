/**
 * Strict decoding: every malformed V2, V1 or JSON token is refused with ERR_MALFORMED or
 * ERR_LIMIT, and no error message repeats the token, its signature or the key. Also checks that
 * Macaroon values are immutable and never print themselves.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, Macaroon, verifySignature, type EncodedMacaroon, type Limits, type MacaroonJSON } from '../src/index.js';
import { base64Decode, base64url } from '../src/crypto/bytes.js';
import { b64url, bytesOf, expectTesseraError, utf8, v1Packet, v2Field, varint } from './support/macaroon-test-utils.js';

const ROOT_KEY = 'decode-test-root-key-DO-NOT-LEAK';
const base = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'decode-test-identifier', location: 'https://issuer.example' })
  .addFirstPartyCaveat('time-before 2030-01-01T00:00:00Z')
  .addThirdPartyCaveat({ caveatKey: 'caveat-key-DO-NOT-LEAK', identifier: 'third-party-ticket', location: 'https://tp.example' })
  .addFirstPartyCaveat('method GET');
const v2 = base.toBytes();
const v1 = new Uint8Array(Buffer.from(base.encode('v1'), 'base64url'));
const jsonText = base.encode('json');
const sigB64 = b64url(base.signature);
const sigHex = Buffer.from(base.signature).toString('hex');
/** Strings that must never appear in an error message. */
const SECRETS = [ROOT_KEY, 'caveat-key-DO-NOT-LEAK', sigB64, sigHex, base.encode('v2'), base.encode('v1'), jsonText];
const SIG = new Uint8Array(32).fill(7);
const discharge = Macaroon.mint({ rootKey: 'caveat-key-DO-NOT-LEAK', identifier: 'third-party-ticket' });
const verifyBase = (m: Macaroon) => verifySignature(m, ROOT_KEY, [m.bindForRequest(discharge)]);

// Hostile input has no type: the helpers take `unknown`, as a decoder of untrusted input must.
const malformed = (input: unknown, limits?: Partial<Limits>) =>
  expectTesseraError(() => Macaroon.decode(input as EncodedMacaroon, limits), 'ERR_MALFORMED', SECRETS);
const overLimit = (input: unknown, limits?: Partial<Limits>) =>
  expectTesseraError(() => Macaroon.decode(input as EncodedMacaroon, limits), 'ERR_LIMIT', SECRETS);

/** A V2 binary token from header fields, caveat sections, and a signature field. */
function v2Token(header: number[], caveats: number[][] = [], signature: number[] = v2Field(6, SIG)): Uint8Array {
  return bytesOf([2], header, [0], ...caveats.map((c) => [...c, 0]), [0], signature);
}
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same text with an unused low bit of its last character set: same bytes to a lenient decoder. */
function strayBits(text: string): string {
  const index = B64URL.indexOf(text.charAt(text.length - 1));
  const tweaked = text.slice(0, -1) + B64URL.charAt(index | 1);
  expect(tweaked).not.toBe(text);
  expect(Buffer.from(tweaked, 'base64url')).toEqual(Buffer.from(text, 'base64url'));
  return tweaked;
}
/** A V1 binary token from packets. */
const v1Token = (...packets: Uint8Array[]): Uint8Array => bytesOf(...packets);

describe('the well-formed fixtures decode', () => {
  it('in every format, binary and text', () => {
    for (const input of [v2, v1, jsonText, base.encode('v2'), base.encode('v1'), base.toJSONObject(), utf8(jsonText)]) {
      const m = Macaroon.decode(input);
      expect(m.encode()).toBe(base.encode());
      expect(verifyBase(m)).toHaveLength(2);
    }
  });
  it('hand-built V2 and V1 tokens decode', () => {
    expect(Macaroon.decode(v2Token(v2Field(2, 'id'))).identifierText).toBe('id');
    expect(Macaroon.decode(v1Token(v1Packet('location', ''), v1Packet('identifier', 'id'), v1Packet('signature', SIG))).identifierText).toBe('id');
  });
});

describe('V2 binary', () => {
  it('rejects empty input', () => {
    malformed(new Uint8Array(0));
    malformed('');
  });

  it('rejects every truncation', () => {
    for (let n = 1; n < v2.length; n++) malformed(v2.subarray(0, n));
  });

  it('rejects trailing bytes', () => {
    malformed(bytesOf(v2, [0]));
    malformed(bytesOf(v2, [0x41]));
    malformed(bytesOf(v2, v2));
  });

  it('rejects an unknown version byte', () => {
    malformed(bytesOf([3], v2.subarray(1)));
    malformed(bytesOf([0], v2.subarray(1)));
    malformed(bytesOf([0xff], v2.subarray(1)));
  });

  it('rejects fields out of order or repeated', () => {
    malformed(v2Token([...v2Field(2, 'id'), ...v2Field(1, 'loc')]));
    malformed(v2Token([...v2Field(2, 'id'), ...v2Field(2, 'id')]));
    malformed(v2Token([...v2Field(1, 'a'), ...v2Field(1, 'b'), ...v2Field(2, 'id')]));
    malformed(v2Token(v2Field(2, 'id'), [[...v2Field(4, new Uint8Array(72)), ...v2Field(2, 'cav')]]));
    malformed(v2Token(v2Field(2, 'id'), [[...v2Field(2, 'cav'), ...v2Field(1, 'loc')]]));
    malformed(v2Token(v2Field(2, 'id'), [[...v2Field(2, 'cav'), ...v2Field(2, 'cav')]]));
  });

  it('rejects a header or caveat without an identifier, and a vid in the header', () => {
    malformed(v2Token(v2Field(1, 'loc')));
    malformed(v2Token([]));
    malformed(v2Token(v2Field(2, 'id'), [v2Field(1, 'loc')]));
    malformed(v2Token(v2Field(2, 'id'), [v2Field(4, new Uint8Array(72))]));
    malformed(v2Token([...v2Field(2, 'id'), ...v2Field(4, new Uint8Array(72))]));
  });

  it('rejects a wrong signature length or a missing signature', () => {
    for (const len of [0, 1, 31, 33, 64]) malformed(v2Token(v2Field(2, 'id'), [], v2Field(6, new Uint8Array(len))));
    malformed(v2Token(v2Field(2, 'id'), [], []));
    malformed(v2Token(v2Field(2, 'id'), [], v2Field(2, SIG)));
    malformed(v2Token(v2Field(2, 'id'), [], v2Field(7, SIG)));
  });

  it('rejects unknown field types', () => {
    for (const type of [3, 5, 6, 7, 8, 127, 128, 300, 0xffffffff]) {
      malformed(v2Token([...v2Field(2, 'id'), ...v2Field(type, 'x')]));
      malformed(v2Token(v2Field(2, 'id'), [[...v2Field(2, 'cav'), ...v2Field(type, 'x')]]));
    }
  });

  it('rejects invalid UTF-8 in a location', () => {
    const bad = new Uint8Array([0x68, 0xff, 0x74]);
    malformed(v2Token([...v2Field(1, bad), ...v2Field(2, 'id')]));
    malformed(v2Token(v2Field(2, 'id'), [[...v2Field(1, bad), ...v2Field(2, 'cav'), ...v2Field(4, new Uint8Array(72))]]));
    malformed(v2Token([...v2Field(1, new Uint8Array([0xed, 0xa0, 0x80])), ...v2Field(2, 'id')])); // an encoded surrogate
  });

  it('rejects varints over 32 bits, longer than 5 bytes, or not minimal', () => {
    const withLength = (lengthVarint: number[]) => bytesOf([2], [2], lengthVarint, utf8('id'), [0, 0], v2Field(6, SIG));
    expect(Macaroon.decode(withLength([2])).identifierText).toBe('id');
    malformed(withLength([0x80, 0x80, 0x80, 0x80, 0x10])); // 2^32
    malformed(withLength([0xff, 0xff, 0xff, 0xff, 0x7f])); // 35 bits
    malformed(withLength([0x80, 0x80, 0x80, 0x80, 0x80, 0x00])); // 6 bytes
    malformed(withLength([0x82, 0x00])); // 2, not minimal
    malformed(withLength([0x82, 0x80, 0x00])); // 2, not minimal
    // The same for a field type and for the signature's length.
    malformed(bytesOf([2], [0x82, 0x00], varint(2), utf8('id'), [0, 0], v2Field(6, SIG)));
    malformed(bytesOf([2], v2Field(2, 'id'), [0, 0], [6, 0xa0, 0x00], SIG));
    // A length near 2^32 is refused as truncated, not allocated.
    malformed(withLength([0xff, 0xff, 0xff, 0xff, 0x0f]));
  });

  it('bounds the size and the caveat count', () => {
    overLimit(v2, { maxBytes: v2.length - 1 });
    expect(Macaroon.decode(v2, { maxBytes: v2.length }).encode()).toBe(base.encode());
    overLimit(base.encode('v2'), { maxBytes: 32 });
    overLimit(new Uint8Array(DEFAULT_LIMITS.maxBytes * 2 + 1).fill(2));
    overLimit('A'.repeat(DEFAULT_LIMITS.maxBytes * 2));
    overLimit(v2, { maxCaveats: 2 });
    expect(Macaroon.decode(v2, { maxCaveats: 3 }).caveats).toHaveLength(3);
    let many = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'x' });
    for (let i = 0; i <= DEFAULT_LIMITS.maxCaveats; i++) many = many.addFirstPartyCaveat(`c${i}`);
    overLimit(many.toBytes());
    overLimit(many.encode('v1'));
    overLimit(many.encode('json'));
    overLimit(many.toJSONObject());
  });
});

describe('V1 binary', () => {
  const loc = v1Packet('location', 'https://issuer.example');
  const id = v1Packet('identifier', 'id');
  const sig = v1Packet('signature', SIG);
  const vid = v1Packet('vid', new Uint8Array(72));

  it('rejects every truncation', () => {
    for (let n = 1; n < v1.length; n++) malformed(v1.subarray(0, n));
  });

  it('rejects trailing bytes', () => {
    malformed(bytesOf(v1, [0x0a]));
    malformed(bytesOf(v1, v1));
    malformed(v1Token(loc, id, sig, v1Packet('cid', 'late')));
  });

  it('rejects fields out of order, repeated or missing', () => {
    malformed(v1Token(id, loc, sig));
    malformed(v1Token(loc, loc, id, sig));
    malformed(v1Token(loc, id, id, sig));
    malformed(v1Token(loc, sig));
    malformed(v1Token(id, sig));
    malformed(v1Token(loc, id));
    malformed(v1Token(loc, id, v1Packet('cid', 'c'), vid, sig)); // vid without cl
    malformed(v1Token(loc, id, v1Packet('cid', 'c'), v1Packet('cl', 'x'), sig)); // cl without vid
    malformed(v1Token(loc, id, vid, v1Packet('cl', 'x'), sig)); // vid without cid
    malformed(v1Token(loc, id, v1Packet('cid', 'c'), vid, vid, v1Packet('cl', 'x'), sig));
    malformed(v1Token(loc, id, sig, sig));
  });

  it('rejects a wrong signature length', () => {
    for (const len of [0, 31, 33]) malformed(v1Token(loc, id, v1Packet('signature', new Uint8Array(len))));
  });

  it('rejects unknown field names', () => {
    malformed(v1Token(loc, id, v1Packet('foo', 'bar'), sig));
    malformed(v1Token(loc, v1Packet('Identifier', 'id'), sig));
    malformed(v1Token(loc, id, v1Packet('cid', 'c'), v1Packet('vidx', new Uint8Array(72)), v1Packet('cl', 'x'), sig));
  });

  it('rejects packet lengths that are shorter than the header, not hex, or lie', () => {
    for (const header of ['0000', '0004', '0005']) malformed(bytesOf(utf8(header), utf8('location \n'), id, sig));
    malformed(v1Token(v1Packet('location', '', '00g0'), id, sig));
    malformed(v1Token(v1Packet('location', '', ' 00f'), id, sig));
    malformed(v1Token(v1Packet('location', '', '+00f'), id, sig));
    malformed(v1Token(v1Packet('location', '', '000f'), id, sig)); // one more than it has: eats the next header
    malformed(v1Token(v1Packet('location', '', '000d'), id, sig)); // one less: no newline at its end
    malformed(v1Token(v1Packet('location', '', 'ffff'), id, sig));
    malformed(bytesOf(utf8('0010location x'), id, sig)); // no trailing newline
    malformed(bytesOf(utf8('000alocation\n'), id, sig)); // no space after the key
    malformed(bytesOf(utf8('0007 x\n'), loc, id, sig)); // empty key
  });

  it('accepts only the lowercase length spelling libmacaroons and go-macaroon write', () => {
    const long = v1Packet('identifier', 'x'.repeat(0x9b));
    expect(String.fromCharCode(...long.subarray(0, 4))).toBe('00ab');
    expect(Macaroon.decode(v1Token(loc, long, sig)).identifier).toHaveLength(0x9b);
    malformed(v1Token(loc, v1Packet('identifier', 'x'.repeat(0x9b), '00AB'), sig));
    malformed(v1Token(loc, v1Packet('identifier', 'x'.repeat(0x9b), '00aB'), sig));
  });

  it('rejects invalid UTF-8 in a location or caveat location', () => {
    malformed(v1Token(v1Packet('location', new Uint8Array([0xc3, 0x28])), id, sig));
    malformed(v1Token(loc, id, v1Packet('cid', 'c'), vid, v1Packet('cl', new Uint8Array([0xff])), sig));
  });

  it('refuses to encode a packet over 65535 bytes (ERR_LIMIT), where V2 has no such bound', () => {
    const bigId = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'x'.repeat(65535 - 16 + 1) });
    expectTesseraError(() => bigId.encode('v1'), 'ERR_LIMIT', [ROOT_KEY]);
    const justFits = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'x'.repeat(65535 - 16) });
    expect(justFits.encode('v1').length).toBeGreaterThan(65535);
    const bigCaveat = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'x' }).addFirstPartyCaveat('c'.repeat(70000));
    expectTesseraError(() => bigCaveat.encode('v1'), 'ERR_LIMIT', [ROOT_KEY]);
    expect(bigCaveat.encode('v2').length).toBeGreaterThan(70000);
  });

  it('bounds the size and the caveat count', () => {
    overLimit(v1, { maxBytes: v1.length - 1 });
    overLimit(v1, { maxCaveats: 2 });
    expect(Macaroon.decode(v1, { maxCaveats: 3, maxBytes: v1.length }).encode()).toBe(base.encode());
  });
});

describe('V2 JSON', () => {
  const obj = (): Record<string, unknown> => JSON.parse(jsonText) as Record<string, unknown>;
  const goodSig = b64url(SIG);

  it('rejects every truncation of the text and trailing garbage', () => {
    for (let n = 1; n < jsonText.length; n++) malformed(jsonText.slice(0, n));
    malformed(`${jsonText}x`);
    malformed(`${jsonText}${jsonText}`);
    malformed(`${jsonText},`);
  });

  it('rejects repeated keys, which JSON.parse would silently resolve to the last one', () => {
    malformed(`{"v":2,"i":"a","i":"b","s64":"${goodSig}"}`);
    malformed(`{"v":2,"i":"a","s64":"${goodSig}","s64":"${goodSig}"}`);
    malformed(`{"v":2,"v":2,"i":"a","s64":"${goodSig}"}`);
    malformed(`{"v":2,"i":"a","\\u0069":"b","s64":"${goodSig}"}`); // the same key, escaped
    malformed(`{"v":2,"i":"a","c":[{"i":"x","i":"y"}],"s64":"${goodSig}"}`);
    // Keys may repeat in different objects; values may equal keys.
    expect(Macaroon.decode(`{"v":2,"i":"i","c":[{"i":"c"},{"i":"i"}],"s64":"${goodSig}"}`).caveats).toHaveLength(2);
  });

  it('rejects both x and x64', () => {
    malformed({ ...obj(), i64: b64url(utf8('decode-test-identifier')) });
    malformed({ ...obj(), s: 'x' });
    malformed({ v: 2, i: 'a', s64: goodSig, c: [{ i: 'c', i64: 'Yw' }] });
    malformed({ v: 2, i: 'a', s64: goodSig, c: [{ i: 'c', v: 'x', v64: 'eA', l: 'x' }] });
  });

  it('rejects unknown keys, including the V1 JSON layout', () => {
    malformed({ ...obj(), extra: 1 });
    malformed({ ...obj(), l64: 'eA' });
    malformed({ v: 2, i: 'a', s64: goodSig, c: [{ i: 'c', cl: 'x' }] });
    malformed({ location: 'x', identifier: 'a', signature: Buffer.from(SIG).toString('hex') });
    malformed(`{"v":2,"i":"a","s64":"${goodSig}","__proto__":{}}`);
  });

  it('rejects JSON that is not an object of the right shape', () => {
    for (const text of ['[]', '"str"', '2', 'null', 'true', '{}', '{"v":2}', '[{"v":2}]']) malformed(text);
    for (const value of [[], [obj()], new Date(0), new Map(), Object.create({ v: 2 }) as object]) malformed(value);
    expectTesseraError(() => Macaroon.decode(42 as unknown as string), 'ERR_INVALID_ARGUMENT');
    expectTesseraError(() => Macaroon.decode(null as unknown as string), 'ERR_INVALID_ARGUMENT');
    malformed({ ...obj(), v: 1 });
    malformed({ ...obj(), v: '2' });
    malformed({ ...obj(), v: null });
    malformed({ ...obj(), v: 3 });
    // Without "v" it is the same macaroon: go-macaroon and pymacaroons never write it.
    const { v: _v, ...noVersion } = obj();
    expect(Macaroon.decode(noVersion as unknown as MacaroonJSON).toBytes()).toEqual(Macaroon.decode(obj() as unknown as MacaroonJSON).toBytes());
    malformed({ ...obj(), c: {} });
    malformed({ ...obj(), c: 'x' });
    malformed({ ...obj(), c: [1] });
    malformed({ ...obj(), c: [null] });
    malformed({ ...obj(), c: [[]] });
    malformed({ ...obj(), c: [{}] });
    malformed({ ...obj(), i: 5 });
    malformed({ ...obj(), l: ['x'] });
    // A sparse array (only possible for an object input) is malformed, not a crash.
    // eslint-disable-next-line no-sparse-arrays
    malformed({ v: 2, i: 'a', s64: goodSig, c: [{ i: 'c' }, , { i: 'd' }] });
  });

  it('rejects a wrong signature length', () => {
    for (const len of [0, 31, 33]) malformed({ v: 2, i: 'a', s64: b64url(new Uint8Array(len)) });
    malformed({ v: 2, i: 'a' });
    malformed({ v: 2, i: 'a', s: 'x'.repeat(32 + 1) });
  });

  it('rejects non-canonical or invalid base64 in *64 fields', () => {
    malformed({ v: 2, i64: 'YR', s64: goodSig }); // "a" is YQ; YR has stray low bits
    malformed({ v: 2, i64: 'Y', s64: goodSig });
    malformed({ v: 2, i64: 'YQ=', s64: goodSig });
    malformed({ v: 2, i64: 'Y Q', s64: goodSig });
    malformed({ v: 2, i64: 'YQ\n', s64: goodSig });
    malformed({ v: 2, i64: 'Y*', s64: goodSig });
    malformed({ v: 2, i: 'a', s64: strayBits(goodSig) });
    expect(Macaroon.decode({ v: 2, i64: 'YQ==', s64: goodSig }).identifierText).toBe('a');
  });

  it('rejects text that is not Unicode (lone surrogates) and JSON bytes that are not UTF-8', () => {
    malformed({ v: 2, i: 'a', l: 'x\ud800', s64: goodSig });
    malformed({ v: 2, i: '\udc00', s64: goodSig });
    malformed({ v: 2, i: 'a', s64: goodSig, c: [{ i: 'c', v64: b64url(new Uint8Array(72)), l: '\ud800' }] });
    malformed(`{"v":2,"i":"a","l":"\\ud800","s64":"${goodSig}"}`);
    malformed(bytesOf(utf8('{"v":2,"i":"a","l":"'), [0xff], utf8(`","s64":"${goodSig}"}`)));
  });

  it('round-trips text fields exactly, including a leading U+FEFF (a BOM-stripping decoder would drop it)', () => {
    const bom = [0xef, 0xbb, 0xbf];
    const m = Macaroon.mint({ rootKey: ROOT_KEY, identifier: bytesOf(bom, utf8('id')) }).addFirstPartyCaveat(bytesOf(bom, utf8('cond')));
    const json = m.encode('json');
    expect(JSON.parse(json)).toMatchObject({ i: '\ufeffid', c: [{ i: '\ufeffcond' }] });
    const back = Macaroon.decode(json);
    expect(back.identifier).toEqual(m.identifier);
    expect(back.caveats[0]?.text).toBe('\ufeffcond');
    expect(verifySignature(back, ROOT_KEY)[0]?.conditions).toEqual(['\ufeffcond']);
  });

  it('bounds the size and the caveat count', () => {
    overLimit(jsonText, { maxBytes: 64 });
    overLimit(utf8(jsonText), { maxBytes: 64 });
    overLimit(base.toJSONObject(), { maxBytes: 32 });
    overLimit(base.toJSONObject(), { maxCaveats: 2 });
    overLimit(`{"v":2,"i":"${'x'.repeat(DEFAULT_LIMITS.maxBytes * 2)}"}`);
    overLimit({ v: 2, i: 'a', s64: goodSig, c: Array.from({ length: 129 }, () => ({ i: 'c' })) });
  });
});

describe('base64 text', () => {
  const text = base.encode('v2');

  it('accepts either alphabet, padded or not', () => {
    const std = Buffer.from(v2).toString('base64');
    for (const t of [text, std, std.replace(/=+$/, ''), `${text}${'='.repeat((4 - (text.length % 4)) % 4)}`]) {
      expect(Macaroon.decode(t).encode()).toBe(text);
    }
  });

  it('rejects non-canonical spellings', () => {
    // Stray bits in the last character decode to the same bytes under a lenient decoder.
    const bytes = utf8('\u0002'); // length 1: the last char carries 4 unused bits
    expect(b64url(bytes)).toBe('Ag');
    malformed('Ah');
    for (let i = 0; i < 3; i++) {
      const t = Macaroon.mint({ rootKey: ROOT_KEY, identifier: 'x'.repeat(i) }).encode();
      if (Buffer.from(t, 'base64url').length % 3 === 0) continue;
      expect(Macaroon.decode(t).encode()).toBe(t);
      malformed(strayBits(t));
    }
  });

  it('rejects mixed alphabets: one token, one spelling per alphabet', () => {
    let i = 0;
    let t = '';
    do t = Macaroon.mint({ rootKey: ROOT_KEY, identifier: `mixed-${i++}` }).encode();
    while (!(t.includes('-') && t.includes('_')));
    const mixed = t.replace('-', '+');
    expect(Buffer.from(mixed, 'base64url')).toEqual(Buffer.from(t, 'base64url'));
    expect(Macaroon.decode(t).encode()).toBe(t);
    expect(Macaroon.decode(t.replaceAll('-', '+').replaceAll('_', '/')).encode()).toBe(t);
    malformed(mixed);
    malformed(t.replace('_', '/'));
  });

  it('encodes and decodes every length and byte value as Node does, without Buffer', () => {
    const slabNeighbours: [Uint8Array, Uint8Array][] = [];
    for (let n = 0; n <= 1100; n += n < 80 ? 1 : 37) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff);
      const url = base64url(bytes);
      expect(url).toBe(Buffer.from(bytes).toString('base64url'));
      const std = Buffer.from(bytes).toString('base64');
      for (const t of [url, std, std.replace(/=+$/, '')]) {
        const decoded = base64Decode(t, 'x');
        expect(decoded).toEqual(bytes);
        slabNeighbours.push([decoded, bytes]);
      }
    }
    // Results cut from one shared slab never overlap: each still holds its own bytes.
    for (const [decoded, bytes] of slabNeighbours) expect(decoded).toEqual(bytes);
  });

  it('rejects bad padding, whitespace, stray characters and impossible lengths', () => {
    malformed(`${text}=`.length % 4 === 0 ? `${text}==` : `${text}=`);
    malformed(`${text}===`);
    malformed(`=${text}`);
    malformed(`${text.slice(0, 8)}=${text.slice(8)}`);
    malformed(`${text.slice(0, 8)} ${text.slice(8)}`);
    malformed(`${text}\n`);
    malformed(`${text.slice(0, 8)}.${text.slice(8)}`);
    malformed('QUFBQ');
    malformed('Q');
  });
});

describe('error messages', () => {
  it('never contain the token, its signature, or the key', () => {
    const attempts: (() => unknown)[] = [
      () => Macaroon.decode(bytesOf(v2, [0])),
      () => Macaroon.decode(v2.subarray(0, v2.length - 1)),
      () => Macaroon.decode(`${jsonText}x`),
      () => Macaroon.decode({ ...base.toJSONObject(), extra: 1 } as MacaroonJSON),
      () => Macaroon.decode(`${base.encode()}!`),
      () => verifySignature(base, 'wrong key'),
      () => verifySignature(Macaroon.decode(v2), ROOT_KEY, [base]),
    ];
    for (const attempt of attempts) {
      let message = '';
      try {
        attempt();
      } catch (e) {
        message = `${String(e)} ${JSON.stringify(e)}`;
      }
      expect(message).not.toBe('');
      for (const secret of SECRETS) expect(message).not.toContain(secret);
    }
  });
});

describe('immutability and printing', () => {
  it('adding a caveat returns a new macaroon and leaves the old one unchanged', () => {
    const before = base.encode();
    const sig = base.signature;
    const next = base.addFirstPartyCaveat('extra');
    const third = base.addThirdPartyCaveat({ caveatKey: 'k', identifier: 'tp', location: 'x' });
    expect(next).not.toBe(base);
    expect(third).not.toBe(base);
    expect(base.encode()).toBe(before);
    expect(base.signature).toEqual(sig);
    expect(base.caveats).toHaveLength(3);
    expect(next.caveats).toHaveLength(4);
    expect(next.signature).not.toEqual(sig);
    expect(base.bindForRequest(next)).not.toBe(next);
    expect(next.caveats).toHaveLength(4);
  });

  it('mutating returned bytes changes nothing', () => {
    const before = base.encode();
    base.signature.fill(0);
    base.identifier.fill(0);
    for (const c of base.caveats) {
      c.identifier.fill(0);
      c.verificationId?.fill(0);
    }
    base.toBytes().fill(0);
    expect(base.encode()).toBe(before);
    expect(verifyBase(base)).toHaveLength(2);
  });

  it('mutating the inputs after minting or decoding changes nothing', () => {
    const id = utf8('mutable-id');
    const cond = utf8('cond = 1');
    const m = Macaroon.mint({ rootKey: ROOT_KEY, identifier: id }).addFirstPartyCaveat(cond);
    const before = m.encode();
    id.fill(0x41);
    cond.fill(0x41);
    expect(m.encode()).toBe(before);
    const bytes = m.toBytes();
    const decoded = Macaroon.decode(bytes);
    bytes.fill(0);
    expect(decoded.encode()).toBe(before);
    const key = utf8('byte key');
    const byKey = Macaroon.mint({ rootKey: key, identifier: 'x' });
    const raw = new Uint8Array(32).fill(1);
    const byRaw = Macaroon.mint({ rootKey: { raw }, identifier: 'x' });
    key.fill(0);
    raw.fill(0);
    expect(verifySignature(byKey, 'byte key')).toHaveLength(1);
    expect(verifySignature(byRaw, { raw: new Uint8Array(32).fill(1) })).toHaveLength(1);
  });

  it('the macaroon, its caveat list and each caveat are frozen', () => {
    expect(Object.isFrozen(base)).toBe(true);
    expect(Object.isFrozen(base.caveats)).toBe(true);
    for (const c of base.caveats) expect(Object.isFrozen(c)).toBe(true);
    expect(Reflect.set(base, 'location', 'https://evil.example')).toBe(false);
    expect(Reflect.defineProperty(base, 'extra', { value: 1 })).toBe(false);
    expect(base.location).toBe('https://issuer.example');
  });

  it('String(m), template literals, util.inspect and JSON.stringify do not reveal the token', () => {
    const shown = [String(base), `${base}`, inspect(base), inspect({ nested: base }, { depth: 5 })];
    for (const s of shown) expect(s).toMatch(/Macaroon/);
    for (const s of [...shown, JSON.stringify({ logged: base })]) {
      for (const secret of [...SECRETS, 'decode-test-identifier', b64url(v2).slice(0, 20)]) expect(s).not.toContain(secret);
    }
    // Serialising is explicit: encode('json'), or the object form.
    expect(JSON.parse(JSON.stringify(base.toJSONObject()))).toEqual(JSON.parse(jsonText));
    expect(JSON.parse(base.encode('json'))).toEqual(JSON.parse(jsonText));
  });
});
