/**
 * Applies `./migrations/` to a database, idempotently, on either driver.
 *
 * Everything runs in one transaction that first takes a PostgreSQL advisory lock, so several
 * processes opening the same database at once apply each migration exactly once; applied ids are
 * recorded in `tessera_migrations`. A database migrated by a newer Tessera (an unknown id) is
 * refused rather than used with a schema this code does not know.
 */
import { sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { TesseraError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import type { TesseraDb } from './types.js';
import { LOCK_KEYS } from './locks.js';

/** Bookkeeping table; deliberately not part of `schema.ts` (it is not application data). */
const tesseraMigrations = pgTable('tessera_migrations', {
  id: integer('id').primaryKey(),
  name: text('name').notNull(),
  appliedAt: timestamp('applied_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Arbitrary constant key for `pg_advisory_xact_lock` ("tessera" migrations). */
const MIGRATION_LOCK_KEY = LOCK_KEYS.migrations;

/** Apply every migration not yet applied; returns the ids applied by this call (often none). */
export async function migrate(db: TesseraDb, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  assertOrdered(migrations);
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`));
    await tx.execute(
      sql.raw(`create table if not exists "tessera_migrations" (
        "id" integer primary key,
        "name" text not null,
        "applied_at" timestamp with time zone not null default now()
      )`),
    );
    const done = new Set((await tx.select({ id: tesseraMigrations.id }).from(tesseraMigrations)).map((r) => r.id));
    const known = new Set(migrations.map((m) => m.id));
    const unknown = [...done].filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new TesseraError(
        'ERR_CONFIG',
        'the database schema is newer than this version of Tessera (unknown migrations applied)',
        { migrations: unknown },
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      for (const statement of m.statements) await tx.execute(sql.raw(statement));
      await tx.insert(tesseraMigrations).values({ id: m.id, name: m.name });
      applied.push(m.id);
    }
    return applied;
  });
}

/** Ids are positive and strictly increasing; gaps are allowed (numbers reserved by work in progress). */
function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const previous = i === 0 ? 0 : (migrations[i - 1]?.id ?? 0);
    if (!Number.isSafeInteger(m.id) || m.id <= previous) {
      throw new TesseraError('ERR_CONFIG', 'migrations must have strictly increasing positive ids', { migration: m.name });
    }
  });
}
