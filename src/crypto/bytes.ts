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

/** Unpadded base64url, the form tokens travel in. */
export const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');

/** Each character's 6-bit value (standard and URL alphabets both), or -1. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
SEXTET[0x2d] = 62; // '-'
SEXTET[0x5f] = 63; // '_'
const PAD = 0x3d;

const URL_ALPHABET = /^[A-Za-z0-9_-]*$/;
const STD_ALPHABET = /^[A-Za-z0-9+/]*$/;

/**
 * Decode base64 in either alphabet, padded or not. Node's decoder silently skips bad
 * characters, mixes alphabets and ignores stray bits, so the text is checked first: one alphabet
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
  const bytes = Buffer.from(chars, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
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
