/** Scratch PostgreSQL databases for tests and benchmarks (no vitest here: benchmarks import it). */
import { createHash, randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase } from '../../src/storage/database.js';
import { MIGRATIONS } from '../../src/storage/migrations/index.js';

/**
 * A new, empty database on the PostgreSQL server at `adminUrl` (named `<prefix>_<random>`), and
 * how to drop it (forcibly: other processes' sessions on it are ended). A copy of `template`
 * when given (`migratedTemplate`), else blank: nothing migrated.
 */
export async function createScratchDatabase(adminUrl: string, prefix = 'tessera_test', template?: string): Promise<{ readonly url: string; drop(): Promise<void> }> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  try {
    await admin.unsafe(`create database "${name}"${template !== undefined ? ` template "${template}"` : ''}`);
  } catch (e) {
    await admin.end({ timeout: 5 });
    throw e;
  }
  return {
    url: withDatabase(adminUrl, name),
    async drop() {
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

const withDatabase = (adminUrl: string, name: string): string => {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
};

/** Templates of earlier schemas kept besides the current one (for runs of other checkouts). */
const KEEP_OTHER_TEMPLATES = 2;

/**
 * The name of a migrated, empty database on the server at `adminUrl` for `createScratchDatabase`
 * to copy: copying it costs ~35 ms of CPU (server and client), creating a database and
 * migrating it ~240 ms. Named by a hash of the migrations (`tessera_template_<hash>`) and made
 * when missing: migrated under another name and renamed once complete, so that concurrent runs
 * never copy half of one. The oldest templates of other schemas are dropped.
 */
export async function migratedTemplate(adminUrl: string): Promise<string> {
  const name = `tessera_template_${createHash('sha256').update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    if ((await admin`select 1 from pg_database where datname = ${name}`).length > 0) return name;
    const building = `tessera_template_partial_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database "${building}"`);
    try {
      await (await openDatabase({ url: withDatabase(adminUrl, building), maxConnections: 1 })).close();
      await admin.unsafe(`alter database "${building}" rename to "${name}"`);
    } catch (e) {
      await admin.unsafe(`drop database if exists "${building}" with (force)`);
      // 42P04: another run made it first.
      if ((e as { code?: string }).code !== '42P04') throw e;
    }
    const older = await admin<{ datname: string }[]>`select datname from pg_database
      where datname like 'tessera\_template\_%' and datname not like 'tessera\_template\_partial\_%' and datname <> ${name}
      order by oid desc offset ${KEEP_OTHER_TEMPLATES}`;
    // Another run may be copying one right now: then it stays, for a later run to drop.
    for (const { datname } of older) await admin.unsafe(`drop database if exists "${datname}"`).catch(() => undefined);
    return name;
  } finally {
    await admin.end({ timeout: 5 });
  }
}
