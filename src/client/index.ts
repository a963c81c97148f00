/**
 * `tessera/client`: what a token holder needs for third-party caveats.
 *
 *   addDischargeCaveat(token, { location, publicKey, condition })   offline: seal a fresh caveat
 *       key and the condition to the discharge service's public key (a bakery v2 ticket)
 *   attenuateThirdParty(token, location, condition)    the same, fetching the service's public
 *       key from `<location>/.well-known/tessera/discharger` first
 *   addBakeryDischargeCaveat(token, options)    the same as a bakery v3 caveat: a short caveat
 *       id in the token, the ticket carried apart (the bakery's `{ m, v: 3, cdata }` JSON)
 *   decodeBakeryMacaroon / encodeBakeryMacaroon    that JSON, as the Go and Python bakeries
 *       write and read it
 *   gatherDischarges(token, options)    ask each discharge service named by the token's
 *       third-party caveats (and by its discharges' own, level by level), report approval URLs,
 *       long-poll until a person decides, check and bind every discharge to the primary, and
 *       return the bundle with its `Authorization` header value
 *
 * Who asks and why: each request carries a *presentation* (the token attenuated offline to
 * `aud <that service>` and five minutes, so no other service accepts the copy) that the
 * service verifies and shows its approver as fact, the first-party caveats as the requester's
 * claim, and an optional `reason`; `private: true` sends neither presentation nor caveats.
 *
 * Errors: ERR_DENIED when a person denied (or let expire) a request (details: status, reason,
 * decidedBy), ERR_PENDING when the
 * overall timeout passed first (details.approvalUrls), ERR_THIRD_PARTY when a service answered
 * something unusable or could not be reached, ERR_LIMIT past maxDepth / maxDischarges.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError, invalidArgument, isTesseraError, type ErrorCode } from '../errors.js';
import { httpBaseUrl } from '../http/url.js';
import { base64Decode, base64url, concat, constantTimeEqual } from '../crypto/bytes.js';
import { DEFAULT_LIMITS } from '../macaroon/limits.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { MAX_CLAIMED_CAVEATS, checkDischargeCondition, isClaimableCaveat, NAME_PATTERN } from '../tickets/conditions.js';
import { MAX_REQUEST_REASON, checkRequestReason, presentationFor } from '../tickets/presentation.js';
import { unsafeTextProblem } from '../../caveats/common.js';
import { TICKET_MAX_BYTES, encodeTicket } from '../tickets/ticket.js';

/** The subset of `fetch` the client uses; inject one for tests (e.g. a hono app's `request`). */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface DischargerInfo {
  /** Where the discharge service takes requests; becomes the caveat's location. */
  readonly location: string;
  readonly publicKey: Uint8Array;
  readonly version: number;
}

export interface DischargeCaveatOptions {
  /** The discharge service's base URL. */
  readonly location: string;
  /** Its X25519 public key: 32 bytes, or base64 text. */
  readonly publicKey: Uint8Array | string;
  /** `approve <who> <what>` or `login <who>` (see src/tickets/conditions.ts). */
  readonly condition: string;
}

export interface GatherOptions {
  readonly fetch?: FetchLike;
  /** Told each approval URL once, as soon as it is known (print it, open it…). */
  readonly onApprovalUrl?: (url: string, info: { readonly location: string }) => void;
  /** Give up (ERR_PENDING) after this long; default 15 minutes. */
  readonly timeoutMs?: number;
  /** Deepest level of discharges-of-discharges followed; default 3. */
  readonly maxDepth?: number;
  /** Most discharges gathered in all; default DEFAULT_LIMITS.maxDischarges. */
  readonly maxDischarges?: number;
  /** Long-poll wait asked of the service per poll, in seconds; default 25. */
  readonly waitSeconds?: number;
  /**
   * Send the primary token's first-party caveats with each request, so the approver sees what
   * the token is limited to (default true). They reveal the token's scope to the service.
   */
  readonly shareCaveats?: boolean;
  /** Why the requester asks, shown to the approver as its own words (1..500 characters of plain text). */
  readonly reason?: string;
  /**
   * Show the service nothing of the token: no presentation and no caveats (default false). The
   * approver is told the requester chose not to show its limits.
   */
  readonly private?: boolean;
  /**
   * Tickets carried apart from their caveat ids (bakery v3), by caveat id. A token given as the
   * bakery's JSON brings its own (`cdata`); these are added to them.
   */
  readonly tickets?: CarriedTickets;
  readonly signal?: AbortSignal;
}

/** Tickets carried apart from their caveat ids, keyed by the caveat id in unpadded base64url. */
export type CarriedTickets = ReadonlyMap<string, Uint8Array>;

/** A token with the tickets its v3 third-party caveats point to (the bakery's macaroon). */
export interface BakeryMacaroon {
  readonly token: Macaroon;
  readonly tickets: CarriedTickets;
}

export interface DischargeBundle {
  readonly token: Macaroon;
  /** Every discharge, bound to `token`, in the order gathered. */
  readonly discharges: readonly Macaroon[];
  /** `Macaroon <token>,<discharge>,...` for the Authorization header. */
  readonly authorization: string;
}

const CAVEAT_KEY_BYTES = 32;
const MAX_RESPONSE_BYTES = 256 * 1024;
/** Longest wait for a discharge service's answer to a request that does not long-poll. */
const REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** A 202 answered faster than this was not a long-poll: back off before the next. */
const QUICK_ANSWER_MS = 500;

const thirdParty = (message: string, details: Record<string, unknown> = {}): TesseraError =>
  new TesseraError('ERR_THIRD_PARTY', message, details);

const toMacaroon = (token: Macaroon | string): Macaroon => {
  if (token instanceof Macaroon) return token;
  if (typeof token === 'string') return Macaroon.decode(token);
  throw invalidArgument('token must be a Macaroon or an encoded token', { field: 'token' });
};

/** An http(s) URL without credentials, query or fragment, without trailing slash. */

const argumentError = (field: string) => (message: string) => invalidArgument(message, { field });

function publicKeyBytes(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? base64Decode(value, 'publicKey') : value;
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw invalidArgument('publicKey must be 32 bytes (X25519)', { field: 'publicKey' });
  return bytes;
}

/**
 * Add a third-party caveat for Tessera's discharge service, offline: a fresh random caveat key
 * and the condition sealed to the service's public key. The condition is checked first
 * (ERR_INVALID_ARGUMENT), so a typo fails here rather than at the service.
 */
export function addDischargeCaveat(token: Macaroon | string, options: DischargeCaveatOptions): Macaroon {
  const primary = toMacaroon(token);
  if (typeof options !== 'object' || options === null) throw invalidArgument('options must be { location, publicKey, condition }');
  const location = httpBaseUrl(options.location, 'location', argumentError('location'));
  const thirdPartyPublicKey = publicKeyBytes(options.publicKey);
  checkDischargeCondition(options.condition);
  const caveatKey = randomBytes(CAVEAT_KEY_BYTES);
  try {
    const identifier = encodeTicket({ caveatKey, condition: options.condition, thirdPartyPublicKey });
    return primary.addThirdPartyCaveat({ caveatKey, identifier, location });
  } finally {
    caveatKey.fill(0);
  }
}

/**
 * Add a third-party caveat the way the bakery's version 3 does: the token gets a short caveat
 * id (`3`, then a counter), and the ticket (a v3 ticket, namespace `std:`) travels apart, in
 * the returned tickets. Give the result to `gatherDischarges` (or `encodeBakeryMacaroon` it for
 * a bakery client). Tessera's own `addDischargeCaveat` embeds the ticket instead (v2).
 */
export function addBakeryDischargeCaveat(token: Macaroon | string | BakeryMacaroon, options: DischargeCaveatOptions): BakeryMacaroon {
  const { token: primary, tickets } = readBakery(token, undefined);
  if (typeof options !== 'object' || options === null) throw invalidArgument('options must be { location, publicKey, condition }');
  const location = httpBaseUrl(options.location, 'location', argumentError('location'));
  const thirdPartyPublicKey = publicKeyBytes(options.publicKey);
  checkDischargeCondition(options.condition);
  const taken = new Set(primary.caveats.map((c) => base64url(c.identifier)));
  let identifier = Uint8Array.of(3, 0);
  for (let n = 0; taken.has(base64url(identifier)); n++) identifier = Uint8Array.of(3, ...uvarint(n + 1));
  const caveatKey = randomBytes(CAVEAT_KEY_BYTES);
  try {
    const ticket = encodeTicket({ caveatKey, condition: options.condition, thirdPartyPublicKey, version: 3, namespace: BAKERY_NAMESPACE });
    const attenuated = primary.addThirdPartyCaveat({ caveatKey, identifier, location });
    return Object.freeze({ token: attenuated, tickets: new Map([...tickets, [base64url(identifier), ticket]]) });
  } finally {
    caveatKey.fill(0);
  }
}

const uvarint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
};

/** The bakery's standard checker namespace, as its v3 tickets and macaroons carry it. */
const BAKERY_NAMESPACE = 'std:';
/** Longest bakery macaroon JSON read: a token and its tickets. */
const MAX_BAKERY_JSON = 2 * DEFAULT_LIMITS.maxBytes + 4 * TICKET_MAX_BYTES;

/**
 * Decode the bakery's JSON for a macaroon: `{ m, v: 3, cdata?, ns? }` (Go's bakery.Macaroon,
 * Python's to_dict), or a bare macaroon JSON as pre-v3 bakeries write it (no tickets). Strict:
 * no unknown fields, `v` must be 3, every `cdata` entry must name a third-party caveat of the
 * token and hold a bounded base64 ticket. ERR_MALFORMED / ERR_LIMIT otherwise.
 */
export function decodeBakeryMacaroon(input: string | object): BakeryMacaroon {
  let value: unknown = input;
  if (typeof input === 'string') {
    if (input.length > MAX_BAKERY_JSON) throw new TesseraError('ERR_LIMIT', `bakery macaroon JSON is larger than ${MAX_BAKERY_JSON} characters`);
    try {
      value = JSON.parse(input);
    } catch {
      throw malformedBakery('does not parse');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformedBakery('must be an object');
  const obj = value as Record<string, unknown>;
  if (!('m' in obj)) return Object.freeze({ token: Macaroon.decode(obj as never), tickets: new Map() });
  for (const key of Object.keys(obj)) if (!['m', 'v', 'cdata', 'ns'].includes(key)) throw malformedBakery(`has an unknown field "${key.slice(0, 16)}"`);
  if (obj.v !== 3) throw malformedBakery('"v" must be 3');
  if (obj.ns !== undefined && obj.ns !== null && typeof obj.ns !== 'string') throw malformedBakery('"ns" must be text');
  if (typeof obj.m !== 'object' || obj.m === null) throw malformedBakery('"m" must be a macaroon JSON object');
  const token = Macaroon.decode(obj.m as never);
  const ids = new Set(token.caveats.filter((c) => c.thirdParty).map((c) => base64url(c.identifier)));
  const tickets = new Map<string, Uint8Array>();
  const cdata = obj.cdata ?? {};
  if (typeof cdata !== 'object' || cdata === null || Array.isArray(cdata)) throw malformedBakery('"cdata" must be an object');
  const entries = Object.entries(cdata);
  if (entries.length > ids.size) throw malformedBakery('"cdata" holds more tickets than the token has third-party caveats');
  for (const [id64, ticket64] of entries) {
    const id = base64url(base64Decode(id64, 'cdata caveat id'));
    if (!ids.has(id)) throw malformedBakery('"cdata" holds a ticket for no caveat of the token');
    if (tickets.has(id)) throw malformedBakery('"cdata" names one caveat twice');
    if (typeof ticket64 !== 'string' || ticket64.length > Math.ceil((TICKET_MAX_BYTES * 4) / 3) + 4) throw malformedBakery('"cdata" tickets must be bounded base64 text');
    tickets.set(id, base64Decode(ticket64, 'cdata ticket'));
  }
  return Object.freeze({ token, tickets });
}

/** The bakery's v3 JSON for a token and its tickets (what Go's bakery.Macaroon unmarshals). */
export function encodeBakeryMacaroon(b: BakeryMacaroon): string {
  const { v: _v, ...m } = b.token.toJSONObject();
  const cdata = Object.fromEntries([...b.tickets].map(([id, ticket]) => [id, base64url(ticket)]));
  return JSON.stringify({ m, v: 3, ...(b.tickets.size > 0 ? { cdata } : {}), ns: BAKERY_NAMESPACE });
}

const malformedBakery = (what: string): TesseraError => new TesseraError('ERR_MALFORMED', `bakery macaroon JSON ${what}`);

/** A token given as a Macaroon, its encoding, or the bakery's JSON; with every carried ticket. */
function readBakery(token: Macaroon | string | BakeryMacaroon, extra: CarriedTickets | undefined): BakeryMacaroon {
  let read: BakeryMacaroon;
  if (typeof token === 'string' && token.trimStart().startsWith('{') && /"m"\s*:/.test(token)) read = decodeBakeryMacaroon(token);
  else if (typeof token === 'object' && token !== null && !(token instanceof Macaroon) && 'token' in token) read = { token: toMacaroon(token.token), tickets: token.tickets };
  else read = { token: toMacaroon(token as Macaroon | string), tickets: new Map() };
  if (extra === undefined) return read;
  if (!(extra instanceof Map)) throw invalidArgument('tickets must be a Map of caveat id (base64url) to ticket bytes', { field: 'tickets' });
  return { token: read.token, tickets: new Map([...read.tickets, ...extra]) };
}

/** Read `<location>/.well-known/tessera/discharger`. ERR_THIRD_PARTY if it is not usable. */
export async function fetchDischargerInfo(location: string, options: { readonly fetch?: FetchLike; readonly signal?: AbortSignal } = {}): Promise<DischargerInfo> {
  const base = httpBaseUrl(location, 'location', argumentError('location'));
  const signal = options.signal === undefined ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : AbortSignal.any([options.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
  const res = await send(options.fetch, `${base}/.well-known/tessera/discharger`, { method: 'GET', signal }, base);
  if (res.status !== 200) throw await remoteError(res, base);
  const body = await readJson(res, base);
  const info = body as { location?: unknown; publicKey?: unknown; version?: unknown };
  if (typeof info.publicKey !== 'string' || typeof info.location !== 'string') {
    throw thirdParty('the discharge service published no usable public key', { location: base });
  }
  let publicKey: Uint8Array;
  try {
    publicKey = publicKeyBytes(info.publicKey);
  } catch {
    throw thirdParty('the discharge service published no usable public key', { location: base });
  }
  const published = httpBaseUrl(info.location, 'location', (m) => thirdParty(`the discharge service's ${m}`, { location: base }));
  return Object.freeze({ location: published, publicKey, version: typeof info.version === 'number' ? info.version : 2 });
}

/**
 * Fetch the service's public key once, then add the caveat offline (for `tessera attenuate
 * --third-party <location> --condition <text>`). The caveat names the location the service
 * publishes for itself.
 */
export async function attenuateThirdParty(
  token: Macaroon | string,
  location: string,
  condition: string,
  options: { readonly fetch?: FetchLike } = {},
): Promise<Macaroon> {
  checkDischargeCondition(condition);
  const info = await fetchDischargerInfo(location, options);
  return addDischargeCaveat(token, { location: info.location, publicKey: info.publicKey, condition });
}

/** The `Authorization` header value for a primary and its bound discharges. */
export function authorizationHeader(token: Macaroon, boundDischarges: readonly Macaroon[]): string {
  return `Macaroon ${[token, ...boundDischarges].map((m) => m.encode()).join(',')}`;
}

interface Pending {
  readonly identifier: Uint8Array;
  readonly location: string;
  /** A caveat of the primary token itself (not of a discharge): a presentation can prove it. */
  readonly onPrimary: boolean;
}

/**
 * Gather a discharge for every third-party caveat of `token` (and of the discharges, level by
 * level), bind them to it, and return the bundle. Requests at one level run in parallel, so a
 * person sees every approval a token needs at once.
 */
export async function gatherDischarges(token: Macaroon | string | BakeryMacaroon, options: GatherOptions = {}): Promise<DischargeBundle> {
  const { token: primary, tickets } = readBakery(token, options.tickets);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxDepth = options.maxDepth ?? 3;
  const maxDischarges = options.maxDischarges ?? DEFAULT_LIMITS.maxDischarges;
  const waitSeconds = options.waitSeconds ?? 25;
  for (const [field, v, min] of [['timeoutMs', timeoutMs, 0], ['maxDepth', maxDepth, 1], ['maxDischarges', maxDischarges, 1], ['waitSeconds', waitSeconds, 0]] as const) {
    if (!Number.isSafeInteger(v) || v < min) throw invalidArgument(`${field} must be an integer ≥ ${min}`, { field });
  }
  const deadline = Date.now() + timeoutMs;
  const isPrivate = options.private === true;
  const reason = options.reason === undefined ? undefined : checkRequestReason(options.reason);
  const shared = options.shareCaveats === false || isPrivate ? [] : shareable(primary);
  const ctx: Ctx = { options, deadline, waitSeconds, caveats: shared, approvalUrls: new Set(), primary, isPrivate, tickets, ...(reason !== undefined ? { reason } : {}) };

  const seen = new Set<string>();
  const gathered: Macaroon[] = [];
  let level = thirdPartyCaveats(primary, true);
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > maxDepth) throw new TesseraError('ERR_LIMIT', `discharges nest deeper than ${maxDepth} levels`, { field: 'maxDepth' });
    const fresh = level.filter((p) => {
      const key = base64url(p.identifier);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (gathered.length + fresh.length > maxDischarges) throw new TesseraError('ERR_LIMIT', `more than ${maxDischarges} discharges`, { field: 'maxDischarges' });
    const discharges = await Promise.all(fresh.map((p) => obtain(p, ctx)));
    gathered.push(...discharges);
    level = discharges.flatMap((d) => thirdPartyCaveats(d, false));
  }
  const bound = gathered.map((d) => primary.bindForRequest(d));
  return Object.freeze({ token: primary, discharges: Object.freeze(bound), authorization: authorizationHeader(primary, bound) });
}

/** The first-party caveats the service accepts as context: plain text, bounded (as it checks). */
function shareable(m: Macaroon): string[] {
  return m.caveats
    .map((c) => (c.thirdParty ? undefined : c.text))
    .filter(isClaimableCaveat)
    .slice(0, MAX_CLAIMED_CAVEATS);
}

function thirdPartyCaveats(m: Macaroon, onPrimary: boolean): Pending[] {
  return m.caveats.filter((c) => c.thirdParty).map((c) => ({ identifier: c.identifier, location: c.location ?? '', onPrimary }));
}

interface Ctx {
  readonly options: GatherOptions;
  readonly deadline: number;
  readonly waitSeconds: number;
  readonly caveats: readonly string[];
  readonly approvalUrls: Set<string>;
  readonly primary: Macaroon;
  readonly isPrivate: boolean;
  readonly reason?: string;
  readonly tickets: CarriedTickets;
}

/**
 * The request body: the caveat id (and, for a v3 caveat whose ticket travels apart, the ticket:
 * the discharge comes back under the id), and what the requester shows of itself (GatherOptions).
 */
function requestBody(p: Pending, location: string, ctx: Ctx): string {
  const presentation = p.onPrimary && !ctx.isPrivate ? presentationFor(ctx.primary, location).encode() : undefined;
  const ticket = ctx.tickets.get(base64url(p.identifier));
  return JSON.stringify({
    id: base64url(p.identifier),
    ...(ticket !== undefined ? { ticket: base64url(ticket) } : {}),
    ...(ctx.caveats.length > 0 ? { caveats: ctx.caveats } : {}),
    ...(presentation !== undefined ? { presentation } : {}),
    ...(ctx.reason !== undefined ? { reason: ctx.reason } : {}),
    ...(ctx.isPrivate ? { private: true } : {}),
  });
}

/** One discharge: request, then (if a person must act) long-poll until decided. */
async function obtain(p: Pending, ctx: Ctx): Promise<Macaroon> {
  const location = httpBaseUrl(p.location, 'third-party caveat location', (m) => thirdParty(m));
  const body = requestBody(p, location, ctx);
  const res = await withRetry(ctx, location, () =>
    send(ctx.options.fetch, `${location}/v1/discharge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, ...signalFor(ctx, REQUEST_TIMEOUT_MS) }, location),
  );
  if (res.status === 200) return dischargeFrom(await readJson(res, location), p, location);
  if (res.status !== 202) throw await remoteError(res, location);
  const answer = (await readJson(res, location)) as { approvalUrl?: unknown; pollUrl?: unknown };
  const approvalUrl = httpUrl(answer.approvalUrl, 'approvalUrl', location);
  const pollUrl = httpUrl(answer.pollUrl, 'pollUrl', location);
  // The poll URL must stay with the service the caveat names: anything else is refused.
  if (new URL(pollUrl).origin !== new URL(location).origin) throw thirdParty('the discharge service gave a poll URL on another origin', { location });
  ctx.approvalUrls.add(approvalUrl);
  ctx.options.onApprovalUrl?.(approvalUrl, { location });

  let backoff = BACKOFF_START_MS;
  for (;;) {
    const left = ctx.deadline - Date.now();
    if (left <= 0) {
      throw new TesseraError('ERR_PENDING', 'still waiting for approval; gave up at the timeout', { approvalUrls: [...ctx.approvalUrls] });
    }
    const wait = Math.max(0, Math.min(ctx.waitSeconds, Math.floor(left / 1000)));
    const started = Date.now();
    let poll: Response | undefined;
    try {
      poll = await send(ctx.options.fetch, `${pollUrl}?wait=${wait}`, { method: 'GET', ...signalFor(ctx, wait * 1000 + 15_000) }, location);
    } catch (e) {
      if (!isTesseraError(e, 'ERR_THIRD_PARTY') || ctx.options.signal?.aborted === true) throw e;
      poll = undefined; // unreachable for now: back off and try again until the deadline
    }
    if (poll !== undefined && poll.status === 200) return dischargeFrom(await readJson(poll, location), p, location);
    if (poll !== undefined && poll.status !== 202 && poll.status < 500) throw await remoteError(poll, location);
    if (poll !== undefined && poll.status === 202) await poll.body?.cancel();
    if (poll === undefined || poll.status >= 500 || Date.now() - started < QUICK_ANSWER_MS) {
      await sleep(Math.min(backoff, Math.max(0, ctx.deadline - Date.now())), ctx.options.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    } else {
      backoff = BACKOFF_START_MS;
    }
  }
}

/** Retry the first request on network failures and 5xx until the deadline. */
async function withRetry(ctx: Ctx, location: string, attempt: () => Promise<Response>): Promise<Response> {
  let backoff = BACKOFF_START_MS;
  for (;;) {
    let res: Response | undefined;
    let failure: unknown;
    try {
      res = await attempt();
    } catch (e) {
      failure = e;
    }
    if (res !== undefined && res.status < 500) return res;
    if (failure !== undefined && (!isTesseraError(failure, 'ERR_THIRD_PARTY') || ctx.options.signal?.aborted === true)) throw failure;
    if (Date.now() + backoff > ctx.deadline) {
      if (res !== undefined) throw await remoteError(res, location);
      throw failure;
    }
    await res?.body?.cancel();
    await sleep(backoff, ctx.options.signal);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  }
}

function signalFor(ctx: Ctx, ms?: number): { signal?: AbortSignal } {
  const signals = [ctx.options.signal, ms !== undefined ? AbortSignal.timeout(ms) : undefined].filter((s): s is AbortSignal => s !== undefined);
  if (signals.length === 0) return {};
  return { signal: signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function send(fetchImpl: FetchLike | undefined, url: string, init: RequestInit, location: string): Promise<Response> {
  const f = fetchImpl ?? (globalThis.fetch as FetchLike);
  try {
    return await f(url, { ...init, redirect: 'error' });
  } catch (e) {
    if (isTesseraError(e)) throw e;
    if (init.signal?.aborted === true && (e as Error)?.name !== 'TimeoutError') throw e;
    throw new TesseraError('ERR_THIRD_PARTY', 'the discharge service could not be reached', { location }, { cause: e });
  }
}

/** The answer's body as text, read only up to MAX_RESPONSE_BYTES: the service is a stranger. */
async function readCapped(res: Response, location: string): Promise<string> {
  const tooLarge = (): TesseraError => thirdParty('the discharge service answer is too large', { location });
  if (Number(res.headers.get('content-length') ?? '0') > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_RESPONSE_BYTES) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (isTesseraError(cause)) throw cause;
    throw new TesseraError('ERR_THIRD_PARTY', 'the discharge service answer could not be read', { location }, { cause });
  }
  return new TextDecoder().decode(concat(...chunks));
}

async function readJson(res: Response, location: string): Promise<unknown> {
  const text = await readCapped(res, location);
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw thirdParty('the discharge service did not answer JSON', { location, status: res.status });
  }
}

function httpUrl(value: unknown, field: string, location: string): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw thirdParty(`the discharge service gave no usable ${field}`, { location });
  }
  if (typeof value !== 'string' || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    throw thirdParty(`the discharge service gave no usable ${field}`, { location });
  }
  return url.href;
}

/** A non-success answer as an error: a denial stays ERR_DENIED, anything else ERR_THIRD_PARTY. */
async function remoteError(res: Response, location: string): Promise<TesseraError> {
  let code: string | undefined;
  let message: string | undefined;
  let status: string | undefined;
  let reason: string | undefined;
  let decidedBy: string | undefined;
  try {
    const body = (await readJson(res, location)) as { error?: { code?: unknown; message?: unknown; details?: { status?: unknown; reason?: unknown; decidedBy?: unknown } } };
    code = typeof body.error?.code === 'string' ? body.error.code.slice(0, 64) : undefined;
    message = typeof body.error?.message === 'string' ? body.error.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 300) : undefined;
    status = typeof body.error?.details?.status === 'string' ? body.error.details.status.replace(/[^a-z-]/g, '').slice(0, 32) : undefined;
    // The approver's words and name reach a terminal: only text the service itself would accept.
    const r = body.error?.details?.reason;
    if (typeof r === 'string' && r.length <= MAX_REQUEST_REASON && unsafeTextProblem(r) === undefined) reason = r;
    const by = body.error?.details?.decidedBy;
    if (typeof by === 'string' && NAME_PATTERN.test(by)) decidedBy = by;
  } catch {
    // an error answer that is not Tessera JSON: keep the HTTP status only
  }
  const details = {
    location,
    httpStatus: res.status,
    ...(code ? { remoteCode: code } : {}),
    ...(status ? { status } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(decidedBy !== undefined ? { decidedBy } : {}),
  };
  if (code === ('ERR_DENIED' satisfies ErrorCode)) return new TesseraError('ERR_DENIED', message ?? 'the request was denied', details);
  return thirdParty(`the discharge service refused: ${message ?? `HTTP ${res.status}`}`, details);
}

function dischargeFrom(body: unknown, p: Pending, location: string): Macaroon {
  const encoded = (body as { discharge?: unknown }).discharge;
  if (typeof encoded !== 'string') throw thirdParty('the discharge service answered without a discharge', { location });
  let discharge: Macaroon;
  try {
    discharge = Macaroon.decode(encoded);
  } catch (cause) {
    throw new TesseraError('ERR_THIRD_PARTY', 'the discharge service answered a malformed discharge', { location }, { cause });
  }
  const id = discharge.identifier;
  if (id.length !== p.identifier.length || !constantTimeEqual(id, p.identifier)) {
    throw thirdParty('the discharge service answered a discharge for another caveat', { location });
  }
  return discharge;
}
