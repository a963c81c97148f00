/**
 * The revoked set: append-only rows with a sequence number that grows in commit order.
 *
 * `revoke` is durable (resolves after COMMIT) and idempotent (revoking twice keeps the first
 * row). In the same transaction it stamps `tokens.revoked_at` and sends
 * `NOTIFY tessera_revocations, '<identifier>'`, delivered to listeners only on commit.
 * Revocations take a transaction-scoped advisory lock, so a higher seq never commits before a
 * lower one: a reader that has seen seq N and asks for `listSince(N)` cannot miss a row.
 */
import { and, asc, eq, gt, isNull, lte, max, or, sql } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { revocations, tokens } from './schema.js';
import { REVOCATION_CHANNEL, type TesseraDb } from './types.js';
import { MAX_LONG_TEXT, checkInt, checkOptionalText, checkPageSize, checkText, guard } from './util.js';
import { LOCK_KEYS } from './locks.js';

export interface Revocation {
  /** Position in the revocation log (1, 2, 3… in commit order; gaps possible). */
  readonly seq: number;
  readonly identifier: string;
  readonly revokedAt: Date;
  readonly reason: string | null;
}

/** A revocation with its token's recorded expiry. */
export interface LiveRevocation {
  readonly seq: number;
  readonly identifier: string;
  /** The revoked token's expiry as the issuer recorded it; null when none (or not minted here). */
  readonly expiresAt: Date | null;
}

export interface RevokeResult extends Revocation {
  /** False when the identifier was already revoked (the existing row is returned). */
  readonly created: boolean;
}

export interface RevocationRepository {
  /** Revoke an identifier (durable, idempotent, notifies listeners on commit). */
  revoke(identifier: string, reason?: string | null): Promise<RevokeResult>;
  /** Whether the identifier is revoked. */
  isRevoked(identifier: string): Promise<boolean>;
  /** The revocation of an identifier, or undefined. */
  get(identifier: string): Promise<Revocation | undefined>;
  /** Revocations with seq > `seq`, oldest first, at most `limit` (default 1000, max 10000). */
  listSince(seq: number, limit?: number): Promise<Revocation[]>;
  /**
   * Revocations with `after` < seq <= `upTo`, oldest first, with their tokens' expiry, leaving
   * out, when `expiredBy` is given, those whose token (as recorded by the issuer) expired at or
   * before it: such a token can never verify again, so a verifier need not remember it. One
   * query, not pages: a LIMIT over the filtered join would re-join the whole range per page;
   * the answer holds only what the caller keeps anyway.
   */
  listLive(after: number, upTo: number, expiredBy?: Date): Promise<LiveRevocation[]>;
  /** The highest seq so far (0 when none). */
  latestSeq(): Promise<number>;
}

/** Advisory lock key serialising revocations (see module comment). */
const REVOCATION_LOCK_KEY = LOCK_KEYS.revocations;

export function revocationRepository(db: TesseraDb): RevocationRepository {
  return {
    revoke: (identifier, reason) =>
      guard('revoke', async () => {
        checkText('identifier', identifier);
        const why = checkOptionalText('reason', reason, MAX_LONG_TEXT);
        return db.transaction(async (tx): Promise<RevokeResult> => {
          await tx.execute(sql.raw(`select pg_advisory_xact_lock(${REVOCATION_LOCK_KEY})`));
          const [inserted] = await tx
            .insert(revocations)
            .values({ identifier, reason: why })
            .onConflictDoNothing({ target: revocations.identifier })
            .returning();
          if (inserted === undefined) {
            const [existing] = await tx.select().from(revocations).where(eq(revocations.identifier, identifier));
            if (existing === undefined) throw new TesseraError('ERR_STORAGE', 'revocation vanished');
            return { ...existing, created: false };
          }
          await tx
            .update(tokens)
            .set({ revokedAt: inserted.revokedAt })
            .where(and(eq(tokens.identifier, identifier), isNull(tokens.revokedAt)));
          await tx.execute(sql`select pg_notify(${REVOCATION_CHANNEL}, ${identifier})`);
          return { ...inserted, created: true };
        });
      }),

    isRevoked: (identifier) =>
      guard('check revocation', async () => {
        const rows = await db
          .select({ seq: revocations.seq })
          .from(revocations)
          .where(eq(revocations.identifier, checkText('identifier', identifier)));
        return rows.length > 0;
      }),

    get: (identifier) =>
      guard('read revocation', async () => {
        const [row] = await db.select().from(revocations).where(eq(revocations.identifier, checkText('identifier', identifier)));
        return row;
      }),

    listSince: (seq, limit) =>
      guard('list revocations', async () =>
        db
          .select()
          .from(revocations)
          .where(gt(revocations.seq, checkInt('seq', seq, 0, Number.MAX_SAFE_INTEGER)))
          .orderBy(asc(revocations.seq))
          .limit(checkPageSize(limit, 1000, 10_000)),
      ),

    listLive: (after, upTo, expiredBy) =>
      guard('list revocations', async () =>
        db
          .select({ seq: revocations.seq, identifier: revocations.identifier, expiresAt: tokens.expiresAt })
          .from(revocations)
          .leftJoin(tokens, eq(tokens.identifier, revocations.identifier))
          .where(
            and(
              gt(revocations.seq, checkInt('after', after, 0, Number.MAX_SAFE_INTEGER)),
              lte(revocations.seq, checkInt('upTo', upTo, 0, Number.MAX_SAFE_INTEGER)),
              expiredBy === undefined ? undefined : or(isNull(tokens.expiresAt), gt(tokens.expiresAt, expiredBy)),
            ),
          )
          .orderBy(asc(revocations.seq)),
      ),

    latestSeq: () =>
      guard('read latest revocation', async () => {
        const [row] = await db.select({ seq: max(revocations.seq) }).from(revocations);
        return row?.seq ?? 0;
      }),
  };
}
