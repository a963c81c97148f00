/**
 * Migration 9: `rate_limits`, failure counts in fixed windows shared by every instance on one
 * database (sign-in throttles and lockouts: N instances must not give a guesser N budgets).
 * Rows whose window has ended are pruned (`reset_at` index).
 */
import type { Migration } from './types.js';

export const migration0009: Migration = {
  id: 9,
  name: 'rate-limits',
  statements: [
    `CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"events" integer NOT NULL,
	"reset_at" timestamp with time zone NOT NULL,
	CONSTRAINT "rate_limits_events_positive" CHECK ("rate_limits"."events" > 0)
);`,
    `CREATE INDEX "rate_limits_reset_at_idx" ON "rate_limits" USING btree ("reset_at");`,
  ],
};
