/** A database for a benchmark run: in-memory PGlite, or a fresh PostgreSQL database with DATABASE_URL. */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type Database } from '../../src/storage/index.js';

/** In-memory PGlite, or with DATABASE_URL a new PostgreSQL database dropped afterwards. */
export async function freshDatabase(): Promise<{ database: Database; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    const database = await openDatabase({ memory: true });
    return { database, drop: () => database.close() };
  }
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`create database "${name}"`);
  const at = new URL(url);
  at.pathname = `/${name}`;
  const database = await openDatabase({ url: at.toString(), maxConnections: 4 });
  return {
    database,
    async drop() {
      await database.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}
