/**
 * Test databases: PGlite in memory always, and real PostgreSQL when DATABASE_URL is set, each
 * PostgreSQL test database created fresh (`tessera_test_<random>`) and dropped after the file.
 *
 *   const backends = testBackends('issuer');   // logs plainly when PostgreSQL is not run
 *   describe.each(backends)('on $name', (backend) => { ... await backend.open() ... })
 *
 * A test whose subject is not the storage takes `incidentalBackend` (the server when there is
 * one, else PGlite).
 *
 * Embedded databases are cheap to hand out: a new PGlite starts from one migrated template
 * (./pglite-template.ts), not from initdb, and still costs ~0.4 s of CPU, so the PGlite clients a
 * test file leaves open go back to its worker's pool when the file ends (vitest runs files
 * without isolation, so the pool outlives them: ./per-file.ts) and the next `open()` takes one,
 * emptied: every table's rows deleted, sequences restarted, no listener left. A test that closes its
 * database closes the client for good. `backend.empty()` is the file's one shared database
 * emptied again, for tests that need an empty database but not another one.
 */
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { inject } from 'vitest';
import { EMBEDDED_SETTINGS } from '../../src/storage/database.js';
import { APPROVAL_CHANNEL, AUDIT_CHANNEL, KEY_CHANNEL, REVOCATION_CHANNEL, WEBHOOK_CHANNEL, openDatabase, type Database } from '../../src/storage/index.js';
import { loadPgliteTemplate } from './pglite-template.js';
import { createScratchDatabase, migratedTemplate } from './scratch-database.js';

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
  /** PostgreSQL only: the URL of a new blank database (nothing migrated), for other processes to open. */
  url?(): Promise<string>;
  /**
   * The file's shared database (one per backend, made on first use), emptied now: every table
   * but the migration log emptied, sequences restarted. As good as `fresh()` for a test that
   * needs an empty database, at the cost of a few DELETEs. Each call empties it again, so only one
   * test at a time may use it, and nothing from an earlier call's test may still be writing.
   */
  empty(): Promise<DatabaseHandles>;
}

/**
 * Empty every table of `database` but the migration log, restarting sequences, as a new
 * migrated database would be. DELETE, not TRUNCATE: on the few rows a test leaves it costs a
 * seventh (TRUNCATE gives every table new files). The append-only triggers refuse it
 * (migration 2), and foreign keys are triggers too: both are off for this one transaction
 * (`session_replication_role`, which needs a superuser: PGlite's user is one, and so is the
 * test server's), so the order of the tables does not matter.
 */
async function emptyDatabase(database: Database): Promise<void> {
  await database.db.transaction(async (tx) => {
    const names = async (query: ReturnType<typeof sql>): Promise<string[]> => {
      const result: unknown = await tx.execute(query);
      return ((Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { name: string }[]).map((r) => r.name);
    };
    const tables = await names(sql`select tablename as name from pg_tables where schemaname = 'public' and tablename <> 'tessera_migrations'`);
    const sequences = await names(sql`select sequencename as name from pg_sequences where schemaname = 'public'`);
    await tx.execute(sql`set local session_replication_role = replica`);
    for (const table of tables) await tx.execute(sql.raw(`delete from "${table}"`));
    for (const sequence of sequences) await tx.execute(sql.raw(`alter sequence "${sequence}" restart`));
  });
}

/** What to undo when the running test file ends (`releaseFileDatabases`). */
const fileCleanups: (() => Promise<void>)[] = [];

/** `empty()` over one shared database opened by `open` and its other handles by `another`, for the running file. */
function sharedEmpty(open: () => Promise<DatabaseHandles>): TestBackend['empty'] {
  let shared: Promise<DatabaseHandles> | undefined;
  return async () => {
    if (shared === undefined) {
      shared = open();
      fileCleanups.push(async () => {
        shared = undefined;
      });
    }
    const opened = await shared;
    await emptyDatabase(opened.database);
    return opened;
  };
}

let template: Promise<Blob> | undefined;

async function newPglite(): Promise<PGlite> {
  // The global setup provides the template's path; without it (another config), make it here.
  template ??= loadPgliteTemplate(inject('pgliteTemplate'));
  const client = new PGlite({ loadDataDir: await template, startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS] });
  await client.waitReady;
  return client;
}

const CHANNELS = [APPROVAL_CHANNEL, AUDIT_CHANNEL, KEY_CHANNEL, REVOCATION_CHANNEL, WEBHOOK_CHANNEL];

/** PGlite clients no test holds, kept for the next files this worker runs. */
const idle: PGlite[] = [];

/** A migrated, empty embedded database from the pool (or a new one) for the running file. */
async function pooledDatabase(): Promise<Database> {
  // A test may close its database after its file's end (a teardown returned by `beforeAll`).
  let reused = idle.pop();
  while (reused?.closed === true) reused = idle.pop();
  const client = reused ?? (await newPglite());
  const database = await openDatabase({ pglite: client });
  if (reused !== undefined) await emptyDatabase(database);
  fileCleanups.push(async () => {
    if (client.closed) return;
    // Nothing of this file's may hear the next file's notifications.
    await Promise.all(CHANNELS.map((c) => client.unlisten(c)));
    idle.push(client);
  });
  return database;
}

/** An in-memory PGlite. */
export const pgliteBackend: TestBackend = {
  name: 'pglite',
  open: pooledDatabase,
  async fresh() {
    const database = await this.open();
    return { database, another: async () => database };
  },
  empty: sharedEmpty(() => pgliteBackend.fresh()),
};

/** PostgreSQL handles opened by `postgresBackend`, closed when the running file ends. */
const toClose: Database[] = [];

/** Scratch PostgreSQL databases made for the running file, dropped when it ends. */
const toDrop: { drop(): Promise<void> }[] = [];

/**
 * The running test file has ended (./per-file.ts): its PostgreSQL handles closed and its
 * databases dropped, its embedded databases back in the pool, its shared databases forgotten.
 */
export async function releaseFileDatabases(): Promise<void> {
  await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
  // In parallel: a DROP DATABASE waits for a checkpoint, seconds on a busy server with fsync on.
  await Promise.all(toDrop.splice(0).map((d) => d.drop().catch(() => undefined)));
  for (const cleanup of fileCleanups.splice(0).reverse()) await cleanup();
}

/**
 * Fresh databases on the PostgreSQL server at `adminUrl`, dropped after the file: `open()` and
 * `fresh()` copy the run's migrated template (the global setup's, for DATABASE_URL), `url()` is
 * blank, for tests of what opens a database first.
 */
export function postgresBackend(adminUrl: string): TestBackend {
  let template: Promise<string> | undefined;
  const scratch = async (migrated: boolean): Promise<string> => {
    const provided = inject('postgresTemplate');
    template ??= provided !== undefined && adminUrl === POSTGRES_URL ? Promise.resolve(provided) : migratedTemplate(adminUrl);
    const db = await createScratchDatabase(adminUrl, 'tessera_test', migrated ? await template : undefined);
    toDrop.push(db);
    return db.url;
  };
  const url = (): Promise<string> => scratch(false);
  const openAt = async (u: string): Promise<Database> => {
    const d = await openDatabase({ url: u, maxConnections: 4 });
    toClose.push(d);
    return d;
  };
  const fresh = async (): Promise<DatabaseHandles> => {
    const u = await scratch(true);
    return { database: await openAt(u), another: () => openAt(u) };
  };
  return {
    name: 'postgres',
    url,
    async open() {
      return openAt(await scratch(true));
    },
    fresh,
    empty: sharedEmpty(fresh),
  };
}

/**
 * The database for a test whose subject is not the storage (the HTTP routes, the pages, the
 * client, the examples): the PostgreSQL server when DATABASE_URL is set, else PGlite. Every
 * repository runs on both backends in storage.test and the storage-backed suites
 * (`testBackends`), and PGlite on disk under every `tessera serve` and CLI test; for the rest,
 * the server's native PostgreSQL costs about a third of the CPU of PGlite's WebAssembly build
 * (measured on these files: 45 s of CPU on PGlite, 31 s on the server).
 */
export const incidentalBackend: TestBackend = POSTGRES_URL !== undefined ? postgresBackend(POSTGRES_URL) : pgliteBackend;

/**
 * One backend, for a flow whose storage is tested on both elsewhere (a browser driving the pages:
 * every repository it reaches runs on both backends in storage.test, and the HTTP routes in
 * their own suites): `prefer` when it is available, else PGlite, saying so plainly.
 */
export function oneBackend(suite: string, prefer: TestBackend['name']): TestBackend[] {
  if (prefer === 'postgres' && POSTGRES_URL !== undefined) return [postgresBackend(POSTGRES_URL)];
  if (prefer === 'postgres') console.warn(`${suite}: run on PGlite: DATABASE_URL not set`);
  return [pgliteBackend];
}

/** PGlite, plus PostgreSQL when DATABASE_URL is set (saying plainly when it is not). */
export function testBackends(suite: string): TestBackend[] {
  if (POSTGRES_URL === undefined) {
    console.warn(`${suite}: PostgreSQL tests not run: DATABASE_URL not set (PGlite only)`);
    return [pgliteBackend];
  }
  return [pgliteBackend, postgresBackend(POSTGRES_URL)];
}
