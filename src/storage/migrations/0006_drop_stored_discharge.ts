/**
 * Migration 6: drop `discharge_requests.discharge`. Discharges are minted when collected, from
 * the ticket re-opened with the discharger's key, and never stored; the column (and the
 * `DecideInput.discharge` that could fill it) contradicted that.
 */
import type { Migration } from './types.js';

export const migration0006: Migration = {
  id: 6,
  name: 'drop-stored-discharge',
  statements: [`ALTER TABLE "discharge_requests" DROP COLUMN "discharge";`],
};
