/**
 * The discharge protocol over HTTP (JSON), as a hono sub-app to mount at `/`:
 *
 *   GET  /.well-known/tessera/discharger   200 { location, publicKey (base64url X25519), version: 2 }
 *   POST /v1/discharge                     body { id: <caveat id, base64>, ticket?: <base64>, caveats?: [<text>],
 *                                                presentation?: <token>, reason?: <text>, private?: true }
 *        `ticket` when the ticket travels apart from the caveat id (bakery v3): the discharge
 *        is minted under `id`, the id the token holds
 *        200 { discharge }                 nothing to wait for
 *        202 { approvalUrl, pollUrl, expiresAt }   a person must act; long-poll pollUrl
 *   GET  /v1/discharge/poll/:secret?wait=<seconds, bounded>
 *        202 { status: "pending", approvalUrl, expiresAt }   (Retry-After: 1)
 *        200 { discharge }                 once, after approval
 *        403 ERR_DENIED                    denied or expired (details.status says which)
 *        403 ERR_FORBIDDEN                 already collected: a poll URL yields one discharge
 *        404 ERR_NOT_FOUND                 unknown poll secret
 *
 * `discharge` is the unbound discharge macaroon, V2 base64url; the client binds it to its
 * primary. `caveats` are the requesting token's first-party caveats as the requester states
 * them, shown (as a claim) to the approver; `presentation` is the token attenuated to this service
 * and a few minutes (see presentation.ts), verified and shown as fact; `reason` is the requester's
 * words; `private` says it chose to show nothing. Protocol answers are `Cache-Control: no-store`; errors
 * are `TesseraError#toJSON()` bodies from the shared handler. (The public key may be cached
 * for five minutes.)
 */
import { Hono, type Context } from 'hono';
import { base64Decode } from '../crypto/bytes.js';
import { badRequest, booleanField, readJsonObject, stringArrayField, stringField } from '../http/body.js';
import { clientIpReader, nodeClientIp, type ClientIpSource } from '../hono/node.js';
import { errorHandler } from '../http/errors.js';
import type { LogOption } from '../log.js';
import { WindowLimiter, type WindowLimit } from '../http/rate-limit.js';
import { TesseraError } from '../errors.js';
import { MAX_CLAIMED_CAVEATS, MAX_CLAIMED_CAVEAT_LENGTH } from '../tickets/conditions.js';
import { MAX_PRESENTATION_CHARS, MAX_REQUEST_REASON } from '../tickets/presentation.js';
import { TICKET_MAX_BYTES } from '../tickets/ticket.js';
import type { DischargeService, RequesterInfo } from './service.js';

/** Base64 of the largest ticket, plus room for the JSON around it. */
const MAX_BODY = Math.ceil((TICKET_MAX_BYTES * 4) / 3) + MAX_PRESENTATION_CHARS + 16 * 1024;
const MAX_ID_CHARS = Math.ceil((TICKET_MAX_BYTES * 4) / 3) + 4;
const MAX_USER_AGENT = 256;
const NO_STORE = 'no-store';

function requesterOf(c: Context, clientIp: (c: Context) => string | undefined): RequesterInfo {
  const agent = c.req.header('user-agent');
  // Printable ASCII only, bounded: it is shown to approvers.
  const userAgent = agent === undefined ? undefined : agent.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_USER_AGENT);
  const ip = clientIp(c);
  return { ...(userAgent !== undefined && userAgent !== '' ? { userAgent } : {}), ...(ip !== undefined ? { ip } : {}) };
}

function waitSeconds(c: Context, maxWaitMs: number): number {
  const raw = c.req.query('wait');
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,6}$/.test(raw)) throw badRequest('wait must be a whole number of seconds', 'wait');
  // Longer waits than the service allows are shortened, not refused: the client just polls again.
  return Math.min(Number(raw) * 1000, maxWaitMs);
}

export interface DischargeRoutesOptions {
  /**
   * Discharge requests allowed per client IP (the TCP peer) in a window; past it, 429
   * ERR_RATE_LIMITED with Retry-After. The route needs no credential and each request costs an
   * X25519 operation and a database row, so it is throttled. Default 120 per minute.
   */
  readonly requestsPerIp?: WindowLimit;
  /** Polls allowed per client IP in a window (each may open a locking transaction). Default 600 per minute. */
  readonly pollsPerIp?: WindowLimit;
  /** Where the client's IP comes from (default the TCP peer; behind a proxy, its header). */
  readonly clientIp?: ClientIpSource;
  /** Clock for the window (tests). */
  readonly now?: () => number;
  /** Where server-side failures are logged (default: the console; `createSystem` passes its logger). */
  readonly log?: LogOption;
}

const DEFAULT_REQUESTS_PER_IP: WindowLimit = { max: 120, windowSeconds: 60 };
const DEFAULT_POLLS_PER_IP: WindowLimit = { max: 600, windowSeconds: 60 };

/** Count one event for the caller's IP on `limiter`; 429 with Retry-After once over budget. */
function throttle(c: Context, limiter: WindowLimiter, what: string, clientIp: (c: Context) => string | undefined): RequesterInfo {
  const requester = requesterOf(c, clientIp);
  const key = typeof requester.ip === 'string' ? requester.ip : 'unknown';
  const wait = limiter.retryAfter(key);
  if (wait > 0) {
    c.header('Retry-After', String(wait));
    throw new TesseraError('ERR_RATE_LIMITED', `too many ${what} from this address; try again later`);
  }
  limiter.count(key);
  return requester;
}

/** The discharge protocol routes over `service`. */
export function dischargeRoutes(service: DischargeService, options: DischargeRoutesOptions = {}): Hono {
  const requests = new WindowLimiter(options.requestsPerIp ?? DEFAULT_REQUESTS_PER_IP, options.now);
  const polls = new WindowLimiter(options.pollsPerIp ?? DEFAULT_POLLS_PER_IP, options.now);
  const clientIp = clientIpReader(options.clientIp ?? nodeClientIp);
  const onError = errorHandler(options.log);
  const app = new Hono();
  // Per route, not `use('*')`: mounted at '/', a wildcard middleware would reach every route of
  // the host app.
  app.onError((err, c) => {
    const res = onError(err, c);
    res.headers.set('Cache-Control', NO_STORE);
    return res;
  });

  app.get('/.well-known/tessera/discharger', (c) => {
    c.header('Cache-Control', 'max-age=300');
    return c.json(service.info());
  });

  app.post('/v1/discharge', async (c) => {
    c.header('Cache-Control', NO_STORE);
    const requester = throttle(c, requests, 'discharge requests', clientIp);
    const body = await readJsonObject(c, ['id', 'ticket', 'caveats', 'presentation', 'reason', 'private'], { maxBytes: MAX_BODY });
    const id = base64Decode(stringField(body, 'id', { max: MAX_ID_CHARS }), 'id');
    const ticket = stringField(body, 'ticket', { max: MAX_ID_CHARS, optional: true });
    const caveats = stringArrayField(body, 'caveats', MAX_CLAIMED_CAVEATS, MAX_CLAIMED_CAVEAT_LENGTH);
    const presentation = stringField(body, 'presentation', { max: MAX_PRESENTATION_CHARS, optional: true });
    const reason = stringField(body, 'reason', { max: MAX_REQUEST_REASON, optional: true });
    const isPrivate = booleanField(body, 'private');
    const options = {
      ...(presentation !== undefined ? { presentation } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(isPrivate === true ? { private: true } : {}),
      ...(ticket !== undefined ? { ticket: base64Decode(ticket, 'ticket') } : {}),
    };
    const result = await service.request(id, requester, caveats, options);
    if (result.status === 'discharged') return c.json({ discharge: result.discharge.encode() }, 200);
    return c.json({ approvalUrl: result.approvalUrl, pollUrl: result.pollUrl, expiresAt: result.expiresAt.toISOString() }, 202);
  });

  app.get('/v1/discharge/poll/:secret', async (c) => {
    c.header('Cache-Control', NO_STORE);
    throttle(c, polls, 'polls', clientIp);
    const wait = waitSeconds(c, service.maxWaitMs);
    const result = await service.poll(c.req.param('secret'), wait);
    if (result.status === 'discharged') return c.json({ discharge: result.discharge.encode() }, 200);
    c.header('Retry-After', '1');
    return c.json({ status: 'pending', approvalUrl: result.approvalUrl, expiresAt: result.expiresAt.toISOString() }, 202);
  });

  return app;
}
