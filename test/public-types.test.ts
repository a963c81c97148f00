/**
 * Type-level checks of the public API (tsc, run by `npm test`, fails on a regression; the
 * runtime assertions keep vitest honest that the file ran): no `any` at the boundary,
 * immutable values, one union of error codes.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ERROR_STATUS, Macaroon, TesseraError, verifySignature, type Caveat, type ErrorCode, type VerifiedMacaroon } from '../src/index.js';
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

  it('errors carry one union of codes, each with a status', () => {
    expectTypeOf<TesseraError['code']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<ErrorCode>().toEqualTypeOf<keyof typeof ERROR_STATUS>();
    expectTypeOf<'ERR_SIGNATURE'>().toMatchTypeOf<ErrorCode>();
    // @ts-expect-error not a code
    const bad: ErrorCode = 'ERR_NOPE';
    expect(bad in ERROR_STATUS).toBe(false);
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
