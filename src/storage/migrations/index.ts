/**
 * Every schema migration, in order. Migrations are TypeScript modules exporting SQL strings so
 * `tsc` carries them into `dist/` and they are found the same way from sources and from builds.
 *
 * To change the schema: edit `../schema.ts`, add `000N_<name>.ts` with the SQL, and list it
 * below. Ids only increase; a gap is allowed (a number reserved for work not merged yet). Never
 * edit an applied migration. The storage test "drizzle-kit finds nothing to push"
 * fails until migrations and schema agree, and prints the SQL drizzle-kit would still run.
 */
import { migration0001 } from './0001_initial.js';
import { migration0002 } from './0002_append_only.js';
import { migration0003 } from './0003_discharge_tickets.js';
import { migration0004 } from './0004_audit_channel.js';
import { migration0005 } from './0005_discharge_outcomes.js';
import { migration0006 } from './0006_drop_stored_discharge.js';
import { migration0007 } from './0007_webhooks.js';
import { migration0008 } from './0008_invites.js';
import { migration0009 } from './0009_rate_limits.js';
import { migration0010 } from './0010_passkeys.js';
import { migration0011 } from './0011_sealed_webhook_urls.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';

export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004, migration0005, migration0006, migration0007, migration0008, migration0009, migration0010, migration0011];
