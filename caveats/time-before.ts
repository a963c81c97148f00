/**
 * `time-before <RFC 3339>`: the token expires at that instant (bakery-compatible). Passes while
 * `ctx.now` is strictly before the time, extended by `clockSkewMs`. No `now`: fails closed.
 */
import { OK, fail } from './common.js';
import { formatRfc3339, parseRfc3339 } from './rfc3339.js';
import type { CaveatType, RequestContext } from './types.js';

/** The verifier's clock in epoch ms, or undefined when the context has no valid `now`. */
export function nowMs(ctx: RequestContext): number | undefined {
  const now = ctx.now;
  return now instanceof Date && !Number.isNaN(now.getTime()) ? now.getTime() : undefined;
}

export const timeBefore: CaveatType<Date> = {
  name: 'time-before',
  parse: (arg) => parseRfc3339(arg, 'floor'),
  format: formatRfc3339,
  check(value, ctx, opts) {
    const now = nowMs(ctx);
    if (now === undefined) return fail('request has no current time');
    return now - opts.clockSkewMs < value.getTime() ? OK : fail('token has expired');
  },
};
