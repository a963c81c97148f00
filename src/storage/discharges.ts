/**
 * Discharge requests for the human-approval discharge service.
 *
 * Lifecycle: pending → approved | denied | expired; approved → collected (once). Transitions
 * are conditional updates, so two approvers racing, or two pollers collecting, cannot both win.
 * The poll secret is stored only as a SHA-256 hash: pass the secret, this module hashes it. The
 * encoded discharge is cleared when collected, so a stolen database copy holds no live
 * discharge that was already handed out. The caveat id (the ticket, sealed to the discharger's
 * key) is kept until the request is settled — collected, denied or expired — so a discharger
 * may re-open it and mint the discharge at collection instead of storing one.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { and, asc, desc, eq, gt, inArray, lte, ne, or, sql, type SQL } from 'drizzle-orm';
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

export type { DischargeStatus } from './schema.js';

export type RequesterInfo = { readonly [key: string]: JsonValue };

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
  /** The encoded discharge: present once approved (if given), until collected. */
  readonly discharge: string | null;
  readonly collectedAt: Date | null;
}

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
}

export interface DecideInput {
  readonly status: 'approved' | 'denied';
  /** The approver's user name. */
  readonly decidedBy: string;
  readonly reason?: string | null;
  /** The encoded discharge (when approving and minting right away). */
  readonly discharge?: string | null;
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
  /** Pending, unexpired requests, oldest first. */
  listPending(options?: ListPendingOptions, now?: Date): Promise<DischargeRequest[]>;
  /**
   * Approve or deny a pending, unexpired request. ERR_NOT_FOUND if unknown; ERR_CONFLICT if it
   * was already decided or has expired (it is then marked expired).
   */
  decide(id: string, decision: DecideInput, now?: Date): Promise<DischargeRequest>;
  /**
   * Poll by secret. An approved request becomes `collected` and is returned once with its
   * discharge (cleared in the database); otherwise the request is returned as it stands
   * (pending, denied, expired — a pending one past its expiry is marked expired — or
   * collected with no discharge). Undefined if the secret matches nothing.
   */
  collect(pollToken: string, now?: Date): Promise<DischargeRequest | undefined>;
  /**
   * Settled requests (approved, denied, expired, collected — and pending ones past their
   * expiry), most recently decided (or expired) first.
   */
  listHistory(options?: ListHistoryOptions, now?: Date): Promise<DischargeRequest[]>;
  /** Mark pending requests past their expiry as expired; returns how many. */
  expireStale(now?: Date): Promise<number>;
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
        const discharge = checkOptionalText('discharge', decision.discharge, MAX_LONG_TEXT);
        if (decision.status === 'denied' && discharge !== null) {
          throw new TesseraError('ERR_INVALID_ARGUMENT', 'a denied request has no discharge', { field: 'discharge' });
        }
        const [row] = await db
          .update(dischargeRequests)
          .set({
            status: decision.status,
            decidedAt: now,
            decidedBy: checkText('decidedBy', decision.decidedBy),
            decisionReason: checkOptionalText('reason', decision.reason, MAX_LONG_TEXT),
            discharge,
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
          if (row.status === 'approved') {
            await tx
              .update(dischargeRequests)
              .set({ status: 'collected', collectedAt: now, discharge: null, caveatId: null })
              .where(eq(dischargeRequests.id, row.id));
            return toRequest({ ...row, status: 'collected', collectedAt: now });
          }
          if (row.status === 'pending' && row.expiresAt.getTime() <= now.getTime()) {
            const [expired] = await tx
              .update(dischargeRequests)
              .set({ status: 'expired', decidedAt: now, caveatId: null })
              .where(eq(dischargeRequests.id, row.id))
              .returning();
            return expired === undefined ? undefined : toRequest(expired);
          }
          return toRequest(row);
        });
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
      guard('expire discharge requests', async () => (await markExpired(sql`true`, now)).length),
  };
}
