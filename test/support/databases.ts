/**
 * Test databases: PGlite in memory always, and real PostgreSQL when DATABASE_URL is set, each
 * PostgreSQL test database created fresh (`tessera_test_<random>`) and dropped after the file.
 * Each PGlite starts from one migrated template (./pglite-template.ts), not from initdb.
 *
 *   const backends = testBackends('issuer');   // logs plainly when PostgreSQL is not run
 *   describe.each(backends)('on $name', (backend) => { ... await backend.open() ... })
 *
 * A new PGlite costs ~1.3 s of CPU even from the template: a test that needs an empty database
 * but not a new one takes `backend.empty()`, the file's one shared database emptied again.
 */
import { sql } from 'drizzle-orm';
import { afterAll, inject } from 'vitest';
import { openDatabase, type Database } from '../../src/storage/index.js';
import { loadPgliteTemplate } from './pglite-template.js';
import { createScratchDatabase } from './scratch-database.js';

export { seedDataDir } from './pglite-template.js';

/** The PostgreSQL admin URL for tests, or undefined. */
export const POSTGRES_URL: string | undefined = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '' ? process.env.DATABASE_URL : undefined;

/** A database, and a way to open another handle on it as another process would. */
export interface DatabaseHandles {
  readonly database: Database;
  another(): Promise<Database>;
}

export interface TestBackend {
  readonly name: 'pglite' | 'postgres';
  /** A new empty database (migrated); closed automatically after the file. */
  open(): Promise<Database>;
  /**
   * A new empty database and a way to open another handle on it, as another process would
   * (PostgreSQL: its own connections; PGlite, which one process holds: the same handle).
   */
  fresh(): Promise<DatabaseHandles>;
  /** PostgreSQL only: the URL of a new empty database, for other processes to open. */
  url?(): Promise<string>;
  /**
   * The file's shared database (one per backend, made on first use), emptied now: every table
   * but the migration log truncated, sequences restarted. As good as `fresh()` for a test that
   * needs an empty database, at the cost of a TRUNCATE. Each call empties it again, so only one
   * test at a time may use it, and nothing from an earlier call's test may still be writing.
   */
  empty(): Promise<DatabaseHandles>;
}

/**
 * Empty every table of `database` but the migration log, restarting sequences, as a new
 * migrated database would be. The append-only triggers refuse TRUNCATE (migration 2): triggers
 * are off for this one transaction (`session_replication_role`, which needs a superuser: PGlite's
 * user is one, and so is the test server's).
 */
async function emptyDatabase(database: Database): Promise<void> {
  await database.db.transaction(async (tx) => {
    const result: unknown = await tx.execute(sql`select tablename from pg_tables where schemaname = 'public' and tablename <> 'tessera_migrations'`);
    const tables = ((Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { tablename: string }[]).map((r) => `"${r.tablename}"`);
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.execute(sql.raw(`truncate ${tables.join(', ')} restart identity cascade`));
  });
}

/** `empty()` over one shared database opened by `open` and its other handles by `another`. */
function sharedEmpty(open: () => Promise<DatabaseHandles>): TestBackend['empty'] {
  let shared: Promise<DatabaseHandles> | undefined;
  return async () => {
    shared ??= open();
    const opened = await shared;
    await emptyDatabase(opened.database);
    return opened;
  };
}

const toClose: Database[] = [];
afterAll(async () => {
  await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
});

let template: Promise<Blob> | undefined;

/**
 * A new in-memory PGlite, migrated (from the template), that the caller closes. Prefer
 * `pgliteBackend.open()`, which closes it after the file.
 */
export async function openMemoryDatabase(): Promise<Database> {
  // The global setup provides the template's path; without it (another config), make it here.
  template ??= loadPgliteTemplate(inject('pgliteTemplate'));
  return openDatabase({ memory: true, loadDataDir: await template });
}

/** An in-memory PGlite. */
export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async open() {
    const d = await openMemoryDatabase();
    toClose.push(d);
    return d;
  },
  async fresh() {
    const database = await this.open();
    return { database, another: async () => database };
  },
  empty: sharedEmpty(() => pgliteBackend.fresh()),
};

/** Fresh databases on the PostgreSQL server at `adminUrl`, dropped after the file. */
export function postgresBackend(adminUrl: string): TestBackend {
  const created: { drop(): Promise<void> }[] = [];
  afterAll(async () => {
    // Close this file's handles before dropping.
    await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
    // In parallel: each DROP DATABASE waits for a checkpoint, seconds on a busy server.
    await Promise.all(created.splice(0).map((db) => db.drop().catch(() => undefined)));
  });
  const url = async (): Promise<string> => {
    const db = await createScratchDatabase(adminUrl);
    created.push(db);
    return db.url;
  };
  const openAt = async (u: string): Promise<Database> => {
    const d = await openDatabase({ url: u, maxConnections: 4 });
    toClose.push(d);
    return d;
  };
  const fresh = async (): Promise<DatabaseHandles> => {
    const u = await url();
    return { database: await openAt(u), another: () => openAt(u) };
  };
  return {
    name: 'postgres',
    url,
    async open() {
      return openAt(await url());
    },
    fresh,
    empty: sharedEmpty(fresh),
  };
}

/** PGlite, plus PostgreSQL when DATABASE_URL is set (saying plainly when it is not). */
export function testBackends(suite: string): TestBackend[] {
  if (POSTGRES_URL === undefined) {
    console.warn(`${suite}: PostgreSQL tests not run: DATABASE_URL not set (PGlite only)`);
    return [pgliteBackend];
  }
  return [pgliteBackend, postgresBackend(POSTGRES_URL)];
}
