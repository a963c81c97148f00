/**
 * Type-level checks of the public API (tsc, run by `npm test`, fails on a regression; the
 * runtime assertions keep vitest honest that the file ran): no `any` at the boundary,
 * immutable values, one union of error codes.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as root from '../src/index.js';
import { Macaroon, TesseraError, verifySignature, type Caveat, type ErrorCode, type VerifiedMacaroon } from '../src/index.js';
import { ERROR_CODES, isErrorCode } from '../src/errors.js';
import { ERROR_STATUS, httpStatus } from '../src/hono/index.js';
import { caveat, type RequestContext } from '../caveats/index.js';
import { Verifier, type Verified } from '../src/verifier/index.js';

describe('public types', () => {
  it('Macaroon values are immutable and typed', () => {
    const m = Macaroon.mint({ rootKey: 'k', identifier: 'id' });
    expectTypeOf(m.addFirstPartyCaveat).returns.toEqualTypeOf<Macaroon>();
    expectTypeOf(m.caveats).toEqualTypeOf<readonly Caveat[]>();
    expectTypeOf(m.signature).toEqualTypeOf<Uint8Array>();
    expectTypeOf(m.location).toEqualTypeOf<string | undefined>();
    expectTypeOf(Macaroon.decode).returns.toEqualTypeOf<Macaroon>();
    expectTypeOf(verifySignature).returns.toEqualTypeOf<readonly VerifiedMacaroon[]>();
    // @ts-expect-error caveats cannot be pushed to (and at run time the array is frozen)
    expect(() => m.caveats.push({} as Caveat)).toThrow(TypeError);
    expect(Object.isFrozen(m) && Object.isFrozen(m.caveats)).toBe(true);
  });

  it('errors carry one union of codes; each has a status in the HTTP layer, not in the root export', () => {
    expectTypeOf<TesseraError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<ErrorCode>().toEqualTypeOf<keyof typeof ERROR_STATUS>();
    expectTypeOf<'ERR_SIGNATURE'>().toMatchTypeOf<ErrorCode>();
    // @ts-expect-error not a code
    const bad: ErrorCode = 'ERR_NOPE';
    expect(bad in ERROR_STATUS).toBe(false);
    expect(isErrorCode(bad)).toBe(false);
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(httpStatus(new TesseraError('ERR_INVALID_ARGUMENT', 'x'))).toBe(400);
    expect('ERROR_STATUS' in root).toBe(false);
    // One code for a caller's mistake (there is no separate "bad request").
    // @ts-expect-error not a code any more
    const merged: ErrorCode = 'ERR_BAD_REQUEST';
    expect(isErrorCode(merged)).toBe(false);
  });

  it('the verifier and the caveat builders have no any at the boundary', () => {
    expectTypeOf<Verifier['verify']>().returns.toEqualTypeOf<Promise<Verified>>();
    expectTypeOf<Verified['declared']>().toEqualTypeOf<ReadonlyMap<string, string>>();
    expectTypeOf(caveat.ops).parameters.toEqualTypeOf<[readonly string[]]>();
    expectTypeOf(caveat.ops).returns.toEqualTypeOf<string>();
    expectTypeOf<RequestContext['now']>().toEqualTypeOf<Date | undefined>();
    expect(caveat.ops(['read'])).toBe('ops read');
  });
});
