/** Scratch PostgreSQL databases for tests and benchmarks (no vitest here: benchmarks import it). */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/**
 * A new, empty database on the PostgreSQL server at `adminUrl` (named `<prefix>_<random>`), and
 * how to drop it (forcibly: other processes' sessions on it are ended).
 */
export async function createScratchDatabase(adminUrl: string, prefix = 'tessera_test'): Promise<{ readonly url: string; drop(): Promise<void> }> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (e) {
    await admin.end({ timeout: 5 });
    throw e;
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

