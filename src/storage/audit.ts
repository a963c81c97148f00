/**
 * The audit log: append-only (this module offers only `append` and `list`, and a database
 * trigger rejects UPDATE and DELETE). Never put a secret (token, key, password, session id) in
 * `subject` or `details`.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, type SQL } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import { auditLog, dischargeRequests, type JsonValue } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkInt, checkJsonObject, checkOptionalText, checkPageSize, checkText, guard } from './util.js';

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

/**
 * The channel an event came through: the admin HTTP API, the CLI working on the local database,
 * the approval pages, the discharge protocol (an unauthenticated requester), the approvals API
 * (a program holding an approver token), or Tessera itself.
 */
export type AuditChannel = 'http-api' | 'cli-local' | 'approval-page' | 'discharge-api' | 'approvals-api' | 'system' | (string & {});

/**
 * The channel of an event whose writer did not name one, from the actor's form: `admin:<token
 * id>` acts through the HTTP API, `cli` on the local database, `requester` through the discharge
 * protocol, `issuer`/`bootstrap`/`system` is Tessera itself, and any other actor is an approver.
 */
export function channelOf(actor: string): AuditChannel {
  if (actor.startsWith('admin:')) return 'http-api';
  if (actor === 'cli' || actor.startsWith('cli:')) return 'cli-local';
  if (actor === 'requester') return 'discharge-api';
  if (actor === 'issuer' || actor === 'bootstrap' || actor === 'system') return 'system';
  return 'approval-page';
}

export interface AuditEntry {
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  readonly action: AuditAction;
  readonly subject: string | null;
  readonly details: AuditDetails;
  readonly channel: AuditChannel;
}

export interface AppendAuditInput {
  /** Who did it: a user name, "cli", "issuer"… */
  readonly actor: string;
  readonly action: AuditAction;
  /** What it was done to: a token identifier, key id, request id… */
  readonly subject?: string | null;
  /** Plain JSON, at most 16 KiB serialised. */
  readonly details?: AuditDetails;
  /** Where it came from (default: `channelOf(actor)`). */
  readonly channel?: AuditChannel;
}

export interface ListAuditOptions {
  /** Only entries with id > afterId (ascending order) — for tailing. */
  readonly afterId?: number;
  /** Only entries with id < beforeId (descending order) — for paging back. */
  readonly beforeId?: number;
  readonly action?: AuditAction;
  readonly subject?: string;
  readonly actor?: string;
  readonly channel?: AuditChannel;
  /** Only entries at or after this time. */
  readonly since?: Date;
  /** Only entries before this time. */
  readonly until?: Date;
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
  /**
   * Entries about discharge requests addressed to any of `who` (a user, `group:<g>`), newest
   * first: what an approver's activity page shows.
   */
  listAboutRequests(who: readonly string[], limit?: number): Promise<AuditEntry[]>;
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
            channel: checkText('channel', input.channel ?? channelOf(input.actor)),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'append audit entry returned no row');
        return row;
      }),

    listAboutRequests: (who, limit) =>
      guard('list audit entries about requests', async () => {
        const names = who.map((w) => checkText('who', w));
        if (names.length === 0) return [];
        const addressed = db.select({ id: dischargeRequests.id }).from(dischargeRequests).where(inArray(dischargeRequests.who, names));
        return db
          .select()
          .from(auditLog)
          .where(inArray(auditLog.subject, addressed))
          .orderBy(desc(auditLog.id))
          .limit(checkPageSize(limit, 100, 1000));
      }),

    list: (options = {}) =>
      guard('list audit entries', async () => {
        const filters: SQL[] = [];
        if (options.afterId !== undefined) filters.push(gt(auditLog.id, checkInt('afterId', options.afterId, 0, Number.MAX_SAFE_INTEGER)));
        if (options.beforeId !== undefined) filters.push(lt(auditLog.id, checkInt('beforeId', options.beforeId, 0, Number.MAX_SAFE_INTEGER)));
        if (options.action !== undefined) filters.push(eq(auditLog.action, checkText('action', options.action)));
        if (options.subject !== undefined) filters.push(eq(auditLog.subject, checkText('subject', options.subject)));
        if (options.actor !== undefined) filters.push(eq(auditLog.actor, checkText('actor', options.actor)));
        if (options.channel !== undefined) filters.push(eq(auditLog.channel, checkText('channel', options.channel)));
        if (options.since !== undefined) filters.push(gte(auditLog.at, checkDate('since', options.since)));
        if (options.until !== undefined) filters.push(lt(auditLog.at, checkDate('until', options.until)));
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
