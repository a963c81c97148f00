/**
 * Every schema migration, in order. Migrations are TypeScript modules exporting SQL strings so
 * `tsc` carries them into `dist/` and they are found the same way from sources and from builds.
 */
import { migration0001 } from './0001_initial.js';
import { migration0002 } from './0002_append_only.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';

export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002];
