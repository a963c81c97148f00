/**
 * `aud <service>`: the token is only for the named service; `ctx.audience` must equal it exactly.
 * The audience is printable ASCII without spaces (a name or a URL), at most 256 characters.
 */
import { OK, fail, formatGuard, parseGuard, tokenProblem } from './common.js';
import type { CaveatType } from './types.js';

const AUDIENCE = /^[\x21-\x7e]{1,256}$/;
const problem = (v: unknown): string | undefined => tokenProblem(v, AUDIENCE, 'audience');

export const aud: CaveatType<string> = {
  name: 'aud',
  parse: (arg) => (parseGuard(problem(arg)), arg),
  format: (value) => (formatGuard(problem(value)), value),
  check(value, ctx) {
    if (typeof ctx.audience !== 'string') return fail('verifier has no audience');
    return ctx.audience === value ? OK : fail('token is for another audience');
  },
};
