/** `tessera attenuate`: add caveats to a token offline (no server, no key: macaroons allow it). */
import { defaultRegistry } from '../../../caveats/index.js';
import { checkConditions } from '../../issuer/issuer.js';
import { Macaroon } from '../../macaroon/macaroon.js';
import { bool, strs, type Command } from '../command.js';
import { readValue, UsageError } from '../io.js';

/** Add first-party conditions to an encoded token; checks them against the standard caveats unless `unchecked`. */
export function attenuateToken(token: string, conditions: readonly string[], options: { readonly unchecked?: boolean } = {}): string {
  if (options.unchecked !== true) checkConditions(conditions, defaultRegistry, 'caveat');
  let m = Macaroon.decode(token);
  for (const c of conditions) m = m.addFirstPartyCaveat(c);
  return m.encode();
}

export const attenuate: Command = {
  name: 'attenuate',
  summary: 'add caveats to a token, offline',
  help: `Usage: tessera attenuate [<token>|-] --caveat <condition> [--caveat <condition>...]

Adds first-party caveats to a token and prints the new, narrower token. Runs offline: no
server and no key are needed, and the result can only do less than the original. The token
is read from the argument, or from stdin when it is "-" or missing.

Options:
  --caveat <condition>  a caveat to add, e.g. "ops read", "resource /docs/*",
                        "time-before 2030-01-01T00:00:00Z", "uses 3" (repeatable)
  --unchecked           accept conditions the standard caveat set does not know
  -h, --help            show this help

Example:
  tessera attenuate "$TOKEN" --caveat "ops read" --caveat "resource /reports/*"`,
  options: { caveat: { type: 'string', multiple: true }, unchecked: { type: 'boolean' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const conditions = strs(args, 'caveat');
    if (conditions.length === 0) throw new UsageError('give at least one --caveat');
    const token = await readValue(args.positionals[0], io);
    io.out(attenuateToken(token, conditions, { unchecked: bool(args, 'unchecked') }));
  },
};
