/** Issued tokens: what the issuer minted, for listing, auditing and revocation by subject. */
import { and, eq, gt, gte, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { tokens } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkInt, checkOptionalDate, checkOptionalText, checkPageSize, checkText, guard } from './util.js';

export interface TokenRecord {
  readonly identifier: string;
  readonly rootKeyId: string;
  readonly subject: string | null;
  readonly label: string | null;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  /** Set when the identifier is revoked through `revocations.revoke`. */
  readonly revokedAt: Date | null;
}

export interface RecordTokenInput {
  readonly identifier: string;
  /** Must name an existing root key (ERR_NOT_FOUND otherwise). */
  readonly rootKeyId: string;
  readonly subject?: string | null;
  readonly label?: string | null;
  readonly expiresAt?: Date | null;
}

/** A token's state at a moment: revoked wins over expired. */
export type TokenState = 'active' | 'revoked' | 'expired';

/** Where a page of tokens ends: the last row's creation time (to the millisecond) and identifier. */
export interface TokenCursor {
  readonly createdAt: Date;
  readonly identifier: string;
}

export interface ListTokensOptions {
  readonly subject?: string;
  readonly rootKeyId?: string;
  readonly label?: string;
  readonly state?: TokenState;
  /** Minted at or after. */
  readonly since?: Date;
  /** Minted before. */
  readonly until?: Date;
  /** The moment `state` is judged at (default now). */
  readonly now?: Date;
  /** Only tokens after this one in the listing order (keyset pagination). */
  readonly after?: TokenCursor;
  /** Page size, default 100, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface TokenRepository {
  /** Record a minted token. ERR_CONFLICT if the identifier was already recorded. */
  record(input: RecordTokenInput): Promise<TokenRecord>;
  /** A recorded token, or undefined. */
  get(identifier: string): Promise<TokenRecord | undefined>;
  /** Recorded tokens, newest first (then by identifier, descending), optionally filtered. */
  list(options?: ListTokensOptions): Promise<TokenRecord[]>;
}

export function tokenRepository(db: TesseraDb): TokenRepository {
  return {
    record: (input) =>
      guard('record token', async () => {
        const [row] = await db
          .insert(tokens)
          .values({
            identifier: checkText('identifier', input.identifier),
            rootKeyId: checkText('rootKeyId', input.rootKeyId),
            subject: checkOptionalText('subject', input.subject),
            label: checkOptionalText('label', input.label),
            expiresAt: checkOptionalDate('expiresAt', input.expiresAt),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'record token returned no row');
        return row;
      }),

    get: (identifier) =>
      guard('read token', async () => {
        const [row] = await db.select().from(tokens).where(eq(tokens.identifier, checkText('identifier', identifier)));
        return row;
      }),

    list: (options = {}) =>
      guard('list tokens', async () => {
        // Milliseconds, as JavaScript dates carry them, so a cursor made from a row matches it exactly.
        const created = sql`date_trunc('milliseconds', ${tokens.createdAt})`;
        const filters: (SQL | undefined)[] = [];
        if (options.subject !== undefined) filters.push(eq(tokens.subject, checkText('subject', options.subject)));
        if (options.rootKeyId !== undefined) filters.push(eq(tokens.rootKeyId, checkText('rootKeyId', options.rootKeyId)));
        if (options.label !== undefined) filters.push(eq(tokens.label, checkText('label', options.label)));
        if (options.since !== undefined) filters.push(gte(tokens.createdAt, checkDate('since', options.since)));
        if (options.until !== undefined) filters.push(lt(tokens.createdAt, checkDate('until', options.until)));
        if (options.state !== undefined) {
          const now = checkDate('now', options.now ?? new Date());
          const live = or(isNull(tokens.expiresAt), gt(tokens.expiresAt, now));
          if (options.state === 'revoked') filters.push(isNotNull(tokens.revokedAt));
          else if (options.state === 'active') filters.push(isNull(tokens.revokedAt), live);
          else if (options.state === 'expired') filters.push(isNull(tokens.revokedAt), lte(tokens.expiresAt, now));
          else throw new TesseraError('ERR_INVALID_ARGUMENT', 'state must be active, revoked or expired', { field: 'state' });
        }
        if (options.after !== undefined) {
          const at = checkDate('after.createdAt', options.after.createdAt);
          filters.push(sql`(${created}, ${tokens.identifier}) < (${at.toISOString()}::timestamptz, ${checkText('after.identifier', options.after.identifier)})`);
        }
        return db
          .select()
          .from(tokens)
          .where(and(...filters))
          .orderBy(sql`${created} desc`, sql`${tokens.identifier} desc`)
          .limit(checkPageSize(options.limit, 100, 1000))
          .offset(options.offset === undefined ? 0 : checkInt('offset', options.offset, 0, Number.MAX_SAFE_INTEGER));
      }),
  };
}
