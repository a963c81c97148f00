/** `tessera verify`: ask the server whether a token grants a request (POST /v1/verify). */
import { DEFAULT_HEADER_BOUNDS, parseAuthorization, type Credential } from '../../hono/authorization.js';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, strs, type Command } from '../command.js';
import { adminTokenOf, dataDirOf, pretty, readValue, serverUrlOf } from '../io.js';

const CONTEXT = ['operation', 'resource', 'method', 'ip', 'tool', 'audience'] as const;

interface ExplainedCaveat {
  readonly condition: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly reason?: string;
  readonly source: 'token' | 'discharge';
}

interface Verdict {
  readonly allowed: boolean;
  readonly identifier?: string | null;
  readonly caveats?: readonly (string | ExplainedCaveat)[];
  readonly error?: { readonly code: string; readonly message: string; readonly details?: { readonly caveat?: string; readonly reason?: string } };
}

/**
 * A bare token, or the `Macaroon <token>,<discharge>…` (or `Bearer …`) value `tessera discharge`
 * prints, read by the parser macaroonAuth uses, so the two agree on what a credential is.
 */
function credentialOf(value: string): Credential {
  return /^(?:macaroon|bearer)\s/i.test(value) ? parseAuthorization(value, DEFAULT_HEADER_BOUNDS) : { token: value, discharges: [] };
}

export const verify: Command = {
  name: 'verify',
  summary: 'check a token against a request, on the server',
  help: `Usage: tessera verify [<token>|<credential>|-] [--operation <op>] [--resource <path>] [--method <m>]
                       [--ip <addr>] [--tool <name>] [--audience <service>]
                       [--discharge <token>...] [--explain] [--json]

Asks the server whether the token (with its discharges) grants the request described by the
flags. Prints "allowed", or "denied" with the failing caveat and why; exits 0 when allowed,
1 when denied. A "uses n" caveat counts this check as a use. The token is read from the
argument, or from stdin when it is "-" or missing. It may also be what "tessera discharge"
prints, "Macaroon <token>,<discharge>,..." (or "Bearer ..."): the discharges come with it.

Example:
  tessera verify "$(tessera discharge "$TOKEN")" --operation read

Request options:
  --operation <op>      e.g. read (for ops caveats)
  --resource <path>     e.g. /docs/report.pdf (for resource caveats)
  --method <method>     e.g. GET
  --ip <address>        client IP (for client-ip caveats)
  --tool <name>         agent tool name (for tool caveats)
  --audience <service>  the service asking (for aud caveats)
  --discharge <token>   a discharge macaroon (repeatable)
  --explain             judge every caveat and list each with pass or fail (no use is
                        counted), instead of stopping at the first that fails
  --json                print the server's answer as JSON
  -h, --help            show this help

${SERVER_HELP}
  The admin token needs the "verify" operation; a verify-only credential for a service:
  tessera attenuate "$(cat .tessera/admin-token)" --caveat "ops verify"`,
  options: {
    ...SERVER_OPTIONS,
    ...Object.fromEntries(CONTEXT.map((k) => [k, { type: 'string' as const }])),
    discharge: { type: 'string', multiple: true },
    explain: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const { token, discharges } = credentialOf(await readValue(args.positionals[0], io));
    const context: Record<string, string> = {};
    for (const k of CONTEXT) {
      const v = str(args, k);
      if (v !== undefined) context[k] = v;
    }
    const { token: admin } = await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io);
    const verdict = await api<Verdict>({ url: serverUrlOf(str(args, 'url'), io), token: admin }, 'POST', '/v1/verify', {
      token,
      discharges: [...discharges, ...strs(args, 'discharge')],
      context,
      ...(bool(args, 'explain') ? { explain: true } : {}),
    });
    if (bool(args, 'json')) io.out(pretty(verdict));
    else if (bool(args, 'explain')) {
      io.out(verdict.allowed ? 'allowed' : `denied${verdict.error !== undefined ? `: ${verdict.error.message} (${verdict.error.code})` : ''}`);
      for (const c of verdict.caveats ?? []) {
        if (typeof c === 'string') continue;
        io.out(`  ${c.ok ? 'pass' : 'FAIL'}  ${c.source === 'discharge' ? '[discharge] ' : ''}${c.condition}${c.ok ? '' : `: ${c.reason ?? c.code ?? ''}`}`);
      }
    }
    else if (verdict.allowed) io.out(`allowed${verdict.identifier ? ` (${verdict.identifier})` : ''}`);
    else {
      const e = verdict.error;
      io.out(`denied: ${e?.message ?? 'not allowed'} (${e?.code ?? 'unknown'})`);
      if (e?.details?.caveat !== undefined) io.out(`  caveat: ${e.details.caveat}`);
    }
    return verdict.allowed ? 0 : 1;
  },
};
