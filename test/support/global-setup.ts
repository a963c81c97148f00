/**
 * vitest global setup: runs once in the main process before any test file. Makes the migrated
 * PGlite template and the empty cluster (./pglite-template.ts) so that workers only load them.
 */
import type { TestProject } from 'vitest/node';
import { pgliteClusterPath, pgliteTemplatePath } from './pglite-template.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated PGlite data-directory tarball. */
    pgliteTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('pgliteTemplate', await pgliteTemplatePath());
  await pgliteClusterPath(); // made on the way to the template, or by an earlier run
}
