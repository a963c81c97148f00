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
/** Where base64url writes its characters before one native decode copies them into a string. */
let scratch = new Uint8Array(1024);

/**
 * Unpadded base64url, the form tokens travel in. Written out because `Buffer` is Node's only and
 * `Uint8Array.prototype.toBase64` is not in Node 20; the characters go into a reused scratch
 * array that one TextDecoder call turns into a string (string concatenation is ~4x slower).
 */
export function base64url(bytes: Uint8Array): string {
  const n = bytes.length;
  const size = Math.ceil((n * 4) / 3);
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const w = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = URL_CHARS[w >>> 18]!;
    out[o++] = URL_CHARS[(w >>> 12) & 63]!;
    out[o++] = URL_CHARS[(w >>> 6) & 63]!;
    out[o++] = URL_CHARS[w & 63]!;
  }
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
  // Every character is now known to be in SEXTET: decode four at a time, then the tail.
  const out = fresh((body * 3) >>> 2);
  let o = 0;
  let i = 0;
  for (const whole = body - tail; i < whole; i += 4) {
    const w =
      ((SEXTET[chars.charCodeAt(i)] as number) << 18) |
      ((SEXTET[chars.charCodeAt(i + 1)] as number) << 12) |
      ((SEXTET[chars.charCodeAt(i + 2)] as number) << 6) |
      (SEXTET[chars.charCodeAt(i + 3)] as number);
    out[o++] = w >>> 16;
    out[o++] = (w >>> 8) & 0xff;
    out[o++] = w & 0xff;
  }
  if (tail !== 0) {
    const w =
      ((SEXTET[chars.charCodeAt(i)] as number) << 18) |
      ((SEXTET[chars.charCodeAt(i + 1)] as number) << 12) |
      (tail === 3 ? (SEXTET[chars.charCodeAt(i + 2)] as number) << 6 : 0);
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
