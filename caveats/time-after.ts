/**
 * `time-after <RFC 3339>`: the token is not valid before that instant. Passes once `ctx.now`
 * is at or after the time, less `clockSkewMs`. No `now`: fails closed.
 */
import { OK, fail } from './common.js';
import { formatRfc3339, parseRfc3339 } from './rfc3339.js';
import { nowMs } from './time-before.js';
import type { CaveatType } from './types.js';

export const timeAfter: CaveatType<Date> = {
  name: 'time-after',
  parse: (arg) => parseRfc3339(arg, 'ceil'),
  format: formatRfc3339,
  check(value, ctx, opts) {
    const now = nowMs(ctx);
    if (now === undefined) return fail('request has no current time');
    return now + opts.clockSkewMs >= value.getTime() ? OK : fail('token is not valid yet');
  },
};
