/**
 * The macaroon bakery's HTTP discharge protocol (Go `httpbakery`, Python `macaroonbakery`),
 * served beside Tessera's own, so a bakery client with its stock web-browser interactor gets a
 * person's approval from Tessera with no Tessera code on its side. Mounted at `/` (the
 * discharger's location is the system's public URL):
 *
 *   GET  /discharge/info    { PublicKey: <std base64 X25519>, Version: 3 }
 *   GET  /publickey         { PublicKey }
 *   POST /discharge         form (URL query and/or urlencoded body): id | id64, caveat64 (the
 *                           ticket when it travels apart: bakery v3), token + token-kind |
 *                           token64 + token-kind, location (ignored)
 *        → 401 interaction required (407 for protocol version 0) with the `browser-window`
 *          method { VisitURL: the approval page, WaitTokenURL } and the legacy VisitURL/WaitURL
 *        → with a token: 200 { Macaroon } (the bakery's JSON: v3 `{ m, v, ns }`, v2 plain)
 *   GET  /discharge/wait-token/:secret   long-poll until a person decides:
 *                           200 { kind: "tessera-discharge", token64 } | 401 permission denied
 *   GET  /discharge/wait/:secret         legacy: 200 { Macaroon } | 401 permission denied
 *
 * The token is the discharge itself (V2 binary, as `token64` in standard padded base64: the one
 * spelling Python's stock client decodes, and it mishandles a text `token`). The wait URL is an
 * unguessable single-use poll secret, and the re-POST checks the token against the ticket (its
 * identifier is the caveat id, its chain verifies under the ticket's caveat key) before wrapping
 * it, so it holds no state and a token for another caveat is refused. Errors are the bakery's
 * `{ Code, Message, Info? }` with its statuses (bad request 400, permission denied 401); input
 * errors are never 5xx. Discharges minted here carry only caveats a bakery checks (time-before,
 * declared; see the service's `format: 'bakery'`).
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { TesseraError, isTesseraError, type ErrorCode } from '../errors.js';
import { base64Decode } from '../crypto/bytes.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { readForm } from '../http/body.js';
import { errorHandler } from '../http/errors.js';
import { httpStatus } from '../http/status.js';
import type { LogOption } from '../log.js';
import { WindowLimiter, type WindowLimit } from '../http/rate-limit.js';
import { clientIpReader, nodeClientIp, type ClientIpSource } from '../hono/node.js';
import { TICKET_MAX_BYTES } from '../tickets/ticket.js';
import type { DischargeService, RequesterInfo, TicketInfo } from './service.js';

/** The bakery protocol version this discharger speaks (the Go bakery's LatestVersion). */
const BAKERY_VERSION = 3;
const PROTOCOL_HEADER = 'Bakery-Protocol-Version';
/** The token kind of the discharge handed out by the wait-token URL. */
export const BAKERY_TOKEN_KIND = 'tessera-discharge';
const FIELDS = ['id', 'id64', 'caveat64', 'token', 'token64', 'token-kind', 'location'] as const;
/** Base64 of the largest ticket; tokens (discharges) are bounded by the same size. */
const MAX_FIELD_CHARS = Math.ceil((TICKET_MAX_BYTES * 4) / 3) + 4;
const MAX_FORM_BYTES = 3 * MAX_FIELD_CHARS + 4096;
const MAX_TOKEN_KIND = 64;
const MAX_USER_AGENT = 256;
const NO_STORE = 'no-store';

type BakeryCode = 'bad request' | 'permission denied' | 'interaction required' | 'not found' | 'too many requests' | 'internal error';

/** A bakery wire error: `{ Code, Message, Info? }` and the status the Go bakery gives it. */
class BakeryError extends Error {
  constructor(
    readonly code: BakeryCode,
    message: string,
    readonly status: ContentfulStatusCode,
    readonly info?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, [BakeryCode, ContentfulStatusCode]>> = {
  ERR_DENIED: ['permission denied', 401],
  ERR_FORBIDDEN: ['permission denied', 401],
  ERR_SIGNATURE: ['permission denied', 401],
  ERR_NOT_FOUND: ['not found', 404],
  ERR_RATE_LIMITED: ['too many requests', 429],
};

/** A TesseraError in the bakery's terms; the person's reason for a denial goes in the message. */
function fromTessera(e: TesseraError): BakeryError {
  const [code, status] = STATUS_OF[e.code] ?? (httpStatus(e) < 500 ? (['bad request', 400] as const) : (['internal error', 500] as const));
  const reason = typeof e.details.reason === 'string' && e.code === 'ERR_DENIED' ? `: ${e.details.reason}` : '';
  return new BakeryError(code, `${e.message}${reason}`, status);
}

export interface BakeryRoutesOptions {
  /** Discharge requests (POSTs without a token) per client IP in a window; default 120 per minute. */
  readonly requestsPerIp?: WindowLimit;
  /** Waits (wait-token and legacy wait GETs) per client IP in a window; default 600 per minute. */
  readonly waitsPerIp?: WindowLimit;
  /** Where the client's IP comes from (default the TCP peer; behind a proxy, its header). */
  readonly clientIp?: ClientIpSource;
  /** Clock for the window (tests). */
  readonly now?: () => number;
  /** Where unexpected failures are logged (default: the console). */
  readonly log?: LogOption;
}

const DEFAULT_REQUESTS_PER_IP: WindowLimit = { max: 120, windowSeconds: 60 };
const DEFAULT_WAITS_PER_IP: WindowLimit = { max: 600, windowSeconds: 60 };

/** Standard padded base64, as the bakery's `Key.MarshalText` writes public keys. */
const stdBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');

/** The bakery's JSON for a discharge: v3 `{ m, v: 3, ns }`, v2 the bare macaroon JSON. */
export function bakeryMacaroonJSON(discharge: Macaroon, ticket: TicketInfo): Record<string, unknown> {
  // go-macaroon writes no "v" in the macaroon JSON; neither do we, to be byte-faithful.
  const { v: _v, ...m } = discharge.toJSONObject();
  return ticket.version === 3 ? { m, v: BAKERY_VERSION, ns: ticket.namespace ?? '' } : m;
}

/** `x` (text) or `x64` (base64), never both; undefined when neither. */
function eitherField(form: ReadonlyMap<string, string>, name: string): Uint8Array | undefined {
  const text = form.get(name);
  const encoded = form.get(`${name}64`);
  if (text !== undefined && encoded !== undefined) throw new BakeryError('bad request', `both ${name} and ${name}64 given`, 400);
  if (encoded !== undefined) return base64Decode(encoded, `${name}64`);
  return text === undefined || text === '' ? undefined : new TextEncoder().encode(text);
}

/** The protocol version the client asked for (header absent or bad: 0, as the Go bakery reads it). */
function requestVersion(c: Context): number {
  const raw = c.req.header(PROTOCOL_HEADER);
  return raw !== undefined && /^\d{1,3}$/.test(raw) ? Math.min(Number(raw), BAKERY_VERSION) : 0;
}

/** The bakery's discharge protocol routes over `service`. */
export function bakeryRoutes(service: DischargeService, options: BakeryRoutesOptions = {}): Hono {
  const requests = new WindowLimiter(options.requestsPerIp ?? DEFAULT_REQUESTS_PER_IP, options.now);
  const waits = new WindowLimiter(options.waitsPerIp ?? DEFAULT_WAITS_PER_IP, options.now);
  const clientIp = clientIpReader(options.clientIp ?? nodeClientIp);
  const onError = errorHandler(options.log);
  const app = new Hono();

  app.onError((err, c) => {
    const e = err instanceof BakeryError ? err : isTesseraError(err) ? fromTessera(err) : undefined;
    if (e === undefined || e.status >= 500) {
      // Unexpected (or a server-side failure): the shared handler logs it without its message.
      const res = onError(err, c);
      return c.json({ Code: 'internal error', Message: 'internal server error' }, res.status as ContentfulStatusCode, { 'Cache-Control': NO_STORE });
    }
    c.header('Cache-Control', NO_STORE);
    if (e.code === 'interaction required' && e.status === 401) c.header('WWW-Authenticate', 'Macaroon');
    return c.json({ Code: e.code, Message: e.message, ...(e.info !== undefined ? { Info: e.info } : {}) }, e.status);
  });

  const publicKey = stdBase64(service.publicKey);
  app.get('/discharge/info', (c) => {
    c.header('Cache-Control', 'max-age=300');
    return c.json({ PublicKey: publicKey, Version: BAKERY_VERSION });
  });
  app.get('/publickey', (c) => {
    c.header('Cache-Control', 'max-age=300');
    return c.json({ PublicKey: publicKey });
  });

  app.post('/discharge', async (c) => {
    c.header('Cache-Control', NO_STORE);
    const form = await readForm(c, FIELDS, { maxBytes: MAX_FORM_BYTES, maxChars: MAX_FIELD_CHARS });
    const id = eitherField(form, 'id');
    if (id === undefined) throw new BakeryError('bad request', 'no caveat id (id or id64)', 400);
    const caveat64 = form.get('caveat64');
    const ticket = caveat64 === undefined || caveat64 === '' ? undefined : base64Decode(caveat64, 'caveat64');
    const token = eitherField(form, 'token');
    if (token !== undefined) return c.json({ Macaroon: checkToken(form.get('token-kind'), token, id, ticket) }, 200);

    const requester = throttle(c, requests, 'discharge requests');
    const result = await service.request(id, requester, [], { format: 'bakery', ...(ticket !== undefined ? { ticket } : {}) });
    if (result.status === 'discharged') {
      return c.json({ Macaroon: bakeryMacaroonJSON(result.discharge, service.checkDischarge(result.discharge, id, ticket)) }, 200);
    }
    const secret = result.pollUrl.slice(result.pollUrl.lastIndexOf('/') + 1);
    const waitTokenUrl = `${service.location}/discharge/wait-token/${secret}`;
    const legacyWaitUrl = `${service.location}/discharge/wait/${secret}`;
    // Version 0 clients expect 407, later ones 401 with WWW-Authenticate (httpbakery ErrorToResponse).
    throw new BakeryError('interaction required', 'a person must approve this request', requestVersion(c) === 0 ? 407 : 401, {
      InteractionMethods: { 'browser-window': { VisitURL: result.approvalUrl, WaitTokenURL: waitTokenUrl } },
      VisitURL: result.approvalUrl,
      WaitURL: legacyWaitUrl,
    });
  });

  app.get('/discharge/wait-token/:secret', async (c) => {
    const { discharge } = await waitForDischarge(c);
    return c.json({ kind: BAKERY_TOKEN_KIND, token64: stdBase64(discharge.toBytes()) }, 200, { 'Cache-Control': NO_STORE });
  });

  app.get('/discharge/wait/:secret', async (c) => {
    const { discharge, ticket } = await waitForDischarge(c);
    return c.json({ Macaroon: bakeryMacaroonJSON(discharge, ticket) }, 200, { 'Cache-Control': NO_STORE });
  });

  /** Long-poll until a person decides (or the request expires, or the client goes away). */
  async function waitForDischarge(c: Context): Promise<{ discharge: Macaroon; ticket: TicketInfo }> {
    throttle(c, waits, 'waits');
    const secret = c.req.param('secret') ?? '';
    const signal = c.req.raw.signal;
    // The bakery clients GET once and expect the answer: keep polling until it is settled.
    for (;;) {
      const started = Date.now();
      const result = await service.poll(secret, service.maxWaitMs);
      if (result.status === 'discharged') return result;
      if (signal.aborted) throw new BakeryError('bad request', 'the client went away', 400);
      // A poll that answers "pending" at once means the service is closing or has too many waiters.
      if (Date.now() - started < Math.min(service.maxWaitMs, 50)) {
        c.header('Retry-After', '1');
        throw new BakeryError('too many requests', 'the discharge service cannot wait now; try again', 429);
      }
    }
  }

  /** The re-POST's token: a discharge this service minted for exactly this caveat. */
  function checkToken(kind: string | undefined, token: Uint8Array, id: Uint8Array, ticket: Uint8Array | undefined): Record<string, unknown> {
    if (kind === undefined || kind === '') throw new BakeryError('bad request', 'discharge token provided without token kind', 400);
    if (kind !== BAKERY_TOKEN_KIND) {
      throw new BakeryError('bad request', `unknown discharge token kind ${JSON.stringify(kind.slice(0, MAX_TOKEN_KIND))}`, 400);
    }
    const discharge = Macaroon.decode(token);
    return bakeryMacaroonJSON(discharge, service.checkDischarge(discharge, id, ticket));
  }

  /** Count one event for the caller's IP; 429 with Retry-After once over budget. */
  function throttle(c: Context, limiter: WindowLimiter, what: string): RequesterInfo {
    const agent = c.req.header('user-agent');
    const userAgent = agent === undefined ? undefined : agent.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_USER_AGENT);
    const ip = clientIp(c);
    const key = ip ?? 'unknown';
    const wait = limiter.retryAfter(key);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      throw new BakeryError('too many requests', `too many ${what} from this address; try again later`, 429);
    }
    limiter.count(key);
    return { ...(userAgent !== undefined && userAgent !== '' ? { userAgent } : {}), ...(ip !== undefined ? { ip } : {}), via: 'bakery' };
  }

  return app;
}
