/**
 * The audit log: append-only (this module offers only `append` and `list`, and a database
 * trigger rejects UPDATE and DELETE). Never put a secret (token, key, password, session id) in
 * `subject` or `details`.
 */
import { and, asc, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { auditLog, type JsonValue } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkInt, checkJsonObject, checkOptionalText, checkPageSize, checkText, guard } from './util.js';

/** Known audit actions; others are allowed (`string`) so services can add their own. */
export type AuditAction =
  | 'mint'
  | 'revoke'
  | 'key-create'
  | 'key-rotate'
  | 'key-retire'
  | 'discharge'
  | 'approve'
  | 'deny'
  | 'login'
  | 'login-failed'
  | 'logout'
  | (string & {});

export type AuditDetails = { readonly [key: string]: JsonValue };

export interface AuditEntry {
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  readonly action: AuditAction;
  readonly subject: string | null;
  readonly details: AuditDetails;
}

export interface AppendAuditInput {
  /** Who did it: a user name, "cli", "issuer"… */
  readonly actor: string;
  readonly action: AuditAction;
  /** What it was done to: a token identifier, key id, request id… */
  readonly subject?: string | null;
  /** Plain JSON, at most 16 KiB serialised. */
  readonly details?: AuditDetails;
}

export interface ListAuditOptions {
  /** Only entries with id > afterId (ascending order) — for tailing. */
  readonly afterId?: number;
  /** Only entries with id < beforeId (descending order) — for paging back. */
  readonly beforeId?: number;
  readonly action?: AuditAction;
  readonly subject?: string;
  /** Newest first (default unless `afterId` is given). */
  readonly newestFirst?: boolean;
  /** Page size, default 100, at most 1000. */
  readonly limit?: number;
}

export interface AuditRepository {
  /** Append an entry; returns it with its id and time. */
  append(input: AppendAuditInput): Promise<AuditEntry>;
  /** List entries (see options). */
  list(options?: ListAuditOptions): Promise<AuditEntry[]>;
}

export function auditRepository(db: TesseraDb): AuditRepository {
  return {
    append: (input) =>
      guard('append audit entry', async () => {
        const [row] = await db
          .insert(auditLog)
          .values({
            actor: checkText('actor', input.actor),
            action: checkText('action', input.action),
            subject: checkOptionalText('subject', input.subject),
            details: checkJsonObject<AuditDetails>('details', input.details),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'append audit entry returned no row');
        return row;
      }),

    list: (options = {}) =>
      guard('list audit entries', async () => {
        const filters: SQL[] = [];
        if (options.afterId !== undefined) filters.push(gt(auditLog.id, checkInt('afterId', options.afterId, 0, Number.MAX_SAFE_INTEGER)));
        if (options.beforeId !== undefined) filters.push(lt(auditLog.id, checkInt('beforeId', options.beforeId, 0, Number.MAX_SAFE_INTEGER)));
        if (options.action !== undefined) filters.push(eq(auditLog.action, checkText('action', options.action)));
        if (options.subject !== undefined) filters.push(eq(auditLog.subject, checkText('subject', options.subject)));
        const newestFirst = options.newestFirst ?? options.afterId === undefined;
        return db
          .select()
          .from(auditLog)
          .where(and(...filters))
          .orderBy(newestFirst ? desc(auditLog.id) : asc(auditLog.id))
          .limit(checkPageSize(options.limit, 100, 1000));
      }),
  };
}
