/**
 * `uses <n>`: the token may be used at most n times (1 ≤ n ≤ 1e9, plain decimal, no leading
 * zeros). This caveat is STATEFUL: a request alone cannot decide it. The evaluator never calls
 * its check; it fails it closed unless `allowStateful` is set, in which case it returns it in
 * `stateful` for the verifier to count atomically in its usage counter (in its process by
 * default, or shared through the database) after every other caveat passed.
 */
import { fail, formatGuard, parseGuard } from './common.js';
import type { CaveatType } from './types.js';

const MAX_USES = 1_000_000_000;
export const STATEFUL_REASON = 'usage-limited caveat needs a usage counter';

const problem = (n: unknown): string | undefined =>
  Number.isSafeInteger(n) && (n as number) >= 1 && (n as number) <= MAX_USES ? undefined : `use count must be an integer from 1 to ${MAX_USES}`;

export const uses: CaveatType<number> = {
  name: 'uses',
  stateful: true,
  parse(arg) {
    parseGuard(/^[1-9][0-9]{0,9}$/.test(arg) ? problem(Number(arg)) : 'use count must be a decimal integer without leading zeros');
    return Number(arg);
  },
  format: (value) => (formatGuard(problem(value)), String(value)),
  // Only reached if someone calls it directly: it cannot count, so it fails closed.
  check: () => fail(STATEFUL_REASON),
};
