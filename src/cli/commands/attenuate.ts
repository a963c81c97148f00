/**
 * `tessera attenuate`: add caveats to a token offline (no server, no key: macaroons allow it).
 * A third-party caveat needs only the discharge service's public key, fetched once from its
 * well-known URL; the service itself is not asked anything about the token.
 */
import { defaultRegistry } from '../../../caveats/index.js';
import { addBakeryDischargeCaveat, attenuateThirdParty, encodeBakeryMacaroon, fetchDischargerInfo, type FetchLike } from '../../client/index.js';
import { checkConditions } from '../../issuer/issuer.js';
import { Macaroon } from '../../macaroon/macaroon.js';
import { bool, str, strs, type Command } from '../command.js';
import { readValue, UsageError } from '../io.js';

/** Add first-party conditions to an encoded token; checks them against the standard caveats unless `unchecked`. */
function attenuateToken(token: string, conditions: readonly string[], options: { readonly unchecked?: boolean } = {}): string {
  if (options.unchecked !== true) checkConditions(conditions, defaultRegistry, 'caveat');
  let m = Macaroon.decode(token);
  for (const c of conditions) m = m.addFirstPartyCaveat(c);
  return m.encode();
}

export function makeAttenuateCommand(deps: { readonly fetch?: FetchLike } = {}): Command {
  return {
  name: 'attenuate',
  summary: 'add caveats to a token, offline',
  help: `Usage: tessera attenuate [<token>|-] --caveat <condition> [--caveat <condition>...]
       tessera attenuate [<token>|-] --third-party <url> --condition <text> [--caveat ...]

Adds caveats to a token and prints the new, narrower token. First-party caveats need no
server and no key, and the result can only do less than the original. A third-party caveat
(--third-party) is sealed to the discharge service's public key, fetched once from
<url>/.well-known/tessera/discharger; the token is then useless until that service
discharges the condition (see "tessera discharge"). The token is read from the argument,
or from stdin when it is "-" or missing.

Options:
  --caveat <condition>  a caveat to add, e.g. "ops read", "resource /docs/*",
                        "time-before 2030-01-01T00:00:00Z", "uses 3" (repeatable)
  --third-party <url>   a discharge service, e.g. http://127.0.0.1:8470
  --condition <text>    what it must discharge: "approve <who> <what>" or "login <who>"
  --bakery-v3           add the third-party caveat as the bakery's v3 does (a short caveat
                        id, the ticket carried apart) and print the bakery's macaroon JSON
                        {"m":…,"v":3,"cdata":…} for bakery clients and "tessera discharge"
  --unchecked           accept conditions the standard caveat set does not know
  -h, --help            show this help

Examples:
  tessera attenuate "$TOKEN" --caveat "ops read" --caveat "resource /reports/*"
  tessera attenuate "$TOKEN" --third-party http://127.0.0.1:8470 \\
    --condition "approve group:ops deploy web to production"`,
  options: {
    caveat: { type: 'string', multiple: true },
    unchecked: { type: 'boolean' },
    'third-party': { type: 'string' },
    'bakery-v3': { type: 'boolean' },
    condition: { type: 'string' },
  },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const conditions = strs(args, 'caveat');
    const location = str(args, 'third-party');
    const condition = str(args, 'condition');
    if ((location === undefined) !== (condition === undefined)) throw new UsageError('--third-party and --condition go together');
    if (conditions.length === 0 && location === undefined) throw new UsageError('give at least one --caveat, or --third-party with --condition');
    const v3 = bool(args, 'bakery-v3');
    if (v3 && location === undefined) throw new UsageError('--bakery-v3 needs --third-party and --condition');
    let token = await readValue(args.positionals[0], io);
    if (conditions.length > 0) token = attenuateToken(token, conditions, { unchecked: bool(args, 'unchecked') });
    const fetchOption = deps.fetch !== undefined ? { fetch: deps.fetch } : {};
    if (location !== undefined && condition !== undefined && v3) {
      const info = await fetchDischargerInfo(location, fetchOption);
      token = encodeBakeryMacaroon(addBakeryDischargeCaveat(token, { location: info.location, publicKey: info.publicKey, condition }));
    } else if (location !== undefined && condition !== undefined) {
      token = (await attenuateThirdParty(token, location, condition, fetchOption)).encode();
    }
    io.out(token);
    return 0;
  },
  };
}

export const attenuate: Command = makeAttenuateCommand();
