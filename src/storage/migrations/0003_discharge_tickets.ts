/**
 * Migration 3: keep each discharge request's third-party caveat id (the ticket) until the
 * discharge is collected, so the discharge service can re-open it with its private key and mint
 * the discharge then. The ticket is sealed to the discharger's key, so storing it adds nothing a
 * reader of the database could use; the column is cleared once the request is settled.
 */
import type { Migration } from './types.js';

export const migration0003: Migration = {
  id: 3,
  name: 'discharge-tickets',
  statements: [`ALTER TABLE "discharge_requests" ADD COLUMN "caveat_id" "bytea";`],
};
