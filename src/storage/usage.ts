/**
 * Usage counters for usage-limited tokens and discharges.
 *
 * `consumeUse` is one statement — INSERT … ON CONFLICT (scope) DO UPDATE … WHERE used < limit
 * RETURNING — so the check and the increment are atomic: PostgreSQL locks the conflicting row
 * and re-evaluates the WHERE on its latest version, so N concurrent callers across any number of
 * connections or processes get exactly `limit` successes.
 */
import { eq, sql } from 'drizzle-orm';
import { usageCounters } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkInt, checkText, guard } from './util.js';

export interface UsageCounter {
  readonly scope: string;
  readonly used: number;
  readonly limit: number;
  readonly updatedAt: Date;
}

export interface UsageRepository {
  /**
   * Count one use of `scope` if fewer than `limit` were counted; true if this use is allowed.
   * The scope should bind the limit (e.g. `<identifier>#<caveat index>`): the limit given by
   * this call is the one checked (and stored). A limit of 0 always answers false.
   */
  consumeUse(scope: string, limit: number): Promise<boolean>;
  /** The counter for a scope, or undefined if never used. */
  get(scope: string): Promise<UsageCounter | undefined>;
}

export function usageRepository(db: TesseraDb): UsageRepository {
  return {
    consumeUse: (scope, limit) =>
      guard('consume use', async () => {
        checkText('scope', scope);
        checkInt('limit', limit, 0);
        if (limit === 0) return false;
        const rows = await db
          .insert(usageCounters)
          .values({ scope, used: 1, limit })
          .onConflictDoUpdate({
            target: usageCounters.scope,
            set: { used: sql`${usageCounters.used} + 1`, limit: sql`excluded."limit"`, updatedAt: sql`now()` },
            setWhere: sql`${usageCounters.used} < excluded."limit"`,
          })
          .returning({ used: usageCounters.used });
        return rows.length === 1;
      }),

    get: (scope) =>
      guard('read usage counter', async () => {
        const [row] = await db.select().from(usageCounters).where(eq(usageCounters.scope, checkText('scope', scope)));
        return row;
      }),
  };
}
