/**
 * Discharge requests for the human-approval discharge service.
 *
 * Lifecycle: pending → approved | denied | expired; approved → collected (once) | withdrawn |
 * lapsed (not collected while valid). Transitions are conditional updates, so two approvers
 * racing, or two pollers collecting, cannot both win.
 * The poll secret is stored only as a SHA-256 hash: pass the secret, this module hashes it. No
 * discharge is stored: the caveat id (the ticket, sealed to the discharger's key) is kept until
 * the request is settled — collected, denied or expired — so the discharger re-opens it and
 * mints the discharge at collection. After collection it is kept for RECOLLECT_WINDOW_MS more,
 * so a client whose answer was lost can collect the same discharge again (it is minted
 * deterministically from the ticket and the decision).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lte, ne, not, or, sql, type SQL } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { dischargeRequests, type DischargeStatus, type JsonValue } from './schema.js';
import { APPROVAL_CHANNEL, type TesseraDb } from './types.js';
import {
  MAX_LONG_TEXT,
  checkDate,
  checkInt,
  checkJsonObject,
  checkOptionalText,
  checkPageSize,
  checkSecret,
  checkText,
  guard,
  hashSecret,
} from './util.js';
import { LOCK_KEYS } from './locks.js';

export type { DischargeStatus } from './schema.js';

export type RequesterInfo = { readonly [key: string]: JsonValue };

/** How long after the first collection the same poll secret collects the same discharge again. */
export const RECOLLECT_WINDOW_MS = 60_000;

export interface DischargeRequest {
  readonly id: string;
  /** SHA-256 of the third-party caveat id. */
  readonly caveatIdHash: Uint8Array;
  /**
   * The third-party caveat id itself, until the request is settled (null afterwards). `collect`
   * returns it with the one call that moves the request to `collected`.
   */
  readonly caveatId: Uint8Array | null;
  readonly condition: string;
  /** Approver name or group the request is addressed to. */
  readonly who: string;
  /** What is being asked, in words, for the approval page. */
  readonly what: string;
  readonly requester: RequesterInfo;
  readonly status: DischargeStatus;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly decidedAt: Date | null;
  readonly decidedBy: string | null;
  readonly decisionReason: string | null;
  /** How long the discharge, once minted, stays valid. */
  readonly validitySeconds: number;
  readonly collectedAt: Date | null;
  /** Facts the discharge service verified about the requesting token, or null. */
  readonly verified: { readonly [key: string]: JsonValue } | null;
}

/** What `collect` answers: the request, and whether this very call collected it. */
export type CollectedRequest = DischargeRequest & { readonly collectedNow: boolean };

export interface CreateDischargeRequestInput {
  readonly id: string;
  /** The unguessable poll secret handed to the requester (at least 16 characters). */
  readonly pollToken: string;
  /** The third-party caveat id (bytes or its text form); kept until settled, its SHA-256 for good. */
  readonly caveatId: Uint8Array | string;
  readonly condition: string;
  readonly who: string;
  readonly what: string;
  readonly requester?: RequesterInfo;
  readonly expiresAt: Date;
  readonly validitySeconds: number;
  /** Facts verified about the requesting token (not the token). */
  readonly verified?: { readonly [key: string]: JsonValue } | null;
}

export interface DecideInput {
  readonly status: 'approved' | 'denied';
  /** The approver's user name. */
  readonly decidedBy: string;
  readonly reason?: string | null;
  /** When approving: replace the request's `validitySeconds` (the approver's choice). */
  readonly validitySeconds?: number;
}

export interface ListPendingOptions {
  /** Only requests addressed to any of these names/groups. */
  readonly who?: readonly string[];
  readonly limit?: number;
}

export interface ListHistoryOptions {
  /** Only requests addressed to any of these names/groups. */
  readonly who?: readonly string[];
  readonly limit?: number;
}

export interface DischargeRepository {
  /** Store a new pending request. ERR_CONFLICT if the id or poll token is already used. */
  create(input: CreateDischargeRequestInput, now?: Date): Promise<DischargeRequest>;
  /** A request by id, or undefined. */
  get(id: string): Promise<DischargeRequest | undefined>;
  /** A request by its poll secret, or undefined. */
  findByPollToken(pollToken: string): Promise<DischargeRequest | undefined>;
  /**
   * How many pending, unexpired requests are addressed to `who`, counted after taking a lock
   * on `who` that is held until the transaction ends. Inside `store.transaction`, count, check
   * and `create` are then one step for that addressee: concurrent requests wait rather than
   * all passing a cap that only one of them should.
   */
  countPending(who: string, now?: Date): Promise<number>;
  /** How many requests are pending and unexpired, for every addressee (no lock: for metrics). */
  countAllPending(now?: Date): Promise<number>;
  /** Pending, unexpired requests, oldest first. */
  listPending(options?: ListPendingOptions, now?: Date): Promise<DischargeRequest[]>;
  /**
   * Approve or deny a pending, unexpired request. ERR_NOT_FOUND if unknown; ERR_CONFLICT if it
   * was already decided or has expired (it is then marked expired).
   */
  decide(id: string, decision: DecideInput, now?: Date): Promise<DischargeRequest>;
  /**
   * Poll by secret. An approved request becomes `collected` (`collectedNow`) and is returned
   * once with its discharge (cleared in the database), its ticket kept for RECOLLECT_WINDOW_MS
   * more; an approved one past its validity becomes `lapsed`. Otherwise the request is returned
   * as it stands (pending, denied, expired — a pending one past its expiry is marked expired —,
   * withdrawn, lapsed, or collected: with its ticket within the window, without after it).
   * Undefined if the secret matches nothing.
   */
  collect(pollToken: string, now?: Date): Promise<CollectedRequest | undefined>;
  /**
   * Take back an approval nobody collected yet: it becomes `withdrawn` by `by` (its ticket
   * cleared). ERR_NOT_FOUND if unknown, ERR_CONFLICT unless it is approved and uncollected.
   */
  withdraw(id: string, by: string, now?: Date): Promise<DischargeRequest>;
  /**
   * Settled requests (approved, denied, expired, collected — and pending ones past their
   * expiry), most recently decided (or expired) first.
   */
  listHistory(options?: ListHistoryOptions, now?: Date): Promise<DischargeRequest[]>;
  /**
   * Mark pending requests past their expiry as expired and uncollected approvals past their
   * validity as lapsed, and clear the tickets of collections past the retry window; returns how
   * many requests were expired or lapsed.
   */
  expireStale(now?: Date): Promise<number>;
  /**
   * Requests that expired (marked so by any path, or pending past their expiry: marked now) and
   * whose expiry was not announced yet: marked announced and returned, at most `limit`. Inside
   * `store.transaction`, with the announcement written in the same transaction, each expiry is
   * announced exactly once across instances.
   */
  announceExpired(now?: Date, limit?: number): Promise<DischargeRequest[]>;
}

type Row = typeof dischargeRequests.$inferSelect;

function toRequest(r: Row): DischargeRequest {
  const { pollTokenHash: _hidden, ...rest } = r;
  return rest;
}

const caveatBytes = (id: Uint8Array | string): Uint8Array => {
  if (id instanceof Uint8Array) {
    if (id.length === 0 || id.length > 64 * 1024) throw new TesseraError('ERR_INVALID_ARGUMENT', 'caveatId has a bad length', { field: 'caveatId' });
    return id;
  }
  return new TextEncoder().encode(checkText('caveatId', id, MAX_LONG_TEXT));
};

/** An approval whose validity ran out (as SQL; the time passed as text, which both drivers bind alike). */
const approvalLapsed = (now: Date): SQL =>
  sql`${dischargeRequests.decidedAt} + ${dischargeRequests.validitySeconds} * interval '1 second' <= ${now.toISOString()}::timestamptz`;

const lapsedAt = (row: Row, now: Date): boolean =>
  row.decidedAt !== null && row.decidedAt.getTime() + row.validitySeconds * 1000 <= now.getTime();

/** Advisory lock class (first key) for per-addressee locks; the second key is hashtext(who). */
const PENDING_LOCK_CLASS = LOCK_KEYS.pendingClass;

export function dischargeRepository(db: TesseraDb): DischargeRepository {
  const markExpired = async (where: SQL, now: Date): Promise<Row[]> =>
    db
      .update(dischargeRequests)
      .set({ status: 'expired', decidedAt: now, caveatId: null })
      .where(and(where, eq(dischargeRequests.status, 'pending'), lte(dischargeRequests.expiresAt, now)))
      .returning();

  return {
    create: (input, now = new Date()) =>
      guard('create discharge request', async () => {
        const [row] = await db
          .insert(dischargeRequests)
          .values({
            id: checkText('id', input.id),
            pollTokenHash: hashSecret(checkSecret('pollToken', input.pollToken)),
            caveatIdHash: sha256(caveatBytes(input.caveatId)),
            caveatId: caveatBytes(input.caveatId),
            condition: checkText('condition', input.condition, MAX_LONG_TEXT),
            who: checkText('who', input.who),
            what: checkText('what', input.what, MAX_LONG_TEXT),
            requester: checkJsonObject<RequesterInfo>('requester', input.requester),
            status: 'pending',
            createdAt: now,
            expiresAt: checkDate('expiresAt', input.expiresAt),
            validitySeconds: checkInt('validitySeconds', input.validitySeconds, 1),
            verified: input.verified === undefined || input.verified === null ? null : checkJsonObject<RequesterInfo>('verified', input.verified),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create discharge request returned no row');
        return toRequest(row);
      }),

    get: (id) =>
      guard('read discharge request', async () => {
        const [row] = await db.select().from(dischargeRequests).where(eq(dischargeRequests.id, checkText('id', id)));
        return row === undefined ? undefined : toRequest(row);
      }),

    findByPollToken: (pollToken) =>
      guard('read discharge request', async () => {
        const [row] = await db
          .select()
          .from(dischargeRequests)
          .where(eq(dischargeRequests.pollTokenHash, hashSecret(checkText('pollToken', pollToken))));
        return row === undefined ? undefined : toRequest(row);
      }),

    countPending: (who, now = new Date()) =>
      guard('count discharge requests', async () => {
        checkText('who', who);
        await db.execute(sql`select pg_advisory_xact_lock(${PENDING_LOCK_CLASS}, hashtext(${who}))`);
        const [row] = await db
          .select({ n: count() })
          .from(dischargeRequests)
          .where(and(eq(dischargeRequests.who, who), eq(dischargeRequests.status, 'pending'), gt(dischargeRequests.expiresAt, now)));
        return row?.n ?? 0;
      }),

    countAllPending: (now = new Date()) =>
      guard('count discharge requests', async () => {
        const [row] = await db
          .select({ n: count() })
          .from(dischargeRequests)
          .where(and(eq(dischargeRequests.status, 'pending'), gt(dischargeRequests.expiresAt, checkDate('now', now))));
        return row?.n ?? 0;
      }),

    listPending: (options = {}, now = new Date()) =>
      guard('list discharge requests', async () => {
        const filters: SQL[] = [eq(dischargeRequests.status, 'pending'), gt(dischargeRequests.expiresAt, now)];
        if (options.who !== undefined) {
          const names = options.who.map((w) => checkText('who', w));
          if (names.length === 0) return [];
          filters.push(inArray(dischargeRequests.who, names));
        }
        const rows = await db
          .select()
          .from(dischargeRequests)
          .where(and(...filters))
          .orderBy(asc(dischargeRequests.createdAt), asc(dischargeRequests.id))
          .limit(checkPageSize(options.limit, 100, 1000));
        return rows.map(toRequest);
      }),

    decide: (id, decision, now = new Date()) =>
      guard('decide discharge request', async () => {
        checkText('id', id);
        if (decision.status !== 'approved' && decision.status !== 'denied') {
          throw new TesseraError('ERR_INVALID_ARGUMENT', 'decision must be approved or denied', { field: 'status' });
        }
        const [row] = await db
          .update(dischargeRequests)
          .set({
            status: decision.status,
            decidedAt: now,
            decidedBy: checkText('decidedBy', decision.decidedBy),
            decisionReason: checkOptionalText('reason', decision.reason, MAX_LONG_TEXT),
            ...(decision.status === 'denied' ? { caveatId: null } : {}),
            ...(decision.validitySeconds !== undefined
              ? { validitySeconds: checkInt('validitySeconds', decision.validitySeconds, 1) }
              : {}),
          })
          .where(
            and(eq(dischargeRequests.id, id), eq(dischargeRequests.status, 'pending'), gt(dischargeRequests.expiresAt, now)),
          )
          .returning();
        if (row !== undefined) {
          // The update has committed: long-polls on every instance may now read the decision.
          await db.execute(sql`select pg_notify(${APPROVAL_CHANNEL}, ${id})`);
          return toRequest(row);
        }
        const expired = await markExpired(eq(dischargeRequests.id, id), now);
        if (expired.length > 0) throw new TesseraError('ERR_CONFLICT', 'the request has expired', { status: 'expired' });
        const [current] = await db.select({ status: dischargeRequests.status }).from(dischargeRequests).where(eq(dischargeRequests.id, id));
        if (current === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request', { field: 'id' });
        throw new TesseraError('ERR_CONFLICT', `the request is already ${current.status}`, { status: current.status });
      }),

    collect: (pollToken, now = new Date()) =>
      guard('collect discharge', async () => {
        const byPoll = eq(dischargeRequests.pollTokenHash, hashSecret(checkText('pollToken', pollToken)));
        return db.transaction(async (tx) => {
          const [row] = await tx.select().from(dischargeRequests).where(byPoll).for('update');
          if (row === undefined) return undefined;
          const settled = (r: Row, collectedNow = false): CollectedRequest => ({ ...toRequest(r), collectedNow });
          if (row.status === 'approved' && lapsedAt(row, now)) {
            const lapsed = { status: 'lapsed' as const, caveatId: null };
            await tx.update(dischargeRequests).set(lapsed).where(eq(dischargeRequests.id, row.id));
            return settled({ ...row, ...lapsed });
          }
          if (row.status === 'approved') {
            // The ticket stays for the retry window: see RECOLLECT_WINDOW_MS.
            await tx
              .update(dischargeRequests)
              .set({ status: 'collected', collectedAt: now })
              .where(eq(dischargeRequests.id, row.id));
            return settled({ ...row, status: 'collected', collectedAt: now }, true);
          }
          if (row.status === 'collected' && row.caveatId !== null && (row.collectedAt === null || row.collectedAt.getTime() + RECOLLECT_WINDOW_MS <= now.getTime())) {
            await tx.update(dischargeRequests).set({ caveatId: null }).where(eq(dischargeRequests.id, row.id));
            return settled({ ...row, caveatId: null });
          }
          if (row.status === 'pending' && row.expiresAt.getTime() <= now.getTime()) {
            const [expired] = await tx
              .update(dischargeRequests)
              .set({ status: 'expired', decidedAt: now, caveatId: null })
              .where(eq(dischargeRequests.id, row.id))
              .returning();
            return expired === undefined ? undefined : settled(expired);
          }
          return settled(row);
        });
      }),

    withdraw: (id, by, now = new Date()) =>
      guard('withdraw approval', async () => {
        const [row] = await db
          .update(dischargeRequests)
          .set({ status: 'withdrawn', decidedBy: checkText('by', by), decidedAt: now, caveatId: null })
          .where(and(eq(dischargeRequests.id, checkText('id', id)), eq(dischargeRequests.status, 'approved'), not(approvalLapsed(now))))
          .returning();
        if (row !== undefined) return toRequest(row);
        const [current] = await db.select({ status: dischargeRequests.status }).from(dischargeRequests).where(eq(dischargeRequests.id, id));
        if (current === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such discharge request', { field: 'id' });
        if (current.status === 'approved') {
          // Still `approved` only because nobody polled since it ran out: record it as lapsed.
          await db.update(dischargeRequests).set({ status: 'lapsed', caveatId: null }).where(and(eq(dischargeRequests.id, id), eq(dischargeRequests.status, 'approved')));
          throw new TesseraError('ERR_CONFLICT', 'the approval has lapsed: nobody collected it while it was valid', { status: 'lapsed' });
        }
        throw new TesseraError('ERR_CONFLICT', `only an approval not yet collected can be withdrawn; this request is ${current.status}`, { status: current.status });
      }),

    listHistory: (options = {}, now = new Date()) =>
      guard('list discharge history', async () => {
        const filters: (SQL | undefined)[] = [
          or(ne(dischargeRequests.status, 'pending'), lte(dischargeRequests.expiresAt, now)),
        ];
        if (options.who !== undefined) {
          const names = options.who.map((w) => checkText('who', w));
          if (names.length === 0) return [];
          filters.push(inArray(dischargeRequests.who, names));
        }
        const rows = await db
          .select()
          .from(dischargeRequests)
          .where(and(...filters))
          .orderBy(desc(sql`coalesce(${dischargeRequests.decidedAt}, ${dischargeRequests.expiresAt})`), desc(dischargeRequests.id))
          .limit(checkPageSize(options.limit, 100, 1000));
        return rows.map(toRequest);
      }),

    expireStale: (now = new Date()) =>
      guard('expire discharge requests', async () => {
        const expired = await markExpired(sql`true`, now);
        const lapsed = await db
          .update(dischargeRequests)
          .set({ status: 'lapsed', caveatId: null })
          .where(and(eq(dischargeRequests.status, 'approved'), approvalLapsed(now)))
          .returning({ id: dischargeRequests.id });
        await db
          .update(dischargeRequests)
          .set({ caveatId: null })
          .where(
            and(
              eq(dischargeRequests.status, 'collected'),
              isNotNull(dischargeRequests.caveatId),
              lte(dischargeRequests.collectedAt, new Date(now.getTime() - RECOLLECT_WINDOW_MS)),
            ),
          );
        return expired.length + lapsed.length;
      }),

    announceExpired: (now = new Date(), max = 100) =>
      guard('announce expired discharge requests', async () => {
        const due = or(
          eq(dischargeRequests.status, 'expired'),
          and(eq(dischargeRequests.status, 'pending'), lte(dischargeRequests.expiresAt, now)),
        );
        const ids = db
          .select({ id: dischargeRequests.id })
          .from(dischargeRequests)
          .where(and(isNull(dischargeRequests.expiryAnnouncedAt), due))
          .orderBy(asc(dischargeRequests.expiresAt))
          .limit(checkPageSize(max, 100, 1000))
          .for('update', { skipLocked: true });
        const rows = await db
          .update(dischargeRequests)
          .set({
            status: 'expired',
            expiryAnnouncedAt: now,
            caveatId: null,
            decidedAt: sql`coalesce(${dischargeRequests.decidedAt}, ${now.toISOString()}::timestamptz)`,
          })
          .where(and(inArray(dischargeRequests.id, ids), isNull(dischargeRequests.expiryAnnouncedAt), due))
          .returning();
        return rows.map(toRequest);
      }),
  };
}
