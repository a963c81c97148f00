/**
 * Test databases: PGlite in memory always, and real PostgreSQL when DATABASE_URL is set, each
 * PostgreSQL test database created fresh (`tessera_test_<random>`) and dropped after the file.
 *
 *   const backends = testBackends('issuer');   // logs plainly when PostgreSQL is not run
 *   describe.each(backends)('on $name', (backend) => { ... await backend.open() ... })
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll } from 'vitest';
import { openDatabase, type Database } from '../../src/storage/index.js';

/** The PostgreSQL admin URL for tests, or undefined. */
export const POSTGRES_URL: string | undefined = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '' ? process.env.DATABASE_URL : undefined;

export interface TestBackend {
  readonly name: 'pglite' | 'postgres';
  /** A new empty database (migrated); closed automatically after the file. */
  open(): Promise<Database>;
  /**
   * A new empty database and a way to open another handle on it, as another process would
   * (PostgreSQL: its own connections; PGlite, which one process holds: the same handle).
   */
  fresh(): Promise<{ readonly database: Database; another(): Promise<Database> }>;
  /** PostgreSQL only: the URL of a new empty database, for other processes to open. */
  url?(): Promise<string>;
}

const toClose: Database[] = [];
afterAll(async () => {
  await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
});

/** An in-memory PGlite. */
export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async open() {
    const d = await openDatabase({ memory: true });
    toClose.push(d);
    return d;
  },
  async fresh() {
    const database = await this.open();
    return { database, another: async () => database };
  },
};

/** Fresh databases on the PostgreSQL server at `adminUrl`, dropped after the file. */
export function postgresBackend(adminUrl: string): TestBackend {
  let admin: postgres.Sql | undefined;
  const created: string[] = [];
  afterAll(async () => {
    // Close this file's handles before dropping (force also ends other processes' sessions).
    await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
    if (admin === undefined) return;
    for (const name of created) await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => undefined);
    await admin.end({ timeout: 5 });
  });
  const url = async (): Promise<string> => {
    admin ??= postgres(adminUrl, { max: 1, onnotice: () => undefined });
    const name = `tessera_test_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database "${name}"`);
    created.push(name);
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const openAt = async (u: string): Promise<Database> => {
    const d = await openDatabase({ url: u, maxConnections: 4 });
    toClose.push(d);
    return d;
  };
  return {
    name: 'postgres',
    url,
    async open() {
      return openAt(await url());
    },
    async fresh() {
      const u = await url();
      return { database: await openAt(u), another: () => openAt(u) };
    },
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
