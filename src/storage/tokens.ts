/** Issued tokens: what the issuer minted, for listing, auditing and revocation by subject. */
import { and, desc, eq, type SQL } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { tokens } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkInt, checkOptionalDate, checkOptionalText, checkPageSize, checkText, guard } from './util.js';

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

export interface ListTokensOptions {
  readonly subject?: string;
  readonly rootKeyId?: string;
  /** Page size, default 100, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface TokenRepository {
  /** Record a minted token. ERR_CONFLICT if the identifier was already recorded. */
  record(input: RecordTokenInput): Promise<TokenRecord>;
  /** A recorded token, or undefined. */
  get(identifier: string): Promise<TokenRecord | undefined>;
  /** Recorded tokens, newest first, optionally filtered. */
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
        const filters: SQL[] = [];
        if (options.subject !== undefined) filters.push(eq(tokens.subject, checkText('subject', options.subject)));
        if (options.rootKeyId !== undefined) filters.push(eq(tokens.rootKeyId, checkText('rootKeyId', options.rootKeyId)));
        return db
          .select()
          .from(tokens)
          .where(and(...filters))
          .orderBy(desc(tokens.createdAt), desc(tokens.identifier))
          .limit(checkPageSize(options.limit, 100, 1000))
          .offset(options.offset === undefined ? 0 : checkInt('offset', options.offset, 0, Number.MAX_SAFE_INTEGER));
      }),
  };
}
