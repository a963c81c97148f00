/**
 * The agent's side: `tesseraFetch` for the SDK's `StreamableHTTPClientTransport` (pass it as
 * the `fetch` option), and `delegate` to narrow a token for a sub-agent, offline.
 *
 * `tesseraFetch` sends the token as `Authorization: Bearer`. When an answer carries a
 * discharge-required error (a tool needing a person's approval), it gathers the discharge for
 * each challenge from Tessera's discharge service (`gatherDischarges`: `onApprovalUrl` is told
 * where the person approves; it waits up to `approvalTimeoutMs`), then sends the same request
 * once more with the discharged challenges in the `Tessera-Approval` header. The retry's answer
 * is final, whatever it says.
 */
import { TesseraError, invalidArgument } from '../errors.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { gatherDischarges, type FetchLike } from '../client/index.js';
import { caveat } from '../../caveats/index.js';
import { APPROVAL_HEADER, MCP_ERRORS } from './server.js';
import { APPROVALS_MODE_HEADER } from './elicitation.js';

/** The fetch signature the MCP SDK's transports take. */
export type McpFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface TesseraFetchOptions {
  /** The token (and any discharges it needs), or a function returning the current one. */
  readonly token: Macaroon | string | (() => Macaroon | string);
  readonly discharges?: readonly (Macaroon | string)[];
  /** Told each approval URL as soon as it is known: show it to the person running the agent. */
  readonly onApprovalUrl?: (url: string, info: { readonly condition: string }) => void;
  /** How long to wait for a person; default 10 minutes, then ERR_PENDING. */
  readonly approvalTimeoutMs?: number;
  /** Long-poll wait per poll, in seconds (default 25). */
  readonly waitSeconds?: number;
  /** The fetch underneath (for the MCP server and the discharge service); default global fetch. */
  readonly fetch?: McpFetch;
}

interface ChallengeData {
  readonly challenge: string;
  readonly condition: string;
}

const encoded = (t: Macaroon | string): string => (t instanceof Macaroon ? t.encode() : t);

/** Discharge-required errors in a JSON-RPC answer (one message or a batch). */
function challengesIn(body: unknown): ChallengeData[] {
  const found: ChallengeData[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const error = (m as { error?: { code?: unknown; data?: { challenge?: unknown; condition?: unknown } } } | null)?.error;
    if (error?.code === MCP_ERRORS.approvalRequired && typeof error.data?.challenge === 'string') {
      found.push({ challenge: error.data.challenge, condition: typeof error.data.condition === 'string' ? error.data.condition : '' });
    }
  }
  return found;
}

/** A fetch for `new StreamableHTTPClientTransport(url, { fetch: tesseraFetch({ token }) })`. */
export function tesseraFetch(options: TesseraFetchOptions): McpFetch {
  if (typeof options !== 'object' || options === null || options.token === undefined) throw invalidArgument('tesseraFetch needs { token }', { field: 'token' });
  const base: McpFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.approvalTimeoutMs ?? 10 * 60_000;
  const credential = (): string => {
    const token = typeof options.token === 'function' ? options.token() : options.token;
    return [token, ...(options.discharges ?? [])].map(encoded).join(',');
  };

  return async (url, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${credential()}`);
    headers.set(APPROVALS_MODE_HEADER, 'discharge'); // challenges, not URL elicitation: this gathers discharges itself
    const res = await base(url, { ...init, headers });
    if (init.method !== 'POST' || res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('application/json')) return res;
    const text = await res.text();
    let challenges: ChallengeData[] = [];
    try {
      challenges = challengesIn(JSON.parse(text));
    } catch {
      // not JSON after all: hand it on as it came
    }
    if (challenges.length === 0) return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });

    const gatherFetch: FetchLike = (u, i) => base(u, i);
    const approved = await Promise.all(
      challenges.map(async ({ challenge, condition }) => {
        const bundle = await gatherDischarges(challenge, {
          fetch: gatherFetch,
          timeoutMs,
          ...(options.waitSeconds !== undefined ? { waitSeconds: options.waitSeconds } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
          onApprovalUrl: (approvalUrl) => options.onApprovalUrl?.(approvalUrl, { condition }),
        });
        return [bundle.token, ...bundle.discharges].map((m) => m.encode()).join(',');
      }),
    );
    headers.set(APPROVAL_HEADER, approved.join(' '));
    return base(url, { ...init, headers });
  };
}

export interface DelegateOptions {
  /** Only these tools (`tool a,b`). */
  readonly tools?: readonly string[];
  /** Only resources under this glob (`resource /docs/**`); one pattern. */
  readonly resources?: string;
  /** Only these operations (`ops …`). */
  readonly operations?: readonly string[];
  /** Lifetime in seconds (`time-before now + ttl`). */
  readonly ttl?: number;
  /** At most this many calls (`uses n`; each tools/call, resources/read or prompts/get counts one). */
  readonly uses?: number;
  readonly clock?: () => Date;
}

/**
 * The narrower token a parent agent hands a sub-agent: its own token plus caveats, offline.
 * It can only ever lose power (the HMAC chain sees to that).
 */
export function delegate(token: Macaroon | string, options: DelegateOptions): Macaroon {
  let m = token instanceof Macaroon ? token : typeof token === 'string' ? Macaroon.decode(token) : undefined;
  if (m === undefined) throw invalidArgument('token must be a Macaroon or an encoded token', { field: 'token' });
  if (typeof options !== 'object' || options === null) throw invalidArgument('delegate needs options { tools, resources, ttl, uses }');
  const conditions: string[] = [];
  if (options.tools !== undefined) conditions.push(caveat.tool(options.tools));
  if (options.resources !== undefined) conditions.push(caveat.resource(options.resources));
  if (options.operations !== undefined) conditions.push(caveat.ops(options.operations));
  if (options.ttl !== undefined) {
    if (!Number.isSafeInteger(options.ttl) || options.ttl < 1) throw invalidArgument('ttl must be a positive number of seconds', { field: 'ttl' });
    conditions.push(caveat.timeBefore(new Date((options.clock?.() ?? new Date()).getTime() + options.ttl * 1000)));
  }
  if (options.uses !== undefined) conditions.push(caveat.uses(options.uses));
  if (conditions.length === 0) throw new TesseraError('ERR_INVALID_ARGUMENT', 'delegate with no restriction would hand over the whole token', { field: 'options' });
  for (const c of conditions) m = m.addFirstPartyCaveat(c);
  return m;
}
