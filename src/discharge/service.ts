/**
 * The third-party discharge service: it reads tickets (bakery caveat ids sealed to its X25519
 * key), asks a person when the condition needs one, and mints the discharge macaroon.
 *
 * Life of a request (all state in the database, so a restart loses nothing):
 *   request(ticket)  → the ticket is opened and its condition parsed (strictly); a pending
 *                      request is stored with the ticket itself (sealed to our key, so nothing
 *                      a database reader can use) and only a hash of the poll secret.
 *   decide(...)      → an approver named by the condition (or in its group) approves or denies;
 *                      audited; waiting pollers are woken.
 *   poll(secret)     → long-polls; once approved, the first poll moves the request to
 *                      `collected` and mints the discharge from the ticket re-opened with our
 *                      private key, audited, all in one transaction. No discharge is stored. The
 *                      same secret within RECOLLECT_WINDOW_MS mints the same discharge again
 *                      (deterministic: same ticket, same decision), so a lost answer can be
 *                      fetched again; its `uses 1` still lets one action through.
 *   withdraw(...)    → an approval not yet collected is taken back; polls answer ERR_DENIED.
 *
 * A discharge is `Macaroon.mint({ rootKey: caveatKey, identifier: caveatId, location })` — the
 * caveat key passed as bytes, exactly as the holder passed it to `addThirdPartyCaveat`, so both
 * sides apply the same standard derivation — plus `time-before <decided + validity>` and
 * `declared approved-by <approver>` (+ `uses 1` unless configured off) for approvals, or
 * `declared user <approver>` for logins, then `declared <key> ` for each other key a
 * `need-declared` condition asks for. The caveat id is the ticket itself (bakery v2, Tessera's
 * default) or, when the ticket travels apart (bakery v3: the token holds a short id and the
 * ticket is carried as `caveat64`), the id the token holds: a discharge under any other
 * identifier would match no caveat. Requests made through the bakery's protocol get discharges
 * a bakery can check: no `uses` (the bakery does not know it and would refuse the discharge).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { caveat } from '../../caveats/index.js';
import { unsafeTextProblem } from '../../caveats/common.js';
import { TesseraError, invalidArgument, limit } from '../errors.js';
import { base64Decode, base64url, constantTimeEqual } from '../crypto/bytes.js';
import { Macaroon } from '../macaroon/macaroon.js';
import { verifySignature } from '../macaroon/verify.js';
import type { AuditChannel, AuditEntry, DischargeRequest, DischargeStatus, RequesterInfo, Store, WebhookPayload } from '../storage/index.js';
import { checkPresentation, checkRequestReason, MAX_PRESENTATION_CHARS, type PresentationVerifier, type Shown, type VerifiedToken } from '../tickets/presentation.js';
import { checkBytes } from '../tickets/box.js';
import {
  MAX_CLAIMED_CAVEATS,
  MAX_CLAIMED_CAVEAT_LENGTH,
  isClaimableCaveat,
  mayDecide,
  parseDischargeCondition,
  principalsOf,
  type Approver,
  type DischargeCondition,
} from '../tickets/conditions.js';
import { decodeTicket, type DischargerKeyPair } from '../tickets/ticket.js';
import { httpBaseUrl } from '../http/url.js';

export type { Approver } from '../tickets/conditions.js';
export type { DischargeStatus, RequesterInfo } from '../storage/index.js';

export interface DischargeServiceOptions {
  readonly store: Store;
  /** The service's public base URL (http or https, no query): discharges' location, URL prefix. */
  readonly location: string;
  readonly clock?: () => Date;
  /** Lifetime of a discharge from the moment of approval (default 300 s). */
  readonly defaultValiditySeconds?: number;
  /** Most an approver may choose (default 3600 s). */
  readonly maxValiditySeconds?: number;
  /** How long a request waits for a decision before it expires (default 900 s). */
  readonly requestTtlSeconds?: number;
  /** Approval discharges carry `uses 1`, so one approval authorises one action (default true). */
  readonly singleUse?: boolean;
  /** A fixed key pair (tests); by default the one kept, sealed, in the store. */
  readonly keyPair?: DischargerKeyPair;
  /** Longest long-poll (default 30 s, at most 120 s). */
  readonly maxWaitSeconds?: number;
  /** How often a waiting poll re-reads the database, to see decisions made elsewhere (default 1000 ms). */
  readonly recheckMs?: number;
  /** Most pending requests addressed to one user or group; more are refused (default 100). */
  readonly maxPendingPerPrincipal?: number;
  /** Most polls waiting at once; past that, polls answer at once (default 1000). */
  readonly maxWaiters?: number;
  /**
   * Verifies a requester's presentation (see presentation-verifier.ts); the system wires the
   * issuer's keyring here. Without one, every presentation is shown as unverified.
   */
  readonly presentations?: PresentationVerifier;
  /**
   * Called after a transaction that queued webhook events committed: wakes this process's
   * delivery worker at once (other instances hear the outbox's NOTIFY).
   */
  readonly onQueued?: () => void;
}

/** What a requester tells about itself besides the ticket (all optional). */
export interface AskInput {
  /** The token attenuated to `aud <location>` + a near `time-before` (see presentation.ts). */
  readonly presentation?: Macaroon | string;
  /** Why it asks, in its own words. */
  readonly reason?: string;
  /** The requester chose to show nothing of its token (no presentation, no caveats). */
  readonly private?: boolean;
}

/** What `GET /.well-known/tessera/discharger` publishes. */
export interface DischargerInfo {
  readonly location: string;
  /** X25519 public key, unpadded base64url. */
  readonly publicKey: string;
  /** Ticket (bakery caveat id) version this service writes guidance for; it reads 2 and 3. */
  readonly version: 2;
}

export interface PendingView {
  readonly id: string;
  readonly kind: DischargeCondition['kind'];
  readonly condition: string;
  /** A user name, or `group:<name>`. */
  readonly who: string;
  /** The action, as the condition states it (for `login`, "log in as …"). */
  readonly what: string;
  readonly requester: RequesterInfo;
  /**
   * First-party caveats the REQUESTER says its token carries. Not verified (the service never
   * sees the token): show them as the requester's claim, never as fact.
   */
  readonly otherCaveats: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** What the requester showed of its token: verified facts, or why not (never mixed). */
  readonly shown: Shown;
  /** The requester's reason, in its own words (unverified). */
  readonly requestReason?: string;
  /** A pending request past its expiry shows as `expired`, an uncollected approval past its validity as `lapsed`. */
  readonly status: DischargeStatus;
  readonly validitySeconds: number;
  /** Approval discharges carry `uses 1`. */
  readonly singleUse: boolean;
  /** Until when an approval's discharge is valid (approved, collected). */
  readonly validUntil?: Date;
  readonly decidedAt?: Date;
  /** Who approved or denied it; for `withdrawn`, who withdrew it. */
  readonly decidedBy?: string;
  readonly reason?: string;
  readonly collectedAt?: Date;
}

/** Where a decision came from, for its audit row (e.g. `{ channel: 'approvals-api' }`). */
export interface DecisionChannel {
  readonly channel?: AuditChannel;
}

export type Decision =
  | { readonly approve: true; readonly validitySeconds?: number }
  | { readonly approve: false; readonly reason: string };

/** How a request's discharge is minted, beyond the ticket. */
/** How to take a request: what the requester shows of itself, and where its ticket is. */
export interface RequestOptions extends AskInput {
  /**
   * The sealed ticket when it travels apart from the caveat id (bakery v3 `caveat64`, or
   * `{ id, ticket }` on POST /v1/discharge). The discharge is then minted under the caveat id.
   */
  readonly ticket?: Uint8Array;
  /** `bakery`: only caveats the Go/Python bakery understands (no `uses`). Default `tessera`. */
  readonly format?: DischargeFormat;
}

export type DischargeFormat = 'tessera' | 'bakery';

/** The opened ticket's bakery version and namespace, for answering in the bakery's wire format. */
export interface TicketInfo {
  readonly version: 2 | 3;
  readonly namespace?: string;
}

export type RequestResult =
  | { readonly status: 'discharged'; readonly discharge: Macaroon }
  | { readonly status: 'pending'; readonly id: string; readonly approvalUrl: string; readonly pollUrl: string; readonly expiresAt: Date };

export type PollResult =
  | { readonly status: 'discharged'; readonly discharge: Macaroon; readonly ticket: TicketInfo }
  | { readonly status: 'pending'; readonly approvalUrl: string; readonly expiresAt: Date };

export interface DischargeService {
  readonly location: string;
  readonly publicKey: Uint8Array;
  /** The longest `poll` wait, in ms. */
  readonly maxWaitMs: number;
  info(): DischargerInfo;
  /**
   * Ask for a discharge of the third-party caveat whose identifier is `caveatId`.
   * ERR_MALFORMED / ERR_LIMIT for a ticket that does not open (or is for another discharger),
   * ERR_CAVEAT_UNKNOWN / ERR_CAVEAT_MALFORMED for a condition this service does not accept,
   * ERR_RATE_LIMITED when too many requests already wait for the same approver.
   */
  request(caveatId: Uint8Array, requester?: RequesterInfo, otherCaveats?: readonly string[], options?: RequestOptions): Promise<RequestResult>;
  /**
   * Check that `discharge` is a discharge for the third-party caveat `caveatId` (with its
   * `ticket` when that travels apart): its identifier is the caveat id and its chain verifies
   * under the caveat key sealed in the ticket, which only this service and the caveat's author
   * can open. Returns the ticket's version and namespace. ERR_MALFORMED for a ticket that does
   * not open, ERR_SIGNATURE for any other discharge.
   */
  checkDischarge(discharge: Macaroon, caveatId: Uint8Array, ticket?: Uint8Array): TicketInfo;
  /**
   * Wait up to `waitMs` (bounded by maxWaitMs) for a decision. ERR_NOT_FOUND for an unknown
   * secret, ERR_DENIED when denied, expired, withdrawn or lapsed (`details.status`); the same
   * discharge again within RECOLLECT_WINDOW_MS of its collection, ERR_FORBIDDEN after.
   */
  poll(secret: string, waitMs?: number): Promise<PollResult>;
  /** Pending requests this approver may decide, oldest first. */
  listPending(approver: Approver, limit?: number): Promise<PendingView[]>;
  /** Settled requests addressed to this approver (or their groups), newest first. */
  history(approver: Approver, limit?: number): Promise<PendingView[]>;
  /**
   * The audit events about requests addressed to this approver or their groups, newest first:
   * who asked, who decided, withdrew or collected, through which channel.
   */
  activity(approver: Approver, limit?: number): Promise<AuditEntry[]>;
  /** One request, or undefined if unknown or not this approver's to see. */
  get(id: string, approver: Approver): Promise<PendingView | undefined>;
  /**
   * ERR_FORBIDDEN if not theirs to decide, ERR_CONFLICT if already decided or expired. The
   * decision's audit row names `via.channel` (default: from the approver, the approval pages).
   */
  decide(id: string, approver: Approver, decision: Decision, via?: DecisionChannel): Promise<PendingView>;
  /**
   * Take back an approval not yet collected (its poll then answers ERR_DENIED, status
   * `withdrawn`). ERR_FORBIDDEN if not theirs to decide, ERR_CONFLICT if not approved-uncollected.
   */
  withdraw(id: string, approver: Approver): Promise<PendingView>;
  /**
   * A request was decided, possibly by another instance (heard through LISTEN/NOTIFY): wake the
   * polls waiting for it so they read the decision now rather than at their next re-read.
   */
  decided(id: string): void;
  /**
   * Mark requests past their expiry as expired and queue their `request.expired` webhook event,
   * once per request across instances; returns how many. The delivery worker calls it
   * periodically, so an expiry is announced even when nobody polls.
   */
  announceExpired(): Promise<number>;
  /** Wake every waiting poll (they answer `pending`) and refuse to wait again. */
  close(): void;
}

const DEFAULTS = {
  defaultValiditySeconds: 300,
  maxValiditySeconds: 3600,
  requestTtlSeconds: 900,
  maxWaitSeconds: 30,
  recheckMs: 1000,
  maxPendingPerPrincipal: 100,
  maxWaiters: 1000,
} as const;

/** 256-bit poll secrets, unpadded base64url. */
const POLL_SECRET_BYTES = 32;
const POLL_SECRET = /^[A-Za-z0-9_-]{43}$/;
const REQUEST_ID = /^dr_[A-Za-z0-9_-]{22}$/;
const MAX_REQUESTER_JSON = 2048;
const MAX_REASON_LENGTH = 500;
/** Reserved keys of the stored requester JSON: the claimed caveats, the reason, what was shown. */
const CLAIMED = 'otherCaveats';
const REASON = 'reason';
const SHOWN = 'shown';
/**
 * Reserved key of the stored requester JSON that says how to mint: `{ id?, format? }`, `id` the
 * caveat id (base64url) when the stored caveat id column holds a ticket that travelled apart.
 * The caveat id is not secret (the token carries it in the clear).
 */
const MINT = 'mint';
const RESERVED = [CLAIMED, REASON, SHOWN, MINT];
/** Longest caveat id accepted apart from its ticket; the bakery's v3 ids are a few bytes. */
export const MAX_SEPARATE_CAVEAT_ID_BYTES = 1024;

const AUDIT_REQUESTER = 'requester';

function int(value: number | undefined, fallback: number, min: number, max: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalidArgument(`${field} must be an integer from ${min} to ${max}`, { field });
  return v;
}

/** Normalise the public URL: http(s), no credentials, query or fragment, no trailing slash. */
export function normaliseLocation(location: unknown): string {
  if (typeof location !== 'string') throw invalidArgument('location must be a URL', { field: 'location' });
  return httpBaseUrl(location, 'location', (message) => invalidArgument(message, { field: 'location' }));
}

function checkApprover(approver: Approver): Approver {
  const ok =
    typeof approver === 'object' && approver !== null && typeof approver.name === 'string' && approver.name !== '' &&
    Array.isArray(approver.groups) && approver.groups.every((g) => typeof g === 'string');
  if (!ok) throw invalidArgument('approver must be { name, groups }', { field: 'approver' });
  return approver;
}

function checkOtherCaveats(list: readonly string[]): string[] {
  if (!Array.isArray(list)) throw invalidArgument('caveats must be a list of strings', { field: 'caveats' });
  if (list.length > MAX_CLAIMED_CAVEATS) throw limit(`more than ${MAX_CLAIMED_CAVEATS} caveats`, { field: 'caveats' });
  return list.map((c, i) => {
    if (!isClaimableCaveat(c)) {
      const field = `caveats[${i}]`;
      if (typeof c === 'string' && c.length > MAX_CLAIMED_CAVEAT_LENGTH) throw limit(`${field} is longer than ${MAX_CLAIMED_CAVEAT_LENGTH} characters`, { field });
      throw invalidArgument(`${field} must be 1..${MAX_CLAIMED_CAVEAT_LENGTH} characters of plain text (no control, format or bidi characters)`, { field });
    }
    return c;
  });
}

function checkRequester(requester: RequesterInfo): RequesterInfo {
  if (typeof requester !== 'object' || requester === null || Array.isArray(requester)) {
    throw invalidArgument('requester must be a JSON object', { field: 'requester' });
  }
  for (const key of RESERVED) if (key in requester) throw invalidArgument(`requester.${key} is reserved`, { field: 'requester' });
  let json: string;
  try {
    json = JSON.stringify(requester);
  } catch {
    throw invalidArgument('requester must be plain JSON', { field: 'requester' });
  }
  if (json.length > MAX_REQUESTER_JSON) throw limit(`requester info exceeds ${MAX_REQUESTER_JSON} bytes`, { field: 'requester' });
  return requester;
}

function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON_LENGTH || unsafeTextProblem(reason) !== undefined) {
    throw invalidArgument(`a denial needs a reason: 1..${MAX_REASON_LENGTH} characters of plain text`, { field: 'reason' });
  }
  return reason;
}

/** A presentation as a Macaroon: bounded, strictly decoded (ERR_MALFORMED / ERR_LIMIT naming the field). */
function decodePresentation(value: Macaroon | string): Macaroon {
  if (value instanceof Macaroon) return value;
  if (typeof value !== 'string') throw invalidArgument('presentation must be an encoded token', { field: 'presentation' });
  if (value.length > MAX_PRESENTATION_CHARS) throw limit(`presentation is longer than ${MAX_PRESENTATION_CHARS} characters`, { field: 'presentation' });
  try {
    return Macaroon.decode(value);
  } catch (e) {
    if (e instanceof TesseraError) throw new TesseraError(e.code, `presentation: ${e.message}`, { ...e.details, field: 'presentation' });
    throw e;
  }
}

/** What was shown, from the stored columns: verified facts win; otherwise what the requester's JSON says. */
function shownOf(verified: DischargeRequest['verified'], stored: unknown): Shown {
  if (verified !== null) return { kind: 'verified', token: verified as unknown as VerifiedToken };
  const s = stored as { kind?: unknown; why?: unknown } | undefined;
  if (s?.kind === 'private') return { kind: 'private' };
  if (s?.kind === 'unverified') return { kind: 'unverified', why: typeof s.why === 'string' ? s.why : 'not verified' };
  return { kind: 'none' };
}

/** Webhook event types, one per change of a request. */
export type RequestEventType = 'request.created' | 'request.approved' | 'request.denied' | 'request.withdrawn' | 'request.expired';

/** Longest text put in a webhook payload (a condition may be 64 KiB; a chat message should not). */
const MAX_EVENT_TEXT = 1000;
const clip = (text: string): string => (text.length > MAX_EVENT_TEXT ? `${text.slice(0, MAX_EVENT_TEXT - 1)}…` : text);

/**
 * The webhook event for a request as it stands (Standard Webhooks' `{ type, timestamp, data }`):
 * where to approve it, the condition, who asks (verified facts apart from claims) and why, and
 * the decision. Never a secret: no poll URL, no ticket.
 */
export function requestEvent(type: RequestEventType, request: PendingView, approvalUrl: string, now: Date): WebhookPayload {
  const shown = request.shown;
  const requester: WebhookPayload =
    shown.kind === 'verified'
      ? { verified: true, label: shown.token.label === null ? null : clip(shown.token.label), subject: shown.token.subject === null ? null : clip(shown.token.subject), identifier: shown.token.identifier }
      : { verified: false, label: typeof request.requester.label === 'string' ? clip(request.requester.label) : null, subject: null };
  const decided = request.decidedBy !== undefined && request.decidedAt !== undefined;
  return {
    type,
    timestamp: now.toISOString(),
    data: {
      id: request.id,
      status: request.status,
      approvalUrl,
      condition: clip(request.condition),
      who: request.who,
      what: clip(request.what),
      requester,
      reason: request.requestReason === undefined ? null : clip(request.requestReason),
      expiresAt: request.expiresAt.toISOString(),
      decision: decided
        ? {
            by: request.decidedBy as string,
            at: (request.decidedAt as Date).toISOString(),
            ...(request.reason !== undefined ? { reason: clip(request.reason) } : {}),
            ...(request.validUntil !== undefined ? { validUntil: request.validUntil.toISOString() } : {}),
          }
        : null,
    },
  };
}

/** Build the discharge service; loads (or creates, once) its stored X25519 key pair. */
export async function createDischargeService(options: DischargeServiceOptions): Promise<DischargeService> {
  if (typeof options !== 'object' || options === null || typeof options.store !== 'object' || options.store === null) {
    throw invalidArgument('createDischargeService needs { store, location }', { field: 'store' });
  }
  const { store } = options;
  const location = normaliseLocation(options.location);
  const clock = options.clock ?? (() => new Date());
  if (typeof clock !== 'function') throw invalidArgument('clock must be a function', { field: 'clock' });
  const maxValiditySeconds = int(options.maxValiditySeconds, DEFAULTS.maxValiditySeconds, 1, 86_400, 'maxValiditySeconds');
  const defaultValiditySeconds = int(options.defaultValiditySeconds, Math.min(DEFAULTS.defaultValiditySeconds, maxValiditySeconds), 1, maxValiditySeconds, 'defaultValiditySeconds');
  const requestTtlSeconds = int(options.requestTtlSeconds, DEFAULTS.requestTtlSeconds, 1, 7 * 86_400, 'requestTtlSeconds');
  const maxWaitMs = int(options.maxWaitSeconds, DEFAULTS.maxWaitSeconds, 0, 120, 'maxWaitSeconds') * 1000;
  const recheckMs = int(options.recheckMs, DEFAULTS.recheckMs, 10, 60_000, 'recheckMs');
  const maxPending = int(options.maxPendingPerPrincipal, DEFAULTS.maxPendingPerPrincipal, 1, 1000, 'maxPendingPerPrincipal');
  const maxWaiters = int(options.maxWaiters, DEFAULTS.maxWaiters, 0, 1_000_000, 'maxWaiters');
  const singleUse = options.singleUse ?? true;

  let keyPair: DischargerKeyPair;
  if (options.keyPair !== undefined) {
    checkBytes(options.keyPair.privateKey, 'keyPair.privateKey', 32);
    checkBytes(options.keyPair.publicKey, 'keyPair.publicKey', 32);
    keyPair = options.keyPair;
  } else {
    const stored = await store.dischargerKeys.ensure();
    keyPair = { publicKey: stored.publicKey, privateKey: stored.privateKey };
  }
  const publicKey = keyPair.publicKey.slice();

  const approvalUrl = (id: string): string => `${location}/approve/requests/${id}`;
  const onQueued = options.onQueued ?? ((): void => undefined);

  /** Queue the webhook event for `row` in the transaction `tx` that changed it. */
  const announce = (tx: Store, type: RequestEventType, row: DischargeRequest, now: Date): Promise<number> =>
    tx.webhooks.enqueue({ eventId: `msg_${base64url(randomBytes(16))}`, type, requestId: row.id, who: row.who, payload: requestEvent(type, view(row, now), approvalUrl(row.id), now) }, now);
  const pollUrl = (secret: string): string => `${location}/v1/discharge/poll/${secret}`;

  // Waiting polls by request id; decide() wakes them, a timer re-reads the database meanwhile.
  const waiters = new Map<string, Set<() => void>>();
  let waiting = 0;
  let closed = false;

  const wake = (id: string): void => {
    for (const w of [...(waiters.get(id) ?? [])]) w();
  };

  const sleep = (id: string, ms: number): Promise<void> =>
    new Promise((resolve) => {
      const set = waiters.get(id) ?? new Set<() => void>();
      waiters.set(id, set);
      waiting++;
      const done = (): void => {
        clearTimeout(timer);
        if (set.delete(done)) waiting--;
        if (set.size === 0 && waiters.get(id) === set) waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });

  const parseStored = (row: DischargeRequest): DischargeCondition => parseDischargeCondition(row.condition);

  const view = (row: DischargeRequest, now: Date): PendingView => {
    const cond = parseStored(row);
    const { [CLAIMED]: claimed, [REASON]: requestReason, [SHOWN]: shown, [MINT]: _mint, ...requester } = row.requester;
    const otherCaveats = Array.isArray(claimed) ? claimed.filter((c): c is string => typeof c === 'string') : [];
    const validUntil = row.decidedAt === null ? undefined : new Date(row.decidedAt.getTime() + row.validitySeconds * 1000);
    const lapsed = row.status === 'approved' && validUntil !== undefined && validUntil.getTime() <= now.getTime();
    const expired = row.status === 'pending' && row.expiresAt.getTime() <= now.getTime();
    const granted = row.status === 'approved' || row.status === 'collected' || row.status === 'lapsed';
    return Object.freeze({
      id: row.id,
      kind: cond.kind,
      condition: row.condition,
      who: row.who,
      what: row.what,
      requester: Object.freeze(requester),
      otherCaveats: Object.freeze(otherCaveats),
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      shown: shownOf(row.verified, shown),
      ...(typeof requestReason === 'string' ? { requestReason } : {}),
      status: expired ? 'expired' : lapsed ? 'lapsed' : row.status,
      validitySeconds: row.validitySeconds,
      singleUse: cond.kind === 'approve' && singleUse,
      ...(granted && validUntil !== undefined ? { validUntil } : {}),
      ...(row.collectedAt !== null ? { collectedAt: row.collectedAt } : {}),
      ...(row.decidedAt !== null ? { decidedAt: row.decidedAt } : {}),
      ...(row.decidedBy !== null ? { decidedBy: row.decidedBy } : {}),
      ...(row.decisionReason !== null ? { reason: row.decisionReason } : {}),
    });
  };

  /** How to mint, as stored with the request (see MINT). */
  const mintOptions = (row: DischargeRequest): { identifier: Uint8Array | undefined; format: DischargeFormat } => {
    const stored = row.requester[MINT];
    const m = typeof stored === 'object' && stored !== null && !Array.isArray(stored) ? (stored as { readonly [k: string]: unknown }) : {};
    const identifier = typeof m.id === 'string' ? base64Decode(m.id, 'stored caveat id') : undefined;
    return { identifier, format: m.format === 'bakery' ? 'bakery' : 'tessera' };
  };

  /** What the requester showed, checked; throws for a presentation that breaks the protocol. */
  const showOf = async (ask: AskInput, caveatId: Uint8Array, claimed: readonly string[], now: Date): Promise<Shown> => {
    if (typeof ask !== 'object' || ask === null) throw invalidArgument('ask must be { presentation?, reason?, private? }', { field: 'ask' });
    if (ask.private === true) {
      if (ask.presentation !== undefined || claimed.length > 0) {
        throw invalidArgument('a private request shows neither a presentation nor caveats', { field: 'private' });
      }
      return { kind: 'private' };
    }
    if (ask.presentation === undefined) return { kind: 'none' };
    const presentation = decodePresentation(ask.presentation);
    const { audience } = checkPresentation(presentation, now);
    if (audience !== location) return { kind: 'unverified', why: `it is addressed to ${audience.slice(0, 256)}, not to this service` };
    if (options.presentations === undefined) return { kind: 'unverified', why: 'this discharge service has no issuer keyring to verify tokens with' };
    return options.presentations(presentation, caveatId);
  };

  /** The discharge for a request that was just collected (status `collected`, ticket present). */
  const mint = async (row: DischargeRequest & { caveatId: Uint8Array }, now: Date): Promise<{ discharge: Macaroon; ticket: TicketInfo }> => {
    const ticket = decodeTicket(row.caveatId, keyPair.privateKey, keyPair.publicKey);
    try {
      if (!constantTimeEqual(sha256(row.caveatId), row.caveatIdHash) || ticket.condition !== row.condition || row.decidedBy === null || row.decidedAt === null) {
        throw new TesseraError('ERR_STORAGE', 'the stored discharge request is inconsistent');
      }
      const notAfter = new Date(row.decidedAt.getTime() + row.validitySeconds * 1000);
      if (notAfter.getTime() <= now.getTime()) {
        // Only a collection retried after the discharge's own expiry gets here (storage lapses the rest).
        throw new TesseraError('ERR_FORBIDDEN', 'this discharge was already collected and has expired since', { status: 'collected' });
      }
      const cond = parseStored(row);
      const how = mintOptions(row);
      let d = Macaroon.mint({ rootKey: ticket.caveatKey, identifier: how.identifier ?? row.caveatId, location });
      d = d.addFirstPartyCaveat(caveat.timeBefore(notAfter));
      const declaredKey = cond.kind === 'login' ? 'user' : 'approved-by';
      d = d.addFirstPartyCaveat(caveat.declared(declaredKey, row.decidedBy));
      if (cond.kind === 'approve' && singleUse && how.format === 'tessera') d = d.addFirstPartyCaveat(caveat.uses(1));
      for (const key of cond.needDeclared ?? []) {
        // The bakery's "declared <key> " (checkers.DeclaredCaveat(key, "")): nobody knows the
        // value, and the holder can no longer declare one. Tessera's verifier refuses an empty
        // value, so such a discharge only serves bakery verifiers, as need-declared itself.
        if (key !== declaredKey) d = d.addFirstPartyCaveat(`declared ${key} `);
      }
      const info: TicketInfo = ticket.namespace === undefined ? { version: ticket.version } : { version: ticket.version, namespace: ticket.namespace };
      return { discharge: d, ticket: Object.freeze(info) };
    } finally {
      ticket.caveatKey.fill(0);
    }
  };

  const service: DischargeService = {
    location,
    publicKey,
    maxWaitMs,

    info: () => Object.freeze({ location, publicKey: base64url(publicKey), version: 2 as const }),

    async request(caveatId, requester = {}, otherCaveats = [], options = {}) {
      checkBytes(caveatId, 'caveatId');
      const claimed = checkOtherCaveats(otherCaveats);
      checkRequester(requester);
      if (typeof options !== 'object' || options === null) throw invalidArgument('options must be an object', { field: 'options' });
      const ask: AskInput = options;
      const reason = ask.reason === undefined ? undefined : checkRequestReason(ask.reason);
      const format = options.format ?? 'tessera';
      if (format !== 'tessera' && format !== 'bakery') throw invalidArgument('format must be "tessera" or "bakery"', { field: 'format' });
      const separate = options.ticket !== undefined;
      if (separate) {
        checkBytes(options.ticket, 'ticket');
        if (caveatId.length === 0 || caveatId.length > MAX_SEPARATE_CAVEAT_ID_BYTES) {
          throw limit(`a caveat id carried apart from its ticket must be 1..${MAX_SEPARATE_CAVEAT_ID_BYTES} bytes`, { field: 'id' });
        }
      }
      const sealed = options.ticket ?? caveatId;
      const ticket = decodeTicket(sealed, keyPair.privateKey, keyPair.publicKey);
      ticket.caveatKey.fill(0); // opened only to prove it opens; re-opened at collection
      const cond = parseDischargeCondition(ticket.condition);
      const now = clock();
      // Verified facts go to their own column; what could not be verified stays with the requester's words.
      const shown = await showOf(ask, caveatId, claimed, now);
      const id = `dr_${base64url(randomBytes(16))}`;
      const secret = base64url(randomBytes(POLL_SECRET_BYTES));
      const expiresAt = new Date(now.getTime() + requestTtlSeconds * 1000);
      // One transaction: the cap is counted under a lock on the addressee, so concurrent
      // requests cannot all pass it, and the request exists only with its audit row.
      const queued = await store.transaction(async (tx) => {
        if ((await tx.discharges.countPending(cond.who, now)) >= maxPending) {
          throw new TesseraError('ERR_RATE_LIMITED', 'too many requests are already waiting for this approver; try again later', { who: cond.who });
        }
        const created = await tx.discharges.create(
          {
            id,
            pollToken: secret,
            // The sealed ticket: what is re-opened at collection (and cleared once settled).
            caveatId: sealed,
            condition: ticket.condition,
            who: cond.who,
            what: cond.what,
            requester: {
              ...requester,
              [CLAIMED]: claimed,
              ...(reason !== undefined ? { [REASON]: reason } : {}),
              ...(shown.kind === 'unverified' || shown.kind === 'private' ? { [SHOWN]: shown } : {}),
              [MINT]: { ...(separate ? { id: base64url(caveatId) } : {}), format },
            },
            expiresAt,
            validitySeconds: defaultValiditySeconds,
            verified: shown.kind === 'verified' ? shown.token : null,
          },
          now,
        );
        await tx.audit.append({
          actor: AUDIT_REQUESTER,
          action: 'discharge-request',
          subject: id,
          details: {
            kind: cond.kind,
            who: cond.who,
            what: cond.what,
            ticketVersion: ticket.version,
            shown: shown.kind,
            ...(shown.kind === 'verified' ? { token: shown.token.identifier } : {}),
          },
        });
        return announce(tx, 'request.created', created, now);
      });
      if (queued > 0) onQueued();
      return Object.freeze({ status: 'pending' as const, id, approvalUrl: approvalUrl(id), pollUrl: pollUrl(secret), expiresAt });
    },

    checkDischarge(discharge, caveatId, ticket) {
      if (!(discharge instanceof Macaroon)) throw invalidArgument('discharge must be a Macaroon', { field: 'discharge' });
      checkBytes(caveatId, 'caveatId');
      if (ticket !== undefined) checkBytes(ticket, 'ticket');
      const opened = decodeTicket(ticket ?? caveatId, keyPair.privateKey, keyPair.publicKey);
      try {
        const id = discharge.identifier;
        if (id.length !== caveatId.length || !constantTimeEqual(id, caveatId)) {
          throw new TesseraError('ERR_SIGNATURE', 'the discharge is for another caveat');
        }
        verifySignature(discharge, opened.caveatKey);
      } finally {
        opened.caveatKey.fill(0);
      }
      return Object.freeze(opened.namespace === undefined ? { version: opened.version } : { version: opened.version, namespace: opened.namespace });
    },

    async poll(secret, waitMs = 0) {
      // Anything that is not a secret of ours is "unknown", without saying why.
      if (typeof secret !== 'string' || !POLL_SECRET.test(secret)) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request');
      const wait = int(Math.floor(Number.isFinite(waitMs) ? Math.min(Math.max(waitMs, 0), maxWaitMs) : 0), 0, 0, maxWaitMs, 'waitMs');
      const deadline = Date.now() + wait;
      for (;;) {
        const now = clock();
        // One transaction: the collection, the discharge minted from it and its audit row
        // commit together, so a failure leaves the approval collectable.
        const { row, minted } = await store.transaction(async (tx) => {
          const collected = await tx.discharges.collect(secret, now);
          if (collected?.status !== 'collected' || collected.caveatId === null) return { row: collected, minted: undefined };
          const discharge = await mint({ ...collected, caveatId: collected.caveatId }, now);
          await tx.audit.append({ actor: AUDIT_REQUESTER, action: collected.collectedNow ? 'discharge' : 'discharge-again', subject: collected.id, details: { approvedBy: collected.decidedBy } });
          return { row: collected, minted: discharge };
        });
        if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request');
        switch (row.status) {
          case 'collected': {
            if (minted === undefined) {
              throw new TesseraError('ERR_FORBIDDEN', 'this discharge was already collected: a poll URL yields one discharge', { status: 'collected' });
            }
            return Object.freeze({ status: 'discharged' as const, discharge: minted.discharge, ticket: minted.ticket });
          }
          case 'denied':
            throw new TesseraError('ERR_DENIED', 'the request was denied', {
              status: 'denied',
              ...(row.decisionReason !== null ? { reason: row.decisionReason } : {}),
              ...(row.decidedBy !== null ? { decidedBy: row.decidedBy } : {}),
            });
          case 'expired':
            throw new TesseraError('ERR_DENIED', 'the request expired before anyone decided', { status: 'expired' });
          case 'withdrawn':
            throw new TesseraError('ERR_DENIED', 'the approval was withdrawn before it was collected', {
              status: 'withdrawn',
              ...(row.decidedBy !== null ? { decidedBy: row.decidedBy } : {}),
            });
          case 'lapsed':
            throw new TesseraError('ERR_DENIED', 'the approval lapsed before its discharge was collected', { status: 'lapsed' });
          default: {
            const left = Math.min(deadline - Date.now(), row.expiresAt.getTime() - now.getTime() + 50);
            if (left <= 0 || closed || waiting >= maxWaiters) {
              return Object.freeze({ status: 'pending' as const, approvalUrl: approvalUrl(row.id), expiresAt: row.expiresAt });
            }
            await sleep(row.id, Math.min(left, recheckMs));
          }
        }
      }
    },

    async listPending(approver, max = 100) {
      checkApprover(approver);
      const now = clock();
      const rows = await store.discharges.listPending({ who: principalsOf(approver), limit: max }, now);
      return rows.map((r) => view(r, now));
    },

    async history(approver, max = 100) {
      checkApprover(approver);
      const now = clock();
      const rows = await store.discharges.listHistory({ who: principalsOf(approver), limit: max }, now);
      return rows.map((r) => view(r, now));
    },

    async activity(approver, max = 100) {
      checkApprover(approver);
      return store.audit.listAboutRequests(principalsOf(approver), max);
    },

    async get(id, approver) {
      checkApprover(approver);
      if (typeof id !== 'string' || !REQUEST_ID.test(id)) return undefined;
      const row = await store.discharges.get(id);
      if (row === undefined || !mayDecide(parseStored(row).principal, approver)) return undefined;
      return view(row, clock());
    },

    async decide(id, approver, decision, via = {}) {
      checkApprover(approver);
      if (typeof decision !== 'object' || decision === null || typeof decision.approve !== 'boolean') {
        throw invalidArgument('decision must be { approve: true, validitySeconds? } or { approve: false, reason }', { field: 'decision' });
      }
      const validitySeconds = decision.approve
        ? int(decision.validitySeconds, defaultValiditySeconds, 1, maxValiditySeconds, 'validitySeconds')
        : undefined;
      const reason = decision.approve ? undefined : checkReason(decision.reason);
      // The approver's name goes into the discharge: refuse now a name a caveat cannot carry.
      caveat.declared('approved-by', approver.name);
      const row = typeof id === 'string' && REQUEST_ID.test(id) ? await store.discharges.get(id) : undefined;
      if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request', { field: 'id' });
      const cond = parseStored(row);
      if (!mayDecide(cond.principal, approver)) {
        throw new TesseraError('ERR_FORBIDDEN', `only ${cond.principal.kind === 'user' ? 'that user' : 'members of that group'} may decide this request`, { who: row.who });
      }
      const now = clock();
      const decided = await store.transaction(async (tx) => {
        const settled = await tx.discharges.decide(
          id,
          decision.approve
            ? { status: 'approved', decidedBy: approver.name, validitySeconds: validitySeconds as number }
            : { status: 'denied', decidedBy: approver.name, reason: reason as string },
          now,
        );
        await tx.audit.append({
          actor: approver.name,
          action: decision.approve ? 'approve' : 'deny',
          subject: id,
          ...(via.channel !== undefined ? { channel: via.channel } : {}),
          details: decision.approve
            ? { kind: cond.kind, who: row.who, what: row.what, validitySeconds: validitySeconds as number }
            : { kind: cond.kind, who: row.who, what: row.what, reason: reason as string },
        });
        return { settled, queued: await announce(tx, decision.approve ? 'request.approved' : 'request.denied', settled, now) };
      });
      wake(id); // after commit: a woken poll must find the decision
      if (decided.queued > 0) onQueued();
      return view(decided.settled, now);
    },

    async withdraw(id, approver) {
      checkApprover(approver);
      const row = typeof id === 'string' && REQUEST_ID.test(id) ? await store.discharges.get(id) : undefined;
      if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request', { field: 'id' });
      const cond = parseStored(row);
      if (!mayDecide(cond.principal, approver)) {
        throw new TesseraError('ERR_FORBIDDEN', `only ${cond.principal.kind === 'user' ? 'that user' : 'members of that group'} may withdraw this approval`, { who: row.who });
      }
      const now = clock();
      const withdrawn = await store.transaction(async (tx) => {
        const taken = await tx.discharges.withdraw(id, approver.name, now);
        await tx.audit.append({
          actor: approver.name,
          action: 'withdraw',
          subject: id,
          details: { kind: cond.kind, who: row.who, what: row.what, ...(row.decidedBy !== null ? { approvedBy: row.decidedBy } : {}) },
        });
        return { taken, queued: await announce(tx, 'request.withdrawn', taken, now) };
      });
      wake(id); // after commit: a woken poll must find the withdrawal
      if (withdrawn.queued > 0) onQueued();
      return view(withdrawn.taken, now);
    },

    decided: (id) => wake(id),

    async announceExpired() {
      const now = clock();
      const { expired, queued } = await store.transaction(async (tx) => {
        const rows = await tx.discharges.announceExpired(now);
        let n = 0;
        for (const r of rows) n += await announce(tx, 'request.expired', r, now);
        return { expired: rows, queued: n };
      });
      for (const r of expired) wake(r.id);
      if (queued > 0) onQueued();
      return expired.length;
    },

    close() {
      closed = true;
      for (const id of [...waiters.keys()]) wake(id);
    },
  };
  return Object.freeze(service);
}
