/**
 * Event counts in fixed windows, shared by every process on the database: what makes a sign-in
 * throttle hold across instances behind a load balancer (N instances must not give a password
 * guesser N budgets).
 *
 * `count` is one statement, INSERT … ON CONFLICT (key) DO UPDATE … RETURNING: PostgreSQL locks
 * the conflicting row, so concurrent counts from any number of connections or processes all
 * land (none is lost to a read-modify-write race). A window starts at a key's first event; an
 * event after `reset_at` starts a new window at 1. Dead rows (past `reset_at`) are deleted by
 * `prune`. The time is the caller's clock, passed in, not the database's: the same clock
 * judges the window and what the page says about it.
 */
import { and, gt, inArray, lte, sql, eq } from 'drizzle-orm';
import { invalidArgument } from '../errors.js';
import { rateLimits } from './schema.js';
import type { TesseraDb } from './types.js';
import { checkDate, checkInt, checkText, guard } from './util.js';

/** One key's count in its current window. */
export interface WindowCount {
  readonly key: string;
  readonly events: number;
  readonly resetAt: Date;
}

/** An event to count: `key`, in a window of `windowSeconds` from its first event. */
export interface CountInput {
  readonly key: string;
  readonly windowSeconds: number;
}

export interface RateLimitRepository {
  /** Count one event for each key, atomically; the keys' counts after it. */
  count(inputs: readonly CountInput[], now: Date): Promise<WindowCount[]>;
  /** The live counts of these keys (windows not yet ended at `now`); keys with none are left out. */
  read(keys: readonly string[], now: Date): Promise<WindowCount[]>;
  /** Forget these keys' counts (e.g. after a successful sign-in). */
  reset(keys: readonly string[]): Promise<void>;
  /** Delete every count whose window ended at or before `now`; how many. */
  prune(now: Date): Promise<number>;
}

/** A few keys per call (a sign-in counts two). */
const MAX_KEYS = 16;
/** Counts stop growing here (no overflow, however long a flood lasts within one window). */
const MAX_EVENTS = 1_000_000;
/** Windows from a second to a day. */
const MAX_WINDOW_SECONDS = 86_400;

function checkKeys(keys: readonly string[]): string[] {
  if (!Array.isArray(keys) || keys.length > MAX_KEYS) throw invalidArgument(`keys must be an array of at most ${MAX_KEYS}`, { field: 'keys' });
  return keys.map((k) => checkText('key', k));
}

const fields = { key: rateLimits.key, events: rateLimits.events, resetAt: rateLimits.resetAt };

export function rateLimitRepository(db: TesseraDb): RateLimitRepository {
  return {
    count: (inputs, now) =>
      guard('count rate-limited event', async () => {
        checkDate('now', now);
        checkKeys(inputs.map((i) => i.key));
        if (inputs.length === 0) return [];
        const rows = inputs.map((i) => ({
          key: i.key,
          events: 1,
          resetAt: new Date(now.getTime() + checkInt('windowSeconds', i.windowSeconds, 1, MAX_WINDOW_SECONDS) * 1000),
        }));
        // Both SET expressions read the row as it was: a window that has ended starts again at 1.
        const ended = sql`${rateLimits.resetAt} <= ${now.toISOString()}::timestamptz`;
        return db
          .insert(rateLimits)
          .values(rows)
          .onConflictDoUpdate({
            target: rateLimits.key,
            set: {
              events: sql`case when ${ended} then 1 else least(${rateLimits.events} + 1, ${MAX_EVENTS}) end`,
              resetAt: sql`case when ${ended} then excluded."reset_at" else ${rateLimits.resetAt} end`,
            },
          })
          .returning(fields);
      }),

    read: (keys, now) =>
      guard('read rate limits', async () => {
        checkDate('now', now);
        const checked = checkKeys(keys);
        if (checked.length === 0) return [];
        return db
          .select(fields)
          .from(rateLimits)
          .where(and(inArray(rateLimits.key, checked), gt(rateLimits.resetAt, now)));
      }),

    reset: (keys) =>
      guard('reset rate limits', async () => {
        const checked = checkKeys(keys);
        if (checked.length === 0) return;
        await db.delete(rateLimits).where(checked.length === 1 ? eq(rateLimits.key, checked[0] as string) : inArray(rateLimits.key, checked));
      }),

    prune: (now) =>
      guard('prune rate limits', async () => {
        const rows = await db.delete(rateLimits).where(lte(rateLimits.resetAt, checkDate('now', now))).returning({ key: rateLimits.key });
        return rows.length;
      }),
  };
}
