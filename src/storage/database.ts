/**
 * Opens Tessera's database: real PostgreSQL (postgres.js) when a URL is given, otherwise the
 * embedded PGlite, on disk in a data directory or in memory. Migrations run on open.
 *
 * Revocation notifications use PostgreSQL LISTEN/NOTIFY on both drivers: the store issues
 * `pg_notify('tessera_revocations', identifier)` in the revoking transaction, so listeners hear
 * of a revocation only once it has committed. On PostgreSQL, postgres.js keeps a dedicated
 * listening connection and reconnects it; `onReconnect` then fires so the caller can resync
 * (notifications sent while disconnected are lost). PGlite's LISTEN works within the process.
 *
 * The drivers are optional peer dependencies (verifying or attenuating tokens needs no database),
 * so each is imported only when a database of its kind is opened, and a missing one is an
 * ERR_CONFIG naming the package to install.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { TesseraError } from '../errors.js';
import { loadOptionalPackage } from '../util/optional-package.js';
import { lockDataDir } from './dir-lock.js';
import { migrate } from './migrate.js';
import * as schema from './schema.js';
import { APPROVAL_CHANNEL, AUDIT_CHANNEL, KEY_CHANNEL, REVOCATION_CHANNEL, WEBHOOK_CHANNEL, type TesseraDb } from './types.js';

export { APPROVAL_CHANNEL, AUDIT_CHANNEL, KEY_CHANNEL, REVOCATION_CHANNEL, WEBHOOK_CHANNEL } from './types.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface OpenDatabaseOptions {
  /** PostgreSQL connection URL (DATABASE_URL). When set, the other options are ignored. */
  readonly url?: string | undefined;
  /** Data directory of the embedded database (PGlite files go in `<dataDir>/pglite`). */
  readonly dataDir?: string | undefined;
  /** Embedded database in memory (tests). Wins over `dataDir`. */
  readonly memory?: boolean | undefined;
  /**
   * With `memory`: start from this data-directory tarball (PGlite `dumpDataDir`) instead of an
   * empty cluster. A test hook: loading a migrated template takes a fraction of the seconds
   * initdb costs per database.
   */
  readonly loadDataDir?: Blob | undefined;
  /**
   * An embedded database you opened yourself (PGlite with your own options, file system or
   * extensions): migrated on open, and closed by `close()`. Wins over `memory` and `dataDir`.
   */
  readonly pglite?: PGlite | undefined;
  /** Pool size for PostgreSQL (default 10). */
  readonly maxConnections?: number | undefined;
}

export interface ListenOptions {
  /**
   * Called after the listening connection was re-established (PostgreSQL only): notifications
   * may have been missed, so resync, e.g. with `revocations.listSince(lastSeq)`.
   */
  readonly onReconnect?: () => void;
}

/** An open database. Close it when done. */
export interface Database {
  readonly kind: DatabaseKind;
  /** The drizzle instance (one type for both drivers). */
  readonly db: TesseraDb;
  /** Migration ids applied while opening (empty when the schema was already current). */
  readonly appliedMigrations: readonly number[];
  /**
   * Subscribe to committed revocations; resolves once listening, to an unsubscribe function.
   * `onRevoked` receives the revoked identifier; exceptions it throws are swallowed.
   */
  listenRevocations(onRevoked: (identifier: string) => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /** Subscribe to root key changes (created, expired, retired); `onChange` receives the key id. */
  listenKeyChanges(onChange: (keyId: string) => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /** Subscribe to committed audit events (payload: the event id), for `audit --follow`. */
  listenAudit(onEvent: (id: string) => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /** Subscribe to committed approval decisions; `onDecided` receives the request id. */
  listenApprovals(onDecided: (requestId: string) => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /** Subscribe to committed webhook outbox writes (no payload), to wake delivery workers. */
  listenWebhooks(onQueued: () => void, options?: ListenOptions): Promise<() => Promise<void>>;
  /**
   * Run `fn` holding a PostgreSQL session advisory lock `key`, shared by every process on the
   * database (PGlite, which one process holds: an in-process lock). For work that spans several
   * transactions and must happen once across instances, e.g. minting the first admin token.
   */
  withLock<T>(key: number, fn: () => Promise<T>): Promise<T>;
  /** Close connections (and release the embedded database's lock). */
  close(): Promise<void>;
}

/** Open (and migrate) the database: PostgreSQL if `url`, else PGlite in memory or in `dataDir`. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url !== undefined && options.url !== '') return openPostgres(options.url, options.maxConnections ?? 10);
  if (options.pglite !== undefined) return openPglite({ client: options.pglite });
  if (options.memory === true) return openPglite({ loadDataDir: options.loadDataDir });
  if (options.dataDir !== undefined && options.dataDir !== '') return openPglite({ dataDir: options.dataDir });
  throw new TesseraError('ERR_CONFIG', 'no database configured: give a DATABASE_URL, a data directory, or memory');
}


function storageError(message: string, cause: unknown): TesseraError {
  return cause instanceof TesseraError ? cause : new TesseraError('ERR_STORAGE', message, {}, { cause });
}

function safely(fn: (identifier: string) => void): (identifier: string) => void {
  return (identifier) => {
    try {
      fn(identifier);
    } catch {
      // A failing listener must not break the notification connection.
    }
  };
}

/**
 * ERR_CONFIG unless `url` has the shape of a PostgreSQL URL: the scheme, and hosts that are
 * names, addresses or bracketed IPv6 addresses with an optional port (several, comma-separated,
 * or none for a socket given as `?host=`). postgres.js 4 no longer refuses a malformed one and
 * would try to connect to whatever it finds. No cause and no URL in the error: it may hold a
 * password.
 */
function checkPostgresUrl(url: string): void {
  const scheme = /^postgres(?:ql)?:\/\//i.exec(url);
  const rest = scheme === null ? '' : url.slice(scheme[0].length);
  const authority = rest.split(/[/?]/, 1)[0] ?? '';
  const hosts = authority.slice(authority.lastIndexOf('@') + 1);
  const host = /^(?:[A-Za-z0-9._%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
  if (scheme === null || (hosts !== '' && !hosts.split(',').every((h) => host.test(h)))) {
    throw new TesseraError('ERR_CONFIG', 'DATABASE_URL is not a valid PostgreSQL URL (postgres://user:password@host:port/database)');
  }
}

async function openPostgres(url: string, max: number): Promise<Database> {
  checkPostgresUrl(url);
  const [{ default: postgres }, { drizzle: drizzlePostgres }] = await Promise.all([
    loadOptionalPackage('postgres', 'a PostgreSQL database (DATABASE_URL)', () => import('postgres')),
    import('drizzle-orm/postgres-js'),
  ]);
  let client: ReturnType<typeof postgres>;
  try {
    client = postgres(url, { max, onnotice: () => undefined });
  } catch {
    // No cause: a URL parse error carries the whole URL, password included.
    throw new TesseraError('ERR_CONFIG', 'DATABASE_URL is not a valid PostgreSQL URL');
  }
  const db: TesseraDb = drizzlePostgres({ client, schema });
  let appliedMigrations: number[];
  try {
    appliedMigrations = await migrate(db);
  } catch (e) {
    await client.end({ timeout: 1 }).catch(() => undefined);
    // Never echo the URL: it may hold a password.
    throw storageError('cannot open the PostgreSQL database (connection or migration failed)', e);
  }
  const listen = async (channel: string, onMessage: (payload: string) => void, listenOptions?: ListenOptions): Promise<() => Promise<void>> => {
    let listens = 0;
    const meta = await client.listen(channel, safely(onMessage), () => {
      listens += 1;
      if (listens > 1) listenOptions?.onReconnect?.();
    });
    return () => meta.unlisten();
  };
  return {
    kind: 'postgres',
    db,
    appliedMigrations,
    listenRevocations: (onRevoked, listenOptions) => listen(REVOCATION_CHANNEL, onRevoked, listenOptions),
    listenKeyChanges: (onChange, listenOptions) => listen(KEY_CHANNEL, onChange, listenOptions),
    listenAudit: (onEvent, listenOptions) => listen(AUDIT_CHANNEL, onEvent, listenOptions),
    listenApprovals: (onDecided, listenOptions) => listen(APPROVAL_CHANNEL, onDecided, listenOptions),
    listenWebhooks: (onQueued, listenOptions) => listen(WEBHOOK_CHANNEL, () => onQueued(), listenOptions),
    async withLock(key, fn) {
      // A session lock lives on one connection: reserve it for the duration.
      const reserved = await client.reserve();
      try {
        await reserved`select pg_advisory_lock(${key})`;
        try {
          return await fn();
        } finally {
          await reserved`select pg_advisory_unlock(${key})`.catch(() => undefined);
        }
      } finally {
        reserved.release();
      }
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * Settings of the embedded databases Tessera starts. PostgreSQL's default 128 MB of shared
 * buffers, allocated and set up inside the WebAssembly heap at every start, is sized for a
 * server with RAM of its own; the embedded database's files sit in the OS page cache anyway.
 * 32 MB starts it with ~60% of the CPU (a CLI command on a data directory starts it each time)
 * and ~100 MB less memory.
 */
export const EMBEDDED_SETTINGS: readonly string[] = ['-c', 'shared_buffers=32MB'];

/** Where the embedded database comes from: a client of the caller's, a data directory, or memory. */
interface PgliteSource {
  readonly client?: PGlite | undefined;
  readonly dataDir?: string | undefined;
  readonly loadDataDir?: Blob | undefined;
}

async function openPglite({ client: given, dataDir, loadDataDir }: PgliteSource): Promise<Database> {
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([
    loadOptionalPackage('@electric-sql/pglite', 'the embedded database', () => import('@electric-sql/pglite')),
    import('drizzle-orm/pglite'),
  ]);
  const startParams = [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS];
  let releaseLock = async (): Promise<void> => undefined;
  let pg: PGlite | undefined;
  try {
    if (given !== undefined) {
      pg = given;
    } else if (dataDir !== undefined) {
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      releaseLock = await lockDataDir(dataDir);
      pg = new PGlite(join(dataDir, 'pglite'), { startParams });
    } else {
      pg = new PGlite({ startParams, ...(loadDataDir !== undefined ? { loadDataDir } : {}) });
    }
    await pg.waitReady;
    const client = pg;
    const db: TesseraDb = drizzlePglite({ client, schema });
    const locks = new Map<number, Promise<unknown>>();
    const appliedMigrations = await migrate(db);
    return {
      kind: 'pglite',
      db,
      appliedMigrations,
      // In-process only; PGlite never disconnects, so onReconnect is never called.
      listenRevocations: async (onRevoked) => client.listen(REVOCATION_CHANNEL, safely(onRevoked)),
      listenKeyChanges: async (onChange) => client.listen(KEY_CHANNEL, safely(onChange)),
      listenAudit: async (onEvent) => client.listen(AUDIT_CHANNEL, safely(onEvent)),
      listenApprovals: async (onDecided) => client.listen(APPROVAL_CHANNEL, safely(onDecided)),
      listenWebhooks: async (onQueued) => client.listen(WEBHOOK_CHANNEL, safely(() => onQueued())),
      withLock<T>(key: number, fn: () => Promise<T>): Promise<T> {
        const run = (locks.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
        locks.set(key, run);
        return run;
      },
      async close() {
        try {
          await client.close();
        } finally {
          await releaseLock();
        }
      },
    };
  } catch (e) {
    // A client of the caller's stays theirs to close when opening fails.
    if (given === undefined) await pg?.close().catch(() => undefined);
    await releaseLock();
    throw storageError('cannot open the embedded database', e);
  }
}
