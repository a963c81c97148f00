/** Shared helpers for the macaroon test suites: error assertions and hand-built encodings. */
import { expect } from 'vitest';
import { TesseraError, type ErrorCode } from '../../src/errors.js';

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
export const fromB64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

/**
 * Run `f`, require a TesseraError with `code`, and require that its message and details hold
 * none of `secrets` (token text, keys, signatures). Returns the error for further checks.
 */
export function expectTesseraError(f: () => unknown, code: ErrorCode, secrets: readonly string[] = []): TesseraError {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof TesseraError)) {
    throw new Error(`expected TesseraError ${code}, got ${thrown === undefined ? 'no error' : String(thrown)}`);
  }
  expect(thrown.code, thrown.message).toBe(code);
  const said = `${thrown.message} ${JSON.stringify(thrown.details)}`;
  for (const secret of secrets) {
    if (secret.length >= 4) expect(said).not.toContain(secret);
  }
  return thrown;
}

/** The TesseraError code `f` throws, or 'ok' when it returns; anything else is rethrown. */
export function outcome(f: () => unknown): ErrorCode | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof TesseraError) return e.code;
    throw e;
  }
}

/** Unsigned LEB128, written by hand so the tests do not reuse the code under test. */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A V2 field: type, length, data. */
export const v2Field = (type: number, data: Uint8Array | string): number[] => {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  return [...varint(type), ...varint(bytes.length), ...bytes];
};

export const bytesOf = (...parts: readonly (readonly number[] | Uint8Array)[]): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => [...p]));

/** A V1 packet with the given (possibly wrong) length header. */
export function v1Packet(key: string, value: Uint8Array | string, header?: string): Uint8Array {
  const v = typeof value === 'string' ? utf8(value) : value;
  const size = 4 + key.length + 1 + v.length + 1;
  return bytesOf(utf8(header ?? size.toString(16).padStart(4, '0')), utf8(`${key} `), v, [0x0a]);
}
