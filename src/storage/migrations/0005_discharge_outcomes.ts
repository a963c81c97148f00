/**
 * Migration 5: what happened to an approval after the decision. `withdrawn` (an approver took
 * an approval back before it was collected) and `lapsed` (nobody collected it while it was
 * valid) join the statuses; `verified` holds the facts the discharge service verified from the
 * requester's presentation (label, subject, identifier, mint time and actor, caveats), never
 * the presentation itself.
 */
import type { Migration } from './types.js';

export const migration0005: Migration = {
  id: 5,
  name: 'discharge-outcomes',
  statements: [
    `ALTER TABLE "discharge_requests" DROP CONSTRAINT "discharge_requests_status_check";`,
    `ALTER TABLE "discharge_requests" ADD CONSTRAINT "discharge_requests_status_check" CHECK ("discharge_requests"."status" in ('pending', 'approved', 'denied', 'expired', 'collected', 'withdrawn', 'lapsed'));`,
    `ALTER TABLE "discharge_requests" ADD COLUMN "verified" jsonb;`,
  ],
};
