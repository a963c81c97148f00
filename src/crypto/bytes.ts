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

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decode base64 in either alphabet, padded or not. Node's decoder silently skips bad
 * characters and ignores stray bits, so the input is checked first and the result must
 * re-encode to the same text: one token has exactly one spelling per alphabet.
 */
export function base64Decode(text: string, what: string): Uint8Array {
  if (!BASE64.test(text)) throw malformed(`${what} is not base64`, { field: what });
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) throw malformed(`${what} has an impossible base64 length`, { field: what });
  if (text.length !== body.length && text.length % 4 !== 0) throw malformed(`${what} has wrong base64 padding`, { field: what });
  const bytes = Buffer.from(body, 'base64');
  if (bytes.toString('base64url') !== body.replace(/\+/g, '-').replace(/\//g, '_')) {
    throw malformed(`${what} is not canonical base64`, { field: what });
  }
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
