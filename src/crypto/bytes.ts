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

/** True when `bytes` is valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Unpadded base64url, the form tokens travel in. */
export const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');

/** Each character's 6-bit value (standard and URL alphabets both), or -1. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
SEXTET[0x2d] = 62; // '-'
SEXTET[0x5f] = 63; // '_'
const PAD = 0x3d;

/**
 * Decode base64 in either alphabet, padded or not. Node's decoder silently skips bad
 * characters, mixes alphabets and ignores stray bits, so the text is checked first in one pass:
 * one alphabet only, padding only where it completes the last quantum, and the unused low bits
 * of the last character zero. So one token has exactly one spelling per alphabet (and padding).
 */
export function base64Decode(text: string, what: string): Uint8Array {
  let body = text.length;
  if (body > 0 && text.charCodeAt(body - 1) === PAD) body--;
  if (body > 0 && text.charCodeAt(body - 1) === PAD) body--;
  let std = false;
  let url = false;
  for (let i = 0; i < body; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || SEXTET[c] === -1) throw malformed(`${what} is not base64`, { field: what });
    if (c === 0x2b || c === 0x2f) std = true;
    else if (c === 0x2d || c === 0x5f) url = true;
  }
  if (std && url) throw malformed(`${what} mixes the two base64 alphabets`, { field: what });
  const tail = body % 4;
  if (tail === 1) throw malformed(`${what} has an impossible base64 length`, { field: what });
  if (body !== text.length && text.length % 4 !== 0) throw malformed(`${what} has wrong base64 padding`, { field: what });
  // The last character of a 2- or 3-character quantum carries 4 or 2 unused bits.
  if (tail !== 0 && ((SEXTET[text.charCodeAt(body - 1)] as number) & (tail === 2 ? 0x0f : 0x03)) !== 0) {
    throw malformed(`${what} is not canonical base64`, { field: what });
  }
  const bytes = Buffer.from(body === text.length ? text : text.slice(0, body), 'base64');
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
