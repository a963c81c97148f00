/**
 * `macaroonAuth`: the hono middleware that puts a Verifier in front of routes.
 *
 *   app.use('/api/*', macaroonAuth({ verifier, context: (c) => ({ operation: 'read' }) }))
 *
 * It is a thin adapter: it reads `Authorization: Macaroon <token>[,<discharge>...]` (or
 * `Bearer` with the same content), describes the request to the verifier (method, raw path,
 * client IP, anything `context(c)` adds), and either stores what the token proved under
 * `c.get('tessera')` and runs the handler, or answers without running it:
 *   400  malformed Authorization header                 (WWW-Authenticate error="invalid_request")
 *   401  no token, or a token that is bad: malformed, forged, unknown key, revoked, missing
 *        discharge                                      (error="invalid_token"; none when absent)
 *   403  a caveat is not met                            (error="insufficient_scope")
 * Statuses come from ERROR_STATUS (src/http/status.ts, re-exported here); the body is `err.toJSON()`. Errors the
 * verifier cannot answer for (a database down, a misconfigured key) are rethrown for the app's
 * error handler. Nothing in a response or message contains the token.
 *
 * Portable: it runs wherever hono does (Node, Workers, Deno, Bun, a browser). Only the client IP
 * is runtime-specific, so it is an option (`clientIp`, a reader like hono's `ipRestriction(getIP)`);
 * on @hono/node-server use `nodeClientIp` from `tessera/hono/node` (or its `macaroonAuth`, which
 * defaults to it).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { TesseraError, invalidArgument, isTesseraError } from '../errors.js';
import { Verifier, type Verified } from '../verifier/index.js';
import type { RequestContext } from '../../caveats/index.js';
import { isIpAddress } from '../../caveats/client-ip.js';
import { DEFAULT_HEADER_BOUNDS, challenge, parseAuthorization, type HeaderBounds } from './authorization.js';
import { httpStatus } from '../http/status.js';

export { challenge, parseAuthorization, quote } from './authorization.js';
export { ERROR_STATUS, httpStatus } from '../http/status.js';
export type { Credential, HeaderBounds } from './authorization.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** What the request's macaroon proved, set by `macaroonAuth` before the handler runs. */
    tessera: Verified;
  }
}

/** Reads the client's IP address for a request; undefined when it is not known. */
export type ClientIpReader = (c: Context) => string | undefined;

/**
 * Where the client IP for `client-ip` caveats (and rate limits) comes from: a reader for your
 * runtime (e.g. `nodeClientIp` from `tessera/hono/node`, the TCP peer), or `x-forwarded-for`,
 * only for a service behind proxies you run: it takes the address `trustedProxies` entries from
 * the right, i.e. the one your outermost proxy saw; entries further left are client-supplied and
 * never used.
 */
export type ClientIpSource = ClientIpReader | { readonly from: 'x-forwarded-for'; readonly trustedProxies: number };

export interface MacaroonAuthOptions {
  readonly verifier: Verifier;
  /**
   * More of the request context (`operation`, `tool`, application fields…), merged over the
   * defaults (`method`, `resource` = raw request path, `ip`). May be async; may throw a
   * TesseraError to refuse the request with that error's status.
   */
  readonly context?: (c: Context) => RequestContext | undefined | Promise<RequestContext | undefined>;
  /**
   * The request's client IP. Without it no request has one, so `client-ip` caveats fail closed;
   * on @hono/node-server pass `nodeClientIp` from `tessera/hono/node`.
   */
  readonly clientIp?: ClientIpSource;
  /** Sets `now` for time caveats; without it the verifier's own clock decides. */
  readonly clock?: () => Date;
  /** The `realm` of WWW-Authenticate challenges. */
  readonly realm?: string;
  /** Longest Authorization header accepted (default 16 384 characters). */
  readonly maxHeaderLength?: number;
  /** Most discharges in one header (default DEFAULT_LIMITS.maxDischarges). */
  readonly maxDischarges?: number;
}

/** The RFC 6750 error code a refused request is challenged with, by HTTP status. */
const CHALLENGE_ERROR: Readonly<Record<number, string>> = { 400: 'invalid_request', 401: 'invalid_token', 403: 'insufficient_scope' };

const positiveInteger = (value: number | undefined, fallback: number, field: string): number => {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw invalidArgument(`${field} must be a positive integer`, { field });
  return value;
};

const noClientIp: ClientIpReader = () => undefined;

/**
 * How to read the client's IP for a request, from a ClientIpSource (none: no IP is known).
 * Shared by every surface that keys anything on the client address (caveats, rate limits).
 */
export function clientIpReader(source?: ClientIpSource): ClientIpReader {
  if (source === undefined) return noClientIp;
  if (typeof source === 'function') return source;
  if (source?.from !== 'x-forwarded-for') throw invalidArgument('clientIp must be a function or { from: "x-forwarded-for", trustedProxies }', { field: 'clientIp' });
  const hops = source.trustedProxies;
  if (!Number.isSafeInteger(hops) || hops < 1) throw invalidArgument('clientIp.trustedProxies must be a positive integer', { field: 'clientIp' });
  return (c) => {
    const entries = (c.req.header('x-forwarded-for') ?? '').split(',');
    const entry = entries.length >= hops ? entries[entries.length - hops]?.trim() : undefined;
    return entry !== undefined && isIpAddress(entry) ? entry : undefined;
  };
}

/** The path exactly as sent (percent-encoding kept), which is what `resource` patterns match. */
function rawPath(url: string): string {
  const start = url.indexOf('/', url.indexOf(':') + 3);
  if (start < 0) return '/';
  let end = start;
  while (end < url.length && url.charCodeAt(end) !== 0x3f && url.charCodeAt(end) !== 0x23) end++;
  return url.slice(start, end);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** Hono middleware that admits a request only if its macaroon grants it. */
export function macaroonAuth(options: MacaroonAuthOptions): MiddlewareHandler {
  if (typeof options !== 'object' || options === null) throw invalidArgument('macaroonAuth needs an options object');
  const { verifier, context, clock, realm } = options;
  if (!(verifier instanceof Verifier)) throw invalidArgument('macaroonAuth needs a Verifier', { field: 'verifier' });
  if (context !== undefined && typeof context !== 'function') throw invalidArgument('context must be a function', { field: 'context' });
  if (clock !== undefined && typeof clock !== 'function') throw invalidArgument('clock must be a function', { field: 'clock' });
  if (realm !== undefined && typeof realm !== 'string') throw invalidArgument('realm must be a string', { field: 'realm' });
  const bounds: HeaderBounds = Object.freeze({
    maxHeaderLength: positiveInteger(options.maxHeaderLength, DEFAULT_HEADER_BOUNDS.maxHeaderLength, 'maxHeaderLength'),
    maxDischarges: positiveInteger(options.maxDischarges, DEFAULT_HEADER_BOUNDS.maxDischarges, 'maxDischarges'),
  });
  const readIp = clientIpReader(options.clientIp);
  const realmParam = realm !== undefined ? { realm } : {};

  /** The response for a refused request, thrown as hono's HTTPException with the error as cause. */
  const refuse = (err: TesseraError, presented: boolean): HTTPException => {
    const status = httpStatus(err);
    const error = presented ? CHALLENGE_ERROR[status] : undefined;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    if (status === 401 || error !== undefined) {
      headers['www-authenticate'] = challenge({ ...realmParam, ...(error !== undefined ? { error, description: err.message } : {}) });
    }
    const res = new Response(JSON.stringify(err.toJSON()), { status, headers });
    return new HTTPException(status, { res, cause: err });
  };

  /** A refusal for a TesseraError the client can act on; anything else goes to the app. */
  const answer = (e: unknown, presented: boolean): unknown => (isTesseraError(e) && httpStatus(e) < 500 ? refuse(e, presented) : e);

  /** The user's context merged over what the request says; the plain object case stays synchronous. */
  const merge = (base: RequestContext, extra: RequestContext | undefined): RequestContext => {
    if (extra === undefined) return base;
    if (!isPlainObject(extra)) throw new TesseraError('ERR_CONFIG', 'macaroonAuth context(c) must return a plain object');
    return { ...base, ...extra };
  };

  const requestContext = (c: Context): RequestContext | Promise<RequestContext> => {
    const ip = readIp(c);
    const base: RequestContext = { method: c.req.method, resource: rawPath(c.req.url) };
    if (ip !== undefined) (base as { ip?: string }).ip = ip;
    if (clock !== undefined) (base as { now?: Date }).now = clock();
    if (context === undefined) return base;
    const extra = context(c);
    return typeof (extra as { then?: unknown } | undefined)?.then === 'function'
      ? Promise.resolve(extra).then((e) => merge(base, e))
      : merge(base, extra as RequestContext | undefined);
  };

  return async function macaroonAuth(c, next) {
    const header = c.req.header('authorization');
    if (header === undefined) throw refuse(new TesseraError('ERR_UNAUTHENTICATED', 'a macaroon is required'), false);
    let token: string;
    let discharges: readonly string[];
    let ctx: RequestContext;
    try {
      ({ token, discharges } = parseAuthorization(header, bounds));
      const built = requestContext(c);
      ctx = built instanceof Promise ? await built : built; // stays synchronous unless context(c) was async
    } catch (e) {
      throw answer(e, true);
    }
    let verified: Verified;
    try {
      verified = await verifier.verify(token, { discharges, context: ctx });
    } catch (e) {
      // A token that does not decode (ERR_MALFORMED / ERR_LIMIT, 400 in the table) is still a
      // presented credential that fails: RFC 6750 §3.1 answers that 401 invalid_token. The
      // arguments passed here are always well formed, so ERR_INVALID_ARGUMENT means the app's
      // rootKeyFor (or similar) is wrong: a server error, not the client's.
      if (isTesseraError(e, 'ERR_INVALID_ARGUMENT')) throw e;
      throw answer(isTesseraError(e, 'ERR_MALFORMED') || isTesseraError(e, 'ERR_LIMIT') ? malformedToken(e) : e, true);
    }
    c.set('tessera', verified);
    await next();
  };
}

function malformedToken(e: TesseraError): TesseraError {
  return new TesseraError('ERR_UNAUTHENTICATED', 'the token is not a well-formed macaroon', { reason: e.message }, { cause: e });
}
