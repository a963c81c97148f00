/**
 * What an operator reads back: the tokens minted here and the audit log, filtered and paged.
 * Listing never shows a token's secret parts (only its identifier and metadata: a minted token is
 * shown once, when it is minted). Cursors are opaque to clients and checked strictly when read.
 */
import { base64Decode, base64url, utf8, utf8Strict } from '../crypto/bytes.js';
import { TesseraError } from '../errors.js';
import type { AuditEntry, Database, Store, TokenRecord, TokenState } from '../storage/index.js';

export const TOKEN_STATES: readonly TokenState[] = ['active', 'revoked', 'expired'];

export interface TokenListing {
  readonly identifier: string;
  readonly label: string | null;
  readonly subject: string | null;
  readonly keyId: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly state: TokenState;
  readonly revokedAt: string | null;
}

export interface AuditListing {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly channel: string;
  readonly action: string;
  readonly subject: string | null;
  readonly details: AuditEntry['details'];
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Pass back as `cursor` for the next page; present whenever the page is full (the next may be empty). */
  readonly nextCursor?: string;
}

const badCursor = (): TesseraError => new TesseraError('ERR_INVALID_ARGUMENT', 'cursor is not one this server gave out', { field: 'cursor' });

function encodeCursor(value: readonly (string | number)[]): string {
  return base64url(utf8(JSON.stringify(value)));
}

function decodeCursor(text: string): unknown[] {
  try {
    const value: unknown = JSON.parse(utf8Strict(base64Decode(text, 'cursor'), 'cursor'));
    if (Array.isArray(value)) return value;
  } catch {
    // fall through: any failure is the same bad cursor
  }
  throw badCursor();
}

export interface TokenQuery {
  readonly state?: TokenState;
  readonly label?: string;
  readonly subject?: string;
  readonly keyId?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly limit?: number;
  readonly cursor?: string;
}

const stateOf = (t: TokenRecord, now: Date): TokenState => (t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= now ? 'expired' : 'active');

/** One page of minted tokens, newest first. */
export async function listTokens(store: Store, query: TokenQuery, now: Date): Promise<Page<TokenListing>> {
  const limit = query.limit ?? 100;
  let after: { createdAt: Date; identifier: string } | undefined;
  if (query.cursor !== undefined) {
    const [ms, identifier] = decodeCursor(query.cursor);
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || typeof identifier !== 'string') throw badCursor();
    after = { createdAt: new Date(ms), identifier };
  }
  const rows = await store.tokens.list({
    ...(query.state !== undefined ? { state: query.state, now } : {}),
    ...(query.label !== undefined ? { label: query.label } : {}),
    ...(query.subject !== undefined ? { subject: query.subject } : {}),
    ...(query.keyId !== undefined ? { rootKeyId: query.keyId } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(after !== undefined ? { after } : {}),
    limit,
  });
  const last = rows.at(-1);
  return {
    items: rows.map((t) => ({
      identifier: t.identifier,
      label: t.label,
      subject: t.subject,
      keyId: t.rootKeyId,
      createdAt: t.createdAt.toISOString(),
      expiresAt: t.expiresAt?.toISOString() ?? null,
      state: stateOf(t, now),
      revokedAt: t.revokedAt?.toISOString() ?? null,
    })),
    ...(rows.length === limit && last !== undefined ? { nextCursor: encodeCursor([last.createdAt.getTime(), last.identifier]) } : {}),
  };
}

export interface AuditQuery {
  readonly action?: string;
  /** A token identifier, key id or request id the events were about. */
  readonly subject?: string;
  readonly actor?: string;
  readonly channel?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly limit?: number;
  /** Page back (newest first) from a previous page. */
  readonly cursor?: string;
  /** Follow: only events after this id, oldest first. */
  readonly after?: number;
}

const auditJson = (e: AuditEntry): AuditListing => ({
  id: e.id,
  at: e.at.toISOString(),
  actor: e.actor,
  channel: e.channel,
  action: e.action,
  subject: e.subject,
  details: e.details,
});

/** One page of audit events: newest first, or (with `after`) the next events oldest first. */
export async function listAudit(store: Store, query: AuditQuery): Promise<Page<AuditListing>> {
  const limit = query.limit ?? 100;
  let beforeId: number | undefined;
  if (query.cursor !== undefined) {
    if (query.after !== undefined) throw new TesseraError('ERR_INVALID_ARGUMENT', 'give cursor or after, not both', { field: 'cursor' });
    const [id] = decodeCursor(query.cursor);
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw badCursor();
    beforeId = id;
  }
  const rows = await store.audit.list({
    ...(query.action !== undefined ? { action: query.action } : {}),
    ...(query.subject !== undefined ? { subject: query.subject } : {}),
    ...(query.actor !== undefined ? { actor: query.actor } : {}),
    ...(query.channel !== undefined ? { channel: query.channel } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
    ...(beforeId !== undefined ? { beforeId } : {}),
    ...(query.after !== undefined ? { afterId: query.after } : {}),
    limit,
  });
  const last = rows.at(-1);
  const more = rows.length === limit && last !== undefined;
  // Following, the client asks again with after = the last id it saw; paging back takes a cursor.
  return { items: rows.map(auditJson), ...(more && query.after === undefined ? { nextCursor: encodeCursor([last.id]) } : {}) };
}

/**
 * Wakes `audit --follow` long-polls when a committed audit event is announced (by the database
 * trigger of migration 0004, from any process on the same database).
 */
export class AuditFeed {
  readonly #waiters = new Set<() => void>();
  #unlisten: () => Promise<void> = async () => undefined;
  #closed = false;

  static async start(database: Pick<Database, 'listenAudit'>): Promise<AuditFeed> {
    const feed = new AuditFeed();
    const wake = (): void => feed.#wakeAll();
    feed.#unlisten = await database.listenAudit(wake, { onReconnect: wake });
    return feed;
  }

  /**
   * Resolves at the next announced event, after `ms`, or at close. Register before reading, so an
   * event committed between the read and the wait is not missed.
   */
  waiter(ms: number): { readonly next: Promise<void>; cancel(): void } {
    let done!: () => void;
    const next = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ms);
      done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
    });
    if (this.#closed) done();
    else this.#waiters.add(done);
    return { next, cancel: done };
  }

  /** True once closing: waiters resolve at once. */
  get closed(): boolean {
    return this.#closed;
  }

  #wakeAll(): void {
    for (const w of [...this.#waiters]) w();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeAll();
    await this.#unlisten();
  }
}
