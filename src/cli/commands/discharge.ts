/**
 * `tessera discharge`: gather the discharges a token's third-party caveats need and print the
 * `Authorization` header value (the token, then each discharge bound to it). Approval URLs are
 * printed (and, with --open, opened in a browser) as soon as they are known; the command then
 * long-polls until a person decides.
 */
import { spawn } from 'node:child_process';
import { gatherDischarges, type FetchLike } from '../../client/index.js';
import { isTesseraError, type TesseraError } from '../../errors.js';
import { bool, str, type Command } from '../command.js';
import { parseDuration, pretty, readValue, type CliIO } from '../io.js';

const DEFAULT_TIMEOUT = '15m';
const TIMEOUT_BOUNDS = { min: 1, max: 7 * 86_400 };

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

/**
 * A request that ended without a discharge, told plainly: who denied it and why, or that it
 * expired, was withdrawn, lapsed, or that we stopped waiting. Exit status 1.
 */
function reportNoDischarge(e: TesseraError, json: boolean, io: CliIO): number {
  const d = e.details;
  const status = e.code === 'ERR_PENDING' ? 'timeout' : typeof d.status === 'string' ? d.status : 'denied';
  const reason = typeof d.reason === 'string' ? d.reason : null;
  const decidedBy = typeof d.decidedBy === 'string' ? d.decidedBy : null;
  const approvalUrls = Array.isArray(d.approvalUrls) ? d.approvalUrls.filter((u): u is string => typeof u === 'string') : [];
  if (json) {
    io.out(pretty({ status, reason, decidedBy, ...(status === 'timeout' ? { approvalUrls } : {}) }));
    return 1;
  }
  const lines: Record<string, string> = {
    denied: `denied${decidedBy !== null ? ` by ${decidedBy}` : ''}${reason !== null ? `: ${reason}` : ' (no reason given)'}`,
    expired: 'the request expired before anyone decided',
    withdrawn: `the approval was withdrawn${decidedBy !== null ? ` by ${decidedBy}` : ''} before it was collected`,
    lapsed: 'the approval lapsed: it was not collected while it was valid',
    timeout: `gave up waiting at the timeout; the request may still be decided: ${approvalUrls.join(' ')}`.trimEnd(),
  };
  io.err(`error: ${lines[status] ?? `${e.message} (${status})`} (${e.code})`);
  return 1;
}

/** The command, with its network and browser injectable for tests. */
export function makeDischargeCommand(deps: { readonly fetch?: FetchLike; readonly open?: (url: string) => void } = {}): Command {
  return {
    name: 'discharge',
    summary: 'get third-party discharges (approvals) for a token; print the Authorization header',
    help: `Usage: tessera discharge [<token>|-] [--reason <text>] [--private] [--open] [--timeout <duration>] [--json]

Finds the token's third-party caveats (e.g. "approve group:ops deploy web"), asks each
discharge service for a discharge, prints the approval URL a person must visit, waits until
they decide, binds every discharge to the token (discharges of discharges too), and prints
the value for the HTTP header:

  Authorization: Macaroon <token>,<discharge>,...

The approver sees which token asks, verified: each request carries a copy of the token
narrowed offline to that discharge service and five minutes (useless anywhere else), plus
its first-party caveats and your --reason. The token is read from the argument, or from
stdin when it is "-" or missing. Approval URLs and progress go to stderr; the header value
(or, with --json, the bundle) to stdout.
The token may also be the Go/Python bakery's macaroon JSON ({"m":…,"v":3,"cdata":…}): tickets
its v3 caveats carry apart are sent with their caveat ids.

Options:
  --open                 open each approval URL in the browser as well
  --timeout <duration>   give up after this long (default ${DEFAULT_TIMEOUT}), e.g. 90s, 15m, 1h
  --reason <text>        why you ask, shown to the approver as your words (at most 500 characters)
  --private              show nothing of the token (no copy, no caveats); the approver is told so
  --json                 print { authorization, token, discharges } as JSON
  -h, --help             show this help

Exit status: 0 with the header value; 1 if a request was denied, expired, withdrawn or
timed out: stderr says which, and who denied it and why (--json: { status, reason, decidedBy }).

Example:
  curl -H "Authorization: $(tessera discharge "$TOKEN" --reason "release 1.4")" https://api.example.com/deploy`,
    options: { open: { type: 'boolean' }, timeout: { type: 'string' }, private: { type: 'boolean' }, reason: { type: 'string' }, json: { type: 'boolean' } },
    positionals: { min: 0, max: 1 },
    async run(args, io) {
      const token = await readValue(args.positionals[0], io);
      const timeoutMs = parseDuration(str(args, 'timeout') ?? DEFAULT_TIMEOUT, 'timeout', TIMEOUT_BOUNDS) * 1000;
      const open = bool(args, 'open') ? (deps.open ?? openInBrowser) : undefined;
      const reason = str(args, 'reason');
      let bundle;
      try {
        bundle = await gatherDischarges(token, {
          timeoutMs,
          private: bool(args, 'private'),
          ...(reason !== undefined ? { reason } : {}),
          ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}),
          onApprovalUrl: (url) => {
            io.err(`approval needed: ${url}`);
            io.err('waiting for a decision…');
            open?.(url);
          },
        });
      } catch (e) {
        if (isTesseraError(e, 'ERR_DENIED') || isTesseraError(e, 'ERR_PENDING')) return reportNoDischarge(e, bool(args, 'json'), io);
        throw e;
      }
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
