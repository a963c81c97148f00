/** Assert that a call or promise fails with a TesseraError of the given code. */
import { expect } from 'vitest';
import { isTesseraError, type ErrorCode, type TesseraError } from '../../src/errors.js';

export async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<TesseraError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(isTesseraError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
    return e as TesseraError;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}
