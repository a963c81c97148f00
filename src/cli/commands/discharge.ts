/**
 * `tessera discharge`: gather the discharges a token's third-party caveats need and print the
 * `Authorization` header value (the token, then each discharge bound to it). Approval URLs are
 * printed (and, with --open, opened in a browser) as soon as they are known; the command then
 * long-polls until a person decides.
 */
import { spawn } from 'node:child_process';
import { gatherDischarges, type FetchLike } from '../../client/index.js';
import { bool, str, type Command } from '../command.js';
import { parseDuration, pretty, readValue } from '../io.js';

const DEFAULT_TIMEOUT = '15m';

/** Open an http(s) URL in the desktop browser, if there is one; never through a shell. */
function openInBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['explorer.exe', [url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined); // no browser: the URL was printed anyway
    child.unref();
  } catch {
    // same
  }
}

/** The command, with its network and browser injectable for tests. */
export function makeDischargeCommand(deps: { readonly fetch?: FetchLike; readonly open?: (url: string) => void } = {}): Command {
  return {
    name: 'discharge',
    summary: 'get third-party discharges (approvals) for a token; print the Authorization header',
    help: `Usage: tessera discharge [<token>|-] [--open] [--timeout <duration>] [--json]

Finds the token's third-party caveats (e.g. "approve group:ops deploy web"), asks each
discharge service for a discharge, prints the approval URL a person must visit, waits until
they decide, binds every discharge to the token (discharges of discharges too), and prints
the value for the HTTP header:

  Authorization: Macaroon <token>,<discharge>,...

The token is read from the argument, or from stdin when it is "-" or missing. It may also be
the Go/Python bakery's macaroon JSON ({"m":…,"v":3,"cdata":…}): tickets its v3 caveats carry
apart are sent with their caveat ids. Approval URLs
and progress go to stderr; the header value (or, with --json, the bundle) to stdout.

Options:
  --open                 open each approval URL in the browser as well
  --timeout <duration>   give up after this long (default ${DEFAULT_TIMEOUT}), e.g. 90s, 15m, 1h
  --private              do not show the token's first-party caveats to the approver
  --json                 print { authorization, token, discharges } as JSON
  -h, --help             show this help

Exit status: 0 with the header value; 1 if a request was denied, expired or timed out.

Example:
  curl -H "Authorization: $(tessera discharge "$TOKEN")" https://api.example.com/deploy`,
    options: { open: { type: 'boolean' }, timeout: { type: 'string' }, private: { type: 'boolean' }, json: { type: 'boolean' } },
    positionals: { min: 0, max: 1 },
    async run(args, io) {
      const token = await readValue(args.positionals[0], io);
      const timeoutMs = parseDuration(str(args, 'timeout') ?? DEFAULT_TIMEOUT, 'timeout') * 1000;
      const open = bool(args, 'open') ? (deps.open ?? openInBrowser) : undefined;
      const bundle = await gatherDischarges(token, {
        timeoutMs,
        shareCaveats: !bool(args, 'private'),
        ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}),
        onApprovalUrl: (url) => {
          io.err(`approval needed: ${url}`);
          io.err('waiting for a decision…');
          open?.(url);
        },
      });
      if (bool(args, 'json')) {
        io.out(pretty({ authorization: bundle.authorization, token: bundle.token.encode(), discharges: bundle.discharges.map((d) => d.encode()) }));
      } else {
        if (bundle.discharges.length > 0) io.err(`got ${bundle.discharges.length} discharge${bundle.discharges.length === 1 ? '' : 's'}`);
        io.out(bundle.authorization);
      }
      return 0;
    },
  };
}

export const discharge: Command = makeDischargeCommand();
