/**
 * Storage layer tests. Every database test runs on PGlite (in memory, or in a temporary data
 * directory where reopening matters) always, and again on real PostgreSQL when DATABASE_URL is
 * set (databases created as `tessera_test_<random>` and dropped afterwards, so runs never
 * collide). A test that needs an empty database gets the file's shared one emptied, one that
 * needs a database of its own (unmigrated, on disk, or whose connections it kills) a new one.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { pushSchema } from 'drizzle-kit/api';
import postgres from 'postgres';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  MASTER_KEY_FILE,
  MIGRATIONS,
  MasterKey,
  createStore,
  loadOrCreateKeyFile,
  migrate,
  openDatabase,
  parseMasterKey,
  resolveMasterKey,
  type Database,
  type TesseraDb,
} from '../src/storage/index.js';
import * as schema from '../src/storage/schema.js';
import { createSystem } from '../src/server/system.js';
import { POSTGRES_URL, pgliteBackend as sharedPglite, postgresBackend as postgresTestBackend, seedDataDir } from './support/databases.js';
import { loadPgliteTemplate, pgliteClusterPath } from './support/pglite-template.js';
import { expectCode } from './support/expect-code.js';


/** Rows of a raw query, whichever driver (postgres.js returns an array, PGlite `{ rows }`). */
async function rows(db: TesseraDb, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const r: unknown = await db.execute(query);
  return (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<string, unknown>[];
}

const tmpDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tessera-storage-'));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
});

// ---------------------------------------------------------------------------------------------
// Backends

interface Fresh {
  /** The database, opened (and migrated) on an empty database. */
  readonly database: Database;
  /** Open another, independent handle on the same database (another connection pool / reopen). */
  reopen(): Promise<Database>;
  /** PostgreSQL only: the name of the test database. */
  readonly dbName?: string;
}

interface Backend {
  readonly name: 'pglite' | 'postgres';
  /**
   * An empty, migrated database: the file's shared one, emptied (test/support/databases.ts
   * `empty()`), unless the test needs one of its own: `persistent` (PGlite) a new one on disk,
   * copied from the migrated template, so it can be reopened; `initdb` a brand-new one that
   * nothing migrated before (PGlite: in memory, from the cluster initdb left, test/support/
   * pglite-template.ts; PostgreSQL: created now).
   */
  fresh(options?: { persistent?: boolean; initdb?: boolean }): Promise<Fresh>;
  /** PostgreSQL only: the URL of a brand-new database that nothing has opened yet. */
  url?(): Promise<string>;
}

const opened: Database[] = [];
const track = (d: Database): Database => {
  opened.push(d);
  return d;
};
afterEach(async () => {
  const all = opened.splice(0);
  await Promise.all(all.map((d) => d.close().catch(() => undefined)));
});

const noReopen = (): Promise<Database> => Promise.reject(new Error('an in-memory PGlite cannot be reopened'));

const pgliteBackend: Backend = {
  name: 'pglite',
  async fresh(options = {}) {
    if (options.initdb === true) return { database: track(await openDatabase({ memory: true, loadDataDir: await loadPgliteTemplate(await pgliteClusterPath()) })), reopen: noReopen };
    if (options.persistent !== true) return { database: (await sharedPglite.empty()).database, reopen: noReopen };
    const dataDir = await seedDataDir(await tempDir());
    const database = track(await openDatabase({ dataDir }));
    return {
      database,
      // PGlite is single-process and locked: close the first handle before reopening.
      reopen: async () => {
        await database.close();
        return track(await openDatabase({ dataDir }));
      },
    };
  },
};

function postgresBackend(adminUrl: string): Backend {
  const shared = postgresTestBackend(adminUrl);
  const url = shared.url as () => Promise<string>;
  return {
    name: 'postgres',
    url,
    async fresh(options = {}) {
      if (options.initdb !== true) {
        const { database, another } = await shared.empty();
        return { database, reopen: async () => track(await another()) };
      }
      const u = await url();
      return {
        database: track(await openDatabase({ url: u, maxConnections: 4 })),
        dbName: new URL(u).pathname.slice(1),
        reopen: async () => track(await openDatabase({ url: u, maxConnections: 4 })),
      };
    },
  };
}

const backends: Backend[] = [pgliteBackend];
const pgAdminUrl = POSTGRES_URL;
if (pgAdminUrl !== undefined) {
  backends.push(postgresBackend(pgAdminUrl));
} else {
  console.warn('PostgreSQL tests not run: DATABASE_URL not set (storage tests run on PGlite only)');
}

// ---------------------------------------------------------------------------------------------
// Encryption at rest (no database)

describe('keyring', () => {
  const hex = 'a1'.repeat(32);

  it('parses a 32-byte master key given as hex, base64 or base64url', () => {
    const bytes = Buffer.from(hex, 'hex');
    const ids = ['x', 'y'];
    const fromHex = parseMasterKey(hex);
    const sealed = fromHex.seal('root-key', ids[0]!, new Uint8Array([1, 2, 3]));
    for (const text of [bytes.toString('base64'), bytes.toString('base64url'), ` ${hex.toUpperCase()}\n`]) {
      expect(parseMasterKey(text).open('root-key', ids[0]!, sealed)).toEqual(new Uint8Array([1, 2, 3]));
    }
  });

  it('refuses a bad TESSERA_MASTER_KEY with ERR_CONFIG, without echoing it', async () => {
    const bad = [
      'a1'.repeat(31), // 31 bytes
      Buffer.alloc(33, 7).toString('base64'),
      'not a key at all!',
      'zz'.repeat(32),
      Buffer.alloc(32, 9).toString('base64').replace('J', '-').replace('C', '+'), // mixed alphabets
    ];
    for (const value of bad) {
      const e = (await expectCode(() => parseMasterKey(value), 'ERR_CONFIG')) as Error;
      expect(e.message).toContain('TESSERA_MASTER_KEY');
      expect(e.message).not.toContain(value);
      await expectCode(resolveMasterKey({ env: value }), 'ERR_CONFIG');
    }
    await expectCode(resolveMasterKey({}), 'ERR_CONFIG');
  });

  it('seals with AAD: round trip, and ERR_CRYPTO for another id, purpose, key or a flipped bit', () => {
    const mk = MasterKey.generate();
    const secret = new Uint8Array(randomBytes(32));
    const sealed = mk.seal('root-key', 'rk_1', secret);
    expect(sealed.length).toBe(1 + 24 + 32 + 16);
    expect(Buffer.from(sealed).indexOf(Buffer.from(secret))).toBe(-1);
    expect(mk.open('root-key', 'rk_1', sealed)).toEqual(secret);
    expect(() => mk.open('root-key', 'rk_2', sealed)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    expect(() => mk.open('discharger-key', 'rk_1', sealed)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    expect(() => MasterKey.generate().open('root-key', 'rk_1', sealed)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    const tampered = Uint8Array.from(sealed);
    tampered[30] = tampered[30]! ^ 1;
    expect(() => mk.open('root-key', 'rk_1', tampered)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    expect(() => mk.open('root-key', 'rk_1', sealed.subarray(0, 20))).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    // Two seals of the same value differ (random nonce).
    expect(mk.seal('root-key', 'rk_1', secret)).not.toEqual(sealed);
  });

  it('never shows the master key bytes when serialised or inspected', async () => {
    const mk = parseMasterKey(hex);
    const { inspect } = await import('node:util');
    for (const shown of [JSON.stringify({ mk }), String(mk), inspect(mk)]) {
      expect(shown).not.toContain('a1a1');
      expect(shown).toContain('[MasterKey]');
    }
  });

  it('creates <dataDir>/master.key with mode 0600 and reuses it', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = await resolveMasterKey({ dataDir });
    const path = join(dataDir, MASTER_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const sealed = first.seal('root-key', 'k', new Uint8Array([42]));
    const second = await resolveMasterKey({ dataDir });
    expect(second.open('root-key', 'k', sealed)).toEqual(new Uint8Array([42]));
    // The environment variable wins over the file.
    const fromEnv = await resolveMasterKey({ env: hex, dataDir });
    expect(() => fromEnv.open('root-key', 'k', sealed)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO' }));
    // No temporary files left behind.
    expect(await readdir(dataDir)).toEqual([MASTER_KEY_FILE]);
  });

  it('gives every racing creator the same key file', async () => {
    const path = join(await tempDir(), MASTER_KEY_FILE);
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyFile(path)));
    const sealed = keys[0]!.seal('root-key', 'k', new Uint8Array([7]));
    for (const k of keys) expect(k.open('root-key', 'k', sealed)).toEqual(new Uint8Array([7]));
  });

  it('refuses a key file readable by group or others, and a malformed one', async () => {
    const dir = await tempDir();
    const path = join(dir, MASTER_KEY_FILE);
    await loadOrCreateKeyFile(path);
    await chmod(path, 0o640);
    const e = (await expectCode(loadOrCreateKeyFile(path), 'ERR_CONFIG')) as Error;
    expect(e.message).not.toContain((await readFile(path, 'utf8')).trim());
    await chmod(path, 0o604);
    await expectCode(loadOrCreateKeyFile(path), 'ERR_CONFIG');
    const bad = join(dir, 'bad.key');
    await writeFile(bad, 'too short\n', { mode: 0o600 });
    await expectCode(loadOrCreateKeyFile(bad), 'ERR_CONFIG');
  });
});

// ---------------------------------------------------------------------------------------------
// Database tests, on every available backend

describe.each(backends)('storage on $name', (backend) => {
  const tables = [
    'audit_log',
    'discharge_requests',
    'discharger_keys',
    'invites',
    'passkey_challenges',
    'passkey_credentials',
    'passkey_groups',
    'rate_limits',
    'revocations',
    'root_keys',
    'sessions',
    'tokens',
    'usage_counters',
    'users',
    'webhook_attempts',
    'webhook_endpoints',
    'webhook_outbox',
    'tessera_migrations',
  ];

  describe('migrations', () => {
    // The one database that nothing migrated before (PGlite: the empty cluster initdb left);
    // every other test starts from the migrated template or the shared database.
    it('migrate a fresh database, and migrating it again (as every later open does) is a no-op', { timeout: 120_000 }, async () => {
      const { database } = await backend.fresh({ initdb: true });
      expect(database.kind).toBe(backend.name);
      expect(database.appliedMigrations).toEqual(MIGRATIONS.map((m) => m.id));
      const present = await rows(
        database.db,
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(present.map((r) => r.table_name)).toEqual([...tables].sort());

      // openDatabase migrates on every open; reopening for real is tested below.
      expect(await migrate(database.db)).toEqual([]);
      const recorded = await rows(database.db, sql`select id, name from tessera_migrations order by id`);
      expect(recorded).toEqual(MIGRATIONS.map((m) => ({ id: m.id, name: m.name })));
    });

    it('apply each migration exactly once when several processes open at once', async () => {
      if (backend.name === 'pglite') {
        // PGlite is single-process: a second opener of the same directory is refused instead,
        // and reopening after the first closes applies nothing.
        const dataDir = await seedDataDir(await tempDir());
        const first = track(await openDatabase({ dataDir }));
        await expectCode(openDatabase({ dataDir }), 'ERR_CONFIG');
        await first.close();
        const second = track(await openDatabase({ dataDir }));
        expect(second.appliedMigrations).toEqual([]);
        return;
      }
      // Four pools open one database nothing has migrated yet, at once.
      const url = await (backend.url as () => Promise<string>)();
      const all = await Promise.all(Array.from({ length: 4 }, async () => track(await openDatabase({ url, maxConnections: 2 }))));
      expect(all.flatMap((d) => d.appliedMigrations).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.id));
    });

    it('refuse a database migrated by a newer Tessera', async () => {
      const { database } = await backend.fresh();
      await database.db.execute(sql`insert into tessera_migrations (id, name) values (999, 'future')`);
      try {
        await expectCode(migrate(database.db), 'ERR_CONFIG');
      } finally {
        // The shared database keeps its migration log when emptied: restore it.
        await database.db.execute(sql`delete from tessera_migrations where id = 999`);
      }
      // Ids only increase (gaps allowed: numbers reserved by work in progress).
      const [m1, m2] = MIGRATIONS;
      await expectCode(migrate(database.db, [m2!, m1!]), 'ERR_CONFIG');
      await expectCode(migrate(database.db, [m1!, m1!]), 'ERR_CONFIG');
    });
  });

  describe('root keys', () => {
    it('create, current, get, list, retire, rotate', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      expect(await store.keys.current()).toBeUndefined();
      const k1 = await store.keys.create({ id: 'rk_one' });
      expect(k1.key).toHaveLength(32);
      expect((await store.keys.current())?.key).toEqual(k1.key);
      expect((await store.keys.get('rk_one'))?.key).toEqual(k1.key);
      expect(await store.keys.get('rk_none')).toBeUndefined();

      await new Promise((r) => setTimeout(r, 5));
      const k2 = await store.keys.create();
      expect(k2.id).toMatch(/^rk_[A-Za-z0-9_-]{16}$/);
      expect((await store.keys.current())?.id).toBe(k2.id);

      const list = await store.keys.list();
      expect(list.map((k) => k.id)).toEqual([k2.id, 'rk_one']);
      expect(list.every((k) => !('key' in k))).toBe(true);

      const retired = await store.keys.retire(k2.id);
      expect(retired.retiredAt).toBeInstanceOf(Date);
      expect((await store.keys.retire(k2.id)).retiredAt).toEqual(retired.retiredAt); // idempotent
      expect((await store.keys.current())?.id).toBe('rk_one');
      expect((await store.keys.get(k2.id))?.retiredAt).toEqual(retired.retiredAt);
      await expectCode(store.keys.retire('rk_none'), 'ERR_NOT_FOUND');
      await expectCode(store.keys.create({ id: 'rk_one' }), 'ERR_CONFLICT');

      await store.keys.create({ id: 'rk_expired', expiresAt: new Date(Date.now() - 1000) });
      expect((await store.keys.current())?.id).toBe('rk_one');
    });

    it('need the right master key (ERR_CRYPTO) and bind each sealed key to its row', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      await store.keys.create({ id: 'rk_a' });
      await store.keys.create({ id: 'rk_b' });
      await expectCode(createStore(database, MasterKey.generate()).keys.get('rk_a'), 'ERR_CRYPTO');
      await expectCode(createStore(database, MasterKey.generate()).keys.current(), 'ERR_CRYPTO');
      // Swapping a sealed key into another row does not open.
      await database.db.execute(
        sql`update root_keys set sealed_key = (select sealed_key from root_keys where id = 'rk_a') where id = 'rk_b'`,
      );
      await expectCode(store.keys.get('rk_b'), 'ERR_CRYPTO');
    });

    it('store no root key bytes in the clear (table dump)', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const keys = await Promise.all([1, 2, 3].map(() => store.keys.create()));
      const dump = (await rows(database.db, sql`select row_to_json(t)::text as line from root_keys t`))
        .map((r) => String(r.line))
        .join('\n');
      expect(dump.split('\n')).toHaveLength(3);
      for (const k of keys) {
        const h = Buffer.from(k.key).toString('hex');
        expect(dump).toContain(k.id);
        expect(dump.toLowerCase()).not.toContain(h);
        expect(dump).not.toContain(Buffer.from(k.key).toString('base64'));
        expect(dump.toLowerCase()).not.toContain(h.slice(0, 16)); // not even a prefix
      }
    });
  });

  describe('tokens', () => {
    it('record, get, list; unknown root key and duplicates are refused', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const key = await store.keys.create();
      const expiresAt = new Date(Date.now() + 60_000);
      const t = await store.tokens.record({ identifier: 'tok1', rootKeyId: key.id, subject: 'alice', label: 'ci', expiresAt });
      expect(t).toMatchObject({ identifier: 'tok1', rootKeyId: key.id, subject: 'alice', label: 'ci', revokedAt: null });
      expect(t.expiresAt?.getTime()).toBe(expiresAt.getTime());
      await store.tokens.record({ identifier: 'tok2', rootKeyId: key.id, subject: 'bob' });
      expect((await store.tokens.get('tok1'))?.subject).toBe('alice');
      expect(await store.tokens.get('nope')).toBeUndefined();
      expect((await store.tokens.list({ subject: 'bob' })).map((x) => x.identifier)).toEqual(['tok2']);
      expect(await store.tokens.list({ limit: 1 })).toHaveLength(1);
      await expectCode(store.tokens.record({ identifier: 'tok1', rootKeyId: key.id }), 'ERR_CONFLICT');
      const e = (await expectCode(store.tokens.record({ identifier: 'tok3', rootKeyId: 'rk_nope' }), 'ERR_NOT_FOUND')) as Error;
      expect(e.message).not.toContain('tok3'); // no SQL parameters in messages
      await expectCode(store.tokens.record({ identifier: '', rootKeyId: key.id }), 'ERR_INVALID_ARGUMENT');
      await expectCode(store.tokens.record({ identifier: 'x'.repeat(2000), rootKeyId: key.id }), 'ERR_LIMIT');
    });
  });

  describe('revocations', () => {
    it('revoke is durable (seen by another connection at once) and idempotent', async () => {
      const { database, reopen } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const key = await store.keys.create();
      await store.tokens.record({ identifier: 'tok', rootKeyId: key.id });
      expect(await store.revocations.isRevoked('tok')).toBe(false);

      const first = await store.revocations.revoke('tok', 'leaked');
      expect(first).toMatchObject({ identifier: 'tok', reason: 'leaked', created: true });
      const second = await store.revocations.revoke('tok', 'again');
      expect(second).toMatchObject({ identifier: 'tok', reason: 'leaked', seq: first.seq, created: false });
      expect((await store.tokens.get('tok'))?.revokedAt?.getTime()).toBe(first.revokedAt.getTime());
      // An identifier that was never recorded as a token can be revoked too.
      expect((await store.revocations.revoke('unrecorded')).created).toBe(true);

      const other = backend.name === 'postgres' ? createStore(await reopen(), MasterKey.generate()) : store;
      expect(await other.revocations.isRevoked('tok')).toBe(true);
      expect((await other.revocations.get('tok'))?.reason).toBe('leaked');
    });

    it('revoke is durable across a restart of the embedded database', async () => {
      if (backend.name !== 'pglite') {
        // On PostgreSQL durability across connections is shown above; here check commit order.
        const { database } = await backend.fresh();
        const store = createStore(database, MasterKey.generate());
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.revocations.revoke(`c${i}`)));
        expect(new Set(results.map((r) => r.seq)).size).toBe(10);
        expect((await store.revocations.listSince(0)).map((r) => r.seq)).toEqual(results.map((r) => r.seq).sort((a, b) => a - b));
        return;
      }
      const { database, reopen } = await backend.fresh({ persistent: true });
      await createStore(database, MasterKey.generate()).revocations.revoke('kept', 'r');
      const store = createStore(await reopen(), MasterKey.generate());
      expect(await store.revocations.isRevoked('kept')).toBe(true);
    });

    it('listSince returns what came after a seq, in order, paged; latestSeq', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      expect(await store.revocations.latestSeq()).toBe(0);
      expect(await store.revocations.listSince(0)).toEqual([]);
      const revoked: number[] = [];
      for (const id of ['a', 'b', 'c', 'd', 'e']) revoked.push((await store.revocations.revoke(id)).seq);
      const all = await store.revocations.listSince(0);
      expect(all.map((r) => r.identifier)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(all.map((r) => r.seq)).toEqual(revoked);
      expect((await store.revocations.listSince(revoked[1]!)).map((r) => r.identifier)).toEqual(['c', 'd', 'e']);
      expect((await store.revocations.listSince(revoked[1]!, 2)).map((r) => r.identifier)).toEqual(['c', 'd']);
      expect(await store.revocations.listSince(revoked[4]!)).toEqual([]);
      expect(await store.revocations.latestSeq()).toBe(revoked[4]);
      await expectCode(store.revocations.listSince(-1), 'ERR_INVALID_ARGUMENT');
    });

    it('the revocation log and the audit log are append-only in the database', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      await store.revocations.revoke('x');
      await store.audit.append({ actor: 'cli', action: 'revoke', subject: 'x' });
      for (const q of [
        sql`delete from revocations`,
        sql`update revocations set reason = 'changed'`,
        sql`truncate revocations`,
        sql`delete from audit_log`,
        sql`update audit_log set actor = 'someone else'`,
      ]) {
        await expect(database.db.execute(q)).rejects.toThrow();
      }
      expect(await store.revocations.isRevoked('x')).toBe(true);
      expect((await store.audit.list())[0]?.actor).toBe('cli');
    });

    it('LISTEN/NOTIFY delivers a committed revocation to another connection', async () => {
      const { database, reopen } = await backend.fresh();
      const listener = database;
      const writer = backend.name === 'postgres' ? await reopen() : database;
      const heard: string[] = [];
      const control: string[] = [];
      const waiters = new Map<string, () => void>();
      const heardByControl = (id: string): Promise<void> => new Promise((resolve) => waiters.set(id, resolve));
      const unlisten = await listener.listenRevocations((id) => heard.push(id));
      // A second listener on the same connection, kept: notifications reach both in commit order.
      const unlistenControl = await listener.listenRevocations((id) => {
        control.push(id);
        waiters.get(id)?.();
      });
      const store = createStore(writer, MasterKey.generate());
      const first = heardByControl('tok-notify');
      await store.revocations.revoke('tok-notify');
      await first;
      expect(heard).toEqual(['tok-notify']);
      // A repeated (idempotent) revoke does not notify again; after unlisten nothing arrives.
      await store.revocations.revoke('tok-notify');
      await unlisten();
      const after = heardByControl('tok-after');
      await store.revocations.revoke('tok-after');
      await after;
      expect(control).toEqual(['tok-notify', 'tok-after']);
      expect(heard).toEqual(['tok-notify']);
      await unlistenControl();
    });
  });

  describe('usage counters', () => {
    it('consumeUse is atomic: 20 concurrent uses of a single-use scope, exactly one wins', async () => {
      const { database, reopen } = await backend.fresh();
      // On PostgreSQL spread the calls over several independent connection pools.
      const handles = backend.name === 'postgres' ? [database, await reopen(), await reopen(), await reopen()] : [database];
      const stores = handles.map((h) => createStore(h, MasterKey.generate()));
      const once = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.usage.consumeUse('tok#0', 1)));
      expect(once.filter(Boolean)).toHaveLength(1);
      const thrice = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.usage.consumeUse('tok#1', 3)));
      expect(thrice.filter(Boolean)).toHaveLength(3);
      expect(await stores[0]!.usage.get('tok#1')).toMatchObject({ scope: 'tok#1', used: 3, limit: 3 });
      expect(await stores[0]!.usage.get('tok#9')).toBeUndefined();
    });

    it('consumeUse counts sequential uses up to the limit; limit 0 never allows', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const results: boolean[] = [];
      for (let i = 0; i < 4; i++) results.push(await store.usage.consumeUse('s', 2));
      expect(results).toEqual([true, true, false, false]);
      expect(await store.usage.consumeUse('zero', 0)).toBe(false);
      expect(await store.usage.get('zero')).toBeUndefined();
      await expectCode(store.usage.consumeUse('s', -1), 'ERR_INVALID_ARGUMENT');
      await expectCode(store.usage.consumeUse('s', 1.5), 'ERR_INVALID_ARGUMENT');
    });
  });

  describe('audit log', () => {
    it('append and list (filters, order, paging); details stay JSON objects', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const a = await store.audit.append({ actor: 'issuer', action: 'mint', subject: 'tok1', details: { caveats: 2, ok: true } });
      const b = await store.audit.append({ actor: 'alice', action: 'approve', subject: 'req1' });
      const c = await store.audit.append({ actor: 'cli', action: 'revoke', subject: 'tok1', details: { reason: 'leak' } });
      expect(a.details).toEqual({ caveats: 2, ok: true });
      expect(b.details).toEqual({});
      expect(a.at).toBeInstanceOf(Date);
      expect((await store.audit.list()).map((e) => e.id)).toEqual([c.id, b.id, a.id]);
      expect((await store.audit.list({ afterId: a.id })).map((e) => e.id)).toEqual([b.id, c.id]);
      expect((await store.audit.list({ beforeId: c.id, limit: 1 })).map((e) => e.id)).toEqual([b.id]);
      expect((await store.audit.list({ subject: 'tok1' })).map((e) => e.action)).toEqual(['revoke', 'mint']);
      expect((await store.audit.list({ action: 'approve' }))[0]?.actor).toBe('alice');
      const types = await rows(database.db, sql`select distinct jsonb_typeof(details) as t from audit_log`);
      expect(types).toEqual([{ t: 'object' }]);
      await expectCode(store.audit.append({ actor: 'x', action: 'mint', details: { big: 'y'.repeat(20_000) } }), 'ERR_LIMIT');
      await expectCode(store.audit.append({ actor: '', action: 'mint' }), 'ERR_INVALID_ARGUMENT');
    });
  });

  describe('discharge requests', () => {
    const poll = 'poll-secret-0123456789abcdef';
    const base = (id: string, pollToken: string, expiresAt: Date) => ({
      id,
      pollToken,
      caveatId: new Uint8Array([1, 2, 3]),
      condition: 'approved-by alice',
      who: 'alice',
      what: 'deploy to production',
      requester: { ip: '127.0.0.1', agent: 'test' },
      expiresAt,
      validitySeconds: 300,
    });

    it('pending → approved → collected once; the poll secret is stored only hashed, no discharge at all', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const later = new Date(Date.now() + 60_000);
      const created = await store.discharges.create(base('req1', poll, later));
      expect(created).toMatchObject({ id: 'req1', status: 'pending', who: 'alice', requester: { ip: '127.0.0.1', agent: 'test' } });
      expect('pollTokenHash' in created).toBe(false);
      const dump = JSON.stringify(await rows(database.db, sql`select row_to_json(t) as r from discharge_requests t`));
      expect(dump).not.toContain(poll);
      expect(dump).not.toContain(Buffer.from(poll).toString('hex'));

      expect((await store.discharges.findByPollToken(poll))?.id).toBe('req1');
      expect(await store.discharges.findByPollToken('some-other-secret-123456')).toBeUndefined();
      expect((await store.discharges.listPending()).map((r) => r.id)).toEqual(['req1']);
      expect(await store.discharges.listPending({ who: ['bob'] })).toEqual([]);
      expect((await store.discharges.collect(poll))?.status).toBe('pending');

      const approved = await store.discharges.decide('req1', { status: 'approved', decidedBy: 'alice', reason: 'ok' });
      expect(approved).toMatchObject({ status: 'approved', decidedBy: 'alice', decisionReason: 'ok' });
      expect('discharge' in approved).toBe(false);
      const columns = (await rows(database.db, sql`select column_name from information_schema.columns where table_name = 'discharge_requests'`)).map((r) => r.column_name);
      expect(columns).toContain('caveat_id');
      expect(columns).not.toContain('discharge'); // dropped by migration 5
      await expectCode(store.discharges.decide('req1', { status: 'denied', decidedBy: 'bob' }), 'ERR_CONFLICT');
      await expectCode(store.discharges.decide('nope', { status: 'denied', decidedBy: 'bob' }), 'ERR_NOT_FOUND');
      expect(await store.discharges.listPending()).toEqual([]);

      const [c1, c2] = await Promise.all([store.discharges.collect(poll), store.discharges.collect(poll)]);
      // Exactly one collection is the first; within the retry window both get the ticket to
      // re-mint the same discharge from (its `uses 1` still lets one action through).
      expect([c1, c2].filter((c) => c?.collectedNow === true)).toHaveLength(1);
      expect([c1, c2].every((c) => c?.caveatId instanceof Uint8Array)).toBe(true);
      expect([c1?.status, c2?.status]).toEqual(['collected', 'collected']);
      await expectCode(store.discharges.create(base('req2', poll, later)), 'ERR_CONFLICT'); // poll token reused
    });

    it('denied and expired requests', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const now = new Date();
      await store.discharges.create(base('deny', 'poll-deny-0123456789abc', new Date(now.getTime() + 60_000)));
      await store.discharges.create(base('late', 'poll-late-0123456789abc', new Date(now.getTime() + 1_000)));
      await store.discharges.create(base('stale', 'poll-stale-0123456789ab', new Date(now.getTime() + 1_000)));
      expect((await store.discharges.decide('deny', { status: 'denied', decidedBy: 'alice', reason: 'no' })).status).toBe('denied');
      expect((await store.discharges.collect('poll-deny-0123456789abc'))?.status).toBe('denied');

      const after = new Date(now.getTime() + 2_000);
      await expectCode(store.discharges.decide('late', { status: 'approved', decidedBy: 'alice' }, after), 'ERR_CONFLICT');
      expect((await store.discharges.get('late'))?.status).toBe('expired');
      expect((await store.discharges.collect('poll-stale-0123456789ab', after))?.status).toBe('expired');
      expect(await store.discharges.expireStale(after)).toBe(0);
      await expectCode(store.discharges.create(base('short', 'short', now)), 'ERR_INVALID_ARGUMENT');
    });
  });

  describe('discharge outcomes', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const plus = (ms: number): Date => new Date(at.getTime() + ms);
    const request = (id: string) => ({
      id,
      pollToken: `poll-${id}-0123456789abcdef`,
      caveatId: new Uint8Array([4, 5, 6]),
      condition: 'approve alice deploy',
      who: 'alice',
      what: 'deploy',
      expiresAt: plus(900_000),
      validitySeconds: 60,
    });

    it('an uncollected approval lapses (never collected); a collection keeps its ticket only for the retry window; withdraw', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      for (const [id, decided] of [['lapse', at], ['sweep', at], ['take', plus(50_000)]] as const) {
        await store.discharges.create({ ...request(id), verified: id === 'take' ? { identifier: 'tsr1.k.n', label: 'bot' } : null }, at);
        await store.discharges.decide(id, { status: 'approved', decidedBy: 'alice' }, decided);
      }
      expect((await store.discharges.get('take'))?.verified).toEqual({ identifier: 'tsr1.k.n', label: 'bot' });
      // Polled after its validity: lapsed, ticket gone, no collection time.
      expect(await store.discharges.collect('poll-lapse-0123456789abcdef', plus(60_000))).toMatchObject({ status: 'lapsed', caveatId: null, collectedAt: null, collectedNow: false });
      // Never polled: the sweep lapses it.
      expect(await store.discharges.expireStale(plus(60_000))).toBe(1);
      expect(await store.discharges.get('sweep')).toMatchObject({ status: 'lapsed', caveatId: null, collectedAt: null });
      // Collected: the first call says so, a retry within the window still has the ticket, the sweep after it clears it.
      expect(await store.discharges.collect('poll-take-0123456789abcdef', plus(61_000))).toMatchObject({ status: 'collected', collectedNow: true, caveatId: new Uint8Array([4, 5, 6]) });
      expect(await store.discharges.collect('poll-take-0123456789abcdef', plus(90_000))).toMatchObject({ status: 'collected', collectedNow: false, caveatId: new Uint8Array([4, 5, 6]) });
      await expectCode(store.discharges.withdraw('take', 'alice', plus(90_000)), 'ERR_CONFLICT');
      await store.discharges.expireStale(plus(121_001));
      expect((await store.discharges.get('take'))?.caveatId).toBeNull();
      // Withdrawn before collection; a poll then sees `withdrawn`.
      await store.discharges.create(request('late'), at);
      await store.discharges.decide('late', { status: 'approved', decidedBy: 'alice' }, plus(130_000));
      expect(await store.discharges.withdraw('late', 'bob', plus(140_000))).toMatchObject({ status: 'withdrawn', decidedBy: 'bob', caveatId: null });
      expect((await store.discharges.collect('poll-late-0123456789abcdef', plus(141_000)))?.status).toBe('withdrawn');
      await expectCode(store.discharges.withdraw('nope', 'bob'), 'ERR_NOT_FOUND');
    });
  });

  describe('users and sessions', () => {
    it('users: create, get, update, list, remove', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const u = await store.users.create({ name: 'alice', passwordHash: 'scrypt$N=16384$salt$hash', groups: ['ops', 'ops', 'dev'] });
      expect(u.groups).toEqual(['ops', 'dev']);
      const conflict = await expectCode(store.users.create({ name: 'alice', passwordHash: 'scrypt$secret-hash-9f3a' }), 'ERR_CONFLICT');
      // The error, cause and all, never carries a query parameter (here a password hash).
      const everything = JSON.stringify({ message: conflict.message, details: conflict.details, cause: conflict.cause }, (_k, v: unknown) => v);
      expect(everything).not.toContain('secret-hash-9f3a');
      expect(conflict.cause).toMatchObject({ code: '23505' });
      await store.users.create({ name: 'bob', passwordHash: 'h2' });
      expect((await store.users.get('bob'))?.groups).toEqual([]);
      expect((await store.users.update('bob', { groups: ['ops'] })).groups).toEqual(['ops']);
      expect((await store.users.update('bob', { passwordHash: 'h3' })).passwordHash).toBe('h3');
      expect((await store.users.list()).map((x) => x.name)).toEqual(['alice', 'bob']);
      await expectCode(store.users.update('carol', { groups: [] }), 'ERR_NOT_FOUND');
      expect(await store.users.remove('bob')).toBe(true);
      expect(await store.users.remove('bob')).toBe(false);
    });

    it('sessions: hashed ids, active lookup, CSRF check, revoke, expiry, cascade', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      await store.users.create({ name: 'alice', passwordHash: 'h' });
      const sid = 'session-id-0123456789abcdef';
      const csrf = 'csrf-token-0123456789abcdef';
      const now = new Date();
      const expiresAt = new Date(now.getTime() + 3_600_000);
      await store.sessions.create({ sessionId: sid, userName: 'alice', csrfToken: csrf, expiresAt });
      const dump = JSON.stringify(await rows(database.db, sql`select row_to_json(t) as r from sessions t`));
      expect(dump).not.toContain(sid);
      expect(dump).not.toContain(csrf);

      expect((await store.sessions.getActive(sid))?.userName).toBe('alice');
      expect(await store.sessions.getActive('session-id-other-123456789')).toBeUndefined();
      expect(await store.sessions.getActive(sid, new Date(expiresAt.getTime() + 1))).toBeUndefined();
      expect(await store.sessions.verifyCsrf(sid, csrf)).toBe(true);
      expect(await store.sessions.verifyCsrf(sid, `${csrf}x`)).toBe(false);
      expect(await store.sessions.verifyCsrf(sid, '')).toBe(false);
      await expectCode(store.sessions.create({ sessionId: 'x'.repeat(20), userName: 'nobody', csrfToken: csrf, expiresAt }), 'ERR_NOT_FOUND');
      await expectCode(store.sessions.create({ sessionId: 'short', userName: 'alice', csrfToken: csrf, expiresAt }), 'ERR_INVALID_ARGUMENT');

      expect(await store.sessions.revoke(sid)).toBe(true);
      expect(await store.sessions.revoke(sid)).toBe(false);
      expect(await store.sessions.getActive(sid)).toBeUndefined();
      expect(await store.sessions.verifyCsrf(sid, csrf)).toBe(false);

      await store.sessions.create({ sessionId: 's2-0123456789abcdefgh', userName: 'alice', csrfToken: csrf, expiresAt });
      await store.sessions.create({ sessionId: 's3-0123456789abcdefgh', userName: 'alice', csrfToken: csrf, expiresAt });
      expect(await store.sessions.revokeAllForUser('alice')).toBe(2);
      expect(await store.sessions.purge()).toBe(3);
      await store.sessions.create({ sessionId: 's4-0123456789abcdefgh', userName: 'alice', csrfToken: csrf, expiresAt });
      await store.users.remove('alice');
      expect(await store.sessions.getActive('s4-0123456789abcdefgh')).toBeUndefined();
    });
  });

  describe('passkeys', () => {
    it('credentials: add, get, list, count, a compare-and-set counter, remove; groups and their approver tokens', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      await store.users.create({ name: 'alice', passwordHash: 'h', groups: ['ops'] });
      const publicKey = new Uint8Array([0xa5, 1, 2, 3, 0xff]);
      const added = await store.passkeys.add({ id: 'cred-1', userName: 'alice', publicKey, counter: 3, transports: ['usb', 'usb', 'internal'] });
      expect(added).toMatchObject({ id: 'cred-1', userName: 'alice', counter: 3, transports: ['usb', 'internal'], lastUsedAt: null });
      await expectCode(store.passkeys.add({ id: 'cred-1', userName: 'alice', publicKey, counter: 0 }), 'ERR_CONFLICT');
      await expectCode(store.passkeys.add({ id: 'cred-2', userName: 'nobody', publicKey, counter: 0 }), 'ERR_NOT_FOUND');
      expect((await store.passkeys.get('cred-1'))?.publicKey).toEqual(publicKey);
      expect((await store.passkeys.listForUser('alice')).map((c) => c.id)).toEqual(['cred-1']);
      expect(await store.passkeys.countForUser('alice')).toBe(1);

      // Two sign-ins racing from the same counter: exactly one moves it.
      const raced = await Promise.all([store.passkeys.recordUse('cred-1', 3, 4), store.passkeys.recordUse('cred-1', 3, 4)]);
      expect(raced.filter(Boolean)).toHaveLength(1);
      expect(await store.passkeys.get('cred-1')).toMatchObject({ counter: 4, lastUsedAt: expect.any(Date) });

      expect(await store.passkeys.setGroupRequirement('ops', true)).toBe(true);
      expect(await store.passkeys.setGroupRequirement('ops', true)).toBe(false);
      expect(await store.passkeys.passkeyGroups()).toEqual(['ops']);
      await expectCode(store.passkeys.setGroupApproverTokens('dev', true), 'ERR_NOT_FOUND');
      expect(await store.passkeys.setGroupApproverTokens('ops', true)).toBe(true);
      expect(await store.passkeys.approverTokenGroups()).toEqual(['ops']);

      expect(await store.passkeys.remove('cred-1', 'bob')).toBe(false);
      expect(await store.passkeys.remove('cred-1', 'alice')).toBe(true);
      expect(await store.passkeys.countForUser('alice')).toBe(0);
    });

    it('challenges: one per binding, a newer one replaces it, taken once, gone after expiry', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      await store.users.create({ name: 'alice', passwordHash: 'h' });
      const now = new Date();
      const later = new Date(now.getTime() + 60_000);
      const [SESSION_A, FORM_B] = ['a', 'b'].map((c) => c.repeat(43)) as [string, string];
      await store.passkeys.putChallenge({ binding: SESSION_A, purpose: 'register', challenge: 'first', userName: 'alice', expiresAt: later }, now);
      await store.passkeys.putChallenge({ binding: SESSION_A, purpose: 'register', challenge: 'second', userName: 'alice', expiresAt: later }, now);
      expect(await store.passkeys.takeChallenge(SESSION_A, 'authenticate', now)).toBeUndefined();
      expect(await store.passkeys.takeChallenge(SESSION_A, 'register', now)).toEqual({ challenge: 'second', userName: 'alice' });
      expect(await store.passkeys.takeChallenge(SESSION_A, 'register', now)).toBeUndefined();

      await store.passkeys.putChallenge({ binding: FORM_B, purpose: 'authenticate', challenge: 'sign-in', expiresAt: later }, now);
      expect(await store.passkeys.takeChallenge(FORM_B, 'authenticate', new Date(later.getTime() + 1))).toBeUndefined();
    });
  });

  describe('webhook endpoints', () => {
    const SLACK = 'https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx';
    const SHOWN = 'https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcd…';
    const secret = new Uint8Array(32).fill(7);
    const claimAll = (store: ReturnType<typeof createStore>) => store.webhooks.claim({ limit: 10, perEndpoint: 10, leaseMs: 60_000 });
    const queueTest = (store: ReturnType<typeof createStore>, id: string) =>
      store.webhooks.enqueue({ eventId: `msg_${id}`, type: 'webhook.test', requestId: null, who: '*', payload: {} }, new Date(), id);
    const endpointRows = async (database: Database) =>
      (await rows(database.db, sql`select row_to_json(t)::text as line from webhook_endpoints t order by id`)).map((r) => String(r.line));

    it('keep the URL sealed (Slack\'s is the credential): the table holds only its shown form; claim opens it; sealed for its own row', async () => {
      const { database } = await backend.fresh();
      const store = createStore(database, MasterKey.generate());
      const created = await store.webhooks.create({ id: 'wh_slackslackslack1', url: SLACK, format: 'slack', secret });
      expect(created.url).toBe(SHOWN);
      expect((await store.webhooks.list()).map((e) => e.url)).toEqual([SHOWN]);
      expect((await store.webhooks.get(created.id))?.url).toBe(SHOWN);
      const dump = (await endpointRows(database)).join('\n');
      expect(dump).toContain(SHOWN);
      expect(dump).not.toContain('abcdefghijklmnop');

      await queueTest(store, created.id);
      const [claimed] = await claimAll(store);
      expect(claimed?.endpoint.url).toBe(SLACK);

      // A sealed URL moved to another endpoint's row does not open there.
      await store.webhooks.create({ id: 'wh_otherotherother1', url: 'https://example.com/hook', secret });
      await database.db.execute(sql`update webhook_endpoints set sealed_url = (select sealed_url from webhook_endpoints where id = 'wh_slackslackslack1') where id = 'wh_otherotherother1'`);
      await queueTest(store, 'wh_otherotherother1');
      await expectCode(claimAll(store), 'ERR_CRYPTO');
    });

    it('an endpoint stored before URLs were sealed is delivered to its whole URL until sealUrls seals it (once); a start seals it', async () => {
      const { database } = await backend.fresh();
      const masterKey = MasterKey.generate();
      const store = createStore(database, masterKey);
      // As migration 11 leaves a row written before it: the whole URL in the clear, nothing sealed.
      await store.webhooks.create({ id: 'wh_legacylegacyleg', url: SLACK, format: 'slack', secret });
      await database.db.execute(sql`update webhook_endpoints set url = ${SLACK}, sealed_url = null`);
      await queueTest(store, 'wh_legacylegacyleg');
      expect((await claimAll(store))[0]?.endpoint.url).toBe(SLACK);

      expect(await store.webhooks.sealUrls()).toBe(1);
      expect(await store.webhooks.sealUrls()).toBe(0);
      const [row] = await endpointRows(database);
      expect(row).toContain(SHOWN);
      expect(row).not.toContain('abcdefghijklmnop');
      await queueTest(store, 'wh_legacylegacyleg');
      expect((await claimAll(store)).map((c) => c.endpoint.url)).toEqual([SLACK]);

      // createSystem seals what it finds before anything reads it, and says how many.
      await database.db.execute(sql`update webhook_endpoints set url = ${SLACK}, sealed_url = null`);
      const said: string[] = [];
      const system = await createSystem({ database, masterKey, publicUrl: 'http://tessera.test', log: (line) => said.push(line), webhooks: false });
      await system.close();
      expect(said).toContain('tessera: sealed the URL of 1 webhook endpoint(s) stored before URLs were encrypted at rest');
      expect((await endpointRows(database)).join('\n')).not.toContain('abcdefghijklmnop');
    });
  });

  describe('discharger key', () => {
    it('is created once (even under concurrency), sealed, and survives reopening', async () => {
      const { database, reopen } = await backend.fresh({ persistent: true });
      const mk = MasterKey.generate();
      const store = createStore(database, mk);
      expect(await store.dischargerKeys.current()).toBeUndefined();
      const keys = await Promise.all(Array.from({ length: 5 }, () => store.dischargerKeys.ensure()));
      for (const k of keys) expect(k.privateKey).toEqual(keys[0]!.privateKey);
      expect(keys[0]!.publicKey).toHaveLength(32);
      const dump = JSON.stringify(await rows(database.db, sql`select encode(sealed_private_key, 'hex') as s from discharger_keys`));
      expect(dump).not.toContain(Buffer.from(keys[0]!.privateKey).toString('hex'));
      const reopened = await reopen();
      expect((await createStore(reopened, mk).dischargerKeys.ensure()).privateKey).toEqual(keys[0]!.privateKey);
      await expectCode(createStore(reopened, MasterKey.generate()).dischargerKeys.current(), 'ERR_CRYPTO');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Embedded-only behaviour

// drizzle-kit reads the schema through information_schema: ~3 s of CPU on PGlite, 0.3 s on the
// server. The migrations are the same SQL on both backends (each migrates a fresh database above),
// so this runs on one: PostgreSQL when there is a server, else the embedded database.
const schemaBackend = backends.find((b) => b.name === 'postgres') ?? pgliteBackend;
describe(`migrations on ${schemaBackend.name}`, () => {
  it('leave the database exactly as schema.ts describes it (drizzle-kit finds nothing to push)', async () => {
    const { database } = await schemaBackend.fresh();
    // drizzle-kit reads `execute(...).rows`; postgres.js returns the rows array itself.
    const adapter = {
      execute: async (q: ReturnType<typeof sql>) => ({ rows: await rows(database.db, q) }),
    } as unknown as PgDatabase<PgQueryResultHKT>;
    const diff = await pushSchema(schema, adapter, ['public'], ['*', '!tessera_migrations']);
    expect(diff.statementsToExecute).toEqual([]);
  });
});

describe('an embedded database of the caller\'s (openDatabase({ pglite }))', () => {
  it('is checked against the migrations on open and closed by close(); when opening fails it stays open, the caller\'s to close', async () => {
    const client = new PGlite({ loadDataDir: await loadPgliteTemplate() });
    try {
      // A migration log that lost its rows: the first migration fails on what it finds, the open
      // fails naming the cause, and the client is untouched.
      await client.exec('create temp table kept as select * from tessera_migrations; set session_replication_role = replica; truncate tessera_migrations; set session_replication_role = origin');
      const e = await expectCode(openDatabase({ pglite: client }), 'ERR_STORAGE');
      expect(e.message).toContain('cannot open the embedded database');
      expect(client.closed).toBe(false);
      expect((await client.query<{ n: number }>('select count(*)::int as n from tessera_migrations')).rows).toEqual([{ n: 0 }]);

      // The log given back: the migrated template, nothing to apply.
      await client.exec('insert into tessera_migrations select * from kept');
      const database = await openDatabase({ pglite: client });
      expect(database.kind).toBe('pglite');
      expect(database.appliedMigrations).toEqual([]);
      const store = createStore(database, MasterKey.generate());
      expect((await store.keys.create()).id).toMatch(/\S/);
      await database.close();
      expect(client.closed).toBe(true);
    } finally {
      if (!client.closed) await client.close();
    }
  });
});

describe('embedded PGlite on disk', () => {
  it('keeps no root key bytes anywhere in its data files', async () => {
    const dataDir = await seedDataDir(await tempDir());
    const database = track(await openDatabase({ dataDir }));
    const store = createStore(database, await resolveMasterKey({ dataDir }));
    const keys = await Promise.all([1, 2, 3].map(() => store.keys.create()));
    await database.close();
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(join(dataDir, 'pglite'));
    expect(files.length).toBeGreaterThan(10);
    let sawKeyId = false;
    for (const f of files) {
      const content = await readFile(f);
      for (const k of keys) {
        expect(content.indexOf(Buffer.from(k.key))).toBe(-1);
        if (content.indexOf(Buffer.from(k.id)) !== -1) sawKeyId = true;
      }
    }
    expect(sawKeyId).toBe(true); // the rows are on disk; only the key bytes are not
  });

  it('takes over a lock left by a process that no longer exists', async () => {
    const dataDir = await seedDataDir(await tempDir());
    await writeFile(join(dataDir, 'pglite.lock'), '999999999\n');
    const database = track(await openDatabase({ dataDir }));
    expect(database.kind).toBe('pglite');
  });

  it('requires some database to be configured', async () => {
    await expectCode(openDatabase({}), 'ERR_CONFIG');
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL-only behaviour (registered only when DATABASE_URL is set; see the warning above)

if (pgAdminUrl !== undefined) {
  describe('PostgreSQL LISTEN connection', () => {
    it('reconnects after the server drops it, calls onReconnect, and keeps delivering', async () => {
      const backend = backends.find((b) => b.name === 'postgres')!;
      // Its own database: the test kills that database's listening connections.
      const { database, reopen, dbName } = await backend.fresh({ initdb: true });
      const writer = createStore(await reopen(), MasterKey.generate());
      const heard: string[] = [];
      let reconnects = 0;
      await database.listenRevocations((id) => heard.push(id), { onReconnect: () => (reconnects += 1) });
      const until = async (cond: () => boolean): Promise<void> => {
        for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
      };
      await writer.revocations.revoke('before');
      await until(() => heard.length === 1);
      expect(heard).toEqual(['before']);

      const admin = postgres(pgAdminUrl, { max: 1, onnotice: () => undefined });
      try {
        const killed = await admin`
          select pg_terminate_backend(pid) as ok from pg_stat_activity
          where datname = ${dbName!} and query ilike 'listen%tessera_revocations%'`;
        expect(killed.length).toBeGreaterThan(0);
      } finally {
        await admin.end({ timeout: 5 });
      }
      await until(() => reconnects > 0);
      expect(reconnects).toBe(1);
      await writer.revocations.revoke('after');
      await until(() => heard.length === 2);
      expect(heard).toEqual(['before', 'after']);
    });
  });
}

describe('DATABASE_URL errors', () => {
  it('a malformed URL is ERR_CONFIG and the error (cause included) never holds the password', async () => {
    for (const url of ['postgres://user:hunter2-secret@[bad', 'mysql://user:hunter2-secret@db.example/app', 'postgres://user:hunter2-secret@db example/app', 'user:hunter2-secret@db.example']) {
      const e = await expectCode(openDatabase({ url }), 'ERR_CONFIG');
      expect(e.cause, url).toBeUndefined();
      expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain('hunter2-secret');
    }
  });

  it.runIf(POSTGRES_URL !== undefined)('a URL naming several hosts (tried in turn) is not refused as malformed', async () => {
    const u = new URL(POSTGRES_URL as string);
    const database = await openDatabase({ url: POSTGRES_URL!.replace(u.host, `${u.host},${u.host}`), maxConnections: 1 });
    await database.close();
  });
});
