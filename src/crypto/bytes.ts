/**
 * Byte helpers for untrusted input: strict UTF-8, strict base64 (either alphabet, padded or
 * not, canonical only), constant-time comparison. Every failure is a typed TesseraError.
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { malformed } from '../errors.js';

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** Decode UTF-8, rejecting invalid sequences (never substituting U+FFFD). */
export function utf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`, { field: what });
  }
}

/** The text `bytes` encode (a leading U+FEFF kept), or undefined when they are not valid UTF-8. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** True when `bytes` is valid UTF-8. */
export const isUtf8 = (bytes: Uint8Array): boolean => utf8Text(bytes) !== undefined;

const URL_CHARS = utf8('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const asciiDecoder = new TextDecoder();
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Every 12-bit group's two characters as one 16-bit word in this machine's byte order. */
const URL_PAIRS = Uint16Array.from({ length: 4096 }, (_, g) => {
  const [hi, lo] = [URL_CHARS[g >>> 6]!, URL_CHARS[g & 63]!];
  return LITTLE_ENDIAN ? hi | (lo << 8) : (hi << 8) | lo;
});
/** Base64 characters as ASCII bytes: written by base64url before one native decode makes them a string, and filled by one native encodeInto for base64Decode to read (both synchronous). */
let scratch = new Uint8Array(1024);
const scratchOf = (size: number): Uint8Array => {
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  return scratch;
};

/**
 * Unpadded base64url, the form tokens travel in. Written out because `Buffer` is Node's only and
 * `Uint8Array.prototype.toBase64` is not in Node 20; the characters go into a reused scratch
 * array that one TextDecoder call turns into a string (string concatenation is ~4x slower).
 */
export function base64url(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = scratchOf(Math.ceil((n * 4) / 3) + 1);
  // Two characters per store: each 12-bit group's pair, as one little- or big-endian word.
  const pairs = new Uint16Array(out.buffer, 0, out.length >>> 1);
  let p = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const w = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    pairs[p++] = URL_PAIRS[w >>> 12]!;
    pairs[p++] = URL_PAIRS[w & 0xfff]!;
  }
  let o = p * 2;
  if (i < n) {
    const w = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    out[o++] = URL_CHARS[w >>> 18]!;
    out[o++] = URL_CHARS[(w >>> 12) & 63]!;
    if (i + 1 < n) out[o++] = URL_CHARS[(w >>> 6) & 63]!;
  }
  return asciiDecoder.decode(out.subarray(0, o));
}

const SLAB_BYTES = 8192;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * `n` fresh bytes for decoded input. A typed array over 64 bytes gets its own off-heap store,
 * which costs ~0.5 µs, more than decoding a token; so small results are cut from a shared 8 KiB
 * slab, as Node's Buffer pool does (the slab is never reused once handed out: each view's bytes
 * are its own, but `.buffer` is the whole slab, exactly as for a pooled Buffer).
 */
function fresh(n: number): Uint8Array {
  if (n <= 64 || n > SLAB_BYTES / 8) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

/** Each character's 6-bit value (standard and URL alphabets both), or -1. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
SEXTET[0x2d] = 62; // '-'
SEXTET[0x5f] = 63; // '_'
/** The same for any byte (0 for the rest): decoding reads checked text, so no lookup can miss. */
const SEXTET_OF_BYTE = Uint8Array.from({ length: 256 }, (_, i) => Math.max(SEXTET[i] ?? 0, 0));
const PAD = 0x3d;

const URL_ALPHABET = /^[A-Za-z0-9_-]*$/;
const STD_ALPHABET = /^[A-Za-z0-9+/]*$/;

/**
 * Decode base64 in either alphabet, padded or not. Lenient decoders (Node's, `atob`) silently
 * skip bad characters, mix alphabets or ignore stray bits, so the text is checked first: one alphabet
 * only (two anchored regex scans, the cheapest full check in V8), padding only where it
 * completes the last quantum, and the unused low bits of the last character zero. So one token
 * has exactly one spelling per alphabet (and padding).
 */
export function base64Decode(text: string, what: string): Uint8Array {
  let body = text.length;
  if (body > 0 && text.charCodeAt(body - 1) === PAD) body--;
  if (body > 0 && text.charCodeAt(body - 1) === PAD) body--;
  const chars = body === text.length ? text : text.slice(0, body);
  if (!URL_ALPHABET.test(chars) && !STD_ALPHABET.test(chars)) {
    const mixed = URL_ALPHABET.test(chars.replace(/[+/]/g, 'A'));
    throw malformed(mixed ? `${what} mixes the two base64 alphabets` : `${what} is not base64`, { field: what });
  }
  const tail = body % 4;
  if (tail === 1) throw malformed(`${what} has an impossible base64 length`, { field: what });
  if (body !== text.length && text.length % 4 !== 0) throw malformed(`${what} has wrong base64 padding`, { field: what });
  // The last character of a 2- or 3-character quantum carries 4 or 2 unused bits.
  if (tail !== 0 && ((SEXTET[text.charCodeAt(body - 1)] as number) & (tail === 2 ? 0x0f : 0x03)) !== 0) {
    throw malformed(`${what} is not canonical base64`, { field: what });
  }
  // Every character is now known to be in SEXTET: one native encodeInto makes them bytes (cheaper
  // to read than charCodeAt), then four at a time, then the tail.
  const text8 = scratchOf(body);
  encoder.encodeInto(chars, text8);
  const out = fresh((body * 3) >>> 2);
  let o = 0;
  let i = 0;
  for (const whole = body - tail; i < whole; i += 4) {
    const w =
      (SEXTET_OF_BYTE[text8[i]!]! << 18) | (SEXTET_OF_BYTE[text8[i + 1]!]! << 12) | (SEXTET_OF_BYTE[text8[i + 2]!]! << 6) | SEXTET_OF_BYTE[text8[i + 3]!]!;
    out[o++] = w >>> 16;
    out[o++] = (w >>> 8) & 0xff;
    out[o++] = w & 0xff;
  }
  if (tail !== 0) {
    const w = (SEXTET_OF_BYTE[text8[i]!]! << 18) | (SEXTET_OF_BYTE[text8[i + 1]!]! << 12) | (tail === 3 ? SEXTET_OF_BYTE[text8[i + 2]!]! << 6 : 0);
    out[o++] = w >>> 16;
    if (tail === 3) out[o] = (w >>> 8) & 0xff;
  }
  return out;
}

/** Constant-time equality for MACs and other secrets. */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => equalBytes(a, b);

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
