/**
 * vitest global setup: runs once in the main process before any test file. Makes the migrated
 * PGlite template and the empty cluster (./pglite-template.ts) so that workers only load them,
 * and the migrated template database on the PostgreSQL server when there is one
 * (./scratch-database.ts).
 */
import type { TestProject } from 'vitest/node';
import { pgliteClusterPath, pgliteTemplatePath } from './pglite-template.js';
import { migratedTemplate } from './scratch-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated PGlite data-directory tarball. */
    pgliteTemplate: string;
    /** The migrated template database on the server at DATABASE_URL, when it is set. */
    postgresTemplate: string | undefined;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.DATABASE_URL;
  const [pglite, postgres] = await Promise.all([pgliteTemplatePath(), url !== undefined && url !== '' ? migratedTemplate(url) : undefined]);
  project.provide('pgliteTemplate', pglite);
  project.provide('postgresTemplate', postgres);
  await pgliteClusterPath(); // made on the way to the template, or by an earlier run
}
